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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDecideHandOver checks the hand-over decide adds to the pin of a pod
// bound to its usable node, pinned and token-sized in its template: what
// the run says, and the resize or replacement act carries out, with
// nothing read and nothing written.
func TestDecideHandOver(t *testing.T) {
	token := placeholder.TokenRequests()
	pinned := ownSTS("node-1", token)
	pin := func(placement Placement, h *handOverView) stepView {
		return stepView{Kind: stepPin, Placement: placement, Pinned: "node-1", Requests: token, HandOver: h}
	}
	// rechecked is v, whose wait an event of the pod ends, bounded after.
	rechecked := func(v stepView, after time.Duration) stepView {
		v.Recheck = after
		return v
	}
	handing := Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true}
	ready := Placement{Node: "node-1", Ready: true}
	// A shrink in place is counted, not recorded: only a refused one,
	// which replaces the pod, has an event.
	shrink := &handOverView{Resize: token, Refused: EventReservationHandedOver}
	replace := &handOverView{Replace: true, Event: EventReservationHandedOver}
	shrinkWait := func(after time.Duration) stepView {
		return rechecked(pin(Placement{Node: "node-1", Reason: ReasonHandingOver}, nil), after)
	}
	// asked is a pod whose shrink to the token, asked at, the node has not
	// applied yet (it still gives it 2 CPU), with conditions.
	asked := func(at time.Duration, conditions ...corev1.PodCondition) *corev1.Pod {
		p := resizedAt(shrunk(now.Add(-time.Hour)), now.Add(-at))
		p.Status.Conditions = append(p.Status.Conditions, conditions...)
		return p
	}
	infeasible := func(since time.Duration) corev1.PodCondition {
		return corev1.PodCondition{Type: podResizePending, Status: corev1.ConditionTrue, Reason: podReasonInfeasible,
			Message: "Node didn't have enough capacity", LastTransitionTime: metav1.NewTime(now.Add(-since))}
	}
	tasks := func(ts []demand.Task) func(*world) { return func(w *world) { w.tasks = ts } }
	ephemeral := []demand.Task{{Name: "c", After: []string{"a", "b"}, Pod: withEphemeral(rl("3", "1Mi"), "2Gi"), State: demand.Starting}}
	gpu := []demand.Task{{Name: "c", After: []string{"a", "b"}, Pod: withExtended(rl("3", "1Mi"), "1"), State: demand.Starting}}

	runDecide(t, []decideCase{{
		name:  "tasks start, the pod holds the peak: shrink it in place to the token, tasks wait for the node to apply it",
		world: decideWorld(pinned, reporting(placeholderPod("node-1", peak(), ago(time.Hour)))),
		// The node beginning the resize brings nothing back
		// (PlaceholderPodChanged): looked at again, at the latest, when
		// the shrink would count as stuck.
		want:    rechecked(pin(handing, shrink), resizeLimit),
		message: []string{"Handing the reservation on node node-1 over", "handed cpu=2990m", "(a, b) by replacing its pod with a token pod"},
	}, {
		name:   "reservation none, a task finished and a later task needs more: the pod stays token-sized, ready",
		world:  decideWorld(pinned, reporting(placeholderPod("node-1", token, ago(time.Hour))), tasks(growBack(-1, demand.Waiting))),
		config: map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		want:   pin(ready, nil),
	}, {
		name:    "a task finished, no task starts, a later task needs more: grow back in place, ready",
		world:   decideWorld(pinned, reporting(placeholderPod("node-1", token, ago(time.Hour))), tasks(growBack(-1, demand.Waiting))),
		want:    pin(ready, &handOverView{Resize: rl("3", "16Mi"), Grows: true, Event: EventReservationRestored}),
		message: []string{"holds cpu=3, memory=16Mi on node node-1 again"},
	}, {
		name:  "a later task needs more, on a node that does not resize in place: keep what is held",
		world: decideWorld(pinned, runningUnreported(placeholderPod("node-1", token, ago(time.Hour))), tasks(growBack(-1, demand.Waiting))),
		want:  pin(ready, nil),
	}, {
		name:  "no task starts, the pod's container has not started: nothing to do yet",
		world: decideWorld(pinned, placeholderPod("node-1", peak(), ago(time.Hour)), tasks(growBack(demand.Running, demand.Waiting))),
		want:  pin(ready, nil),
	}, {
		name:    "tasks start, the pod's container not started for 90 s: replace it with a token pod",
		world:   decideWorld(pinned, placeholderPod("node-1", peak(), ago(90*time.Second))),
		want:    pin(handing, replace),
		message: []string{"its container has not started in 1m30s", "replacing it with a token pod"},
	}, {
		// The pod waited 3 minutes for a node (isolated runs wait for
		// another run's node): its node has had it for a second only.
		name: "tasks start, the pod was created 3 min ago and bound a second ago, container not started: wait for the node to start it",
		world: decideWorld(pinned, placeholderPod("node-1", peak(), ago(3*time.Minute),
			corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: ago(time.Second)})),
		want:    shrinkWait(resizeLimit - time.Second),
		message: []string{"waiting for the node to start placeholder pod"},
	}, {
		name:    "shrink asked 10 s ago, not applied: wait, checked again when it would count as stuck",
		world:   decideWorld(pinned, asked(10*time.Second)),
		want:    shrinkWait(50 * time.Second),
		message: []string{"waiting for the node to apply it"},
	}, {
		name:    "shrink asked 90 s ago, neither applied nor marked: replace the pod",
		world:   decideWorld(pinned, asked(90*time.Second)),
		want:    pin(handing, replace),
		message: []string{"neither applied nor marked"},
	}, {
		name:    "the node reports this shrink Infeasible: replace the pod at once",
		world:   decideWorld(pinned, asked(10*time.Second, infeasible(5*time.Second))),
		want:    pin(handing, replace),
		message: []string{"PodResizePending (Infeasible): Node didn't have enough capacity"},
	}, {
		// An Infeasible left from an earlier resize (a grow the node
		// could not give) is not this shrink's answer.
		name:  "an Infeasible from before this shrink was asked: wait for the node, from the shrink",
		world: decideWorld(pinned, asked(10*time.Second, infeasible(5*time.Minute))),
		want:  shrinkWait(50 * time.Second),
	}, {
		name:    "an Infeasible from before this shrink, asked 2 min ago: replace the pod",
		world:   decideWorld(pinned, asked(2*time.Minute, infeasible(5*time.Minute))),
		want:    pin(handing, replace),
		message: []string{"PodResizePending (Infeasible): Node didn't have enough capacity, for 2m0s"},
	}, {
		name:  "tasks start that need ephemeral storage the pod holds, later tasks need none: replace it with a token pod",
		world: decideWorld(pinned, reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "1Gi"), ago(time.Hour))), tasks(ephemeral)),
		want: pin(handing, &handOverView{Replace: true,
			Event: EventReservationHandedOver}),
		message: []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place"},
	}, {
		// Extended resources, like ephemeral storage, cannot be resized in
		// place (the API server refuses it): the pod is replaced, once.
		name:  "tasks start that need an extended resource the pod holds, later tasks need none: replace it with a token pod",
		world: decideWorld(pinned, reporting(placeholderPod("node-1", withExtended(rl("2", "16Mi"), "1"), ago(time.Hour))), tasks(gpu)),
		want: pin(handing, &handOverView{Replace: true,
			Event: EventReservationHandedOver}),
		message: []string{"replacing placeholder pod", string(extendedResource) + " cannot be resized in place"},
	}, {
		// The StatefulSet controller would make the new pod from the
		// template its informer has (TestReplacementMadeFromObservedTemplate).
		name: "an extended resource to hand over, the template written 2 s ago and not seen by the StatefulSet controller yet: wait, the pod kept",
		world: decideWorld(unseen(ownSTS("node-1", token)), reporting(placeholderPod("node-1", withExtended(rl("2", "16Mi"), "1"), ago(time.Hour))),
			tasks(gpu), changedAgo(2*time.Second)),
		want:    pin(Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: controllerRecheck}, nil),
		message: []string{"once the StatefulSet controller has seen the template of its replacement"},
	}, {
		name: "an extended resource to hand over, the template not seen by the StatefulSet controller 10 s after it was written: replace the pod anyway",
		world: decideWorld(unseen(ownSTS("node-1", token)), reporting(placeholderPod("node-1", withExtended(rl("2", "16Mi"), "1"), ago(time.Hour))),
			tasks(gpu), changedAgo(controllerLimit)),
		want: pin(handing, replace),
	}, {
		name: "an extended resource to hand over, the template not seen by the StatefulSet controller, written before the engine started: replace the pod",
		world: decideWorld(unseen(ownSTS("node-1", token)), reporting(placeholderPod("node-1", withExtended(rl("2", "16Mi"), "1"), ago(time.Hour))),
			tasks(gpu)),
		want: pin(handing, replace),
	}, {
		name:  "the pod is the size it should be, applied: ready",
		world: decideWorld(pinned, reporting(placeholderPod("node-1", token, ago(time.Hour)))),
		want:  pin(ready, nil),
	}})
}

