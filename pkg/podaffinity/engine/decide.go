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
	"slices"
	"strings"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decide returns the one step Place takes in world w at now, with nothing
// read and nothing written.
// A wait that ran out is counted (metrics.OutcomeWaitTimeout), and so is
// a placeholder that stayed being deleted too long
// (metrics.OutcomeStuckDeleting): act records the outcome.
func decide(w world, now time.Time, s Settings) step {
	st := decideStep(w, now, s)
	if st.outcome == "" {
		switch {
		case timedOut(st.placement):
			st.outcome = metrics.OutcomeWaitTimeout
		case st.placement.Failed && st.placement.Reason == ReasonPlaceholderStuckDeleting:
			st.outcome = metrics.OutcomeStuckDeleting
		}
	}
	return st
}

// decideStep tells the run's situations apart, in the order that matters:
// a node that became unusable comes before anything the pod says.
func decideStep(w world, now time.Time, s Settings) step {
	switch {
	case w.t.Joined:
		return decideJoined(w, now, s)
	case w.sts == nil:
		return decideAbsent(w, s)
	case !metav1.IsControlledBy(w.sts, w.run):
		return done(conflict(w.run.Namespace, w.t.Placeholder))
	case w.sts.DeletionTimestamp != nil:
		return done(statefulSetGone(s.Config.MaxNodeWait(), now, w.sts, w.cached))
	case w.unusable != "":
		return decideUnusable(w, now, s)
	case w.pod == nil && w.terminating != nil:
		return decideTerminating(w, now, s)
	case w.pod == nil:
		return decideNoPod(w, now, s)
	case w.pod.Spec.NodeName == "":
		return decideUnbound(w, now, s)
	}
	return decidePin(w, now, s)
}

// decideAbsent decides for a run without a placeholder StatefulSet.
func decideAbsent(w world, s Settings) step {
	if changedSince(w.stored, w.run) {
		// The run is done (or gone) since it was read: its reconcile goes
		// on with the run as it is now.
		return done(Placement{Current: w.stored})
	}
	if placedAll(&w) {
		// Every task has started and every pod is on its node: nothing
		// is left to place (recreating the placeholder would only churn).
		return done(Placement{Ready: true})
	}
	if err := placeholder.CheckConstraints(w.run, w.classes); err != nil {
		return done(Placement{Failed: true, Reason: ReasonConflictingNodeConstraints, Message: err.Error()})
	}
	if err := placeholder.CheckTaints(w.run, w.classes, w.nodes); err != nil {
		return done(Placement{Failed: true, Reason: ReasonConflictingNodeConstraints, Message: err.Error()})
	}
	// Creating the placeholder starts the run's wait for a node: the time
	// a run spent Pending, or before the engine saw it, never counts. A
	// placeholder that disappeared mid-run comes back on the node where
	// the run's pods are, if that node is still usable.
	spec := w.spec
	spec.RuntimeClasses = w.classes
	spec.PinnedNode = w.lastNode
	spec.Requests = reservation(w, s)
	if spec.PinnedNode != "" {
		spec.Requests = token(w)
	}
	return step{kind: stepCreate, spec: spec}
}

