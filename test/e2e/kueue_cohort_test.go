//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Cohorts and fair sharing with whole runs (issue 13 item 1). Kueue runs
// with fair sharing on (hack/cluster.sh writes fairSharing into its
// Configuration): ClusterQueues of one cohort lend each other what they do
// not use, and a ClusterQueue that borrows less than its fair share may
// preempt the workloads of one that borrows more. The runs here are
// queued through the default-queue flag (pipelinerun-pod-affinity-kueue-
// queue-name), without a queue label.

var workloads = schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: "v1beta2", Resource: "workloads"}

// kueueCohort makes a cohort of a lending ClusterQueue that holds the
// cohort's whole quota (cpu; memory enough for anything here) and has no
// LocalQueue, and one ClusterQueue per namespace with no quota of its own
// that reclaims within the cohort; and a LocalQueue "runs" in each
// namespace. Every run borrows; fair sharing decides who keeps what. It
// returns the ClusterQueue of each namespace.
func kueueCohort(t *testing.T, cpu string, namespaces ...string) map[string]string {
	t.Helper()
	cohort := "e2e-" + rand.String(6)
	quota := func(cpu, memory string) []any {
		return []any{map[string]any{
			"coveredResources": []any{"cpu", "memory"},
			"flavors": []any{map[string]any{
				"name": kueueFlavor,
				"resources": []any{
					map[string]any{"name": "cpu", "nominalQuota": cpu},
					map[string]any{"name": "memory", "nominalQuota": memory},
				},
			}},
		}}
	}
	createKueueObject(t, clusterQueues, "", map[string]any{
		"kind":     "ClusterQueue",
		"metadata": map[string]any{"name": cohort + "-pool"},
		"spec":     map[string]any{"cohortName": cohort, "namespaceSelector": map[string]any{}, "resourceGroups": quota(cpu, "64Gi")},
	})
	cqs := map[string]string{}
	for _, ns := range namespaces {
		cq := cohort + "-" + ns
		createKueueObject(t, clusterQueues, "", map[string]any{
			"kind":     "ClusterQueue",
			"metadata": map[string]any{"name": cq},
			"spec": map[string]any{
				"cohortName":        cohort,
				"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": ns}},
				"resourceGroups":    quota("0", "0"),
				"preemption":        map[string]any{"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"},
			},
		})
		createKueueObject(t, localQueues, ns, map[string]any{
			"kind":     "LocalQueue",
			"metadata": map[string]any{"name": "runs", "namespace": ns},
			"spec":     map[string]any{"clusterQueue": cq},
		})
		cqs[ns] = cq
	}
	return cqs
}

// clusterQueueCPU returns what a ClusterQueue's status says it uses of cpu
// (total and borrowed), and its fair sharing weighted share.
func clusterQueueCPU(ctx context.Context, cq string) (total, borrowed string, share int64, err error) {
	u, err := cluster.dynamic.Resource(clusterQueues).Get(ctx, cq, metav1.GetOptions{})
	if err != nil {
		return "", "", 0, err
	}
	share, _, _ = unstructured.NestedInt64(u.Object, "status", "fairSharing", "weightedShare")
	flavors, _, _ := unstructured.NestedSlice(u.Object, "status", "flavorsUsage")
	total, borrowed = "0", "0"
	for _, f := range flavors {
		resources, _, _ := unstructured.NestedSlice(f.(map[string]any), "resources")
		for _, r := range resources {
			m := r.(map[string]any)
			if m["name"] == "cpu" {
				total, _, _ = unstructured.NestedString(m, "total")
				borrowed, _, _ = unstructured.NestedString(m, "borrowed")
			}
		}
	}
	return total, borrowed, share, nil
}

