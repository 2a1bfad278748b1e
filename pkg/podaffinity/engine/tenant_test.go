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

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// withNamespaces gives e a namespace reader over what the fake API server
// holds now, as the engine's namespace cache would once synced, and
// counts its calls.
func (h *harness) withNamespaces(t *testing.T, e *Engine) *int {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	list, err := h.client.CoreV1().Namespaces().List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if err := indexer.Add(&list.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	h.client.ClearActions()
	lister := corelisters.NewNamespaceLister(indexer)
	calls := 0
	e.Namespaces = func(_ context.Context, name string) (*corev1.Namespace, error) {
		calls++
		return lister.Get(name)
	}
	return &calls
}

func TestTargetTenantScope(t *testing.T) {
	tenant := map[string]string{paconfig.IsolationScopeKey: "label:" + tenantKey}
	for _, tc := range []struct {
		name       string
		config     map[string]string
		coschedule string
		run        func() *v1.PipelineRun
		want       Target
		wantRecord string
		wantErr    string
	}{{
		name:       "tenant scope configured: decided and recorded with the label key",
		config:     tenant,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        func() *v1.PipelineRun { return testRun() },
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: tenantKey, Tenant: ptr.To("acme"), FirstReconcile: true},
		wantRecord: "required/label:" + tenantKey,
	}, {
		name:       "preferred isolation, tenant scope",
		config:     tenant,
		coschedule: tektonconfig.CoschedulePipelineRuns,
		run:        func() *v1.PipelineRun { r := testRun(); r.Labels = nil; return r },
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationPreferred, TenantLabel: tenantKey, FirstReconcile: true},
		wantRecord: "preferred/label:" + tenantKey,
	}, {
		name:       "scope changed to a tenant label mid-run: the run keeps the cluster scope it began with",
		config:     tenant,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        func() *v1.PipelineRun { return reconciled(recorded(testRun(), "required/cluster"), true) },
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
		wantRecord: "required/cluster",
	}, {
		name:       "scope changed back to cluster mid-run: the run keeps its tenant scope",
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        func() *v1.PipelineRun { return reconciled(recorded(testRun(), "required/label:tenant"), true) },
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: "tenant"},
		wantRecord: "required/label:tenant",
	}, {
		name:       "tenant scope, namespace not in the cache yet: an error, retried",
		config:     tenant,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        func() *v1.PipelineRun { r := testRun(); r.Namespace = "elsewhere"; return r },
		wantErr:    "namespace elsewhere",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, namespace(map[string]string{tenantKey: "acme"}))
			e := h.engine(t)
			h.withNamespaces(t, e)
			s := settings(t, tc.config)
			s.Coschedule = tc.coschedule
			run := tc.run()
			got, err := e.Target(h.ctx, s, run)
			if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Target() = %v, want an error mentioning %q", err, tc.wantErr)
			} else if err != nil {
				return
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Target() (-want +got):\n%s", d)
			}
			Record(run, got)
			if d := cmp.Diff(tc.wantRecord, run.Annotations[selection.RecordAnnotationKey]); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceTenantScope checks the isolation term of a placeholder created
