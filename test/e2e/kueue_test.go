//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Kueue admission of whole runs (issue 13 item 1). A run labelled for a
// Kueue LocalQueue is admitted as a whole: its placeholder pod is its Kueue
// workload at the run's peak demand, gated until Kueue admits it; no
// TaskRun starts before; the run says it waits for admission. Needs a
// cluster started with Kueue: hack/cluster.sh up --kueue (make e2e-kueue).
// Build tag "kueue": the normal suite does not build or run Kueue.

const (
	labelKueueQueue           = "kueue.x-k8s.io/queue-name"
	labelKueuePriorityClass   = "kueue.x-k8s.io/priority-class"
	labelKueuePodGroup        = "kueue.x-k8s.io/pod-group-name"
	gateKueueAdmission        = "kueue.x-k8s.io/admission"
	reasonWaitingForAdmission = "WaitingForAdmission"
	// kueueFlavor is the ResourceFlavor hack/kueue/resourceflavor.yaml makes.
	kueueFlavor = "default"
)

var (
	clusterQueues           = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "clusterqueues"}
	localQueues             = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "localqueues"}
	workloadPriorityClasses = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "workloadpriorityclasses"}
)

// requireKueue fails a test on a cluster started without Kueue.
func requireKueue(t *testing.T) {
	t.Helper()
	if cluster.clusterSetting("KUEUE") == "" {
		t.Fatalf("this test needs Kueue: start the cluster with hack/cluster.sh up --kueue (%s has no KUEUE=)", cluster.clusterEnvFile())
	}
}

// createKueueObject creates a Kueue object and deletes it when the test ends.
func createKueueObject(t *testing.T, gvr schema.GroupVersionResource, ns string, obj map[string]any) {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(gvr.Group + "/" + gvr.Version)
	var r interface {
		Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error)
		Delete(context.Context, string, metav1.DeleteOptions, ...string) error
	} = cluster.dynamic.Resource(gvr)
	if ns != "" {
		r = cluster.dynamic.Resource(gvr).Namespace(ns)
	}
	if _, err := r.Create(bg(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating %s %s: %v", gvr.Resource, u.GetName(), err)
	}
	t.Cleanup(func() {
		if err := r.Delete(bg(), u.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %s: %v", gvr.Resource, u.GetName(), err)
		}
	})
}

// kueueQueues makes a ClusterQueue with cpu of quota (and memory enough
// for anything here), preempting lower priorities within itself, and a
// LocalQueue "runs" in ns that feeds it.
func kueueQueues(t *testing.T, ns, cpu string) string {
	t.Helper()
	cq := "e2e-" + rand.String(6)
	createKueueObject(t, clusterQueues, "", map[string]any{
		"kind":     "ClusterQueue",
		"metadata": map[string]any{"name": cq},
		"spec": map[string]any{
			"namespaceSelector": map[string]any{},
			"resourceGroups": []any{map[string]any{
				"coveredResources": []any{"cpu", "memory"},
				"flavors": []any{map[string]any{
					"name": kueueFlavor,
					"resources": []any{
						map[string]any{"name": "cpu", "nominalQuota": cpu},
						map[string]any{"name": "memory", "nominalQuota": "64Gi"},
					},
				}},
			}},
			"preemption": map[string]any{"withinClusterQueue": "LowerPriority"},
		},
	})
	createKueueObject(t, localQueues, ns, map[string]any{
		"kind":     "LocalQueue",
		"metadata": map[string]any{"name": "runs", "namespace": ns},
		"spec":     map[string]any{"clusterQueue": cq},
	})
	return "runs"
}

// gatedByKueue reports whether Kueue has not admitted the pod yet.
func gatedByKueue(p *corev1.Pod) bool {
	for _, g := range p.Spec.SchedulingGates {
		if g.Name == gateKueueAdmission {
			return true
		}
	}
	return false
}

// admissionInvariant is what must hold at every moment for the runs of
// these tests: at most maxAdmitted placeholders admitted by Kueue at once;
// no pod of a run while its placeholder is not admitted and bound; no
// placeholder the scheduler finds no room for (Kueue's quota is below the
// cluster's capacity: a run it admits fits).
func admissionInvariant(maxAdmitted int) func(live []*corev1.Pod) string {
	return kueueInvariant(maxAdmitted, true)
}

// kueueInvariant is admissionInvariant; without roomy, a placeholder may
// wait for room (a test that cordons nodes on purpose).
func kueueInvariant(maxAdmitted int, roomy bool) func(live []*corev1.Pod) string {
	return func(live []*corev1.Pod) string {
		admitted := map[string]*corev1.Pod{}
		var bad []string
		for _, p := range live {
			if p.Labels[labelComponent] != componentHolder {
				continue
			}
			// A pod being deleted holds no admission any more: Kueue
			// releases a stopped workload's quota once its pods go.
			if !gatedByKueue(p) && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				admitted[p.Labels[labelInstance]] = p
			}
			if msg, ok := podScheduledFalse(p); ok && roomy && strings.Contains(msg, "Insufficient") {
				bad = append(bad, fmt.Sprintf("placeholder %s pending for capacity: %s", p.Name, msg))
			}
		}
		if len(admitted) > maxAdmitted {
			bad = append(bad, fmt.Sprintf("%d placeholders admitted at once (at most %d)", len(admitted), maxAdmitted))
		}
		for _, p := range live {
			holder := p.Labels[labelMember]
			// A finished pod holds nothing: its run may be done and its
			// placeholder gone.
			if holder == "" || p.Labels[labelTaskRun] == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if h := admitted[holder]; h == nil || h.Spec.NodeName == "" {
				bad = append(bad, fmt.Sprintf("TaskRun pod %s exists while placeholder %s is not admitted and bound", p.Name, holder))
			}
			if p.Labels[labelKueueQueue] != "" {
				bad = append(bad, fmt.Sprintf("TaskRun pod %s carries Kueue's queue label", p.Name))
			}
		}
		return strings.Join(bad, "; ")
	}
}

