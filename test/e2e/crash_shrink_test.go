//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// A crash point no admission refusal makes: the engine has written the
// placeholder pod's first shrink (the hand-over to the first tasks) and
// the first TaskRun started with it; the node has not applied the shrink,
// which the engine watches until it does (or replaces the pod, were it
// stuck for a minute).
// The shrink is held unanswered with the kwok node's "Ignored" resize mode
// (resize_test.go): the pod is annotated while it cannot be scheduled yet
// (the run's podTemplate selects a label no node has), then one node gets
// the label. Lifting the hold removes the annotation: the kwok node then
// applies the resize (pod-resize-begin, pod-resize).

// heldShrink is the run's placeholder pod whose shrink the node holds.
type heldShrink struct {
	ns, node, pod string
	pods          *podHistory
}

// shrinkHoldLabel is the node label the held run's podTemplate selects.
const shrinkHoldLabel = "e2e.pipelinerun-affinity.dev/held-shrink"

// heldShrinkOpts are the run options that keep its placeholder pod
// unscheduled until holdShrink labels a node.
func heldShrinkOpts(ns string) runOpts {
	return runOpts{podTemplate: &pod.PodTemplate{NodeSelector: map[string]string{shrinkHoldLabel: ns}}}
}

// holdShrink annotates run's unscheduled placeholder pod so that the node
// leaves its resizes unanswered, then labels cluster.nodes[0] for it.
func holdShrink(t *testing.T, ns, run string) *heldShrink {
	t.Helper()
	h := &heldShrink{ns: ns, node: cluster.nodes[0], pods: watchPlaceholderPods(t, ns)}
	waitFor(t, "an unscheduled placeholder pod", 60*time.Second, func(ctx context.Context) error {
		l, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(l) != 1 || l[0].Spec.NodeName != "" {
			return fmt.Errorf("placeholder pods %v, want one unscheduled", podNames(l))
		}
		h.pod = l[0].Name
		return nil
	})
	h.annotate(t, `"Ignored"`)
	labelNode(t, h.node, shrinkHoldLabel, ns)
	return h
}

func (h *heldShrink) annotate(t testing.TB, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%s}}}`, annotationResize, value)
	if _, err := cluster.kube.CoreV1().Pods(h.ns).Patch(bg(), h.pod, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating placeholder pod %s/%s (%s): %v", h.ns, h.pod, value, err)
	}
}

// checkHeld fails the test unless the placeholder pod's shrink is asked
// and still not applied.
func (h *heldShrink) checkHeld(t testing.TB) {
	t.Helper()
	p, err := cluster.kube.CoreV1().Pods(h.ns).Get(bg(), h.pod, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading placeholder pod %s/%s: %v", h.ns, h.pod, err)
	}
	if !shrinkAsked(p) {
		t.Fatalf("placeholder pod %s: its shrink is not held (spec %v, status %v)", p.Name, p.Spec.Containers[0].Resources.Requests, reportedCPU(p))
	}
	t.Logf("placeholder pod %s on %s: shrink to %s asked, the node still reports %s", p.Name, p.Spec.NodeName,
		p.Spec.Containers[0].Resources.Requests.Cpu(), reportedCPU(p))
}

// release lets the node apply the shrink, and waits until it has.
func (h *heldShrink) release(t testing.TB) {
	t.Helper()
	h.annotate(t, "null")
	waitFor(t, "the node to apply the placeholder pod's shrink", 30*time.Second, func(ctx context.Context) error {
		p, err := cluster.kube.CoreV1().Pods(h.ns).Get(ctx, h.pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if shrinkAsked(p) {
			return fmt.Errorf("spec %v, the node reports %s", p.Spec.Containers[0].Resources.Requests, reportedCPU(p))
		}
		return nil
	})
	t.Logf("the node applied the shrink of placeholder pod %s", h.pod)
}

// checkOutcome checks that the run kept its one placeholder pod (the
// shrink was not taken for a stuck one and the pod replaced) and that its
// TaskRun pods ran on that pod's node.
func (h *heldShrink) checkOutcome(t *testing.T, taskRunPods []podRecord) {
	t.Helper()
	if all := h.pods.all(); len(all) != 1 {
		var seen []string
		for _, p := range all {
			seen = append(seen, fmt.Sprintf("%s (uid %s) on %q", p.Name, p.UID, p.Spec.NodeName))
		}
		t.Errorf("placeholder pods %v, want the one whose shrink was held", seen)
	}
	for _, p := range taskRunPods {
		if p.Node != h.node {
			t.Errorf("TaskRun pod %s ran on %q, want %s, the placeholder's node", p.Name, p.Node, h.node)
		}
	}
}

// reportedCPU is the CPU the node reports for p's first container.
func reportedCPU(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Resources != nil {
			return cs.Resources.Requests.Cpu().String()
		}
	}
	return "nothing"
}
