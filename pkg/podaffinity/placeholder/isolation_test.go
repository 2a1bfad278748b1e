/*
Copyright 2026 The Tekton Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package placeholder

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// scopeCase is one isolation setting of a run's placeholder.
type scopeCase struct {
	name            string
	namespaceScoped bool
	tenantLabel     string
	tenant          *string
	topology        string
	// wantScope is the setting's Scope as the run's TaskRuns carry it.
	wantScope string
}

func scopeCases() []scopeCase {
	return []scopeCase{
		{name: "cluster scope", wantScope: "cluster"},
		{name: "namespace scope", namespaceScoped: true, wantScope: "namespace"},
		{name: "tenant scope", tenantLabel: "example.com/tenant", tenant: ptr.To("acme"), wantScope: "tenant=acme"},
		{name: "tenant scope, empty tenant", tenantLabel: "example.com/tenant", tenant: ptr.To(""), wantScope: "tenant="},
		{name: "tenant scope, namespace without the label", tenantLabel: "example.com/tenant", wantScope: "namespace"},
		{name: "cluster scope, zone", topology: zoneKey, wantScope: "cluster"},
	}
}

// spec is the Spec of the placeholder called name of an isolated run
// called runName in namespace team-a, in the setting.
func (c scopeCase) spec(name, runName string) Spec {
	return Spec{
		Name: name, Run: &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: runName, Namespace: "team-a"}},
		Isolation: selection.IsolationRequired, NamespaceScoped: c.namespaceScoped,
		TenantLabel: c.tenantLabel, Tenant: c.tenant, Topology: c.topology,
	}
}

// TestIsolationRetriedWhenAPlaceholderEnds checks that every required
// anti-affinity term an isolated placeholder carries selects the
// placeholder pod of another run of its scope. When a bound pod is
// deleted, the scheduler (v1.35, InterPodAffinity's queueing hint) tries a
// pod that its anti-affinity kept off a node again only if the deleted pod
// matches all of its required anti-affinity terms, and matches a namespace
// selector against no namespace labels. A second term that selects other
// pods (the TaskRun pods of other runs, say) would leave an isolated run
// waiting behind another run's placeholder until the scheduler's periodic
// flush of unschedulable pods (up to five minutes) after that placeholder
// ends.
func TestIsolationRetriedWhenAPlaceholderEnds(t *testing.T) {
	const other = "placeholder-other-9876543210"
	for _, tc := range scopeCases() {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			waiting := StatefulSet(spec(testName, "build")).Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			ended := StatefulSet(spec(other, "other")).Spec.Template.Labels
			if len(waiting) == 0 {
				t.Fatal("an isolated placeholder without required anti-affinity")
			}
			for i, term := range waiting {
				selector, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
				if err != nil {
					t.Fatalf("LabelSelectorAsSelector(%v) = %v", term.LabelSelector, err)
				}
				// As the queueing hint reads a namespace selector: against
				// no labels (the other run is in the same namespace here).
				inScope := term.NamespaceSelector == nil
				if term.NamespaceSelector != nil {
					ns, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
					if err != nil {
						t.Fatalf("LabelSelectorAsSelector(%v) = %v", term.NamespaceSelector, err)
					}
					inScope = ns.Matches(labels.Set(nil))
				}
				if !inScope || !selector.Matches(labels.Set(ended)) {
					t.Errorf("required anti-affinity term %d (%v) does not select, for the scheduler's queueing hint, the placeholder pod of another run labelled %v: its deletion would not have the waiting run tried again", i, term, ended)
				}
			}
		})
	}
}

// TestMemberRepelTerm checks the term an isolated run's pods carry: it
// selects, in the run's scope and topology, the placeholders of other runs
// and not the run's own, the same placeholders as the run's placeholder's
// own term; and the scope it is built from survives the annotation.
func TestMemberRepelTerm(t *testing.T) {
	const own, other = "placeholder-build-0123456789", "placeholder-other-9876543210"
	for _, tc := range scopeCases() {
		t.Run(tc.name, func(t *testing.T) {
			spec := tc.spec
			scope := ScopeOf(tc.namespaceScoped, tc.tenantLabel, tc.tenant)
			if got := scope.String(); got != tc.wantScope {
				t.Errorf("ScopeOf().String() = %q, want %q", got, tc.wantScope)
			}
			parsed, err := ParseScope(scope.String())
			if err != nil {
				t.Fatalf("ParseScope(%q) = %v", scope.String(), err)
			}
			if d := cmp.Diff(scope, parsed); d != "" {
				t.Errorf("ParseScope(String()) (-want +got):\n%s", d)
			}

			term := MemberRepelTerm(own, tc.topology, parsed)
			placeholderTerm := StatefulSet(spec(own, "build")).Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
			if d := cmp.Diff(placeholderTerm.NamespaceSelector, term.NamespaceSelector); d != "" {
				t.Errorf("namespace selector differs from the placeholder's own term (-placeholder +member):\n%s", d)
			}
			if term.TopologyKey != placeholderTerm.TopologyKey {
				t.Errorf("topology key = %q, the placeholder's term has %q", term.TopologyKey, placeholderTerm.TopologyKey)
			}
			selector, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if err != nil {
				t.Fatalf("LabelSelectorAsSelector(%v) = %v", term.LabelSelector, err)
			}
			if others := StatefulSet(spec(other, "other")).Spec.Template.Labels; !selector.Matches(labels.Set(others)) {
				t.Errorf("term %v does not select another run's placeholder labelled %v", term.LabelSelector, others)
			}
			if mine := StatefulSet(spec(own, "build")).Spec.Template.Labels; selector.Matches(labels.Set(mine)) {
				t.Errorf("term %v selects the run's own placeholder labelled %v: its pods could not run beside it", term.LabelSelector, mine)
			}
		})
	}
}

func TestParseScopeRejectsUnknown(t *testing.T) {
	for _, v := range []string{"", "Cluster", "tenant", "namespaces"} {
		if _, err := ParseScope(v); err == nil {
			t.Errorf("ParseScope(%q) = nil error, want one", v)
		}
	}
}
