//go:build e2e

package e2e

// A run whose node is lost while one of its tasks runs there, and no other
// node can take it: its wait for a new node is bounded like every wait
// (max-node-wait, counted from the move). When the bound runs out it fails
// NodeWaitTimeout and leaves nothing waiting on the placeholder it
// releases: its running TaskRun is cancelled, so no pod of the run stays
// Pending for a placeholder that will never come (issue 8).

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestReliabilityNodeWaitTimeoutMidRun(t *testing.T) {
	const maxNodeWait = 15 * time.Second
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: maxNodeWait.String()}))
	ns := newNamespace(t, "lost-midrun")
	rec := watchPods(t, nil, ns)
	// The run's pods select a label only node has: once node is gone, no
	// node can take the run.
	node := cluster.nodes[len(cluster.nodes)-1]
	const label = "e2e.pipelinerun-affinity.dev/only"
	labelNode(t, node, label, ns)
	const run = "stranded"
	spec := pipelineSpec(taskDef{name: "t1", duration: "300s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "1s"})
	createRun(t, newRun(ns, run, spec, runOpts{podTemplate: &pod.PodTemplate{NodeSelector: map[string]string{label: ns}}}))
	if placed := waitPlaced(t, ns, run, 60*time.Second); placed != node {
		t.Fatalf("t1 of %s runs on %s, want %s, the only node with %s", run, placed, node, label)
	}

	deleteNode(t, node)
	deleted := time.Now()
	// As an operator does for a node that will not come back, the pods
	// bound to it are force-deleted (nothing confirms their deletion
	// there). Tekton makes t1's pod again, which can only wait for the
	// run's placeholder.
	for _, p := range mustTaskRunPods(t, ns, run) {
		if err := cluster.kube.CoreV1().Pods(ns).Delete(bg(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatalf("force-deleting pod %s of the deleted node %s: %v", p.Name, node, err)
		}
	}
	waitFor(t, "a Moving event naming the deleted node", 30*time.Second, func(ctx context.Context) error {
		return hasRunEvent(ctx, ns, run, eventMoving, "Node "+node+" is gone")
	})
	waitFor(t, "t1's pod made again, Pending for the placeholder", 30*time.Second, func(ctx context.Context) error {
		pods, err := taskRunPods(ctx, ns, run)
		if err != nil {
			return err
		}
		for _, p := range pods {
			if msg, ok := podScheduledFalse(&p); ok && p.Spec.NodeName == "" {
				t.Logf("t1's pod %s is Pending: %s", p.Name, msg)
				return nil
			}
		}
		return fmt.Errorf("TaskRun pods %v", podNames(pods))
	})
	pr := getRun(t, ns, run)
	t.Logf("while waiting: %s", describeCondition(pr))

	pr = waitRunMessage(t, ns, run, reasonNodeWait, maxNodeWait+45*time.Second,
		"PipelineRun waited", "for a node, longer than "+flagMaxNodeWait+"="+maxNodeWait.String(), "Last cause:", "node affinity/selector")
	elapsed := time.Since(deleted)
	t.Logf("%s after the node was deleted: %s", elapsed.Round(time.Second), describeCondition(pr))
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	if elapsed < maxNodeWait-time.Second {
		t.Errorf("failed %s after the node was deleted, before max-node-wait %s", elapsed.Round(time.Second), maxNodeWait)
	}
	assertCancelledAfter(t, ns, run, "t1", "t2")
	waitFor(t, "no pod of "+run+" left", 30*time.Second, func(ctx context.Context) error {
		l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run})
		if err != nil {
			return err
		}
		var left []string
		for _, p := range l.Items {
			left = append(left, fmt.Sprintf("%s %s on %q", p.Name, podStatus(&p), p.Spec.NodeName))
		}
		if len(left) > 0 {
			return fmt.Errorf("pods %v", left)
		}
		return nil
	})
	waitNoPlaceholder(t, ns, run, 30*time.Second)
	for _, p := range rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"}) {
		if p.Node != "" && p.Node != node {
			t.Errorf("TaskRun pod %s ran on %s, want only %s", p.Name, p.Node, node)
		}
	}
	logPods(t, rec.matching(map[string]string{labelPipelineRun: run}))
}
