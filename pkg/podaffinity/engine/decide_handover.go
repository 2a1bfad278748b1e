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
	"fmt"
	"strings"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// The hand-over sizes a bound placeholder pod to what the run's unfinished
// tasks still need beyond what its running and starting tasks hold
// (demand.Held). Before tasks start it shrinks; they start in the same step
// where the node has room for them beside it (roomBeside), otherwise once
// the node reports the smaller size. A shrink the node does not apply in
// time is handed over by replacing the pod instead (resizeStuck), whether
// or not the tasks have started by then. As tasks finish it grows back,
// where the node resizes pods in place. It never grows while tasks start,
// nor past what the node has allocated to it then, so a grow the node
// defers cannot hold up the run's own pods. It follows the pin
// (decidePin), in the same step.

// handOverPlan is what a bound placeholder pod holds and is to hold.
type handOverPlan struct {
	// starting: tasks of the run start now.
	starting bool
	// have is what the pod asks for; target what it is to hold: the token,
	// or in reserve mode what the run's later tasks need beyond what its
	// running and starting tasks hold.
	have, target corev1.ResourceList
	// fixed names the resources no node resizes in place (ephemeral
	// storage, extended resources) of which the pod holds more than target.
	fixed []string
	// want is what a resize in place asks: target of CPU and memory, the
	// rest as it is, and while tasks start no more than the node allocated.
	want corev1.ResourceList
	// awaitsShrink: tasks start and the node lacks room for them beside
	// the pod's present size (roomBeside): they wait for the node to apply
	// its shrink.
	awaitsShrink bool
}

// planHandOver is the hand-over's plan for w's pod, bound to its node.
func planHandOver(w *world, s Settings) handOverPlan {
	p := w.pod
	pl := handOverPlan{starting: demand.AnyStarting(w.tasks), have: placeholder.Requests(&p.Spec), target: token(*w)}
	if s.Config.Reservation() == paconfig.ReservationReserve {
		pl.target = placeholder.WithinLimitRanges(demand.WithFloor(demand.Held(w.tasks), pl.target), w.limitRanges)
	}
	pl.fixed = fixedExcess(pl.have, pl.target)
	pl.want = resizable(pl.target, pl.have)
	if pl.starting {
		pl.want = atMost(pl.want, allocated(p))
		pl.awaitsShrink = !roomBeside(w)
	}
	return pl
}

// roomBeside reports whether w's node, as far as the engine sees it, has
// room for the run's running and starting tasks beside what the
// placeholder pod holds there now (the larger of what the node allocated
// to it and what its spec asks): the tasks that start then do so with the
// shrink, and the scheduler binds their pods at once. Otherwise they wait
// for the node to apply it, so that the scheduler never finds them short
// of room (no Pending TaskRun pod, no FailedScheduling event, no
// ExceededNodeResources on the TaskRun). The engine sees neither other
// workloads' pods nor other runs' TaskRun pods on the node: where those
// take the room, a wave started with the shrink is Pending until the node
// applies it. A node that reports no allocatable CPU or memory has no room.
func roomBeside(w *world) bool {
	if w.nodeObj == nil {
		return false
	}
	need := demand.InUse(w.tasks)
	for name, q := range demand.WithFloor(allocated(w.pod), placeholder.Requests(&w.pod.Spec)) {
		if inPlace(name) {
			sum := need[name]
			sum.Add(q)
			need[name] = sum
		}
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		free, ok := w.nodeObj.Status.Allocatable[name]
		if !ok {
			return false
		}
		if q := need[name]; q.Cmp(free) > 0 {
			return false
		}
	}
	return true
}

// shrinkInFlight reports whether w's pod holds on the node more than plan
// pl keeps of it, in a shrink the node has not applied yet: the run's
// pods that the shrink makes room for may not fit until it does, so it
// is watched until then (its bound counts from resizeAsked).
func shrinkInFlight(w *world, pl handOverPlan) bool {
	return len(pl.fixed) == 0 && sameRequests(pl.want, pl.have) && shrinking(w.pod)
}

