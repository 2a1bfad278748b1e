//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Tenant-scoped isolation (issue 13 item 2): with
// pipelinerun-pod-affinity-isolation-scope "label:<key>", isolated runs
// repel only the runs of namespaces that have the same value of the
// namespace label <key>; a namespace without the label is a tenant of its
// own.

// tenantLabel is the namespace label that defines the tenants of this test.
const tenantLabel = "e2e.pipelinerun-affinity.dev/tenant"

// labelNamespace sets the tenant label of namespace ns to value.
func labelNamespace(t *testing.T, ns, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, tenantLabel, value)
	if _, err := cluster.kube.CoreV1().Namespaces().Patch(bg(), ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("labelling namespace %s %s=%s: %v", ns, tenantLabel, value, err)
	}
}

// onNodes is a pod template whose pods (and so the placeholder) only the
// given nodes may run.
func onNodes(nodes ...string) *pod.PodTemplate {
	return &pod.PodTemplate{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: nodes}},
		}}},
	}}}
}

// tenantsOf is an invariant over the placeholders of the test's
// namespaces: no node ever holds the placeholders of two runs of one
// tenant (tenantOf: namespace -> tenant). It also remembers whether a node
// ever held the placeholders of two tenants at once.
type tenantsOf struct {
	tenantOf map[string]string
	mu       sync.Mutex
	shared   []string
}

func (w *tenantsOf) check(live []*corev1.Pod) string {
	byNode := map[string]map[string][]string{} // node -> tenant -> runs
	for _, p := range live {
		key := holderKey(p)
		if key == "" || p.Labels[labelComponent] != componentHolder || p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		tenant := w.tenantOf[p.Namespace]
		if byNode[p.Spec.NodeName] == nil {
			byNode[p.Spec.NodeName] = map[string][]string{}
		}
		byNode[p.Spec.NodeName][tenant] = append(byNode[p.Spec.NodeName][tenant], key)
	}
	var bad []string
	for node, tenants := range byNode {
		if len(tenants) > 1 {
			w.mu.Lock()
			w.shared = append(w.shared, node)
			w.mu.Unlock()
		}
		for tenant, runs := range tenants {
			if len(runs) > 1 {
				sort.Strings(runs)
				bad = append(bad, fmt.Sprintf("node %s holds %s of tenant %s", node, strings.Join(runs, " and "), tenant))
			}
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}

func (w *tenantsOf) sharedNodes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.shared...)
}

