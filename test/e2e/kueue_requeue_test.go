//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
)

// eventRequeued is the event of a run Kueue took back after its placeholder
// was bound: it is queued again as a whole, for any node.
const eventRequeued = "RequeuedForAdmission"

// TestKueueRequeuesBoundRun: a run of lower priority whose placeholder
// Kueue admitted and the scheduler bound, and whose tasks have not started
// (the node never answers the shrink of its placeholder: the hand-over,
// and so the first TaskRun, waits), is preempted by a run of higher
// priority. Its StatefulSet, pinned to the node, makes a gated pod there;
// the engine sends the run back to the queue as a whole: the template is
// unpinned and asks for the run's peak again, the pinned pod is replaced
// (event RequeuedForAdmission), the run waits for admission without a
// TaskRun, and, once the other run is done, is admitted again and succeeds.
func TestKueueRequeuesBoundRun(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "kueue-requeue")
	queue := kueueQueues(t, ns, "4")
	low, high := "e2e-low-"+rand.String(5), "e2e-high-"+rand.String(5)
	createKueueObject(t, workloadPriorityClasses, "", map[string]any{"kind": "WorkloadPriorityClass", "metadata": map[string]any{"name": low}, "value": int64(100)})
	createKueueObject(t, workloadPriorityClasses, "", map[string]any{"kind": "WorkloadPriorityClass", "metadata": map[string]any{"name": high}, "value": int64(1000)})
	rec := watchPods(t, nil, ns)

	// The run's pods go only to a node with this label; none has it yet.
	const label = "e2e.pipelinerun-affinity.dev/kueue-requeue"
	createRun(t, newRun(ns, "bound", pipelineSpec(taskDef{name: "work", cpu: "3", duration: "2s"}), runOpts{
		labels:      map[string]string{labelKueueQueue: queue, labelKueuePriorityClass: low},
		podTemplate: &pod.PodTemplate{NodeSelector: map[string]string{label: ns}},
		timeout:     10 * time.Minute,
	}))
	var first string
	var firstUID types.UID
	waitFor(t, "the admitted placeholder pod of bound, on no node yet", 60*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, "bound")
		if err != nil {
			return err
		}
		if len(pods) != 1 || gatedByKueue(&pods[0]) || pods[0].Spec.NodeName != "" {
			return fmt.Errorf("placeholder pods %v", podNames(pods))
		}
		first, firstUID = pods[0].Name, pods[0].UID
		return nil
	})
	// The node will not answer the shrink: the hand-over waits (up to the
	// engine's bound of a minute), and no TaskRun starts meanwhile.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"Ignored"}}}`, annotationResize)
	if _, err := cluster.kube.CoreV1().Pods(ns).Patch(bg(), first, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating placeholder pod %s: %v", first, err)
	}
	node := cluster.nodes[0]
	labelNode(t, node, label, ns)
	waitFor(t, "bound's placeholder bound and pinned to "+node+", its shrink asked", 60*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, "bound")
		if err != nil {
			return err
		}
		if len(pods) != 1 || pods[0].Spec.NodeName != node || !shrinkAsked(&pods[0]) {
			return fmt.Errorf("placeholder pods %v", podNames(pods))
		}
		return placeholderState(ns, "bound", func(pinned bool, _ string, taskRuns, _ int) bool { return pinned && taskRuns == 0 })(ctx)
	})

	createRun(t, newRun(ns, "urgent", pipelineSpec(taskDef{name: "t", cpu: "3", duration: "10s"}),
		runOpts{labels: map[string]string{labelKueueQueue: queue, labelKueuePriorityClass: high}}))
	ev := waitEvent(t, ns, "PipelineRun", "bound", eventRequeued, 60*time.Second)
	t.Logf("%s: %s", ev.Reason, ev.Message)
	for _, part := range []string{"lost its admission by Kueue and node " + node, "queued again in LocalQueue " + queue, "cpu=3", "for any node"} {
		if !strings.Contains(ev.Message, part) {
			t.Errorf("event %s %q does not mention %q", ev.Reason, ev.Message, part)
		}
	}
	// Queued again as a whole: unpinned, asking for its peak, no TaskRun.
	pr := waitRunMessage(t, ns, "bound", reasonWaitingForAdmission, 60*time.Second, "LocalQueue "+queue, "cpu=3")
	t.Logf("requeued run: %s", describeCondition(pr))
	waitFor(t, "bound's placeholder unpinned, asking for 3 CPU, gated", 30*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, "bound")
		if err != nil {
			return err
		}
		if len(pods) != 1 || !gatedByKueue(&pods[0]) || pods[0].DeletionTimestamp != nil {
			return fmt.Errorf("placeholder pods %v", podNames(pods))
		}
		cpu := pods[0].Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		sts, err := placeholderStatefulSets(ctx, ns, "bound")
		if err != nil || len(sts) != 1 {
			return fmt.Errorf("placeholder StatefulSets %v: %v", stsNames(sts), err)
		}
		// The run's pod template has a node selector, no affinity: any
		// node affinity is the pin.
		affinity := sts[0].Spec.Template.Spec.Affinity
		pinned := affinity != nil && affinity.NodeAffinity != nil
		trs, err := taskRuns(ctx, ns, "bound")
		if err != nil {
			return err
		}
		if pinned || cpu.String() != "3" || len(trs) != 0 {
			return fmt.Errorf("pinned=%t cpu=%s taskRuns=%d", pinned, cpu.String(), len(trs))
		}
		return nil
	})

	waitRunSucceeded(t, ns, "urgent", 2*time.Minute)
	waitRunSucceeded(t, ns, "bound", 2*time.Minute)
	// The bound pod, the pinned one the StatefulSet made after Kueue took
	// it, and the unpinned one that was admitted again.
	holders := rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: "bound"})
	if len(holders) < 3 {
		t.Errorf("saw %d placeholder pods of bound, want at least 3 (bound, pinned after preemption, requeued)", len(holders))
	}
	for _, h := range holders {
		if h.UID == firstUID && h.Node != node {
			t.Errorf("the first placeholder pod was on %q, want %s", h.Node, node)
		}
	}
	if trs := rec.matching(map[string]string{labelPipelineRun: "bound", labelTaskRun: "*"}); len(trs) != 1 {
		t.Errorf("bound had %d TaskRun pods, want its one task once", len(trs))
	}
}
