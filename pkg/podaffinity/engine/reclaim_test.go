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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestDecideTokenPodWhileReclaiming checks what decide takes a pod bound to
// its node for while its template asks again for the room it lost
// (placeholder.ReclaimingAnnotation) and it holds the token only: no
// restore; replaced from the template once the StatefulSet controller has
// seen it, while the tasks not started still need that room.
func TestDecideTokenPodWhileReclaiming(t *testing.T) {
	token := placeholder.TokenRequests()
	held := rl("2", "16Mi")
	tokenPod := func() *corev1.Pod { return reporting(recreatedPod("node-1", token, ago(time.Second))) }
	tasks := func(tasks []demand.Task) func(*world) { return func(w *world) { w.tasks = tasks } }
	ready := Placement{Node: "node-1", Ready: true}
	replaced := stepView{Kind: stepPin, Placement: Placement{Node: "node-1", Reason: ReasonWaitingForNode},
		Pinned: "node-1", Requests: held, Reclaim: &reclaimView{Replace: true}}
	runDecide(t, []decideCase{{
		// Made from the template before the reclaim, or the engine stopped
		// between the reclaim's write and its delete.
		name:    "seen by the StatefulSet controller: the pod replaced, the template kept",
		world:   decideWorld(reclaimingSTS("node-1", held, 10*time.Second), tokenPod(), tasks(growBack(demand.Running, demand.Waiting))),
		want:    replaced,
		message: []string{"holds only cpu=10m", "not the cpu=2", "replacing it"},
	}, {
		name: "written 2 s ago, not seen by the StatefulSet controller yet: wait, the pod kept",
		world: decideWorld(unseen(reclaimingSTS("node-1", held, 2*time.Second)), tokenPod(),
			tasks(growBack(demand.Running, demand.Waiting)), changedAgo(2*time.Second)),
		want: stepView{Kind: stepPin, Placement: Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
			Pinned: "node-1", Requests: held, Reclaim: &reclaimView{}},
		message: []string{"once the StatefulSet controller has seen that template"},
	}, {
		name:  "not seen by the StatefulSet controller 10 s after it was written: the pod replaced anyway",
		world: decideWorld(unseen(reclaimingSTS("node-1", held, 10*time.Second)), tokenPod(), tasks(growBack(demand.Running, demand.Waiting)), changedAgo(controllerLimit)),
		want:  replaced,
	}, {
		name:  "tasks start: the pod replaced, they do not start on it",
		world: decideWorld(reclaimingSTS("node-1", held, 10*time.Second), tokenPod(), tasks(growBack(-1, demand.Starting))),
		want:  replaced,
	}, {
		name:  "the tasks not started need no more than the token now: the mark dropped, no restore",
		world: decideWorld(reclaimingSTS("node-1", held, 10*time.Second), tokenPod(), tasks([]demand.Task{{Name: "b", Pod: rl("1", "1Mi"), State: demand.Running}})),
		want:  stepView{Kind: stepPin, Placement: ready, Write: true, Pinned: "node-1", Requests: token},
	}, {
		name:  "the pod holds the room: restored, the template back to the token",
		world: decideWorld(reclaimingSTS("node-1", held, 10*time.Second), reporting(recreatedPod("node-1", held, ago(time.Second))), tasks(growBack(demand.Running, demand.Waiting))),
		want:  stepView{Kind: stepPin, Placement: ready, Write: true, Pinned: "node-1", Requests: token, Restored: true},
	}})
}

// TestPlaceTokenPodWhileReclaiming: the template asks again for the room
// the pod lost (placeholder.ReclaimingAnnotation), but the pod bound on the
// node holds the token only: the StatefulSet controller made it from the
// template before the reclaim (its informer lagged), or it is the pod the
// reclaim was to replace (the engine stopped between its write and the
// delete). It restored nothing: no ReservationRestored, no task starts on
// it, and the template is not written back to the token and then to the
// room again; the pod is replaced from the template as it is.
func TestPlaceTokenPodWhileReclaiming(t *testing.T) {
	token := placeholder.TokenRequests()
	held := rl("2", "16Mi")
	for _, tc := range []struct {
		name      string
		member    *corev1.Pod
		remaining []demand.Task
	}{{
		name:      "a task runs, a later one needs more",
		member:    memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		remaining: growBack(demand.Running, demand.Waiting),
	}, {
		name:      "tasks start: they wait for the room, not on the token pod",
		member:    memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		remaining: growBack(-1, demand.Starting),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), tc.member,
				reporting(recreatedPod("node-1", token, ago(time.Second))))
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), testRun(), target, tc.remaining)
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want:     Placement{Node: "node-1", Reason: ReasonWaitingForNode},
				message:  []string{"holds only cpu=10m", "cpu=2", "replacing it"},
				actions:  []string{"delete pods"},
				template: &template{Pinned: "node-1", Requests: held},
			})
			if sts := h.placeholderSTS(t, phName()); sts != nil {
				if d := cmp.Diff(now.Add(-5*time.Second).Format(time.RFC3339), sts.Annotations[placeholder.ReclaimingAnnotation]); d != "" {
					t.Errorf("%s (-want +got):\n%s", placeholder.ReclaimingAnnotation, d)
				}
			}
		})
	}
}