// Two tenants of two namespaces each, their runs restricted to two nodes:
// the four runs run at once, each node holding one run of each tenant
// (the cluster scope would allow two); a third run of tenant A waits for a
// node although its namespace has no other run on one of them (the
// namespace scope would place it); a run of an unlabelled namespace is a
// tenant of its own and is placed beside them. No node ever holds two runs
// of one tenant; every run succeeds.
func TestTenantIsolation(t *testing.T) {
	if len(cluster.nodes) < 2 {
		t.Fatalf("needs 2 nodes, the cluster has %v", cluster.nodes)
	}
	a1, a2 := newNamespace(t, "tenant-a1"), newNamespace(t, "tenant-a2")
	b1, b2 := newNamespace(t, "tenant-b1"), newNamespace(t, "tenant-b2")
	solo := newNamespace(t, "tenant-none")
	for ns, tenant := range map[string]string{a1: "e2e-a", a2: "e2e-a", b1: "e2e-b", b2: "e2e-b"} {
		labelNamespace(t, ns, tenant)
	}
	// After the labels: the flags' change is given a moment to apply, and so
	// is the controller's namespace cache, should an earlier test have
	// started it (the engine reads a namespace's tenant from its cache).
	setFeatureFlags(t, patchedFlags(map[string]string{flagScope: "label:" + tenantLabel}))
	w := &tenantsOf{tenantOf: map[string]string{a1: "e2e-a", a2: "e2e-a", b1: "e2e-b", b2: "e2e-b", solo: solo}}
	rec := watchPods(t, w.check, a1, a2, b1, b2, solo)
	nodes := cluster.nodes[:2]
	opts := func(duration string) runOpts {
		return runOpts{duration: duration, podTemplate: onNodes(nodes...)}
	}
	cpu := func() *v1.PipelineSpec { return pipelineSpec(taskDef{name: "work", cpu: "200m"}) }

	type ref struct{ ns, name string }
	first := []ref{{a1, "a1-run"}, {a2, "a2-run"}, {b1, "b1-run"}, {b2, "b2-run"}}
	nodeOf := map[ref]string{}
	if !t.Run("two runs of each tenant on two nodes at once", func(t *testing.T) {
		for _, r := range first {
			createRun(t, newRun(r.ns, r.name, cpu(), opts("30s")))
		}
		for _, r := range first {
			nodeOf[r] = waitPlaced(t, r.ns, r.name, 60*time.Second)
		}
		t.Logf("nodes: %v", nodeOf)
		if nodeOf[first[0]] == nodeOf[first[1]] {
			t.Errorf("the runs of tenant e2e-a (%s, %s) share node %s", a1, a2, nodeOf[first[0]])
		}
		if nodeOf[first[2]] == nodeOf[first[3]] {
			t.Errorf("the runs of tenant e2e-b (%s, %s) share node %s", b1, b2, nodeOf[first[2]])
		}
		if len(w.sharedNodes()) == 0 {
			t.Errorf("no node held the runs of both tenants at once: the tenant scope isolated them like the cluster scope")
		}
		for _, r := range first {
			pr := getRun(t, r.ns, r.name)
			if got, want := pr.Annotations[recordKey], "required/label:"+tenantLabel; got != want {
				t.Errorf("run %s/%s recorded %q, want %q", r.ns, r.name, got, want)
			}
		}
		checkTenantTerm(t, a1, "a1-run", map[string]string{tenantLabel: "e2e-a"})
		checkTenantTerm(t, b2, "b2-run", map[string]string{tenantLabel: "e2e-b"})
	}) {
		return
	}

	t.Run("a third run of a tenant waits; a run of an unlabelled namespace does not", func(t *testing.T) {
		const extra, lone = "a2-extra", "lone-run"
		createRun(t, newRun(a2, extra, cpu(), opts("2s")))
		createRun(t, newRun(solo, lone, cpu(), opts("8s")))
		pr := waitRunMessage(t, a2, extra, reasonWaiting, 30*time.Second, "anti-affinity")
		t.Logf("%s waits: %s", extra, describeCondition(pr))
		if trs, err := taskRuns(bg(), a2, extra); err != nil || len(trs) != 0 {
			t.Errorf("run %s has %d TaskRuns while waiting for a node (err %v)", extra, len(trs), err)
		}
		loneNode := waitPlaced(t, solo, lone, 30*time.Second)
		t.Logf("%s/%s, a tenant of its own, placed on %s beside the runs of both tenants", solo, lone, loneNode)
		checkTenantTerm(t, solo, lone, nil)
		for _, r := range first {
			if getRun(t, r.ns, r.name).IsDone() {
				t.Fatalf("test premise broken: %s/%s finished before the waiting checks were done; lengthen its duration", r.ns, r.name)
			}
		}

		waitRunSucceeded(t, solo, lone, 60*time.Second)
		waitRunSucceeded(t, a2, extra, 90*time.Second)
		for _, r := range first {
			waitRunSucceeded(t, r.ns, r.name, 60*time.Second)
		}
		extraBound := holderBoundAt(rec, extra)
		var firstDone time.Time
		for _, r := range first[:2] {
			if c := getRun(t, r.ns, r.name).Status.CompletionTime; c != nil && (firstDone.IsZero() || c.Time.Before(firstDone)) {
				firstDone = c.Time
			}
		}
		if !extraBound.IsZero() && !firstDone.IsZero() && extraBound.Before(firstDone.Add(-time.Second)) {
			t.Errorf("%s's placeholder was bound at %s, before a run of its tenant was done (%s)", extra, extraBound, firstDone)
		}
	})
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("tenant isolation violated: %s", strings.Join(v, " | "))
	}
}

// checkTenantTerm checks the isolation term of the placeholder of ns/run:
// its namespace selector selects the tenant's label value, or, for a
// namespace without the label, is absent (the namespace only). The
// placeholder carries no tenant label.
// tenantPlaceholderLabel carries a placeholder's tenant (placeholder.LabelTenant).
const tenantPlaceholderLabel = "tekton.dev/pod-affinity-tenant"

func checkTenantTerm(t *testing.T, ns, run string, want map[string]string) {
	t.Helper()
	err := poll(fmt.Sprintf("the placeholder StatefulSet of %s/%s to check", ns, run), 30*time.Second, func(ctx context.Context) error {
		l, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return fmt.Errorf("no placeholder StatefulSet")
		}
		s := l[0]
		if _, ok := s.Spec.Template.Labels[tenantLabel]; ok {
			t.Errorf("placeholder %s/%s carries the tenant label", ns, s.Name)
		}
		aa := s.Spec.Template.Spec.Affinity.PodAntiAffinity
		if aa == nil || len(aa.RequiredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("placeholder %s/%s has no required anti-affinity", ns, s.Name)
			return nil
		}
		term := aa.RequiredDuringSchedulingIgnoredDuringExecution[len(aa.RequiredDuringSchedulingIgnoredDuringExecution)-1]
		switch {
		case want == nil && term.NamespaceSelector != nil:
			t.Errorf("placeholder %s/%s of a namespace without %s selects namespaces %v, want its own namespace only", ns, s.Name, tenantLabel, term.NamespaceSelector)
		case want != nil && (term.NamespaceSelector == nil || len(term.NamespaceSelector.MatchLabels) > 0 || term.LabelSelector.MatchLabels[tenantPlaceholderLabel] != want[tenantLabel]):
			t.Errorf("placeholder %s/%s selects %v in namespaces %v, want the placeholders labelled %s=%s in every namespace", ns, s.Name, term.LabelSelector, term.NamespaceSelector, tenantPlaceholderLabel, want[tenantLabel])
		case want != nil && s.Spec.Template.Labels[tenantPlaceholderLabel] != want[tenantLabel]:
			t.Errorf("placeholder %s/%s pod labels %v, want %s=%s", ns, s.Name, s.Spec.Template.Labels, tenantPlaceholderLabel, want[tenantLabel])
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
