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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// A run that is not labelled for a queue never reads Workloads.
func TestPlaceWithoutKueueReadsNoWorkload(t *testing.T) {
	h := newHarness(t, readyNode("node-1"), ownSTS("", peak()), placeholderPod("", peak(), ago(time.Second)))
	e := h.engine(t)
	e.Workloads = func(context.Context, string, string) ([]byte, error) {
		t.Error("read a Workload for a run without a queue")
		return nil, nil
	}
	target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	got, err := e.Place(h.ctx, settings(t, nil), testRun(), target, []demand.Task{{Name: "a", Pod: rl("3", "3Gi"), State: demand.Starting}})
	if err != nil || got.Reason != ReasonWaitingForNode {
		t.Errorf("Place() = %+v, %v; want a wait for a node", got, err)
	}
}

// A run without a queue label, given a LocalQueue by the Kueue queue flag
// (Target.Queue, as recorded on it), is admitted through that queue: its
// placeholder is made gated in it, and it waits for admission there.
func TestPlaceKueueDefaultQueue(t *testing.T) {
	pending := metav1.Condition{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient unused quota"}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// labelled labels the run for a queue of its own, which wins.
		labelled    string
		want        Placement
		wantMessage []string
		wantQueue   string
		wantGated   bool
	}{{
		name:        "no placeholder yet: made gated in the default queue",
		objects:     []runtime.Object{readyNode("node-1")},
		want:        Placement{Reason: ReasonWaitingForNode},
		wantQueue:   "runs",
		wantGated:   true,
		wantMessage: []string{},
	}, {
		name:        "gated: waits for admission in the default queue",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second)))},
		want:        Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage: []string{"Waiting for admission by Kueue", "LocalQueue runs", "pending: insufficient unused quota"},
	}, {
		name:        "labelled for a queue of its own: the label wins",
		objects:     []runtime.Object{readyNode("node-1")},
		labelled:    kueueQueue,
		want:        Placement{Reason: ReasonWaitingForNode},
		wantQueue:   kueueQueue,
		wantGated:   true,
		wantMessage: []string{},
	}, {
		name:        "labelled, gated: waits for admission in the label's queue",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second)))},
		labelled:    kueueQueue,
		want:        Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage: []string{"LocalQueue " + kueueQueue},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			run := testRun()
			if tc.labelled != "" {
				run.Labels[placeholder.KueueQueueLabel] = tc.labelled
			}
			e := h.engine(t)
			e.Workloads = func(context.Context, string, string) ([]byte, error) { return workloadJSON(t, pending), nil }
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Queue: "runs"}
			got, err := e.Place(h.ctx, settings(t, nil), run, target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage, cmpopts.IgnoreFields(Placement{}, "Since", "RequeueAfter")); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			for _, want := range tc.wantMessage {
				if !strings.Contains(got.Message, want) {
					t.Errorf("Place() message %q does not contain %q", got.Message, want)
				}
			}
			if tc.wantQueue == "" {
				return
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				t.Fatal("no placeholder StatefulSet made")
			}
			tpl := sts.Spec.Template
			if d := cmp.Diff(tc.wantQueue, tpl.Labels[placeholder.KueueQueueLabel]); d != "" {
				t.Errorf("template queue label (-want +got):\n%s", d)
			}
			if gated := placeholder.AwaitsAdmission(&corev1.Pod{Spec: tpl.Spec}); gated != tc.wantGated {
				t.Errorf("template gated by Kueue = %v, want %v", gated, tc.wantGated)
			}
		})
	}
}