// decideUnusable decides for a run whose node is unusable: it moves,
// unless some of its pods still run there or its volumes keep it there.
func decideUnusable(w world, now time.Time, s Settings) step {
	node, why := w.node, w.unusable
	active := activeOn(w.members, node, w.t.Topology, why == nodeGone)
	if len(active) > 0 {
		msg := fmt.Sprintf("Node %s is %s; waiting for %s to finish %s before the PipelineRun moves to another node",
			node, why, strings.Join(active, ", "), there(w.t.Topology))
		if w.keep != "" {
			msg = fmt.Sprintf("Node %s is %s and the PipelineRun cannot move to another node: %s. Waiting for %s to finish %s, then for the node to be usable again",
				node, why, w.keep, strings.Join(active, ", "), there(w.t.Topology))
		}
		return done(Placement{Node: node, Reason: ReasonWaitingToMove, Message: msg})
	}
	if w.keep != "" {
		// Until the node is usable again, bounded like every wait for a
		// node, from when it began (recorded on the StatefulSet).
		msg := fmt.Sprintf("Node %s is %s and the PipelineRun cannot move to another node: %s. Waiting for node %s to be usable again", node, why, w.keep, node)
		since, recorded := annotatedTime(w.sts, placeholder.WaitingSinceAnnotation)
		if !recorded {
			since = now
		}
		p := boundedWait(s, now, since, msg, 0)
		if !p.Failed {
			p.Node, p.Reason = node, ReasonWaitingToMove
		}
		if !recorded {
			return step{kind: stepAnnotate, placement: p, annotation: placeholder.WaitingSinceAnnotation, since: since}
		}
		return done(p)
	}
	// At once: a pod on a node that stopped working may never finish
	// terminating, and the StatefulSet recreates it only once it is gone.
	// The placeholder holds no state.
	msg := fmt.Sprintf("Node %s is %s; moving the PipelineRun to another node", node, why)
	return move(w, now, s, w.pod, true, ReasonWaitingForNode, EventMoving, msg)
}

// decideTerminating decides for a StatefulSet whose pod is going
// (terminationWait). A pinned one without a recorded start of the wait
// for a node (the engine sees its pod going for the first time) records
// that the wait starts now, with the delete when there is one: no wait is
// left without a start that bounds it.
func decideTerminating(w world, now time.Time, s Settings) step {
	since, recorded := waitStart(w.sts, w.pinned, nil)
	if !recorded {
		since = now
	}
	placement, deleteNow := terminationWait(s, now, since, w.terminating, w.oldNodeDown)
	st := done(placement)
	if deleteNow {
		st = step{kind: stepDelete, placement: placement, pod: w.terminating, atOnce: true}
	}
	if !recorded && !placement.Failed {
		if st.kind == stepNone {
			st.kind = stepAnnotate
		}
		st.annotation, st.since = placeholder.WaitingSinceAnnotation, now
	}
	return st
}

// decideNoPod decides for a StatefulSet without a pod. For a moment that
// is the StatefulSet controller at work, and for as long as it has not
// processed the StatefulSet (processed); past createGrace the engine has
// asked the API server why (see diagnosing).
func decideNoPod(w world, now time.Time, s Settings) step {
	since, ok := waitStart(w.sts, w.pinned, nil)
	if !ok {
		// The pinned pod is gone and the engine has not seen that before:
		// the wait starts now.
		return step{kind: stepAnnotate, placement: waiting(ReasonWaitingForNode, createMessage(w.sts), createGrace),
			annotation: placeholder.WaitingSinceAnnotation, since: now}
	}
	waited := now.Sub(since)
	if waited < createGrace {
		return done(waiting(ReasonWaitingForNode, createMessage(w.sts), createGrace-waited))
	}
	if !processed(w.sts) {
		// The StatefulSet controller lags: it has not tried to make the
		// pod, and the engine asks nothing of the API server for it.
		// Bounded like every wait for a node, checked again by lagRecheck.
		msg := createMessage(w.sts) + notProcessedYet
		return done(boundedWait(s, now, since, msg, lagRecheck(waited)))
	}
	if !w.diagnosed {
		// Not asked (observe saw the world at another time): no answer is
		// taken for one; asked at the next call.
		return done(waiting(ReasonWaitingForNode, createMessage(w.sts), time.Second))
	}
	return decideDiagnosis(w, now, s, since)
}