// decideHandOver completes pin step st with the hand-over of w's pod at
// now: its placement, and the resize or replacement it asks of act.
func decideHandOver(w world, now time.Time, s Settings, st step) step {
	p := w.pod
	node := p.Spec.NodeName
	pl := planHandOver(&w, s)
	if pl.starting && len(pl.fixed) > 0 {
		return replaceFixed(w, now, st, pl)
	}
	if !sameRequests(pl.want, pl.have) {
		return resizeTo(w, now, st, pl)
	}
	st.placement = Placement{Node: node, Ready: true}
	if shrinkInFlight(&w, pl) {
		if why := resizeStuck(p, now); why != "" {
			// The node will never apply it (a static CPU or memory manager
			// keeps Guaranteed pods at their size, say), or not in time.
			return replaceStuck(w, st, why)
		}
		// The run is checked again when the shrink would count as stuck,
		// a moment no event marks (a recheck the pod's update makes moot:
		// armRecheck).
		st.recheck = resizeRecheck(p, now)
		if pl.awaitsShrink {
			// Until the node has applied it, the scheduler still counts
			// the reservation: the pod's update brings the run back then.
			st.placement = Placement{Node: node, Reason: ReasonHandingOver, Message: fmt.Sprintf(
				"Handing the reservation on node %s over to the PipelineRun's pods: waiting for the node to apply it", node)}
		}
	}
	return st
}

// replaceFixed completes pin step st for tasks that start and need some
// of what w's pod holds of a resource no node resizes in place (pl.fixed):
// the reservation is handed over by replacing the pod with one pinned to
// the node that holds what later tasks still need (see replacement),
// written into the template by the pin (once that pod is bound, the
// template goes back to the token size). The pod is deleted only once the
// StatefulSet controller has seen that template (controllerSaw): it makes
// the new pod from the template as its informer has it, and one made from
// the pin alone would hold the token, lose the room later tasks need
// (lostRoom) and be replaced a second time.
func replaceFixed(w world, now time.Time, st step, pl handOverPlan) step {
	p, name := w.pod, w.sts.Name
	node := p.Spec.NodeName
	fixed := strings.Join(pl.fixed, ", ")
	st.spec.Requests = replacement(pl.have, pl.target, w.tasks)
	st.write = !templateAsks(w, node, st.spec.Requests)
	if st.write || !controllerSaw(w, now) {
		st.placement = Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: controllerRecheck, Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods: replacing placeholder pod %s (%s cannot be resized in place) once the StatefulSet controller has seen the template of its replacement", node, p.Name, fixed)}
		return st
	}
	st.handOver = &handOverStep{replace: true, event: &stepEvent{corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
		"Placeholder %s handed %s of its reservation on node %s over to the PipelineRun's pods (%s) by replacing its pod with one that holds %s: %s cannot be resized in place",
		name, formatResources(subtract(pl.have, st.spec.Requests)), node, startingNames(w.tasks), formatResources(st.spec.Requests), fixed)}}
	st.placement = Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
		"Handing the reservation on node %s over to the PipelineRun's pods: replacing placeholder pod %s (%s cannot be resized in place)", node, p.Name, fixed)}
	return st
}

// templateAsks reports whether w's StatefulSet's template is pinned to
// node and asks for requests, with no record of a wait or a reclaim: a pin
// to node with requests writes nothing.
func templateAsks(w world, node string, requests corev1.ResourceList) bool {
	_, reclaimed := w.sts.Annotations[placeholder.ReclaimingAnnotation]
	_, waited := w.sts.Annotations[placeholder.WaitingSinceAnnotation]
	return !waited && !reclaimed && w.pinned == node && sameRequests(placeholder.Requests(&w.sts.Spec.Template.Spec), requests)
}

// controllerLimit bounds the wait for the StatefulSet controller to see a
// template the engine wrote: after it, the pod is replaced anyway.
const controllerLimit = 10 * time.Second

// controllerSaw reports whether, at now, the StatefulSet controller has
// seen w's StatefulSet as it is (its observedGeneration), or the engine's
// last change of it is older than controllerLimit or unknown (the
// controller restarted since): a pod deleted then is made from that
// template.
func controllerSaw(w world, now time.Time) bool {
	if processed(w.sts) {
		return true
	}
	return w.changed.IsZero() || now.Sub(w.changed) >= controllerLimit
}

