//go:build e2e

package e2e

// A run's node tainted mid-run with a taint its pods do not tolerate,
// whoever put it there: an autoscaler about to remove the node, an
// operator marking it out of service, the node lifecycle controller for a
// node that reports memory, disk or PID pressure. The run leaves the node
// between tasks (issue 8).

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// taintCase is one way a run's node comes to carry a taint.
type taintCase struct {
	name string
	// taint is what the node carries: put there by the test, or, when
	// condition is set, by the node lifecycle controller once the node
	// reports condition True (the test only waits for it).
	taint     corev1.Taint
	condition corev1.NodeConditionType
	// atGate: the node is tainted while the run waits at a gate between
	// its tasks (a custom task nobody reconciles, passed by the test), no
	// TaskRun pod of it on the node (a NoExecute taint would evict a
	// running one). Otherwise while its first task runs there: the run
	// waits for it (WaitingToMove naming the taint), then moves.
	atGate bool
}

func TestReliabilityTaintedNodeMidRun(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	for _, tc := range []taintCase{{
		name:  "karpenter disrupted",
		taint: corev1.Taint{Key: "karpenter.sh/disrupted", Effect: corev1.TaintEffectNoSchedule},
	}, {
		// The cluster autoscaler's taint on a node it is about to remove
		// (its value is the time it decided so).
		name:  "cluster autoscaler",
		taint: corev1.Taint{Key: "ToBeDeletedByClusterAutoscaler", Value: "1764770400", Effect: corev1.TaintEffectNoSchedule},
	}, {
		// An operator's mark of a node that is shut down: it evicts every
		// pod that does not tolerate it, the placeholder's too.
		name:   "out of service",
		taint:  corev1.Taint{Key: corev1.TaintNodeOutOfService, Value: "nodeshutdown", Effect: corev1.TaintEffectNoExecute},
		atGate: true,
	}, {
		name:      "memory pressure",
		taint:     corev1.Taint{Key: corev1.TaintNodeMemoryPressure, Effect: corev1.TaintEffectNoSchedule},
		condition: corev1.NodeMemoryPressure,
		atGate:    true,
	}, {
		name:      "disk pressure",
		taint:     corev1.Taint{Key: corev1.TaintNodeDiskPressure, Effect: corev1.TaintEffectNoSchedule},
		condition: corev1.NodeDiskPressure,
		atGate:    true,
	}, {
		name:      "PID pressure",
		taint:     corev1.Taint{Key: corev1.TaintNodePIDPressure, Effect: corev1.TaintEffectNoSchedule},
		condition: corev1.NodePIDPressure,
		atGate:    true,
	}} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t) })
	}
}

// run places a run of a first step (a 6-s task, or a gate), then two
// parallel 1-s tasks; taints its node during the first step; and checks
// that the run names the taint, moves, runs both later tasks on its new
// node, and succeeds.
func (tc taintCase) run(t *testing.T) {
	ns := newNamespace(t, "taint")
	const run = "tainted"
	first := v1.PipelineTask{Name: "t1", TaskSpec: embeddedTask(taskDef{name: "t1", duration: "6s"})}
	if tc.atGate {
		first = v1.PipelineTask{Name: "t1", TaskRef: &v1.TaskRef{APIVersion: "e2e.pipelinerun-affinity.dev/v1", Kind: "Gate"}}
	}
	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{first,
		{Name: "t2", TaskSpec: embeddedTask(taskDef{name: "t2", duration: "1s"}), RunAfter: []string{"t1"}},
		{Name: "t3", TaskSpec: embeddedTask(taskDef{name: "t3", duration: "1s"}), RunAfter: []string{"t1"}},
	}}
	createRun(t, newRun(ns, run, spec, runOpts{}))

	var node string
	if tc.atGate {
		node = waitPlaceholderBound(t, ns, run, "", 60*time.Second).Spec.NodeName
		waitFor(t, "the gate's CustomRun", 30*time.Second, func(ctx context.Context) error {
			_, err := gateRun(ctx, ns, run)
			return err
		})
	} else {
		node = waitPlaced(t, ns, run, 60*time.Second)
	}
	if tc.condition != "" {
		reportPressure(t, node, tc.condition, tc.taint)
	} else {
		taint(t, node, tc.taint)
	}
	why := fmt.Sprintf("Node %s is tainted %s", node, tc.taint.ToString())
	if !tc.atGate {
		pr := waitRunMessage(t, ns, run, reasonWaitingToMove, 20*time.Second, why)
		t.Logf("while t1 runs: %s", describeCondition(pr))
	}
	waitFor(t, "a Moving event naming the taint", 40*time.Second, func(ctx context.Context) error {
		return hasRunEvent(ctx, ns, run, eventMoving, why)
	})
	moved := waitPlaceholderBound(t, ns, run, node, 40*time.Second).Spec.NodeName
	t.Logf("moved from %s to %s: %v", node, moved, eventMessages(findEvents(ns, run, eventMoving, "")))
	if tc.atGate {
		passGate(t, ns, run)
	}
	waitRunSucceeded(t, ns, run, 60*time.Second)
	later := 0
	for _, p := range mustTaskRunPods(t, ns, run) {
		switch task := p.Labels[labelPipelineTask]; {
		case task == "t1" && p.Spec.NodeName != node:
			t.Errorf("t1's pod %s ran on %s, want %s, where the run was placed", p.Name, p.Spec.NodeName, node)
		case task != "t1":
			later++
			if p.Spec.NodeName != moved {
				t.Errorf("%s's pod %s ran on %s, want %s, where the run moved", task, p.Name, p.Spec.NodeName, moved)
			}
		}
	}
	if later != 2 {
		t.Errorf("%d pods of the later tasks t2 and t3, want 2", later)
	}
}