// decidePin decides for a placeholder pod bound to a usable node: pin the
// StatefulSet there (a pod it recreates comes back token-sized on the same
// node), then size the pod to what the run's later tasks still need.
func decidePin(w world, now time.Time, s Settings) step {
	if st, left := decideLeftNode(w, now, s); left {
		return st
	}
	sts, p := w.sts, w.pod
	current := p.Spec.NodeName
	st := step{kind: stepPin, spec: w.spec}
	st.spec.PinnedNode = current
	st.spec.Requests = token(w)
	_, reclaiming := sts.Annotations[placeholder.ReclaimingAnnotation]
	reclaiming = reclaiming && w.pinned == current
	if reclaiming && !holdsReclaim(w) {
		if reclaimNeeded(w, s) {
			return replaceUnreclaimed(w, now, st)
		}
		// The run's later tasks need no more than the pod holds now: the
		// reclaim ends (the pin drops its mark), having restored nothing.
		reclaiming = false
	}
	if templateAsks(w, current, st.spec.Requests) {
		return withReclaim(st, w, now, s)
	}
	st.write = true
	st.restored = reclaiming
	if w.pinned != current {
		st.nodeWait = now.Sub(p.CreationTimestamp.Time)
		st.outcome = metrics.OutcomePlaced
		st.events = []stepEvent{{corev1.EventTypeNormal, EventPlaced, placedText(current, w.nodeObj, w.t.Topology, sts.Name, placeholder.Requests(&sts.Spec.Template.Spec), st.nodeWait)}}
	}
	return withReclaim(st, w, now, s)
}

// decideLeftNode decides for a pod bound to a node that its StatefulSet's
// template no longer pins (left reports false otherwise): the run left that
// node (a move, or a requeue by Kueue: decideAdmission), and a lagging
// StatefulSet controller made the pod again from the template before,
// pinned there, which was bound (admitted by Kueue for the token) before
// the engine saw it unbound (decideOlderTemplate). Pinned, the run would
// be back on the node it left, holding the token, where Kueue never
// counted the peak its template asks for. It is replaced once the
// controller has processed the StatefulSet, as decideOlderTemplate
// replaces an unbound one; until then the run waits, checked again.
func decideLeftNode(w world, now time.Time, s Settings) (st step, left bool) {
	p, sts := w.pod, w.sts
	node := placeholder.PinnedNode(&p.Spec, w.run)
	if node == "" || node == w.pinned {
		return step{}, false
	}
	rev, current := p.Labels[appsv1.ControllerRevisionHashLabelKey], sts.Status.UpdateRevision
	switch {
	case processed(sts) && rev != "" && current != "" && rev != current:
		return replaceOlder(w, now, s, fmt.Sprintf("replacing placeholder pod %s, bound to node %s, which the PipelineRun left: it was made from an older template of StatefulSet %s (revision %s; the current one is %s)",
			p.Name, node, sts.Name, rev, current)), true
	case !processed(sts):
		msg := fmt.Sprintf("Waiting for a node: placeholder pod %s came back pinned to node %s, which the PipelineRun left, and is bound there", p.Name, node) + notProcessedYet
		since, _ := waitStart(sts, w.pinned, p)
		return done(boundedWait(s, now, since, msg, lagRecheck(now.Sub(p.CreationTimestamp.Time)))), true
	}
	return step{}, false
}

// withReclaim completes pin step st for a pod that lost its room
// (lostRoom): the pin writes a template that asks for that room again on
// the node (placeholder.ReclaimingAnnotation), and the pod is replaced in a
// later step, once the StatefulSet controller has seen that template
// (replaceUnreclaimed). Otherwise the hand-over follows (decideHandOver).
func withReclaim(st step, w world, now time.Time, s Settings) step {
	have, want, lost := lostRoom(s, w.run, w.pod, w.tasks, w.limitRanges)
	if !lost {
		return decideHandOver(w, now, s, st)
	}
	node := w.pod.Spec.NodeName
	st.spec.PinnedNode = node
	st.spec.Requests = want
	st.spec.ReclaimingSince = &now
	st.write = true
	msg := fmt.Sprintf("Placeholder pod %s came back on node %s holding only %s (%s): asking the scheduler again for the %s the PipelineRun's later tasks need there",
		w.pod.Name, node, formatResources(have), lostToken, formatResources(want))
	st.events = append(st.events, stepEvent{corev1.EventTypeWarning, EventPlaceholderLost, msg})
	st.log = msg
	st.reclaim = &reclaimStep{}
	st.placement = Placement{Node: node, Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck,
		Message: msg + "; the pod is replaced once the StatefulSet controller has seen the template that asks for it"}
	return st
}

