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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
)

// decideUnbound decides for a placeholder pod that is not bound to a node
// yet, whose node, if pinned, is usable: it waits for Kueue's admission,
// for the scheduler, or for the room it asked for again on its node; or
// the run chooses another node.
func decideUnbound(w world, now time.Time, s Settings) step {
	if placeholder.AwaitsAdmission(w.pod) {
		// A gated pod made from an older template first: Kueue would
		// admit it for what that template asked (the token, pinned to the
		// node the run lost, when the StatefulSet controller lagged behind
		// a requeue), not for what the current one asks.
		if st, older := decideOlderTemplate(w, now, s); older {
			return st
		}
		return decideAdmission(w, now, s)
	}
	admit := false
	if _, ok := w.sts.Annotations[placeholder.AwaitingAdmissionAnnotation]; ok {
		// Kueue has admitted the pod: the wait for a node starts now.
		admit, w.sts = true, admittedView(w.sts, now)
	}
	st := decideScheduling(w, now, s)
	st.admit = admit
	return st
}

// admittedView is sts as Engine.admitted leaves it at now.
func admittedView(sts *appsv1.StatefulSet, now time.Time) *appsv1.StatefulSet {
	out := sts.DeepCopy()
	delete(out.Annotations, placeholder.AwaitingAdmissionAnnotation)
	out.Annotations[placeholder.WaitingSinceAnnotation] = now.UTC().Format(time.RFC3339)
	return out
}

// decideScheduling decides for an admitted pod that the scheduler has not
// bound yet.
func decideScheduling(w world, now time.Time, s Settings) step {
	if st, older := decideOlderTemplate(w, now, s); older {
		return st
	}
	p, pinned := w.pod, w.pinned
	if _, reclaiming := w.sts.Annotations[placeholder.ReclaimingAnnotation]; reclaiming && pinned != "" {
		return decideReclaim(w, now, s)
	}
	if pinned != "" && unschedulable(p) && len(activeOn(w.members, pinned, w.t.Topology, false)) == 0 {
		// Pinned to a node that no longer fits it (another run took the
		// node during a hand-over, say) and none of the run's pods hold
		// it there: choose again rather than wait forever.
		msg := fmt.Sprintf("Placeholder pod %s cannot return to node %s (%s); choosing another node", p.Name, pinned, schedulingMessage(p))
		return move(w, now, s, p, false, ReasonWaitingForNode, EventMoving, msg)
	}
	since, _ := waitStart(w.sts, pinned, p)
	return done(unscheduledWait(s, now, p, since, w.nodes))
}

// decideOlderTemplate decides for an unbound pod made from an older
// template of its StatefulSet than the current one (older reports false
// otherwise), gated by Kueue or not. A step that rewrites the template
// deletes the pod at once (a move unpins it, a requeue by Kueue asks for
// the peak on any node) or within a bound (controllerLimit: a reclaim asks
// for the room lost), and a StatefulSet controller that has not seen the
// new template yet recreates the pod from the old one: pinned to the node
// the run left, it could wait for that node to the end of max-node-wait,
// or be admitted by Kueue for the token there. Once the controller has
// processed the StatefulSet (its update revision is the current
// template's), such a pod is replaced (replaceOlder), and the controller
// makes the next one from the current template. Until then, a pod whose pin
// is not the template's is checked again after as long as it has existed
// (lagRecheck).
func decideOlderTemplate(w world, now time.Time, s Settings) (st step, older bool) {
	p, sts := w.pod, w.sts
	older, replace := olderPod(w)
	switch {
	case replace:
		return replaceOlder(w, now, s, fmt.Sprintf("replacing placeholder pod %s, made from an older template of StatefulSet %s (revision %s; the current one is %s)",
			p.Name, sts.Name, p.Labels[appsv1.ControllerRevisionHashLabelKey], sts.Status.UpdateRevision)), true
	case older:
		msg := unscheduledMessage(p, w.nodes) + notProcessedYet
		since, _ := waitStart(sts, w.pinned, p)
		return done(boundedWait(s, now, since, msg, lagRecheck(now.Sub(p.CreationTimestamp.Time)))), true
	}
	return step{}, false
}

// olderPod reports whether decideOlderTemplate decides for w's unbound
// pod (older), and whether the pod is replaced: it was made from an older
// template than the one the StatefulSet controller has processed since;
// otherwise the controller lags and the pod's pin is not the template's.
// Observe reads nothing else for such a pod: Kueue's word on it is moot.
func olderPod(w world) (older, replace bool) {
	p, sts := w.pod, w.sts
	rev, current := p.Labels[appsv1.ControllerRevisionHashLabelKey], sts.Status.UpdateRevision
	switch {
	case processed(sts) && rev != "" && current != "" && rev != current:
		return true, true
	case !processed(sts) && placeholder.PinnedNode(&p.Spec, w.run) != w.pinned:
		return true, false
	}
	return false, false
}