// waitPlaceholderBound waits until the run has one placeholder pod, not
// being deleted, bound to a node other than notOn, and returns it.
func waitPlaceholderBound(t *testing.T, ns, run, notOn string, timeout time.Duration) corev1.Pod {
	t.Helper()
	var bound corev1.Pod
	what := "the placeholder pod of " + run + " bound"
	if notOn != "" {
		what += " to a node other than " + notOn
	}
	waitFor(t, what, timeout, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		var states []string
		for _, p := range pods {
			if p.DeletionTimestamp == nil && p.Spec.NodeName != "" && p.Spec.NodeName != notOn {
				bound = p
				return nil
			}
			states = append(states, fmt.Sprintf("%s %s on %q", p.Name, podStatus(&p), p.Spec.NodeName))
		}
		return fmt.Errorf("placeholder pods [%s]", strings.Join(states, ", "))
	})
	return bound
}

// taint adds a taint to node and registers its removal.
func taint(t *testing.T, node string, tn corev1.Taint) {
	t.Helper()
	update := func(add bool) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var taints []corev1.Taint
			for _, x := range n.Spec.Taints {
				if x.Key != tn.Key {
					taints = append(taints, x)
				}
			}
			if add {
				taints = append(taints, tn)
			}
			n.Spec.Taints = taints
			_, err = cluster.kube.CoreV1().Nodes().Update(bg(), n, metav1.UpdateOptions{})
			return err
		})
	}
	t.Cleanup(func() {
		if err := update(false); err != nil {
			t.Errorf("removing taint %s from %s: %v", tn.Key, node, err)
		}
	})
	if err := update(true); err != nil {
		t.Fatalf("tainting %s: %v", node, err)
	}
	t.Logf("tainted %s with %s", node, tn.ToString())
}

// reportPressure has node report condition (MemoryPressure, DiskPressure
// or PIDPressure) True, as a kubelet under pressure does, and waits until
// the node lifecycle controller has given it the taint want. Its cleanup
// reports the condition False again and waits until the controller has
// removed the taint. (The kwok node's heartbeat keeps a pressure condition
// that is True: hack/kwok/stages.yaml.)
func reportPressure(t *testing.T, node string, condition corev1.NodeConditionType, want corev1.Taint) {
	t.Helper()
	report := func(status corev1.ConditionStatus, reason, message string) error {
		now := metav1.Now()
		patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{{
			Type: condition, Status: status, Reason: reason, Message: message, LastHeartbeatTime: now, LastTransitionTime: now,
		}}}})
		if err != nil {
			return err
		}
		_, err = cluster.kube.CoreV1().Nodes().Patch(bg(), node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		return err
	}
	t.Cleanup(func() {
		if err := report(corev1.ConditionFalse, "E2ENoPressure", "the e2e test reports no pressure"); err != nil {
			t.Errorf("reporting %s False on %s: %v", condition, node, err)
			return
		}
		if err := poll("the node lifecycle controller to remove taint "+want.ToString()+" from "+node, 30*time.Second, hasTaint(node, want, false)); err != nil {
			t.Error(err)
		}
	})
	if err := report(corev1.ConditionTrue, "E2EPressure", "the e2e test reports pressure"); err != nil {
		t.Fatalf("reporting %s True on %s: %v", condition, node, err)
	}
	waitFor(t, "the node lifecycle controller to taint "+node+" "+want.ToString(), 30*time.Second, hasTaint(node, want, true))
	t.Logf("%s reports %s: tainted %s", node, condition, want.ToString())
}

// hasTaint is a probe: nil once node has (present) or lacks the taint of
// want's key and effect.
func hasTaint(node string, want corev1.Taint, present bool) probe {
	return func(ctx context.Context) error {
		n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		found := false
		for _, tn := range n.Spec.Taints {
			if tn.Key == want.Key && tn.Effect == want.Effect {
				found = true
			}
		}
		if found != present {
			return fmt.Errorf("node %s taints %v", node, n.Spec.Taints)
		}
		return nil
	}
}
