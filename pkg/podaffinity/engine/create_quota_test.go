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
// the quota's message, and no longer than max-node-wait, counted from when
// the engine first found it refused: no object records that wait (a run
// waiting for its first node has no start time yet, and its placeholder
// does not exist), so a restart of the controller starts it again.
func TestPlaceCreateRefusedByQuota(t *testing.T) {
	const quotaMessage = "exceeded quota: objects, requested: count/statefulsets.apps=1, used: count/statefulsets.apps=4, limited: count/statefulsets.apps=4"
	refused := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New(quotaMessage))
	started := func(d time.Duration) func(*v1.PipelineRun) {
		return func(r *v1.PipelineRun) { r.Status.StartTime = &metav1.Time{Time: now.Add(-d)} }
	}
	firstNode := func(r *v1.PipelineRun) { waitingForFirstNode(r, ReasonWaitingForNode) }
	midRun := func(r *v1.PipelineRun) {
		started(3 * time.Hour)(r)
		r.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	}
	for _, tc := range []struct {
		name string
		// run is the run as the reconcile has it.
		run func(*v1.PipelineRun)
		// later, when set, is how long the run is reconciled again as Place asks.
		later     time.Duration
		want      Placement
		wantSince time.Time
		message   []string
	}{{
		name:      "waiting for its first node: waits with the quota's message since the engine first found it refused",
		run:       firstNode,
		want:      Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
		wantSince: now,
		message:   []string{"cannot be created yet", quotaMessage},
	}, {
		name:    "waiting for its first node, refused for longer than max-node-wait: failed with the quota's message",
		run:     firstNode,
		later:   time.Hour,
		want:    Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		message: []string{"waited 1h0m0s", paconfig.MaxNodeWaitKey + "=1h0m0s", quotaMessage},
	}, {
		name:      "a start time long past (written by an older controller) does not count: the wait does",
		run:       started(2 * time.Hour),
		want:      Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
		wantSince: now,
		message:   []string{quotaMessage},
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