// resizeTo completes pin step st with the resize of w's pod to pl.want.
func resizeTo(w world, now time.Time, st step, pl handOverPlan) step {
	p, name := w.pod, w.sts.Name
	node := p.Spec.NodeName
	grows := exceeds(pl.want, pl.have)
	switch {
	case !containerStarted(p) && reportedResources(p) == nil:
		// A kubelet admits a pod at its spec's size and reports its
		// container's resources once it has started it, and a
		// ResourceQuota recounts a pod only when those reported resources
		// change: a pod resized before its container starts can stay
		// charged at its old size until the quota's next full resync
		// (minutes), refusing the very TaskRun pods the shrink makes room
		// for. Resize a started container only.
		return awaitStart(w, now, st, pl)
	case grows && reportedResources(p) == nil:
		// The node does not resize pods in place: growing would mean a
		// new, larger pod that might not fit any more. Keep what is held.
		st.placement = Placement{Node: node, Ready: true}
		return st
	}
	h := &handOverStep{resize: pl.want, grows: grows}
	if grows {
		h.event = &stepEvent{corev1.EventTypeNormal, EventReservationRestored, fmt.Sprintf(
			"Placeholder %s holds %s on node %s again for the PipelineRun's later tasks (was %s)", name, formatResources(pl.want), node, formatResources(pl.have))}
	} else {
		// A shrink in place, before every wave, is counted (act) but no
		// news to a person: only its replacement, when the cluster
		// refuses it, is recorded.
		h.refused = &stepEvent{corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
			"Placeholder %s handed %s of its reservation on node %s over to the PipelineRun's pods (%s) by replacing its pod with a token pod pinned to the node",
			name, formatResources(subtract(pl.have, pl.want)), node, startingNames(w.tasks))}
		if pl.starting {
			h.refusedWait = &Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
				"Handing the reservation on node %s over to the PipelineRun's pods: replacing placeholder pod %s, which the cluster does not resize in place", node, p.Name)}
		}
	}
	st.handOver = h
	st.placement = Placement{Node: node, Ready: true}
	if grows {
		return st
	}
	// The run is checked again resizeLimit from now, when the shrink would
	// count as stuck, unless the pod's update brings it back first (the
	// node saying it began to apply it brings nothing back:
	// PlaceholderPodChanged). Tasks that start do so now, with the shrink,
	// where the node has room for them beside the placeholder's present
	// size; otherwise once the node has applied it.
	st.recheck = resizeLimit
	if pl.awaitsShrink {
		st.placement = Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods", node)}
	}
	return st
}

// awaitStart completes pin step st for a bound placeholder pod that should
// change size but whose container the node has not started yet: nothing
// to do while no task starts; otherwise the tasks that start wait for the
// node to start it (the pod's update brings the run back), for at most
// resizeLimit after the pod was bound (boundAt), after which the pod is
// replaced with a token pod pinned to the node.
func awaitStart(w world, now time.Time, st step, pl handOverPlan) step {
	p := w.pod
	node := p.Spec.NodeName
	if !pl.starting {
		st.placement = Placement{Node: node, Ready: true}
		return st
	}
	if why := resizeStuck(p, now); why != "" {
		return replaceStuck(w, st, why)
	}
	st.placement = Placement{Node: node, Reason: ReasonHandingOver, Message: fmt.Sprintf(
		"Handing the reservation on node %s over to the PipelineRun's pods: waiting for the node to start placeholder pod %s, to shrink it", node, p.Name)}
	st.recheck = resizeRecheck(p, now)
	return st
}

// replaceStuck completes pin step st with the hand-over by replacement of
// w's pod, which the node will not resize in time (why), with a token pod
// pinned to the node. The run's event says why: the wait for the node
// leaves no other trace on the run.
func replaceStuck(w world, st step, why string) step {
	p, name := w.pod, w.sts.Name
	node := p.Spec.NodeName
	st.handOver = &handOverStep{replace: true, event: &stepEvent{corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
		"Placeholder %s handed its reservation on node %s over to the PipelineRun's pods (%s) by replacing its pod %s with a token pod pinned to the node: the node cannot resize it in place (%s)",
		name, node, startingNames(w.tasks), p.Name, why)}}
	st.placement = Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
		"Handing the reservation on node %s over to the PipelineRun's pods: the node cannot resize placeholder pod %s in place (%s); replacing it with a token pod", node, p.Name, why)}
	return st
}
