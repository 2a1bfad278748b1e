//go:build e2e

package e2e

// The prototype's scale-up scenario with a real autoscaler: Karpenter's kwok
// cloud provider, which hack/cluster.sh starts with --autoscaler karpenter.
// The suite keeps Karpenter paused (its NodePool's CPU limit at 0) so that
// the runs other tests make wait do wait; the tests here let it add nodes,
// and pause it again when they end.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

const (
	// autoscalerKarpenter is cluster.env's AUTOSCALER for Karpenter.
	autoscalerKarpenter = "karpenter"
	// nodePoolName is the NodePool of hack/karpenter/nodepool.yaml.
	nodePoolName = "default"
	// nodePoolCPU is the NodePool's CPU limit while a test lets Karpenter
	// add nodes (hack/karpenter/nodepool.yaml's own limit).
	nodePoolCPU       = "32"
	labelNodePool     = "karpenter.sh/nodepool"
	labelInstanceType = corev1.LabelInstanceTypeStable
	// taintDisrupted is the taint Karpenter puts on a node it drains.
	taintDisrupted = "karpenter.sh/disrupted"
	// reasonNominated is Karpenter's event on a pod it makes a node for.
	reasonNominated = "Nominated"
)

var (
	nodePools  = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}
	nodeClaims = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodeclaims"}
)

// getNodePoolLimit returns the NodePool's CPU limit ("" for none).
func getNodePoolLimit(ctx context.Context) (string, error) {
	np, err := cluster.dynamic.Resource(nodePools).Get(ctx, nodePoolName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("getting NodePool %s: %w", nodePoolName, err)
	}
	cpu, _, err := unstructured.NestedString(np.Object, "spec", "limits", "cpu")
	if err != nil {
		return "", fmt.Errorf("NodePool %s: spec.limits.cpu: %w", nodePoolName, err)
	}
	return cpu, nil
}

// setNodePoolLimit sets the NodePool's CPU limit ("" removes it). Karpenter
// makes no node that would take its nodes past the limit: 0 pauses it.
func setNodePoolLimit(ctx context.Context, cpu string) error {
	var value interface{}
	if cpu != "" {
		value = cpu
	}
	patch, err := json.Marshal(map[string]interface{}{"spec": map[string]interface{}{"limits": map[string]interface{}{"cpu": value}}})
	if err != nil {
		return err
	}
	if _, err := cluster.dynamic.Resource(nodePools).Patch(ctx, nodePoolName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("setting NodePool %s's CPU limit to %q: %w", nodePoolName, cpu, err)
	}
	return nil
}

// pauseAutoscaler stops Karpenter from adding nodes and returns the CPU
// limit the NodePool had.
func pauseAutoscaler(ctx context.Context) (string, error) {
	limit, err := getNodePoolLimit(ctx)
	if err != nil {
		return "", err
	}
	if limit == "0" {
		// Paused by an interrupted earlier run of the suite.
		limit = nodePoolCPU
	}
	return limit, setNodePoolLimit(ctx, "0")
}

// requireKarpenter fails a test that needs the autoscaler on a cluster
// started without it.
func requireKarpenter(t *testing.T) {
	t.Helper()
	if cluster.autoscaler != autoscalerKarpenter {
		t.Fatalf("this test needs Karpenter: start the cluster with hack/cluster.sh up --autoscaler karpenter (%s says AUTOSCALER=%q)",
			cluster.clusterEnvFile(), cluster.autoscaler)
	}
}

