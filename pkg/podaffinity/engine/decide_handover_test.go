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
	// which replaces the pod, has an event, and the tasks that start wait
	// for that replacement.
	shrink := &handOverView{Resize: token, Refused: EventReservationHandedOver, RefusedWait: &handing}
	replace := &handOverView{Replace: true, Event: EventReservationHandedOver}
	// startWait: the tasks wait for the node to start the pod's container,
	// or to apply its shrink.
	startWait := func(after time.Duration) stepView {
		return rechecked(pin(Placement{Node: "node-1", Reason: ReasonHandingOver}, nil), after)
	}
	// roomy: the node (16 CPU) has room for the tasks that start beside
	// the placeholder's present size; the default one (4 CPU) has not.
	roomy := func(w *world) { w.nodeObj.Status.Allocatable = rl("16", "64Gi") }
	// inFlight: the tasks go on while the node applies the shrink, which
	// counts as stuck after.
	inFlight := func(after time.Duration) stepView { return rechecked(pin(ready, nil), after) }
	// started: the tasks of remaining() have started.
	started := func(w *world) {
		for i := range w.tasks {
			if w.tasks[i].State == demand.Starting {
				w.tasks[i].State = demand.Running
			}
		}
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
		name:  "tasks start, the pod holds the peak, no room for them beside it: shrink it in place to the token, the tasks wait for the node to apply it",
		world: decideWorld(pinned, reporting(placeholderPod("node-1", peak(), ago(time.Hour)))),
		// The node beginning the resize brings nothing back
		// (PlaceholderPodChanged): looked at again, at the latest, when
		// the shrink would count as stuck.
		want:    rechecked(pin(handing, shrink), resizeLimit),
		message: []string{"Handing the reservation on node node-1 over", "handed cpu=2990m", "(a, b) by replacing its pod with a token pod"},
	}, {
		name:    "tasks start, the pod holds the peak, the node has room for them beside it: shrink it in place to the token, the tasks start with it",
		world:   decideWorld(pinned, reporting(placeholderPod("node-1", peak(), ago(time.Hour))), roomy),
		want:    rechecked(pin(ready, shrink), resizeLimit),
		message: []string{"replacing placeholder pod placeholder-build-3835e1bb0f-0, which the cluster does not resize in place"},
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
		want:    startWait(resizeLimit - time.Second),
		message: []string{"waiting for the node to start placeholder pod"},
	}, {
		name:    "tasks start, the shrink asked 10 s ago not applied yet, no room for them beside it: wait, checked again when it would count as stuck",
		world:   decideWorld(pinned, asked(10*time.Second)),
		want:    startWait(50 * time.Second),
		message: []string{"waiting for the node to apply it"},
	}, {
		name:  "tasks start, the shrink asked 10 s ago not applied yet, room for them beside it: they start, checked again when it would count as stuck",
		world: decideWorld(pinned, asked(10*time.Second), roomy),
		want:  inFlight(50 * time.Second),
	}, {
		name:  "tasks started with the shrink, asked 10 s ago and not applied yet: ready, checked again when it would count as stuck",
		world: decideWorld(pinned, asked(10*time.Second), started),
		want:  inFlight(50 * time.Second),
	}, {
		// Their pods may not fit until the node applies it: the pod is
		// replaced with a token pod, which frees the room at once.
		name:    "tasks started with the shrink, asked 90 s ago, neither applied nor marked: replace the pod",
		world:   decideWorld(pinned, asked(90*time.Second), started),
		want:    pin(handing, replace),
		message: []string{"neither applied nor marked", "(running tasks)"},
	}, {
		name:    "tasks started with the shrink, which the node reports Infeasible: replace the pod at once",
		world:   decideWorld(pinned, asked(10*time.Second, infeasible(5*time.Second)), started),
		want:    pin(handing, replace),
		message: []string{"PodResizePending (Infeasible)"},
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
		name:  "an Infeasible from before this shrink was asked: the shrink's bound counts from when it was asked",
		world: decideWorld(pinned, asked(10*time.Second, infeasible(5*time.Minute))),
		want:  startWait(50 * time.Second),
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

// TestShrinkInFlight checks when the hand-over watches a shrink the node
// has not applied yet (and observe learns when it was asked): whether or
// not tasks start.
func TestShrinkInFlight(t *testing.T) {
	token := placeholder.TokenRequests()
	started := []demand.Task{
		{Name: "a", Pod: rl("2", "1Gi"), State: demand.Running},
		{Name: "b", Pod: rl("1", "2Gi"), State: demand.Running},
		{Name: "c", After: []string{"a", "b"}, Pod: rl("1", "1Gi")},
	}
	for _, tc := range []struct {
		name  string
		pod   *corev1.Pod
		tasks []demand.Task
		want  bool
	}{{
		name: "shrink not applied while tasks start",
		pod:  shrunk(now.Add(-time.Hour)),
		want: true,
	}, {
		name:  "shrink not applied, the tasks started",
		pod:   shrunk(now.Add(-time.Hour)),
		tasks: started,
		want:  true,
	}, {
		name: "the pod is to shrink, not asked yet: a resize, nothing in flight",
		pod:  reporting(placeholderPod("node-1", peak(), ago(time.Hour))),
	}, {
		name:  "applied, the tasks started",
		pod:   reporting(placeholderPod("node-1", token, ago(time.Hour))),
		tasks: started,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := decideWorld(ownSTS("node-1", token), tc.pod)
			if tc.tasks != nil {
				w.tasks = tc.tasks
			}
			if got := shrinkInFlight(&w, planHandOver(&w, settings(t, nil))); got != tc.want {
				t.Errorf("shrinkInFlight() = %t, want %t", got, tc.want)
			}
		})
	}
}
