//go:build e2e

package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The topology key (issue 13 item 3): with
// pipelinerun-pod-affinity-topology-key "topology.kubernetes.io/zone" the
// pods of a run share a zone, not a node, and isolated runs take a zone
// each. The local cluster's nodes are in zone-a and zone-b
// (hack/cluster.sh --zones 2, the default).

const (
	flagTopology       = "pipelinerun-pod-affinity-topology-key"
	zoneKey            = "topology.kubernetes.io/zone"
	annotationTopology = "tekton.dev/pod-affinity-topology"
)

// zonesOfNodes reads the zone of every node.
func zonesOfNodes(t *testing.T) map[string]string {
	t.Helper()
	nodes, err := cluster.kube.CoreV1().Nodes().List(bg(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing nodes: %v", err)
	}
	zones := map[string]string{}
	for _, n := range nodes.Items {
		zones[n.Name] = n.Labels[zoneKey]
	}
	return zones
}

// zoneHolders is an invariant over the test's placeholders: no zone ever
// holds the placeholders of two runs at once.
func zoneHolders(zoneOf map[string]string) func(live []*corev1.Pod) string {
	return func(live []*corev1.Pod) string {
		byZone := map[string][]string{}
		for _, p := range live {
			key := holderKey(p)
			if key == "" || p.Labels[labelComponent] != componentHolder || p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			z := zoneOf[p.Spec.NodeName]
			byZone[z] = append(byZone[z], key)
		}
		var bad []string
		for z, runs := range byZone {
			if len(runs) > 1 {
				sort.Strings(runs)
				bad = append(bad, fmt.Sprintf("zone %s holds %s", z, strings.Join(runs, " and ")))
			}
		}
		sort.Strings(bad)
		return strings.Join(bad, "; ")
	}
}

// With the zone key and isolate-pipelinerun on 4 nodes in 2 zones: run A
// (three parallel 1-CPU tasks) and run B take a zone each, every pod of A
// in A's zone with the zone affinity to A's placeholder; run C waits with
// WaitingForNode and the scheduler's anti-affinity message although two
// nodes hold no placeholder, and runs in A's zone once A is done. No zone
// ever holds two placeholders.
func TestTopologyZone(t *testing.T) {
	zoneOf := zonesOfNodes(t)
	zones := map[string]bool{}
	for _, n := range cluster.nodes {
		if zoneOf[n] == "" {
			t.Fatalf("node %s has no %s label: start the cluster with hack/cluster.sh up --zones 2", n, zoneKey)
		}
		zones[zoneOf[n]] = true
	}
	if len(zones) != 2 || len(cluster.nodes) < 4 {
		t.Fatalf("needs 4 nodes in 2 zones, the cluster has %v in %v: hack/cluster.sh up --nodes 4 --zones 2", cluster.nodes, zones)
	}
	setFeatureFlags(t, patchedFlags(map[string]string{flagTopology: zoneKey}))
	ns := newNamespace(t, "zone")
	rec := watchPods(t, zoneHolders(zoneOf), ns)

	const a, b, c = "zone-a-run", "zone-b-run", "zone-c-run"
	fanOut := pipelineSpec(
		taskDef{name: "x", cpu: "1"}, taskDef{name: "y", cpu: "1"}, taskDef{name: "z", cpu: "1"},
	)
	createRun(t, newRun(ns, a, fanOut, runOpts{duration: "15s"}))
	createRun(t, newRun(ns, b, oneTask(), runOpts{duration: "30s"}))
	nodeA, nodeB := waitPlaced(t, ns, a, 40*time.Second), waitPlaced(t, ns, b, 40*time.Second)
	zoneA, zoneB := zoneOf[nodeA], zoneOf[nodeB]
	t.Logf("%s in %s (%s), %s in %s (%s)", a, zoneA, nodeA, b, zoneB, nodeB)
	if zoneA == zoneB {
		t.Errorf("the isolated runs %s and %s share zone %s", a, b, zoneA)
	}

	t.Run("the run's decision and its pods' affinity name the zone", func(t *testing.T) {
		for _, run := range []string{a, b} {
			if got, want := getRun(t, ns, run).Annotations[recordKey], "required/cluster@"+zoneKey; got != want {
				t.Errorf("run %s recorded %q, want %q", run, got, want)
			}
		}
		trs, err := taskRuns(bg(), ns, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range trs {
			if got := tr.Annotations[annotationTopology]; got != zoneKey {
				t.Errorf("TaskRun %s has %s=%q, want %q", tr.Name, annotationTopology, got, zoneKey)
			}
		}
		for _, p := range mustTaskRunPods(t, ns, a) {
			found := false
			if p.Spec.Affinity != nil && p.Spec.Affinity.PodAffinity != nil {
				for _, term := range p.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
					if term.LabelSelector != nil && term.LabelSelector.MatchLabels[labelInstance] == p.Labels[labelMember] {
						found = term.TopologyKey == zoneKey
					}
				}
			}
			if !found {
				t.Errorf("pod %s has no required affinity to its placeholder with topology %s: %+v", p.Name, zoneKey, p.Spec.Affinity)
			}
		}
		if evs := findEvents(ns, a, eventPlaced, zoneKey+"="+zoneA); len(evs) == 0 {
			t.Errorf("no Placed event of %s names %s=%s", a, zoneKey, zoneA)
		}
	})

	t.Run("a third isolated run waits for a zone, visibly, then takes the first one freed", func(t *testing.T) {
		createRun(t, newRun(ns, c, oneTask(), runOpts{duration: "1s"}))
		pr := waitRunMessage(t, ns, c, reasonWaiting, 30*time.Second, "anti-affinity")
		t.Logf("%s waits: %s", c, describeCondition(pr))
		if trs, err := taskRuns(bg(), ns, c); err != nil || len(trs) != 0 {
			t.Errorf("run %s has %d TaskRuns while waiting for a zone (err %v)", c, len(trs), err)
		}
		if getRun(t, ns, a).IsDone() {
			t.Fatalf("test premise broken: %s finished before %s was seen waiting; lengthen its duration", a, c)
		}
		waitRunSucceeded(t, ns, a, 40*time.Second)
		waitRunSucceeded(t, ns, c, 40*time.Second)
		if zone := zoneOf[placedNode(ns, c)]; zone != zoneA {
			t.Errorf("%s ran in %q, want %s, freed by %s", c, zone, zoneA, a)
		}
		if first := getRun(t, ns, a); first.Status.CompletionTime != nil {
			if bound := holderBoundAt(rec, c); !bound.IsZero() && bound.Before(first.Status.CompletionTime.Time.Add(-time.Second)) {
				t.Errorf("%s's placeholder was bound at %s, before %s completed at %s", c, bound, a, first.Status.CompletionTime.Time)
			}
		}
	})

	waitRunSucceeded(t, ns, b, 40*time.Second)
	for _, run := range []string{a, c} {
		want := map[string]bool{}
		var nodes []string
		for _, p := range rec.matching(map[string]string{labelPipelineRun: run}) {
			if p.Node == "" {
				continue
			}
			want[zoneOf[p.Node]] = true
			nodes = append(nodes, p.Node)
		}
		if len(want) != 1 {
			t.Errorf("the pods of %s (placeholder and TaskRuns) ran in zones %v, on nodes %v: want one zone", run, want, nodes)
		}
		t.Logf("%s: pods on %v", run, nodes)
	}
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("zone isolation violated: %s", strings.Join(v, " | "))
	}
}