// replaceOlder is the step that replaces w's pod, made from an older
// template of its StatefulSet (what says why), or the run's failure once
// its wait for a node has lasted longer than max-node-wait. The pod of a
// run queued in Kueue is replaced whatever the wait: the next one waits
// for admission, which max-node-wait does not count (kueue.go).
func replaceOlder(w world, now time.Time, s Settings, what string) step {
	p := w.pod
	if placeholder.AwaitsAdmission(p) || w.spec.KueueQueue() != "" {
		msg := "Waiting for admission by Kueue: " + what
		return step{kind: stepDelete, placement: waiting(ReasonWaitingForAdmission, msg, 0), pod: p, log: msg}
	}
	msg := "Waiting for a node: " + what
	since, _ := waitStart(w.sts, w.pinned, p)
	placement := boundedWait(s, now, since, msg, 0)
	if placement.Failed {
		return done(placement)
	}
	return step{kind: stepDelete, placement: placement, pod: p, log: msg}
}

// decideReclaim follows the pod that asks for the room its run lost (see
// lostRoom), pinned to its
// node and not bound yet. While the scheduler has not decided, the run
// waits, bounded from the pod's creation. When the node has no room for
// it: the run moves between tasks, at once when none of its pods runs
// there, otherwise once they are done (WaitingToMove, as for a node that
// became unusable; then the wait for a node is bounded from the move).
func decideReclaim(w world, now time.Time, s Settings) step {
	p, pinned := w.pod, w.pinned
	lost := fmt.Sprintf("Placeholder pod %s lost its room on node %s (%s)", p.Name, pinned, lostToken)
	if !unschedulable(p) {
		since, _ := waitStart(w.sts, pinned, p)
		placement := unscheduledWait(s, now, p, since, w.nodes)
		placement.Message = lost + ". " + placement.Message
		return done(placement)
	}
	why := schedulingMessage(p)
	if active := activeOn(w.members, pinned, w.t.Topology, false); len(active) > 0 {
		return done(Placement{Node: pinned, Reason: ReasonWaitingToMove, Message: fmt.Sprintf(
			"%s and cannot get it back there: %s. Waiting for %s to finish %s before the PipelineRun moves to another node",
			lost, why, strings.Join(active, ", "), there(w.t.Topology))})
	}
	msg := fmt.Sprintf("%s and cannot get it back there (%s); choosing another node", lost, why)
	return move(w, now, s, p, false, ReasonWaitingForNode, EventMoving, msg)
}

// decideAdmission decides for a placeholder pod that Kueue has not
// admitted. A pod that came back gated on a template pinned to the node
// the old pod held, before Kueue took its admission back, sends the run
// back to the queue as a whole when none of its pods runs there: the
// template asks for the run's remaining peak on any node again, and the
// pinned pod is replaced. Otherwise the run waits for admission (there).
func decideAdmission(w world, now time.Time, s Settings) step {
	p, pinned, queue := w.pod, w.pinned, w.spec.KueueQueue()
	if requeues(w) {
		msg := fmt.Sprintf("Placeholder pod %s lost its admission by Kueue and node %s (it was preempted or deleted); the PipelineRun is queued again in LocalQueue %s as a whole (%s), for any node",
			p.Name, pinned, queue, formatResources(reservation(w, s)))
		return move(w, now, s, p, false, ReasonWaitingForAdmission, EventRequeued, msg)
	}
	msg := fmt.Sprintf("Waiting for admission by Kueue: placeholder pod %s (Workload %s, %s) is queued in LocalQueue %s",
		p.Name, placeholder.KueueWorkloadName(w.sts.Name), formatResources(placeholder.Requests(&p.Spec)), queue)
	if pinned != "" {
		msg += fmt.Sprintf(", to come back to node %s where the PipelineRun's pods run", pinned)
	}
	if w.workload != "" {
		msg += ": " + w.workload
	}
	// Again after a while, so that the message follows the Workload
	// (Kueue's updates of it do not re-queue the run; the pod's do).
	placement := waiting(ReasonWaitingForAdmission, msg, diagnoseEvery)
	since, recorded := annotatedTime(w.sts, placeholder.AwaitingAdmissionAnnotation)
	if !recorded {
		since = now
	}
	placement.Since = since
	if !recorded {
		return step{kind: stepAnnotate, placement: placement, annotation: placeholder.AwaitingAdmissionAnnotation, since: since}
	}
	return done(placement)
}

// requeues reports whether the run of a pod that awaits Kueue's admission
// goes back to the queue as a whole: its pod came back pinned to a node
// where none of the run's pods runs (see decideAdmission).
func requeues(w world) bool {
	return w.pinned != "" && len(activeOn(w.members, w.pinned, w.t.Topology, false)) == 0
}
