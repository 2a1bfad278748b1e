//go:build e2e && realnode

package e2e

// Two real nodes (hack/cluster.sh up --real-nodes 2): isolated runs really
// run on different kubelets.

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealNodeIsolatedRunsTakeBothNodes: with isolate-pipelinerun, run one
// (two tasks at once, then a third) takes a real node; run two, created
// while run one holds its node, takes the other. Every pod of each run (its
// placeholder's and its TaskRuns') is on its run's node, the steps really
// ran there (each writes the node's name it was given through the downward
// API into a result), and both runs succeed.
func TestRealNodeIsolatedRunsTakeBothNodes(t *testing.T) {
	real := realNodes(t)
	if len(real) < 2 {
		t.Fatalf("%d Ready real node(s) %v: this test needs two (hack/cluster.sh up --real-nodes 2, as make e2e-real starts it)", len(real), real)
	}
	ns := newNamespace(t, "real-nodes")
	setFeatureFlags(t, patchedFlags(nil))

	small := resource.MustParse("100m")
	nodeTask := func(name, sleep string, after ...string) v1.PipelineTask {
		pt := realTask(name, small, "#!/bin/sh\nsleep "+sleep+"\nprintf %s \"$NODE\" > $(results.node.path)\n", after...)
		pt.TaskSpec.Results = []v1.TaskResult{{Name: "node"}}
		pt.TaskSpec.Steps[0].Env = []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{
			FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
		}}}
		return pt
	}
	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		nodeTask("a", "8"),
		nodeTask("b", "8"),
		nodeTask("c", "1", "a", "b"),
	}}
	runs := []string{"one", "two"}
	// boundNode waits for run's placeholder pod to be bound, and returns its
	// node. It is read while the run goes: a done run releases its
	// placeholder, which may be gone by the time the test sees the run done.
	boundNode := func(run string) string {
		var node string
		waitFor(t, "run "+run+"'s placeholder to be bound", 2*time.Minute, func(ctx context.Context) error {
			hs, err := placeholderPods(ctx, ns, run)
			if err != nil {
				return err
			}
			for _, p := range hs {
				if p.Spec.NodeName != "" {
					node = p.Spec.NodeName
					return nil
				}
			}
			return fmt.Errorf("%d placeholder pods, none bound", len(hs))
		})
		checkOnRealNode(t, "run "+run+"'s placeholder", node, real)
		return node
	}
	nodes := map[string]string{}
	createRun(t, newRun(ns, runs[0], spec, runOpts{podTemplate: realPodTemplate()}))
	nodes[runs[0]] = boundNode(runs[0])
	createRun(t, newRun(ns, runs[1], spec, runOpts{podTemplate: realPodTemplate()}))
	nodes[runs[1]] = boundNode(runs[1])

	for _, run := range runs {
		done := waitRunSucceeded(t, ns, run, 4*time.Minute)
		t.Logf("PipelineRun %s: %s", run, describeCondition(done))
		node := nodes[run]
		pods, err := taskRunPods(bg(), ns, run)
		if err != nil {
			t.Fatalf("listing run %s's pods: %v", run, err)
		}
		if len(pods) != 3 {
			t.Errorf("run %s has %d TaskRun pods, want 3", run, len(pods))
		}
		for _, p := range pods {
			if p.Spec.NodeName != node {
				t.Errorf("run %s: TaskRun pod %s ran on %q, its placeholder on %s", run, p.Name, p.Spec.NodeName, node)
			}
		}
		trs, err := taskRuns(bg(), ns, run)
		if err != nil {
			t.Fatalf("listing run %s's TaskRuns: %v", run, err)
		}
		for _, tr := range trs {
			got := ""
			for _, r := range tr.Status.Results {
				if r.Name == "node" {
					got = r.Value.StringVal
				}
			}
			if got != node {
				t.Errorf("run %s: TaskRun %s's step ran with spec.nodeName %q, want %s", run, tr.Name, got, node)
			}
		}
	}
	if nodes[runs[0]] == nodes[runs[1]] {
		t.Errorf("both isolated runs ran on %s", nodes[runs[0]])
	}
	t.Logf("run one on %s, run two on %s", nodes[runs[0]], nodes[runs[1]])

	// Each node's kubelet reports the run's pods it ran: the pod's
	// status.hostIP is the node's own address.
	for _, run := range runs {
		n, err := cluster.kube.CoreV1().Nodes().Get(bg(), nodes[run], metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading node %s: %v", nodes[run], err)
		}
		var ip string
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				ip = a.Address
			}
		}
		pods, err := taskRunPods(bg(), ns, run)
		if err != nil {
			t.Fatalf("listing run %s's pods: %v", run, err)
		}
		for _, p := range pods {
			if p.Status.HostIP != ip {
				t.Errorf("run %s: pod %s reported by a kubelet at %q, node %s is at %q", run, p.Name, p.Status.HostIP, nodes[run], ip)
			}
		}
	}
}
