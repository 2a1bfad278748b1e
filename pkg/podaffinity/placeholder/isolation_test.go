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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

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
	for _, tc := range []struct {
		name            string
		namespaceScoped bool
		tenantLabel     string
		tenant          *string
		topology        string
	}{
		{name: "cluster scope"},
		{name: "namespace scope", namespaceScoped: true},
		{name: "tenant scope", tenantLabel: "example.com/tenant", tenant: ptr.To("acme")},
		{name: "tenant scope, namespace without the label", tenantLabel: "example.com/tenant"},
		{name: "cluster scope, zone", topology: zoneKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := func(name, runName string) Spec {
				return Spec{
					Name: name, Run: &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: runName, Namespace: "team-a"}},
					Isolation: selection.IsolationRequired, NamespaceScoped: tc.namespaceScoped,
					TenantLabel: tc.tenantLabel, Tenant: tc.tenant, Topology: tc.topology,
				}
			}
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