// TestPlaceReclaimStaleCacheActsOnce reconciles a run whose placeholder pod
// lost its room twice with the same listers, as TestPlaceStaleCacheActsOnce
// does: the second call reads the placeholder from caches that have not
// seen the first call's writes yet, through the engine's record of them
// (ownWrites). The room is asked for, and the pod replaced, once: the
// second call neither writes again nor records a second event; it records
// only the start of the wait for a node the replacement began.
func TestPlaceReclaimStaleCacheActsOnce(t *testing.T) {
	token := placeholder.TokenRequests()
	held := rl("2", "16Mi")
	running := memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute))
	// lagging is sts with a StatefulSet controller behind it: the template
	// written is not seen by the second call either (controllerSaw).
	lagging := func(sts *appsv1.StatefulSet) *appsv1.StatefulSet { return generations(sts, 3, 2) }
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// The first call's placement, writes and events.
		want        Placement
		wantActions []string
		wantEvents  []string
		// The second call's placement and writes; it records no event.
		wantSecond        Placement
		wantSecondActions []string
	}{{
		name:        "recreated token-sized: the room asked for once",
		objects:     []runtime.Object{readyNode("node-1"), lagging(ownSTS("node-1", token)), running, reporting(recreatedPod("node-1", token, ago(time.Second)))},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
		wantActions: []string{"patch statefulsets"},
		wantEvents:  []string{"Warning PlaceholderLost"},
		wantSecond:  Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
	}, {
		// The write changes the mark only (placeholder.ReclaimingAnnotation):
		// the template asked for that room already (a hand-over's
		// replacement, replaceFixed).
		name:        "recreated token-sized, the template pinned with the room already: the room asked for once",
		objects:     []runtime.Object{readyNode("node-1"), lagging(ownSTS("node-1", held)), running, reporting(recreatedPod("node-1", token, ago(time.Second)))},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
		wantActions: []string{"patch statefulsets"},
		wantEvents:  []string{"Warning PlaceholderLost"},
		wantSecond:  Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
	}, {
		name:        "a token-sized pod while the template asks for the room: replaced once",
		objects:     []runtime.Object{readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running, reporting(recreatedPod("node-1", token, ago(time.Second)))},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingForNode},
		wantActions: []string{"delete pods"},
		// The pod terminates; the StatefulSet then makes it again. The wait
		// for it starts now.
		wantSecond:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantSecondActions: []string{"patch statefulsets"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			placeTwice(t, newHarness(t, tc.objects...), growBack(demand.Running, demand.Waiting), tc.want, tc.wantSecond, tc.wantActions, tc.wantEvents, tc.wantSecondActions)
		})
	}
}

// TestReclaimMadeFromObservedTemplate follows a placeholder pod that came
// back token-sized while a later task needs more (see lostRoom) with a
// StatefulSet controller whose informer is behind the engine's writes: the
// template asks for the room again, and the pod is deleted only once the
// controller has observed that template, so that the one replacement it
// makes asks for the room. A token-sized pod bound while the template asks
// for the room is no restore: no ReservationRestored for it, and the
// template is not written back to the token and to the room again.
func TestReclaimMadeFromObservedTemplate(t *testing.T) {
	token := placeholder.TokenRequests()
	held := rl("2", "16Mi")
	for _, tc := range []struct {
		name string
		lag  lag
	}{
		{"the controller observes each write at once", lagNone},
		{"its informer is behind by the engine's last write", lagLastWrite},
		{"its informer is behind by every write of the reconcile", lagAllWrites},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts := generations(ownSTS("node-1", token), 1, 1)
			h := newHarness(t, readyNode("node-1"), sts, memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
				reporting(recreatedPod("node-1", token, ago(time.Second))))
			c := newStatefulSetController(t, h, tc.lag)
			e := h.engine(t)
			s := settings(t, nil)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			ready := false
			for i := 0; i < 6 && !ready; i++ {
				fresh := h.engine(t)
				e.StatefulSets, e.Pods, e.Nodes = fresh.StatefulSets, fresh.Pods, fresh.Nodes
				got, err := e.Place(h.ctx, s, testRun(), target, growBack(demand.Running, demand.Waiting))
				if err != nil {
					t.Fatalf("Place: %v", err)
				}
				c.sync(t)
				ready = got.Ready
			}
			if !ready {
				t.Errorf("never ready again: pods made %v, events %v", c.made, h.events())
			}
			want := []string{placeholder.PodName(phName()) + " pod-2 " + formatResources(held)}
			if diff := cmp.Diff(want, c.made); diff != "" {
				t.Errorf("placeholder pods made by the StatefulSet controller (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Warning PlaceholderLost", "Normal ReservationRestored"}, h.events()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if got := h.placeholderSTS(t, phName()); got != nil {
				if d := cmp.Diff(*tokenTemplate("node-1"), templateOf(got), quantityEqual); d != "" {
					t.Errorf("placeholder template afterwards (-want +got):\n%s", d)
				}
			}
		})
	}
}
