//go:build e2e

package e2e

// An extended resource (a device plugin's, say) that a run's tasks request
// in different amounts per wave. No node resizes one in place (the API
// server refuses a resize that changes it), so at a hand-over that changes
// what the placeholder holds of it, the engine replaces the placeholder
// pod on the same node instead, and says why; at a hand-over that changes
// only CPU, it resizes the pod in place (issue 8).

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// widget is the extended resource one node advertises for the test.
const widget corev1.ResourceName = "example.com/widget"

// a (1 CPU, 2 widgets), then b (2 CPU, 2 widgets), then c (1 CPU, 3
// widgets), on the one node with 4 widgets. The placeholder is created
// holding the peak, 3 widgets. When a starts it holds what b and c need
// beside a: 1 widget, so it is replaced; when b starts, still 1 widget
// (only its CPU shrinks: in place); when c starts, none: replaced again.
// Three placeholder pods in all. (A fourth was seen once: the engine
// deleted the pod before the StatefulSet controller had seen the
// replacement's template, the controller made it token-sized from the
// pin, and the engine, with a running, took it for a preempted pod and
// replaced it again, PlaceholderLost. The engine now waits for the
// controller to see the template: TestReplacementMadeFromObservedTemplate.
// The test still logs every placeholder pod, with its requests. Another
// fourth pod was kwok's: its pod-delete played again by name removed the
// pod the StatefulSet had just made in place of the replaced one; the
// kwok build now deletes by UID, as a kubelet does,
// hack/tools/kwok/delete-by-uid.patch.)
func TestReliabilityExtendedResourceHandOver(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	ns := newNamespace(t, "widget")
	holders := watchPlaceholderPods(t, ns)
	node := cluster.nodes[len(cluster.nodes)-1]
	advertise(t, node, widget, "4")
	widgets := func(n string) corev1.ResourceList { return corev1.ResourceList{widget: resource.MustParse(n)} }
	const run = "widgets"
	createRun(t, newRun(ns, run, pipelineSpec(
		taskDef{name: "a", cpu: "1", extended: widgets("2")},
		taskDef{name: "b", cpu: "2", extended: widgets("2"), after: []string{"a"}},
		taskDef{name: "c", cpu: "1", extended: widgets("3"), after: []string{"b"}},
	), runOpts{duration: "2s"}))
	if got := createdRequest(t, ns, run, widget); got.Cmp(resource.MustParse("3")) != 0 {
		t.Errorf("placeholder created with %s=%s, want the peak 3 (task c)", widget, got.String())
	}
	waitRunSucceeded(t, ns, run, 90*time.Second)

	pods := mustTaskRunPods(t, ns, run)
	if nodes := distinct(podNodes(pods)); len(pods) != 3 || len(nodes) != 1 || nodes[0] != node {
		t.Errorf("%d TaskRun pods on %v, want 3 on %s, the node with the widgets", len(pods), nodes, node)
	}
	var seen []string
	for _, p := range holders.all() {
		seen = append(seen, p.Name+" ("+string(p.UID)+") on "+p.Spec.NodeName)
		t.Logf("placeholder pod %s uid %s revision %s created %s deleted %v node %q requests %v resized %v",
			p.Name, p.UID, p.Labels["controller-revision-hash"], p.CreationTimestamp.Format("15:04:05"), p.DeletionTimestamp,
			p.Spec.NodeName, placeholderRequests(p), resizedAt(p))
		if p.Spec.NodeName != "" && p.Spec.NodeName != node {
			t.Errorf("placeholder pod %s (%s) on %s, want %s", p.Name, p.UID, p.Spec.NodeName, node)
		}
	}
	// b's hand-over changes only CPU: the pod that holds 1 widget is
	// shrunk in place to the token's CPU (the API server records the write
	// of its resize subresource), not replaced: no template the engine
	// writes asks for 1 widget beside the token's CPU.
	shrunk := false
	for _, p := range holders.all() {
		requests := p.Spec.Containers[0].Resources.Requests
		if w, cpu := requests[widget], requests[corev1.ResourceCPU]; w.Cmp(resource.MustParse("1")) == 0 &&
			cpu.Cmp(resource.MustParse("10m")) == 0 && resizedAt(p) != nil {
			shrunk = true
		}
	}
	if !shrunk {
		t.Errorf("no placeholder pod holding 1 widget was shrunk in place when b started: %v", seen)
	}
	// The first placeholder pod and one replacement each when a and c
	// start; none taken for lost (a pod made from a template older than
	// the replacement's would be).
	if len(seen) != 3 {
		t.Errorf("placeholder pods %v, want 3: the first, and one replacement each when a and c start", seen)
	}
	if lost := findEvents(ns, run, eventLost, ""); len(lost) > 0 {
		t.Errorf("%s events %v, want none: every replacement held what later tasks need", eventLost, eventMessages(lost))
	}
	const why = string(widget) + " cannot be resized in place"
	replaced := findEvents(ns, run, eventHandedOver, why)
	t.Logf("placeholder pods: %v; hand-overs by replacement: %v", seen, eventMessages(replaced))
	for _, task := range []string{"a", "c"} {
		if !anyMentions(replaced, "pods ("+task+")", "on node "+node) {
			t.Errorf("no %s event saying %q for the start of %s on %s: %v", eventHandedOver, why, task, node, eventMessages(replaced))
		}
	}
	if len(replaced) != 2 || anyMentions(replaced, "pods (b)") {
		t.Errorf("%d %s events saying %q, want 2 (a and c; b's hand-over is in place): %v", len(replaced), eventHandedOver, why, eventMessages(replaced))
	}
}

// anyMentions reports whether the message of some event of evs contains
// every part.
func anyMentions(evs []corev1.Event, parts ...string) bool {
	for _, e := range evs {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(e.Message, p)
		}
		if all {
			return true
		}
	}
	return false
}

// advertise has node advertise amount of the extended resource name in
// its capacity and allocatable, as the kubelet does for a device plugin,
// and registers its removal. (The kwok node's stages keep both as they
// are: hack/kwok/stages.yaml.)
func advertise(t *testing.T, node string, name corev1.ResourceName, amount string) {
	t.Helper()
	patch := func(v any) error {
		body, err := json.Marshal(map[string]any{"status": map[string]any{
			"capacity":    map[string]any{string(name): v},
			"allocatable": map[string]any{string(name): v},
		}})
		if err != nil {
			return err
		}
		_, err = cluster.kube.CoreV1().Nodes().Patch(bg(), node, types.MergePatchType, body, metav1.PatchOptions{}, "status")
		return err
	}
	t.Cleanup(func() {
		if err := patch(nil); err != nil {
			t.Errorf("removing %s from node %s: %v", name, node, err)
		}
	})
	if err := patch(amount); err != nil {
		t.Fatalf("advertising %s=%s on node %s: %v", name, amount, node, err)
	}
	t.Logf("node %s advertises %s=%s", node, name, amount)
}

// placeholderRequests is what placeholder pod p's first container asks for.
func placeholderRequests(p *corev1.Pod) string {
	if len(p.Spec.Containers) == 0 {
		return ""
	}
	var parts []string
	for name, q := range p.Spec.Containers[0].Resources.Requests {
		parts = append(parts, string(name)+"="+q.String())
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// resizedAt returns when p was resized in place (its managed fields entry
// of the resize subresource), or nil.
func resizedAt(p *corev1.Pod) *metav1.Time {
	for _, f := range p.ManagedFields {
		if f.Subresource == "resize" {
			return f.Time
		}
	}
	return nil
}
