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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestPlaceCreateRefusedByQuota checks that a run whose placeholder
// StatefulSet a ResourceQuota refuses (count/statefulsets.apps) waits with
// the quota's message, and no longer than max-node-wait: counted from
// when the run started (its start time as the API server has it, not the
// one a reconcile holds while the run waits), or, for a run whose
// placeholder went missing mid-run, from when the engine first found it
// refused.
func TestPlaceCreateRefusedByQuota(t *testing.T) {
	const quotaMessage = "exceeded quota: objects, requested: count/statefulsets.apps=1, used: count/statefulsets.apps=4, limited: count/statefulsets.apps=4"
	refused := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New(quotaMessage))
	started := func(d time.Duration) func(*v1.PipelineRun) {
		return func(r *v1.PipelineRun) { r.Status.StartTime = &metav1.Time{Time: now.Add(-d)} }
	}
	midRun := func(r *v1.PipelineRun) {
		started(3 * time.Hour)(r)
		r.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	}
	for _, tc := range []struct {
		name string
		// run is the run as the reconcile has it; stored, when set, is
		// what the API server has (the engine reads it afresh).
		run, stored func(*v1.PipelineRun)
		// later, when set, is how long the run is reconciled again as Place asks.
		later     time.Duration
		want      Placement
		wantSince time.Time
		message   []string
	}{{
		name:      "run started 10 minutes ago: waits with the quota's message",
		run:       started(10 * time.Minute),
		want:      Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
		wantSince: now.Add(-10 * time.Minute),
		message:   []string{"cannot be created yet", quotaMessage},
	}, {
		name:    "run started longer ago than max-node-wait: failed with the quota's message",
		run:     started(2 * time.Hour),
		want:    Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		message: []string{"waited 2h0m0s", paconfig.MaxNodeWaitKey + "=1h0m0s", quotaMessage},
	}, {
		name:    "the reconcile holds the start time at now while the run waits: the stored one counts",
		run:     started(0),
		stored:  started(2 * time.Hour),
		want:    Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		message: []string{"waited 2h0m0s", quotaMessage},
	}, {
		name:      "placeholder gone mid-run: the wait starts when the engine first finds it refused",
		run:       midRun,
		want:      Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
		wantSince: now,
		message:   []string{quotaMessage},
	}, {
		name:    "placeholder gone mid-run, refused for longer than max-node-wait: failed",
		run:     midRun,
		later:   time.Hour,
		want:    Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		message: []string{"waited 1h0m0s", quotaMessage},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, refused
			})
			run := testRun()
			run.CreationTimestamp = ago(5 * time.Hour)
			tc.run(run)
			e := h.engine(t)
			if tc.stored != nil {
				stored := run.DeepCopy()
				tc.stored(stored)
				e.PipelineRuns = func(context.Context, string, string) (*v1.PipelineRun, error) { return stored.DeepCopy(), nil }
			}
			s := settings(t, nil)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := e.Place(h.ctx, s, run, target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			// Reconciled again as asked, until later.
			for at := got.RequeueAfter; tc.later > 0 && at <= tc.later && !got.Failed; at += got.RequeueAfter {
				e.Clock = clocktesting.NewFakePassiveClock(now.Add(at))
				if got, err = e.Place(h.ctx, s, run, target, remaining()); err != nil {
					t.Fatalf("Place() %s later = %v", at, err)
				}
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if !got.Since.Equal(tc.wantSince) {
				t.Errorf("Place().Since = %v, want %v", got.Since, tc.wantSince)
			}
			for _, want := range tc.message {
				if !strings.Contains(got.Message, want) {
					t.Errorf("Place().Message = %q, want it to contain %q", got.Message, want)
				}
			}
		})
	}
}