// unseen is sts with a template the StatefulSet controller has not seen.
func unseen(sts *appsv1.StatefulSet) *appsv1.StatefulSet {
	sts.Generation, sts.Status.ObservedGeneration = 3, 2
	return sts
}

// changedAgo has the engine remember that it changed the StatefulSet d ago.
func changedAgo(d time.Duration) func(*world) {
	return func(w *world) { w.changed = now.Add(-d) }
}

// TestWaitsForShrink checks when observe reads the placeholder pod from the
// API server for when its shrink was asked: only when the hand-over waits
// for the node to apply one.
func TestWaitsForShrink(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{{
		name: "shrink not applied while tasks start: waits",
		pod:  shrunk(now.Add(-time.Hour)),
		want: true,
	}, {
		name: "the pod is to shrink, not asked yet: no wait, a resize",
		pod:  reporting(placeholderPod("node-1", peak(), ago(time.Hour))),
	}, {
		name: "applied: no wait",
		pod:  reporting(placeholderPod("node-1", token, ago(time.Hour))),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := decideWorld(ownSTS("node-1", token), tc.pod)
			if got := waitsForShrink(&w, planHandOver(&w, settings(t, nil))); got != tc.want {
				t.Errorf("waitsForShrink() = %t, want %t", got, tc.want)
			}
		})
	}
}
