//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// A placed run's children when the run fails or goes: its TaskRuns and
// child PipelineRuns (a pipeline task with a pipelineSpec, alpha in Tekton
// v1.15) are cancelled before the engine marks it failed; a child whose
// parent is gone without cancelling it fails at once.

// reasonParentReleased is the reason of a child PipelineRun whose
// parent's placeholder, which it joined, is released for good.
const reasonParentReleased = "ParentPlaceholderReleased"

// withChild adds to spec the pipeline task name running child as a child
// PipelineRun.
func withChild(spec *v1.PipelineSpec, name string, child *v1.PipelineSpec) *v1.PipelineSpec {
	spec.Tasks = append(spec.Tasks, v1.PipelineTask{Name: name, PipelineSpec: child})
	return spec
}

// waitChildRunning waits until run has a child PipelineRun one of whose
// TaskRun pods is bound, and returns the child's name.
func waitChildRunning(t *testing.T, ns, run string, timeout time.Duration) string {
	t.Helper()
	var child string
	waitFor(t, fmt.Sprintf("a child PipelineRun of %s with a TaskRun pod bound", run), timeout, func(ctx context.Context) error {
		prs, err := cluster.tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, pr := range prs.Items {
			if ref := metav1.GetControllerOf(&pr); ref != nil && ref.Kind == "PipelineRun" && ref.Name == run {
				child = pr.Name
				_, err := boundTaskRunPod(ctx, ns, child)
				return err
			}
		}
		return fmt.Errorf("no child PipelineRun")
	})
	return child
}

