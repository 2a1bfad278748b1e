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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	appslisters "k8s.io/client-go/listers/apps/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

// TestSyncedOnlyWhenNeeded checks that the engine waits for its caches
// exactly when it reads them for a run, and returns their error then, but
// for Release, which reads the API server instead.
func TestSyncedOnlyWhenNeeded(t *testing.T) {
	errNotSynced := errors.New("not synced")
	child := testRun()
	child.Name, child.UID = "build-child", "child-uid"
	child.Labels = map[string]string{placeholder.MemberLabelKey: "placeholder-parent-0123456789"}
	child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "parent", UID: "parent-uid", Controller: ptr.To(true)}}
	done := func(r *v1.PipelineRun) *v1.PipelineRun {
		r.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue})
		return r
	}
	handled := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	for _, tc := range []struct {
		name      string
		enabled   bool
		call      func(context.Context, *Engine, Settings) error
		wantCalls int
		// fallsBack: the call reads the API server when the caches
		// cannot sync, and returns no error for them.
		fallsBack bool
	}{{
		name:    "Place of a handled run",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Place(ctx, s, testRun(), handled, remaining())
			return err
		},
		wantCalls: 1,
	}, {
		name:    "Place of a child run that joined its parent",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Place(ctx, s, child, Target{Placeholder: "placeholder-parent-0123456789", Joined: true}, nil)
			return err
		},
		wantCalls: 1,
	}, {
		name:    "Target of a new run",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Target(ctx, s, testRun())
			return err
		},
	}, {
		name:    "Target of a run reconciled with children and no record, feature on: does it own a placeholder?",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Target(ctx, s, reconciled(testRun(), true))
			return err
		},
		wantCalls: 1,
	}, {
		name: "the same with the feature off: not handled whatever the cache says",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			got, err := e.Target(ctx, s, reconciled(testRun(), true))
			if got.Handled() {
				return fmt.Errorf("handled: %+v", got)
			}
			return err
		},
	}, {
		name: "Target of a run recorded as handled, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			got, err := e.Target(ctx, s, reconciled(recorded(testRun(), "required/cluster"), true))
			if !got.Handled() {
				return fmt.Errorf("not handled")
			}
			return err
		},
	}, {
		name: "Release of a run the engine placed, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			return e.Release(ctx, s, done(recorded(testRun(), "required/cluster")))
		},
		wantCalls: 1,
		fallsBack: true,
	}, {
		name:      "Release of a run the engine never placed, feature on",
		enabled:   true,
		call:      func(ctx context.Context, e *Engine, s Settings) error { return e.Release(ctx, s, done(testRun())) },
		wantCalls: 1,
		fallsBack: true,
	}, {
		name: "Release of a run the engine never placed, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error { return e.Release(ctx, s, done(testRun())) },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			e := h.engine(t)
			calls := 0
			e.Synced = func(context.Context) error {
				calls++
				return errNotSynced
			}
			s := settings(t, map[string]string{paconfig.EnableKey: fmt.Sprint(tc.enabled)})
			s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
			err := tc.call(h.ctx, e, s)
			if tc.wantCalls > 0 && !tc.fallsBack && !errors.Is(err, errNotSynced) {
				t.Errorf("error = %v, want one wrapping %v", err, errNotSynced)
			}
			if (tc.wantCalls == 0 || tc.fallsBack) && err != nil {
				t.Errorf("error = %v, want nil", err)
			}
			if calls != tc.wantCalls {
				t.Errorf("Synced called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// TestReleaseWithoutCaches checks that a done run's placeholder is released
// while the engine's caches cannot sync (the controller may not list nodes,
// say): Release reads it from the API server instead, so that the run frees
// its node without them, and only a failed read is an error.
func TestReleaseWithoutCaches(t *testing.T) {
	notOurs := ownSTS("node-1", placeholder.TokenRequests())
	notOurs.OwnerReferences = nil
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		getErr  error
		actions []string
		gone    bool
	}{{
		name:    "its placeholder: deleted",
		objects: []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		actions: []string{"delete statefulsets"},
		gone:    true,
	}, {
		name: "no placeholder: nothing to release",
		gone: true,
	}, {
		name:    "a StatefulSet of that name it does not control: kept",
		objects: []runtime.Object{notOurs},
	}, {
		name:    "the read fails: an error, nothing deleted",
		objects: []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		getErr:  errors.New("the API server is down"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			// The caches have not synced: they hold nothing.
			e.StatefulSets = appslisters.NewStatefulSetLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}))
			notSynced := &NotSyncedError{Timeout: time.Second, Pending: []PendingCache{{Name: CacheNodes, Err: "nodes is forbidden", Forbidden: true}}}
			e.Synced = func(context.Context) error { return notSynced }
			if tc.getErr != nil {
				h.client.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.getErr
				})
			}
			s := settings(t, map[string]string{paconfig.EnableKey: "true"})
			run := recorded(testRun(), "required/cluster")
			run.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue})
			err := e.Release(h.ctx, s, run)
			if tc.getErr != nil {
				if !errors.Is(err, tc.getErr) {
					t.Errorf("Release() = %v, want an error wrapping %v", err, tc.getErr)
				}
			} else if err != nil {
				t.Errorf("Release() = %v, want nil", err)
			}
			if d := cmp.Diff(tc.actions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			if tc.getErr != nil {
				return
			}
			if got := h.placeholderSTS(t, phName()) == nil; got != tc.gone {
				t.Errorf("placeholder StatefulSet gone = %t, want %t", got, tc.gone)
			}
		})
	}
}