// holdsReclaim reports whether w's pod holds what its template asks for
// while that template asks again for the room the pod lost: requests at
// least the template's, as a pod made from it has.
func holdsReclaim(w world) bool {
	return !exceeds(placeholder.Requests(&w.sts.Spec.Template.Spec), placeholder.Requests(&w.pod.Spec))
}

// reclaimNeeded reports whether the run's tasks that have not started
// still need more than w's pod holds, beyond what its running tasks hold:
// the room a reclaim asks for (reclaimRoom), where the tasks that start now
// count as not started: they start in that room, not beside a token pod.
func reclaimNeeded(w world, s Settings) bool {
	if s.Config.Reservation() != paconfig.ReservationReserve {
		return false
	}
	tasks := slices.Clone(w.tasks)
	for i := range tasks {
		if tasks[i].State == demand.Starting {
			tasks[i].State = demand.Waiting
		}
	}
	return exceeds(reclaimRoom(tasks, token(w), w.limitRanges), placeholder.Requests(&w.pod.Spec))
}

// replaceUnreclaimed completes pin step st for w's pod, bound to the node
// its template is pinned to while that template asks again for the room
// the pod lost, when the pod does not hold it (holdsReclaim) and the run's
// later tasks still need more than the pod holds: the
// StatefulSet controller made it from the template before (its informer
// lagged), or it is the pod the reclaim is to replace (withReclaim wrote the
// template, or the engine stopped before the delete). That restores
// nothing, and no task starts on it: the template is kept as it is, and the
// pod is replaced once the StatefulSet controller has seen it
// (controllerSaw, as for replaceFixed), so that it makes the new pod from
// it.
func replaceUnreclaimed(w world, now time.Time, st step) step {
	p, node := w.pod, w.pod.Spec.NodeName
	asked := placeholder.Requests(&w.sts.Spec.Template.Spec)
	msg := fmt.Sprintf("Placeholder pod %s on node %s holds only %s, not the %s its StatefulSet %s asks for again there after %s: replacing it",
		p.Name, node, formatResources(placeholder.Requests(&p.Spec)), formatResources(asked), w.sts.Name, lostToken)
	st.spec.Requests = asked
	st.reclaim = &reclaimStep{replace: controllerSaw(w, now)}
	st.placement = Placement{Node: node, Reason: ReasonWaitingForNode, Message: msg}
	if !st.reclaim.replace {
		st.placement.RequeueAfter = controllerRecheck
		st.placement.Message = msg + " once the StatefulSet controller has seen that template"
		return st
	}
	st.log = msg
	return st
}

// placedText says where the run's pods go once its placeholder is bound
// to node: on it, or where nodes share its value of a wider topology (n
// is node, nil when it cannot be read), what the placeholder requests
// (the reservation it was bound with) and how long it waited.
func placedText(node string, n *corev1.Node, topology, name string, requests corev1.ResourceList, wait time.Duration) string {
	waited := wait.Round(time.Millisecond)
	asked := formatResources(requests)
	if !wide(topology) {
		return fmt.Sprintf("All pods of this PipelineRun run on node %s (placeholder %s requesting %s; it waited %s for it)", node, name, asked, waited)
	}
	where := topology + " of node " + node
	if n != nil {
		where = topology + "=" + n.Labels[topology]
	}
	return fmt.Sprintf("All pods of this PipelineRun run in %s; placeholder %s holds the reservation on node %s (requesting %s; it waited %s for it)", where, name, node, asked, waited)
}