// for a run isolated within its tenant, and that the tenant is read from
// the namespace cache.
func TestPlaceTenantScope(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// noReader leaves the engine without a namespace reader.
		noReader bool
		// wantTenant is the tenant the isolation term selects (and the
		// placeholder pod carries); nil for a namespace without the label.
		wantTenant *string
		wantErr    string
	}{{
		name:       "namespace of tenant acme: repels the placeholders of acme's namespaces",
		objects:    []runtime.Object{namespace(map[string]string{tenantKey: "acme", "team": "a"})},
		wantTenant: ptr.To("acme"),
	}, {
		name:       "the label's value is empty: a tenant like any other",
		objects:    []runtime.Object{namespace(map[string]string{tenantKey: ""})},
		wantTenant: ptr.To(""),
	}, {
		name:    "namespace without the label: a tenant of its own, its namespace only",
		objects: []runtime.Object{namespace(map[string]string{"team": "a"})},
	}, {
		name:    "namespace not in the cache yet: an error, retried, nothing created",
		wantErr: "namespace " + ns,
	}, {
		name:     "no namespace reader: an error that says what is missing",
		objects:  []runtime.Object{namespace(map[string]string{tenantKey: "acme"})},
		noReader: true,
		wantErr:  "namespace cache",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, append(tc.objects, readyNode("node-1"))...)
			e := h.engine(t)
			if !tc.noReader {
				h.withNamespaces(t, e)
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: tenantKey}
			_, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
			sts := h.placeholderSTS(t, phName())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Place() = %v, want an error mentioning %q", err, tc.wantErr)
				}
				if sts != nil {
					t.Errorf("placeholder StatefulSet created despite the error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if sts == nil {
				t.Fatal("no placeholder StatefulSet created")
			}
			term := corev1.PodAffinityTerm{
				LabelSelector: placeholder.AllPlaceholdersSelector(),
				TopologyKey:   placeholder.HostnameTopologyKey,
			}
			wantLabels := placeholder.Labels(phName(), "build")
			if tc.wantTenant != nil {
				term.LabelSelector.MatchLabels[placeholder.LabelTenant] = *tc.wantTenant
				term.NamespaceSelector = &metav1.LabelSelector{}
				wantLabels[placeholder.LabelTenant] = *tc.wantTenant
			}
			want := &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{term}}
			if d := cmp.Diff(want, sts.Spec.Template.Spec.Affinity.PodAntiAffinity); d != "" {
				t.Errorf("anti-affinity (-want +got):\n%s", d)
			}
			// The placeholder pod carries its namespace's tenant, which the
			// engine copies from the namespace's label.
			if d := cmp.Diff(wantLabels, sts.Spec.Template.Labels); d != "" {
				t.Errorf("placeholder pod labels (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceReadsNamespacesOnlyForTenantScope checks that the namespace
// cache (and so its informer) is used only for runs isolated per tenant.
func TestPlaceReadsNamespacesOnlyForTenantScope(t *testing.T) {
	for _, tc := range []struct {
		name      string
		target    Target
		wantCalls int
	}{
		{"cluster scope", Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, 0},
		{"namespace scope", Target{Placeholder: phName(), Isolation: selection.IsolationRequired, NamespaceScoped: true}, 0},
		{"tenant scope", Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: tenantKey}, 1},
		{"child run that joined its parent", Target{Placeholder: "placeholder-parent-0123456789", Joined: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), namespace(map[string]string{tenantKey: "acme"}))
			e := h.engine(t)
			calls := h.withNamespaces(t, e)
			if _, err := e.Place(h.ctx, settings(t, nil), testRun(), tc.target, remaining()); err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if *calls != tc.wantCalls {
				t.Errorf("namespace reads = %d, want %d", *calls, tc.wantCalls)
			}
		})
	}
}

// TestPlaceTenantReadError checks that a failed read of the namespace is
// returned, wrapped, and not taken for a namespace without the label.
func TestPlaceTenantReadError(t *testing.T) {
	h := newHarness(t, readyNode("node-1"))
	e := h.engine(t)
	errNotSynced := errors.New("the pod affinity engine's namespace cache did not sync")
	e.Namespaces = func(context.Context, string) (*corev1.Namespace, error) { return nil, errNotSynced }
	_, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: tenantKey}, remaining())
	if !errors.Is(err, errNotSynced) {
		t.Errorf("Place() = %v, want an error wrapping %v", err, errNotSynced)
	}
	if got := fmt.Sprint(err); !strings.Contains(got, "label:"+tenantKey) {
		t.Errorf("Place() = %q, want it to name the scope", got)
	}
	if h.placeholderSTS(t, phName()) != nil {
		t.Error("placeholder StatefulSet created despite the error")
	}
}