// The engine fails a run mid-run (its placeholder StatefulSet held in
// deletion longer than max-node-wait) while a TaskRun and a child
// PipelineRun run. While the child's cancellation is refused the run is
// not done: PipelineRunCouldntCancel naming the engine's reason and the
// refusal, its placeholder pod kept. Once the refusal is lifted, the
// retried reconcile cancels the child and the run fails
// PlaceholderStuckDeleting; the TaskRun, the child and the child's TaskRun
// end cancelled, the next task is never created, and no placeholder is
// left once the StatefulSet is let go.
func TestReliabilityEngineFailureCancelsChildren(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "10s", flagAPIFields: "alpha"}))
	ns := newNamespace(t, "fail-children")
	const run = "fail-children"
	spec := withChild(pipelineSpec(taskDef{name: "t1", duration: "300s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "1s"}),
		"inner", pipelineSpec(taskDef{name: "c1", duration: "300s"}))
	createRun(t, newRun(ns, run, spec, runOpts{}))
	waitPlaced(t, ns, run, 60*time.Second)
	child := waitChildRunning(t, ns, run, 60*time.Second)
	const refusal = "e2e: the child PipelineRun's cancellation is refused"
	lift := refuseInNamespaceUnless(t, ns, nil,
		fmt.Sprintf("object.metadata.name != '%s' || !has(object.spec.status) || object.spec.status != 'Cancelled'", child),
		refusal, rules(rule("tekton.dev", "pipelineruns", admissionv1.Update)))

	name := waitPlaceholder(t, ns, run, 10*time.Second)
	statefulSets := cluster.kube.AppsV1().StatefulSets(ns)
	letGo := func(patch []byte) error {
		_, err := statefulSets.Patch(bg(), name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	holdWithFinalizer(t, "StatefulSet "+name, letGo)
	if err := statefulSets.Delete(bg(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting StatefulSet %s: %v", name, err)
	}

	pr := waitRunMessage(t, ns, run, v1.PipelineRunReasonCouldntCancel.String(), 60*time.Second,
		reasonStuckDeleting, "Placeholder StatefulSet "+name+" is still being deleted", child, refusal)
	t.Logf("while the cancel is refused: %s", describeCondition(pr))
	if c := succeeded(pr); !c.IsUnknown() {
		t.Errorf("%s: %s, want Succeeded=Unknown until every cancel succeeded", run, describeCondition(pr))
	}
	if pods, err := placeholderPods(bg(), ns, run); err != nil || len(pods) != 1 {
		t.Errorf("placeholder pods of %s while it is not done: %v (%v), want its pod kept", run, podNames(pods), err)
	}
	if c := getRun(t, ns, child); c.IsDone() || c.Spec.Status != "" {
		t.Errorf("child %s while its cancel is refused: spec.status %q, %s", child, c.Spec.Status, describeCondition(c))
	}

	lift()
	pr = waitRunMessage(t, ns, run, reasonStuckDeleting, 60*time.Second,
		"Placeholder StatefulSet "+name+" is still being deleted", flagMaxNodeWait+"=10s", "held by finalizer "+holdFinalizer)
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	if c := getRun(t, ns, child); c.Spec.Status != v1.PipelineRunSpecStatusCancelled {
		t.Errorf("child %s: spec.status %q when its parent is marked failed, want %s", child, c.Spec.Status, v1.PipelineRunSpecStatusCancelled)
	}
	assertCancelledAfter(t, ns, run, "t1", "t2")
	waitRunMessage(t, ns, child, v1.PipelineRunReasonCancelled.String(), 60*time.Second)
	assertCancelledAfter(t, ns, child, "c1", "")

	if err := letGo([]byte(`{"metadata":{"finalizers":null}}`)); err != nil {
		t.Fatalf("removing finalizer %s from StatefulSet %s: %v", holdFinalizer, name, err)
	}
	waitNoPlaceholder(t, ns, run, 30*time.Second)
}

// A child PipelineRun runs in its parent's placeholder. While the parent
// still runs, a child that finds that placeholder's pod going waits for it
// to come back (WaitingForNode, not failed): the pod, deleted while a
// finalizer holds it, stays Terminating until the test lets it go, and the
// StatefulSet makes it again. Then the parent is gone without cancelling
// the child: it is deleted while an admission policy refuses the garbage
// collector the child's deletion (as a webhook, or a collector behind, may
// leave it). The parent's placeholder goes with the parent, and the child
// fails at once (within 10 s of the placeholder's deletion, long before
// max-node-wait, 300s) ParentPlaceholderReleased naming the parent and the
// placeholder, its TaskRun cancelled.
func TestReliabilityParentPlaceholderGone(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s", flagAPIFields: "alpha"}))
	ns := newNamespace(t, "parent-gone")
	const run = "parent-gone"
	spec := withChild(&v1.PipelineSpec{}, "inner", pipelineSpec(taskDef{name: "c1", duration: "300s"}))
	createRun(t, newRun(ns, run, spec, runOpts{}))
	child := waitChildRunning(t, ns, run, 60*time.Second)
	name := waitPlaceholder(t, ns, run, 10*time.Second)
	if c := getRun(t, ns, child); c.Labels[labelMember] != name {
		t.Fatalf("child %s: label %s=%q, want the parent's placeholder %s", child, labelMember, c.Labels[labelMember], name)
	}

	// The parent runs; its placeholder pod is going.
	pods := cluster.kube.CoreV1().Pods(ns)
	podName := name + "-0"
	letGo := func(patch []byte) error {
		_, err := pods.Patch(bg(), podName, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	holdWithFinalizer(t, "pod "+podName, letGo)
	if err := pods.Delete(bg(), podName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod %s: %v", podName, err)
	}
	pr := waitRunMessage(t, ns, child, reasonWaiting, 30*time.Second, "the parent PipelineRun's placeholder "+name)
	t.Logf("while the parent runs: %s", describeCondition(pr))
	if err := letGo([]byte(`{"metadata":{"finalizers":null}}`)); err != nil {
		t.Fatalf("removing finalizer %s from pod %s: %v", holdFinalizer, podName, err)
	}
	waitFor(t, "the child to run on again", 30*time.Second, func(ctx context.Context) error {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, child, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c := succeeded(pr); c == nil || !c.IsUnknown() || c.Reason == reasonWaiting {
			return fmt.Errorf("condition %s", describeCondition(pr))
		}
		return nil
	})

	// The parent is gone, its child left.
	refuseInNamespaceUnless(t, ns, nil, fmt.Sprintf("oldObject.metadata.name != '%s'", child),
		"e2e: the child PipelineRun outlives its parent", rules(rule("tekton.dev", "pipelineruns", admissionv1.Delete)))
	err := cluster.tekton.TektonV1().PipelineRuns(ns).Delete(bg(), run, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil {
		t.Fatalf("deleting PipelineRun %s: %v", run, err)
	}
	deleted := time.Now()
	// The garbage collector deletes the placeholder; on a cluster started
	// moments ago it knows Tekton's kinds only after its discovery resync
	// (30 s).
	waitNoPlaceholder(t, ns, run, 90*time.Second)
	gone := time.Now()
	pr = waitRunMessage(t, ns, child, reasonParentReleased, 10*time.Second,
		"The parent PipelineRun "+run+" is gone and released its placeholder "+name)
	t.Logf("placeholder gone %s after the parent's deletion; the child failed within %s of that: %s",
		gone.Sub(deleted).Round(time.Second), time.Since(gone).Round(time.Second), describeCondition(pr))
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", child, describeCondition(pr))
	}
	assertCancelledAfter(t, ns, child, "c1", "")
	if _, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(bg(), run, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("parent %s: %v, want it gone", run, err)
	}
}
