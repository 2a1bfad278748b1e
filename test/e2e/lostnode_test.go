//go:build e2e

package e2e

// A node lost while its Node object stays (a kubelet that stopped, a
// network partition): nothing confirms the graceful deletion of a pod on
// it, so the placeholder pod must be deleted at once for its StatefulSet
// to make it again elsewhere (issue 8).

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// deadKubelet is the holder the test puts on a node's lease: kwok, which
// plays the node's kubelet, then leaves the node and its pods alone (it
// renews and acts only for leases it holds), and the node lifecycle
// controller finds the node unreachable once the lease is not renewed.
const deadKubelet = "e2e-dead-kubelet"

// A run placed on a node whose kubelet then stops (the Node object stays),
// while it waits between tasks with none of its pods running there (a
// custom task, an approval gate, runs): the run moves, its old placeholder
// pod goes at once instead of staying Terminating for ever, and its next
// task runs on the new node.
func TestReliabilityLostNodeStays(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "120s"}))
	ns := newNamespace(t, "lost-node")
	const run = "lost"
	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		{Name: "gate", TaskRef: &v1.TaskRef{APIVersion: "e2e.pipelinerun-affinity.dev/v1", Kind: "Gate"}},
		{Name: "build", TaskSpec: embeddedTask(taskDef{name: "build", cpu: "200m"}), RunAfter: []string{"gate"}},
	}}
	createRun(t, newRun(ns, run, spec, runOpts{duration: "1s"}))

	var old corev1.Pod
	waitFor(t, "the placeholder pod bound and the gate started", 60*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(pods) != 1 || pods[0].Spec.NodeName == "" {
			return fmt.Errorf("placeholder pods %v, want one bound", podNames(pods))
		}
		if _, err := gateRun(ctx, ns, run); err != nil {
			return err
		}
		old = pods[0]
		return nil
	})
	lost := old.Spec.NodeName
	t.Logf("placeholder pod %s (uid %s) bound to %s; the gate runs", old.Name, old.UID, lost)

	stopKubelet(t, lost)
	waitFor(t, "node "+lost+" to be found unreachable", 150*time.Second, func(ctx context.Context) error {
		n, err := cluster.kube.CoreV1().Nodes().Get(ctx, lost, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable {
				return nil
			}
		}
		return fmt.Errorf("taints %v", n.Spec.Taints)
	})
	found := time.Now()
	t.Logf("node %s found unreachable", lost)

	waitEvent(t, ns, "PipelineRun", run, eventMoving, 30*time.Second)
	var moved string
	waitFor(t, "the old placeholder pod gone and a new one bound on another node", 60*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if p.UID == old.UID {
				return fmt.Errorf("the old placeholder pod %s is still there (%s)", p.Name, podStatus(&p))
			}
		}
		if len(pods) != 1 || pods[0].Spec.NodeName == "" || pods[0].Spec.NodeName == lost {
			return fmt.Errorf("placeholder pods %v, want one bound to a node other than %s", podNames(pods), lost)
		}
		moved = pods[0].Spec.NodeName
		return nil
	})
	t.Logf("the run moved to %s %s after %s was found unreachable", moved, time.Since(found).Round(time.Second), lost)

	passGate(t, ns, run)
	waitRunSucceeded(t, ns, run, 60*time.Second)
	for _, p := range mustTaskRunPods(t, ns, run) {
		if p.Spec.NodeName != moved {
			t.Errorf("TaskRun pod %s ran on %s, want %s, where the run moved", p.Name, p.Spec.NodeName, moved)
		}
	}
}

// gateRun returns the CustomRun of the run's gate task.
func gateRun(ctx context.Context, ns, run string) (*v1beta1.CustomRun, error) {
	l, err := cluster.tekton.TektonV1beta1().CustomRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run})
	if err != nil {
		return nil, err
	}
	if len(l.Items) != 1 {
		return nil, fmt.Errorf("%d CustomRuns of %s, want the gate's", len(l.Items), run)
	}
	return &l.Items[0], nil
}

// passGate marks the gate's CustomRun succeeded, as its controller would.
func passGate(t *testing.T, ns, run string) {
	t.Helper()
	cr, err := gateRun(bg(), ns, run)
	if err != nil {
		t.Fatal(err)
	}
	cr.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue, Reason: "Passed"})
	if _, err := cluster.tekton.TektonV1beta1().CustomRuns(ns).UpdateStatus(bg(), cr, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("passing the gate %s: %v", cr.Name, err)
	}
}

// stopKubelet makes node's kubelet stop, as far as the cluster can tell:
// its lease is taken by deadKubelet for an hour, so kwok neither renews it
// nor acts for the node's pods (a graceful deletion is never confirmed).
// The cleanup lets deadKubelet's lease expire, so that kwok takes it again
// (a lease it takes over, not one handed to it, makes it manage the node
// anew), and waits for the node to be Ready again, without the taints of
// an unreachable node.
func stopKubelet(t *testing.T, node string) {
	t.Helper()
	lease, err := cluster.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(bg(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the lease of node %s: %v", node, err)
	}
	holder := ""
	if lease.Spec.HolderIdentity != nil {
		holder = *lease.Spec.HolderIdentity
	}
	t.Cleanup(func() {
		if err := restartKubelet(bg(), node); err != nil {
			t.Error(err)
			return
		}
		if err := poll("node "+node+" to be Ready again", 120*time.Second, nodeBack(node)); err != nil {
			t.Error(err)
		}
	})
	if err := takeNodeLease(bg(), node, 3600, time.Now()); err != nil {
		t.Fatal(err)
	}
	t.Logf("the kubelet of node %s stopped (lease held by %s, was %q)", node, deadKubelet, holder)
}

// takeNodeLease makes deadKubelet the holder of node's lease for seconds
// from renewed.
func takeNodeLease(ctx context.Context, node string, seconds int32, renewed time.Time) error {
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{
		"holderIdentity": deadKubelet, "leaseDurationSeconds": seconds,
		"renewTime": metav1.NewMicroTime(renewed),
	}})
	if err != nil {
		return err
	}
	if _, err := cluster.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("taking the lease of node %s: %w", node, err)
	}
	return nil
}

// restartKubelet undoes stopKubelet: it lets deadKubelet's lease of node
// expire, so that kwok takes it over (a lease it takes over, not one
// handed to it, makes it manage the node anew). A lease that is gone or
// held by another is left alone.
func restartKubelet(ctx context.Context, node string) error {
	lease, err := cluster.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the lease of node %s: %w", node, err)
	}
	if lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != deadKubelet {
		return nil
	}
	if err := takeNodeLease(ctx, node, 40, time.Now().Add(-time.Hour)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("letting %s's lease of node %s expire: %w", deadKubelet, node, err)
	}
	return nil
}

// nodeBack is a probe: nil once node is Ready without the taints of a node
// that is not ready or unreachable.
func nodeBack(node string) probe {
	return func(ctx context.Context) error {
		n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, tn := range n.Spec.Taints {
			if tn.Key == corev1.TaintNodeUnreachable || tn.Key == corev1.TaintNodeNotReady {
				return fmt.Errorf("node %s has taint %s", node, tn.ToString())
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("node %s is not Ready", node)
	}
}