// resumeAutoscaler lets Karpenter add nodes until the test ends; then it
// pauses it again and waits until the nodes it made are gone, so that the
// next test finds only the static nodes.
func resumeAutoscaler(t *testing.T) {
	t.Helper()
	if err := setNodePoolLimit(bg(), nodePoolCPU); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := setNodePoolLimit(bg(), "0"); err != nil {
			t.Error(err)
		}
		// Empty nodes are consolidated away within a minute; a node some
		// pod still holds is removed by deleting its NodeClaim.
		err := poll("Karpenter to consolidate its nodes away", 90*time.Second, noAutoscaledNodes)
		if err == nil {
			return
		}
		t.Log(err)
		claims, err := cluster.dynamic.Resource(nodeClaims).List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Errorf("listing NodeClaims: %v", err)
			return
		}
		for _, c := range claims.Items {
			t.Logf("deleting NodeClaim %s, whose node is still there", c.GetName())
			if err := cluster.dynamic.Resource(nodeClaims).Delete(bg(), c.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting NodeClaim %s: %v", c.GetName(), err)
			}
		}
		waitFor(t, "the nodes Karpenter made to be gone", 2*time.Minute, noAutoscaledNodes)
	})
}

// noAutoscaledNodes is a probe: nil once Karpenter's nodes are gone.
func noAutoscaledNodes(ctx context.Context) error {
	nodes, err := autoscaledNodes(ctx)
	if err != nil {
		return err
	}
	if len(nodes) > 0 {
		var names []string
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		return fmt.Errorf("nodes %v", names)
	}
	return nil
}

// autoscaledNodes lists the nodes Karpenter made.
func autoscaledNodes(ctx context.Context) ([]corev1.Node, error) {
	l, err := cluster.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: labelNodePool})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// nodeWatch records, until stopped, whether a node was tainted for
// disruption or deleted.
type nodeWatch struct {
	mu        sync.Mutex
	disrupted []string
	stop      chan struct{}
	done      chan struct{}
}

