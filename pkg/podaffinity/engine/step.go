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
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// stepKind names the one step decide takes towards the run being placed.
type stepKind string

const (
	// stepNone writes nothing: the placement says it all (nothing left to
	// place, a wait, a failure, or a stale copy of the run).
	stepNone stepKind = "none"
	// stepCreate creates the placeholder StatefulSet from spec.
	stepCreate stepKind = "create"
	// stepAnnotate records on the StatefulSet, as annotation, a time
	// (since): when a wait began, or when the StatefulSet controller was
	// nudged (placeholder.NudgedAnnotation).
	stepAnnotate stepKind = "annotate"
	// stepMove writes spec (unpinned, with the reservation) into the
	// StatefulSet's template with the start of the wait for a node (since),
	// and deletes pod, if any, so that the StatefulSet makes it again.
	stepMove stepKind = "move"
	// stepDelete deletes pod: one that does not terminate, at once
	// (atOnce); an unbound one made from an older template. With an
	// annotation, it records the start of the wait (since) first.
	stepDelete stepKind = "delete"
	// stepPin pins the StatefulSet to the node its pod is bound to (spec;
	// when write is set), asking for the room again when the pod lost it
	// (reclaim, which replaces the pod once the StatefulSet controller has
	// seen that template), or else hands the reservation over to the run's tasks
	// (handOver: a resize or a replacement of the pod; nil when the pod
	// is the size it should be, or waits for the node).
	stepPin stepKind = "pin"
)

// step is what decide returns: one step and the placement it leads to.
// It holds no client: act carries it out.
type step struct {
	kind stepKind
	// placement is what Place returns once the step is done, for every kind
	// but create, whose placement depends on what the API server answers.
	placement Placement
	// admit: before the step, record that Kueue admitted the placeholder
	// pod (its wait for a node starts now; see Engine.admitted). decide
	// has already decided on the StatefulSet as that write leaves it.
	admit bool
	// spec is the placeholder to create or write (create, move, pin).
	spec placeholder.Spec
	// write: pin writes spec into the template (removing the record of a
	// wait).
	write bool
	// annotation and since: the record of a wait (annotate, or delete
	// when set); since is also the start of the wait of a move (recorded
	// with it).
	annotation string
	since      time.Time
	// pod is the placeholder pod to delete (move, delete); atOnce without
	// waiting for the kubelet.
	pod    *corev1.Pod
	atOnce bool
	// events are recorded on the run, log is logged, once the writes are
	// done.
	events []stepEvent
	log    string
	// outcome, when set, is counted once the writes are done; nodeWait is
	// how long the placeholder waited for its node (outcome placed).
	outcome  metrics.Outcome
	nodeWait time.Duration
	// restored: the pod that asked for the room its run lost got it on
	// its node (pin; Engine.reclaimed).
	restored bool
	// reclaim, for pin, asks again for the room the pod lost (see
	// lostRoom): spec, pinned and with ReclaimingSince, is the template that
	// asks for it, written by the pin (withReclaim); or the template already
	// asks for it and the pod does not hold it (replaceUnreclaimed).
	reclaim *reclaimStep
	// handOver, for pin, resizes or replaces the pod (decideHandOver).
	handOver *handOverStep
	// recheck, when positive, bounds a wait that an event of the
	// placeholder pod ends (the node applies a shrink): another reconcile
	// after it, unless the run's next decision comes first (armRecheck).
	recheck time.Duration
}

// reclaimStep is the replacement of a placeholder pod that lost its room
// by one made from a template that asks for it again.
type reclaimStep struct {
	// replace deletes the pod: the template asks for the room, and the
	// StatefulSet controller has seen it (controllerSaw). Unset, the run
	// is checked again after controllerRecheck.
	replace bool
}

// stepEvent is an event the step records on the run.
type stepEvent struct {
	kind, reason, message string
}

// done is a step that writes nothing.
func done(p Placement) step {
	return step{kind: stepNone, placement: p}
}

// handOverStep is the write a hand-over asks of act after the pin: resize
// the pod in place, or replace it.
type handOverStep struct {
	// replace deletes the pod: the StatefulSet makes it again from its
	// template, pinned to the node (for the resources no node resizes in
	// place, the pin wrote what the new pod holds: replaceFixed).
	replace bool
	// resize, when set, resizes the pod in place to it (requests and
	// limits). grows: a grow, which keeps the pod as it is when the
	// cluster refuses it; a shrink replaces the pod then.
	resize corev1.ResourceList
	grows  bool
	// event is recorded on the run and counted (a hand-over; a restore for
	// EventReservationRestored) once the writes are done: for a resize,
	// when the node resized the pod in place; refused instead, if set,
	// when the cluster refused it. A shrink in place has no event: it is
	// counted as a hand-over only.
	event, refused *stepEvent
	// refusedWait, if set, is the run's placement when the cluster refused
	// the resize: starting tasks wait for the pod's replacement.
	refusedWait *Placement
}

// move is the step that unpins the StatefulSet, asks for the reservation
// again from now on, and replaces pod (if any), announced with an event.
func move(w world, now time.Time, s Settings, pod *corev1.Pod, atOnce bool, reason, eventReason, msg string) step {
	spec := w.spec
	spec.PinnedNode = ""
	spec.Requests = reservation(w, s)
	return step{
		kind: stepMove, placement: waiting(reason, msg, 0), spec: spec, since: now, pod: pod, atOnce: atOnce,
		events: []stepEvent{{corev1.EventTypeWarning, eventReason, msg}}, log: msg, outcome: metrics.OutcomeMoved,
	}
}