// quotaReservedAt returns when Kueue reserved quota for the Workload of
// the run's current placeholder pod (zero when it has not).
func quotaReservedAt(ctx context.Context, ns, run string) (time.Time, error) {
	pods, err := placeholderPods(ctx, ns, run)
	if err != nil || len(pods) != 1 {
		return time.Time{}, fmt.Errorf("placeholder pods of %s: %d, %v", run, len(pods), err)
	}
	u, err := cluster.dynamic.Resource(workloads).Namespace(ns).Get(ctx, pods[0].Labels[labelKueuePodGroup], metav1.GetOptions{})
	if err != nil {
		return time.Time{}, err
	}
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		m := c.(map[string]any)
		if m["type"] == "QuotaReserved" && m["status"] == "True" {
			at, err := time.Parse(time.RFC3339, fmt.Sprint(m["lastTransitionTime"]))
			return at, err
		}
	}
	return time.Time{}, nil
}

// admittedPlaceholder is a probe: the run has one placeholder pod, which
// Kueue has admitted (no admission gate).
func admittedPlaceholder(ns, run string) probe {
	return func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(pods) != 1 || gatedByKueue(&pods[0]) || pods[0].DeletionTimestamp != nil {
			return fmt.Errorf("placeholder pods of %s: %v", run, podNames(pods))
		}
		return nil
	}
}