// watchNode polls node every second until stop is called.
func watchNode(node string) *nodeWatch {
	w := &nodeWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
			w.mu.Lock()
			switch {
			case apierrors.IsNotFound(err):
				w.disrupted = append(w.disrupted, fmt.Sprintf("%s: node deleted", time.Now().Format("15:04:05")))
			case err == nil && n.DeletionTimestamp != nil:
				w.disrupted = append(w.disrupted, fmt.Sprintf("%s: node being deleted", time.Now().Format("15:04:05")))
			case err == nil:
				for _, taint := range n.Spec.Taints {
					if taint.Key == taintDisrupted {
						w.disrupted = append(w.disrupted, fmt.Sprintf("%s: tainted %s", time.Now().Format("15:04:05"), taint.Key))
					}
				}
			}
			w.mu.Unlock()
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// end stops the watch and returns what it saw.
func (w *nodeWatch) end() []string {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.disrupted
}

// TestCompareAutoscalerScaleUp is the prototype's headline scenario with a
// real autoscaler. Every static node holds an isolated run; run N+1, whose
// peak is 6 CPU (two 3-CPU tasks in parallel), waits with the scheduler's
// message until Karpenter adds a node for its placeholder. The placeholder
// asks for the peak, so that node is big enough for the whole run (8 CPU: a
// 4-CPU node cannot hold it), and every pod of the run runs there. Its last
// task is long and small, so the node looks underused for longer than the
// NodePool's consolidateAfter: the placeholder's karpenter.sh/do-not-disrupt
// keeps Karpenter from taking it away under the run. Once the run is done
// the placeholder goes, and so does the node.
//
// With E2E_COMPARE_UPSTREAM=1 the scenario also runs, recorded only, against
// upstream and against the patched controller with
// pipelinerun-pod-affinity-reservation: none (no reservation: the
// placeholder is token-sized, as upstream's is).
func TestCompareAutoscalerScaleUp(t *testing.T) {
	requireKarpenter(t)
	scaleUp := func(flags map[string]string) func(s *scenario) {
		return func(s *scenario) { autoscalerScaleUp(s, flags) }
	}
	compare(t, scaleUp(nil))
	if compareUpstream() {
		t.Run("patched-reservation-none", func(t *testing.T) {
			switchController(t, "patched")
			s := &scenario{t: t, recordOnly: true}
			scaleUp(map[string]string{flagReservation: "none"})(s)
			t.Logf("SUMMARY with reservation none: %s", strings.Join(s.defects, "; "))
		})
	}
}

// autoscalerScaleUp is TestCompareAutoscalerScaleUp's scenario, with the
// feature flags' overrides.
func autoscalerScaleUp(s *scenario, flags map[string]string) {
	{
		t := s.t
		setFeatureFlags(t, scenarioFlags(flags))
		ns := newNamespace(t, "scaleup")
		rec := watchPods(t, nil, ns)

		// N static nodes, each holding an isolated run that outlasts the test.
		var holders []string
		for i := range cluster.nodes {
			name := fmt.Sprintf("holder-%d", i)
			createRun(t, newRun(ns, name, oneTask(), runOpts{duration: "240s"}))
			holders = append(holders, name)
		}
		for _, h := range holders {
			if _, ok := s.waitBound(ns, h, 60*time.Second); !ok {
				return
			}
		}
		static := map[string]bool{}
		for _, n := range cluster.nodes {
			static[n] = true
		}
		resumeAutoscaler(t)

		const run = "grow"
		createRun(t, newRun(ns, run, pipelineSpec(
			taskDef{name: "prepare", cpu: "1", duration: "3s"},
			taskDef{name: "build", cpu: "3", after: []string{"prepare"}, duration: "3s"},
			taskDef{name: "test", cpu: "3", after: []string{"prepare"}, duration: "3s"},
			taskDef{name: "publish", cpu: "500m", after: []string{"build", "test"}, duration: "45s"},
		), runOpts{}))
		if !s.upstream {
			pr := waitRunReason(t, ns, run, reasonWaiting, 30*time.Second)
			t.Logf("before the scale-up: %s", describeCondition(pr))
		}
		node, ok := s.waitBound(ns, run, 2*time.Minute)
		if !ok {
			return
		}
		watch := watchNode(node)
		n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
		if !s.require(err == nil, "getting node %s: %v", node, err) {
			watch.end()
			return
		}
		t.Logf("the run's first pod is on node %s (instance type %q, NodePool %q)", node, n.Labels[labelInstanceType], n.Labels[labelNodePool])
		s.check(!static[node] && n.Labels[labelNodePool] == nodePoolName, "the run's first pod is on %s, not on a node Karpenter made", node)
		s.check(n.Labels[labelInstanceType] == "pra-8cpu", "Karpenter made a %q node, want pra-8cpu: the run's peak is 6 CPU", n.Labels[labelInstanceType])

		_, finished := s.finish(ns, run, 3*time.Minute)
		disruptions := watch.end()
		s.check(len(disruptions) == 0, "node %s was disrupted while the run ran there: %v", node, disruptions)

		pods := rec.matching(map[string]string{labelPipelineRun: run})
		logPods(t, pods)
		for _, p := range pods {
			s.check(p.Node == node, "pod %s is on %q, want %s", p.Name, p.Node, node)
		}
		if !s.upstream {
			var holder string
			for _, p := range rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}) {
				holder = p.Name
			}
			nominated := objectEvents(ns, "Pod", holder, reasonNominated, "")
			s.check(len(nominated) > 0, "Karpenter recorded no %s event on placeholder pod %s", reasonNominated, holder)
			for _, e := range nominated {
				t.Logf("Karpenter on the placeholder: %s %s", e.Reason, e.Message)
			}
			placed := findEvents(ns, run, eventPlaced, node)
			s.check(len(placed) > 0, "no %s event naming node %s", eventPlaced, node)
			t.Logf("placed: %s", strings.Join(eventMessages(placed), "; "))
		}
		if !finished {
			return
		}
		// The run is done and its placeholder gone: the node is empty and
		// Karpenter removes it.
		err = poll(fmt.Sprintf("Karpenter to remove node %s after the run finished", node), 2*time.Minute, func(ctx context.Context) error {
			n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			}
			return fmt.Errorf("node %s is there (unschedulable=%t, %d taints)", node, n.Spec.Unschedulable, len(n.Spec.Taints))
		})
		s.check(err == nil, "%v", err)
	}
}