// threeCPURun is a run whose peak is 3 CPU: a (2) beside b (1), then c (3).
func threeCPURun(ns, name, queue string) *v1.PipelineRun {
	spec := pipelineSpec(
		taskDef{name: "a", cpu: "2", duration: "3s"},
		taskDef{name: "b", cpu: "1", duration: "3s"},
		taskDef{name: "c", cpu: "3", after: []string{"a", "b"}, duration: "3s"},
	)
	return newRun(ns, name, spec, runOpts{labels: map[string]string{labelKueueQueue: queue}})
}

// TestKueueAdmitsWholeRuns: a ClusterQueue of 8 CPU, five runs of 3 CPU
// peak: at most two are admitted at a time, the others wait visibly for
// admission, every run completes, no placeholder is ever Pending for
// capacity and no TaskRun pod exists before its run is admitted.
func TestKueueAdmitsWholeRuns(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "kueue")
	queue := kueueQueues(t, ns, "8")
	rec := watchPods(t, admissionInvariant(2), ns)

	var names []string
	for i := 1; i <= 5; i++ {
		name := fmt.Sprintf("run-%d", i)
		names = append(names, name)
		createRun(t, threeCPURun(ns, name, queue))
	}
	// Three of them cannot be admitted at first: they say so.
	waitFor(t, "three runs waiting for admission by Kueue", 60*time.Second, func(ctx context.Context) error {
		waiting := 0
		var seen []string
		for _, name := range names {
			pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if conditionMentions(succeeded(pr), reasonWaitingForAdmission, "LocalQueue "+queue, "cpu=3") {
				waiting++
			}
			seen = append(seen, name+" "+describeCondition(pr))
		}
		if waiting < 3 {
			return fmt.Errorf("%d waiting: %s", waiting, strings.Join(seen, "; "))
		}
		return nil
	})
	for _, name := range names {
		waitRunSucceeded(t, ns, name, 3*time.Minute)
	}
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %s", strings.Join(v, "\n  "))
	}
	holders := rec.matching(map[string]string{labelComponent: componentHolder})
	if len(holders) < 5 {
		t.Errorf("saw %d placeholder pods, want one per run at least", len(holders))
	}
}

// TestKueuePreemptsUnstartedRun: a run of lower priority that Kueue has
// admitted but that has started no task (its 6 CPU fit the quota but no
// node) is preempted by one of higher priority: it goes back to waiting
// for admission, as a whole, without a TaskRun; the other one completes.
func TestKueuePreemptsUnstartedRun(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "kueue-preempt")
	queue := kueueQueues(t, ns, "8")
	low, high := "e2e-low-"+rand.String(5), "e2e-high-"+rand.String(5)
	createKueueObject(t, workloadPriorityClasses, "", map[string]any{"kind": "WorkloadPriorityClass", "metadata": map[string]any{"name": low}, "value": int64(100)})
	createKueueObject(t, workloadPriorityClasses, "", map[string]any{"kind": "WorkloadPriorityClass", "metadata": map[string]any{"name": high}, "value": int64(1000)})

	rec := watchPods(t, nil, ns)

	// 6 CPU: within the quota, on no node (4 CPU each).
	big := newRun(ns, "big", pipelineSpec(
		taskDef{name: "x", cpu: "3", duration: "2s"},
		taskDef{name: "y", cpu: "3", duration: "2s"},
	), runOpts{labels: map[string]string{labelKueueQueue: queue, labelKueuePriorityClass: low}, timeout: 10 * time.Minute})
	createRun(t, big)
	waitRunMessage(t, ns, "big", reasonWaiting, 60*time.Second, "more than any node can hold")

	createRun(t, newRun(ns, "urgent", pipelineSpec(taskDef{name: "t", cpu: "3", duration: "2s"}),
		runOpts{labels: map[string]string{labelKueueQueue: queue, labelKueuePriorityClass: high}}))
	pr := waitRunMessage(t, ns, "big", reasonWaitingForAdmission, 60*time.Second, "LocalQueue "+queue, "cpu=6")
	t.Logf("preempted run: %s", describeCondition(pr))
	waitRunSucceeded(t, ns, "urgent", 2*time.Minute)

	// The preempted run's first placeholder pod went; a new one asked again.
	if n := len(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: "big"})); n < 2 {
		t.Errorf("saw %d placeholder pods of the preempted run, want its first one replaced", n)
	}
	trs, err := taskRuns(bg(), ns, "big")
	if err != nil {
		t.Fatal(err)
	}
	pods := rec.matching(map[string]string{labelPipelineRun: "big", labelTaskRun: "*"})
	if len(trs) > 0 || len(pods) > 0 {
		t.Errorf("the preempted run has %d TaskRuns and had %d TaskRun pods, want none", len(trs), len(pods))
	}
}