// TestKueueFairSharingWholeRuns: a cohort of 8 CPU that two ClusterQueues
// borrow in full (a lender holds the quota), runs of 2 CPU peak from two
// namespaces, queued through the default-queue flag. Two nodes are
// cordoned, so that runs Kueue admits beyond the first two wait for a node
// without starting.
//
//  1. A's first two runs are admitted and start; its next two are admitted
//     too (A borrows the whole cohort) and wait for a node.
//  2. B's two runs come: fair sharing preempts A's two newest runs, the
//     ones that started no task, as wholes (their placeholders go, they
//     wait for admission again, no TaskRun, and say how many workloads
//     Kueue counts pending in their LocalQueue), and admits B's: both
//     ClusterQueues hold 4 CPU, equal shares.
//  3. The nodes are uncordoned: every run succeeds; at no moment more than
//     four placeholders are admitted, and no TaskRun pod runs without its
//     run's placeholder admitted and bound.
func TestKueueFairSharingWholeRuns(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(map[string]string{flagKueueQueue: "runs"}))
	nsA, nsB := newNamespace(t, "kueue-fair-a"), newNamespace(t, "kueue-fair-b")
	cqs := kueueCohort(t, "8", nsA, nsB)
	rec := watchPods(t, kueueInvariant(4, false), nsA, nsB)
	if len(cluster.nodes) != 4 {
		t.Fatalf("this test needs 4 nodes, the cluster has %v", cluster.nodes)
	}
	cordon(t, cluster.nodes[2])
	cordon(t, cluster.nodes[3])

	// No queue label: the default queue "runs" of each namespace.
	twoCPU := func(ns, name, duration string) *v1.PipelineRun {
		return newRun(ns, name, pipelineSpec(taskDef{name: "work", cpu: "2"}), runOpts{duration: duration})
	}
	// 1. A's first two runs start, and run long enough for what follows.
	for _, name := range []string{"a-1", "a-2"} {
		createRun(t, twoCPU(nsA, name, "60s"))
	}
	for _, name := range []string{"a-1", "a-2"} {
		waitFor(t, name+" started a TaskRun", 60*time.Second, func(ctx context.Context) error {
			trs, err := taskRuns(ctx, nsA, name)
			if err != nil || len(trs) == 0 {
				return fmt.Errorf("TaskRuns of %s: %d, %v", name, len(trs), err)
			}
			return nil
		})
	}
	pr := getRun(t, nsA, "a-1")
	if got, want := pr.Annotations[recordKey], "required/cluster,kueue-queue=runs"; got != want {
		t.Errorf("a-1's record %s = %q, want %q (queued through the default queue)", recordKey, got, want)
	}
	// Kueue orders the candidates for preemption by quota reservation
	// time, to the second: A's next runs are admitted a second later at least.
	waitFor(t, "a second past the quota reservations of a-1 and a-2", 30*time.Second, func(ctx context.Context) error {
		for _, name := range []string{"a-1", "a-2"} {
			at, err := quotaReservedAt(ctx, nsA, name)
			if err != nil {
				return err
			}
			if at.IsZero() || !time.Now().After(at.Add(time.Second)) {
				return fmt.Errorf("%s reserved quota at %s", name, at)
			}
		}
		return nil
	})
	for _, name := range []string{"a-3", "a-4"} {
		createRun(t, twoCPU(nsA, name, "2s"))
	}
	for _, name := range []string{"a-3", "a-4"} {
		waitFor(t, name+" admitted by Kueue", 60*time.Second, admittedPlaceholder(nsA, name))
		waitRunMessage(t, nsA, name, reasonWaiting, 60*time.Second)
	}
	waitFor(t, "A's ClusterQueue borrowing the whole cohort", 30*time.Second, func(ctx context.Context) error {
		total, borrowed, share, err := clusterQueueCPU(ctx, cqs[nsA])
		if err != nil {
			return err
		}
		if total != "8" || borrowed != "8" {
			return fmt.Errorf("%s uses cpu %s, borrowed %s (share %d)", cqs[nsA], total, borrowed, share)
		}
		t.Logf("%s uses cpu %s, borrowed %s, weighted share %d", cqs[nsA], total, borrowed, share)
		return nil
	})

	// 2. B's runs: fair sharing takes A's newest runs back, as wholes.
	for _, name := range []string{"b-1", "b-2"} {
		createRun(t, twoCPU(nsB, name, "2s"))
	}
	for _, name := range []string{"b-1", "b-2"} {
		waitFor(t, name+" admitted by Kueue", 90*time.Second, admittedPlaceholder(nsB, name))
	}
	for _, name := range []string{"a-3", "a-4"} {
		pr := waitRunMessage(t, nsA, name, reasonWaitingForAdmission, 60*time.Second, "LocalQueue runs", "cpu=2")
		t.Logf("%s: %s", name, describeCondition(pr))
		if n := len(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: name})); n < 2 {
			t.Errorf("saw %d placeholder pods of %s, want its admitted one replaced by a gated one", n, name)
		}
	}
	waitFor(t, "equal shares of the cohort", 30*time.Second, func(ctx context.Context) error {
		var seen []string
		for _, ns := range []string{nsA, nsB} {
			total, borrowed, share, err := clusterQueueCPU(ctx, cqs[ns])
			if err != nil {
				return err
			}
			seen = append(seen, fmt.Sprintf("%s cpu %s (borrowed %s, share %d)", cqs[ns], total, borrowed, share))
			if total != "4" {
				return fmt.Errorf("%s", strings.Join(seen, "; "))
			}
		}
		t.Logf("after fair sharing: %s", strings.Join(seen, "; "))
		return nil
	})
	// The message of a run waiting for admission follows its Workload
	// every 30 s: it says Kueue's reason and its position from Kueue's
	// visibility API (a-3 and a-4 wait in LocalQueue runs).
	pr = waitRunMessage(t, nsA, "a-3", reasonWaitingForAdmission, 60*time.Second, "pending: ", "; position ", " of 2 pending in LocalQueue runs, ", " in its ClusterQueue")
	t.Logf("a-3 waiting: %s", describeCondition(pr))
	for _, name := range []string{"a-1", "a-2"} {
		if n := len(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: name})); n != 1 {
			t.Errorf("saw %d placeholder pods of %s, want its first one only: a run that started was preempted", n, name)
		}
	}

	// 3. Room again: every run completes.
	for _, node := range cluster.nodes[2:] {
		if err := setUnschedulable(bg(), cluster.kube, node, false); err != nil {
			t.Fatalf("uncordoning %s: %v", node, err)
		}
	}
	for _, run := range []struct{ ns, name string }{{nsB, "b-1"}, {nsB, "b-2"}, {nsA, "a-1"}, {nsA, "a-2"}, {nsA, "a-3"}, {nsA, "a-4"}} {
		waitRunSucceeded(t, run.ns, run.name, 3*time.Minute)
	}
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %s", strings.Join(v, "\n  "))
	}
}
