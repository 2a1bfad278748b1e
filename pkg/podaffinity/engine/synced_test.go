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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

// TestSyncedOnlyWhenNeeded checks that the engine waits for its caches
// exactly when it reads them for a run, and returns their error then.
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
	}, {
		name:      "Release of a run the engine never placed, feature on",
		enabled:   true,
		call:      func(ctx context.Context, e *Engine, s Settings) error { return e.Release(ctx, s, done(testRun())) },
		wantCalls: 1,
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
			if tc.wantCalls > 0 && !errors.Is(err, errNotSynced) {
				t.Errorf("error = %v, want one wrapping %v", err, errNotSynced)
			}
			if tc.wantCalls == 0 && err != nil {
				t.Errorf("error = %v, want nil", err)
			}
			if calls != tc.wantCalls {
				t.Errorf("Synced called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}
