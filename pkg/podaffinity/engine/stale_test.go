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
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestPlaceStaleCacheActsOnce reconciles a run twice with the same
// listers: the second call reads the placeholder from caches that have not
// seen the first call's writes yet, as a reconcile that follows at once
// does (the run's status update re-queues it). Each transition is made,
// and announced, once: the second call neither writes again nor records a
// second event, and reports the wait the first call started; it records
// only the start of the wait for a node that the first call's replacement
// of a pinned pod began (wantSecondActions).
func TestPlaceStaleCacheActsOnce(t *testing.T) {
	token := placeholder.TokenRequests()
	withStorage := func(r corev1.ResourceList, q string) corev1.ResourceList {
		out := r.DeepCopy()
		out[corev1.ResourceEphemeralStorage] = resource.MustParse(q)
		return out
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		tasks   []demand.Task
		// The first call's placement, writes and events.
		want        Placement
		wantActions []string
		wantEvents  []string
		// The second call's placement and writes; it records no event.
		wantSecond        Placement
		wantSecondActions []string
	}{{
		name:        "placed: pinned and shrunk in place once",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(time.Minute)))},
		tasks:       remaining(),
		want:        Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantActions: []string{"patch statefulsets", "patch pods/resize"},
		wantEvents:  []string{"Normal Placed"},
		// The node has not applied the shrink yet: the bound counts from
		// when the engine remembers asking it (the fake API server records
		// no managed fields).
		wantSecond: Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: resizeLimit},
	}, {
		name: "grown back once",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", token, ago(time.Minute)))},
		tasks:       growBack(demand.Running, demand.Waiting),
		want:        Placement{Node: "node-1", Ready: true},
		wantActions: []string{"patch pods/resize"},
		wantEvents:  []string{"Normal ReservationRestored"},
		wantSecond:  Placement{Node: "node-1", Ready: true},
	}, {
		name: "handed over by replacing the pod once (ephemeral storage is not resized in place)",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withStorage(peak(), "10Gi"), ago(time.Minute)))},
		tasks: []demand.Task{
			{Name: "a", Pod: withStorage(rl("2", "1Gi"), "10Gi"), State: demand.Starting},
			{Name: "b", Pod: rl("1", "2Gi"), State: demand.Starting},
		},
		want:        Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions: []string{"delete pods"},
		wantEvents:  []string{"Normal ReservationHandedOver"},
		// The old pod terminates; the StatefulSet then recreates it. The
		// wait for it starts now.
		wantSecond:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantSecondActions: []string{"patch statefulsets"},
	}, {
		name: "moved off a cordoned node once",
		objects: []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		tasks:       remaining(),
		want:        waitForNode,
		wantActions: []string{"patch statefulsets", "delete pods (at once)"},
		wantEvents:  []string{"Warning Moving"},
		// The pod is gone; the StatefulSet controller is given a moment.
		wantSecond: Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
	}, {
		name: "pinned pod that cannot return to its node: node chosen again once",
		objects: []runtime.Object{readyNode("node-1"), readyNode("node-2"), ownSTS("node-1", token),
			placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/2 nodes are available: 1 Insufficient cpu"))},
		tasks:       remaining(),
		want:        waitForNode,
		wantActions: []string{"patch statefulsets", "delete pods"},
		wantEvents:  []string{"Warning Moving"},
		wantSecond:  Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
	}, {
		name:        "pinned pod gone: the start of the wait recorded once",
		objects:     []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), 3*time.Hour)},
		tasks:       remaining(),
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
		wantActions: []string{"patch statefulsets"},
		wantSecond:  Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			placeTwice(t, newHarness(t, tc.objects...), tc.tasks, tc.want, tc.wantSecond, tc.wantActions, tc.wantEvents, tc.wantSecondActions)
		})
	}
}

// placeTwice calls Place for a run with tasks on h's caches, then again on
// the same caches, as a reconcile whose caches have not seen the first
// one's writes yet: the first call returns want with the writes and events
// wanted; the second returns wantSecond, writes wantSecondActions only and
// records nothing.
func placeTwice(t *testing.T, h *harness, tasks []demand.Task, want, wantSecond Placement, wantActions, wantEvents, wantSecondActions []string) {
	t.Helper()
	e := h.engine(t)
	run := testRun()
	s := settings(t, nil)
	target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}

	got, err := e.Place(h.ctx, s, run, target, tasks)
	if err != nil {
		t.Fatalf("first Place() = %v", err)
	}
	if d := cmp.Diff(want, got, ignoreMessage); d != "" {
		t.Errorf("first Place() (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantActions, h.actions()); d != "" {
		t.Errorf("first Place(): API writes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantEvents, h.events()); d != "" {
		t.Errorf("first Place(): events (-want +got):\n%s", d)
	}

	h.client.ClearActions()
	got, err = e.Place(h.ctx, s, run, target, tasks)
	if err != nil {
		t.Fatalf("second Place() = %v", err)
	}
	if d := cmp.Diff(wantSecond, got, ignoreMessage); d != "" {
		t.Errorf("second Place(), stale caches (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantSecondActions, h.actions()); d != "" {
		t.Errorf("second Place(), stale caches: API writes (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string(nil), h.events()); d != "" {
		t.Errorf("second Place(), stale caches: events (-want +got):\n%s", d)
	}
}

// TestPlaceRechecksItsOwnPlaceholderAfterAlreadyExists: a reconcile
// creates the placeholder (its creation's watch event is then settled: it
// re-queues nothing) and returns a requeue after createGrace. When that
// reconcile's result is lost (its status update fails: the reconcile
// returns the error instead), the retry, whose cache does not show the
// StatefulSet yet, gets AlreadyExists. It must ask to be checked again as
// the creation did: nothing else brings the run back unless the
// placeholder pod is created and scheduled, and a pod the API server
// refuses (a quota, a webhook) would never be diagnosed, nor the run
// failed by max-node-wait.
func TestPlaceRechecksItsOwnPlaceholderAfterAlreadyExists(t *testing.T) {
	h := newHarness(t, readyNode("node-1"))
	rv := 0
	h.client.PrependReactor("create", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if o, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object); ok && o.GetResourceVersion() == "" {
			rv++
			o.SetResourceVersion(strconv.Itoa(100 + rv))
			if o.GetUID() == "" {
				o.SetUID("created-sts-uid")
			}
		}
		return false, nil, nil
	})
	e := h.engine(t) // its cache holds no StatefulSet, and keeps holding none
	target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, FirstReconcile: true}
	first, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
	if err != nil {
		t.Fatalf("first Place() = %v", err)
	}
	if first.RequeueAfter != createGrace {
		t.Fatalf("first Place() = %+v, want the creation's wait", first)
	}
	second, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
	if err != nil {
		t.Fatalf("second Place() = %v", err)
	}
	sts := h.placeholderSTS(t, phName())
	if sts == nil {
		t.Fatal("no placeholder StatefulSet")
	}
	if !e.OwnStatefulSetWrite(sts) {
		t.Fatalf("OwnStatefulSetWrite(%s) = false: the StatefulSet's add event re-queues the run, and this test shows nothing", sts.Name)
	}
	if second.Failed || second.Reason != ReasonWaitingForNode || second.RequeueAfter != createGrace {
		t.Errorf("second Place() = %+v (RequeueAfter %v), want a wait for a node checked again after createGrace (%v): the StatefulSet's add event re-queues nothing",
			second, second.RequeueAfter, createGrace)
	}
}
