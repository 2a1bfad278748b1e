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
	"fmt"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

// A child PipelineRun (Target.Joined) runs in its parent's reservation: it
// has no placeholder of its own and writes nothing. The parent counts the
// child pipeline's peak as held by the child while it runs; the child
// starts once the parent's placeholder has made room for it on the node.

// observeJoined reads what a child run decides on: its parent's
// placeholder pod, as the engine last wrote it (w.pod, nil when there is
// none), and, once it is bound and holds still, whether its node is usable
// (w.node, w.unusable). When the pod is missing or going, it reads what
// tells whether the parent still holds a placeholder (observeParent). A
// read that fails is an error.
func (e *Engine) observeJoined(ctx context.Context, run *v1.PipelineRun, t Target, tasks []demand.Task) (world, error) {
	w := world{run: run, t: t, tasks: tasks}
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(t.Placeholder))
	switch {
	case apierrors.IsNotFound(err):
		p = nil
	case err != nil:
		return world{}, fmt.Errorf("getting parent placeholder pod: %w", err)
	}
	w.cached = p
	w.pod = e.own.pod(p, e.Clock.Now())
	if parentMissing(w.pod) {
		return w, e.observeParent(ctx, &w)
	}
	if parentWaits(w.pod) {
		return w, nil
	}
	w.node = w.pod.Spec.NodeName
	if w.unusable, err = e.unusable(w.node, w.pod.Spec.Tolerations); err != nil {
		return world{}, err
	}
	return w, nil
}

// observeParent reads, for a child run whose parent's placeholder pod is
// missing or going, the parent's placeholder StatefulSet from the cache
// (w.sts; nil when there is none, or it is not the parent's), and, when
// that is gone or being deleted, the parent run from the API server
// (w.parent; nil when it is gone or another run has its name), if the
// engine has a reader of runs (w.parentRead). Parent events do not bring
// the child back: a child whose parent is done must learn it from a read.
func (e *Engine) observeParent(ctx context.Context, w *world) error {
	run := w.run
	ref := metav1.GetControllerOf(run)
	sts, err := e.StatefulSets.StatefulSets(run.Namespace).Get(w.t.Placeholder)
	switch {
	case apierrors.IsNotFound(err):
		sts = nil
	case err != nil:
		return fmt.Errorf("getting parent placeholder StatefulSet %s/%s: %w", run.Namespace, w.t.Placeholder, err)
	}
	if sts != nil {
		if owner := metav1.GetControllerOf(sts); ref == nil || owner == nil || owner.UID != ref.UID {
			sts = nil
		}
	}
	if sts != nil {
		w.sts = e.own.statefulSet(sts, e.Clock.Now())
		if w.sts.DeletionTimestamp == nil {
			return nil
		}
	}
	if e.PipelineRuns == nil || ref == nil {
		return nil
	}
	parent, err := e.PipelineRuns(ctx, run.Namespace, ref.Name)
	switch {
	case apierrors.IsNotFound(err):
		parent = nil
	case err != nil:
		return fmt.Errorf("reading the parent PipelineRun %s/%s of PipelineRun %s, as its placeholder is gone: %w", run.Namespace, ref.Name, run.Name, err)
	case parent.UID != ref.UID:
		parent = nil
	}
	w.parent, w.parentRead = parent, true
	return nil
}

// parentMissing reports whether the parent's placeholder pod p (nil: none)
// is missing or going: whether it comes back depends on the parent.
func parentMissing(p *corev1.Pod) bool {
	return p == nil || going(p)
}

// parentWaits reports whether the parent's placeholder pod p (nil: none)
// holds no room for a child yet: there is none, it is going, it is not
// bound, or the node has not applied its shrink.
func parentWaits(p *corev1.Pod) bool {
	return parentMissing(p) || p.Spec.NodeName == "" || shrinking(p)
}

// decideJoined decides for a child run: it waits for its parent's
// placeholder, or for the parent to move off a node that became unusable,
// or it may start tasks on the parent's node, or it fails when its
// parent's placeholder is missing for good (decideParentMissing). It
// writes nothing.
//
// A pod that is there but not bound or shrinking is the parent's own
// wait, which the parent bounds; an event of the pod (bound, shrunk,
// deleted) brings the child back.
func decideJoined(w world, now time.Time, s Settings) step {
	if parentMissing(w.pod) {
		return done(decideParentMissing(w, now, s))
	}
	if parentWaits(w.pod) {
		return done(waiting(ReasonWaitingForNode, fmt.Sprintf("Waiting for the parent PipelineRun's placeholder %s to be placed", w.t.Placeholder), 0))
	}
	if w.unusable != "" {
		return done(Placement{Node: w.node, Reason: ReasonWaitingToMove, Message: fmt.Sprintf(
			"Node %s is %s; waiting for the parent PipelineRun to move", w.node, w.unusable)})
	}
	return done(Placement{Node: w.node, Ready: true})
}

// decideParentMissing decides for a child run whose parent's placeholder
// pod is missing or going. A parent that is done or gone released its
// placeholder for good: the child fails at once (ReasonParentReleased).
// Otherwise the placeholder comes back (the parent's StatefulSet makes
// the pod again; a running parent without one creates it again at its
// next reconcile), and the child waits for it like any wait for a node:
// bounded by max-node-wait (NodeWaitTimeout) from the start the parent
// recorded (its StatefulSet's record of the wait, or its deletion), or
// else, when the parent has no placeholder, the child's creation when it
// has not started (it has waited since then), and checked again, since no
// event of the parent's run brings the child back. A child that has
// started, or whose parent's StatefulSet is there without a record (its
// pod went a moment ago: the parent, placed since the child's creation,
// records the start at its next reconcile), is checked again until there
// is one.
func decideParentMissing(w world, now time.Time, s Settings) Placement {
	if w.sts == nil || w.sts.DeletionTimestamp != nil {
		if why := parentEnded(w); why != "" {
			return Placement{Failed: true, Reason: ReasonParentReleased, Message: fmt.Sprintf(
				"The parent PipelineRun %s %s and released its placeholder %s, which this PipelineRun joined: no node holds room for it any more",
				parentName(w), why, w.t.Placeholder)}
		}
	}
	var (
		msg      string
		since    time.Time
		recorded bool
		every    = createGrace
	)
	switch {
	case w.sts != nil && w.sts.DeletionTimestamp == nil:
		msg = fmt.Sprintf("Waiting for the parent PipelineRun's placeholder %s to be placed: its StatefulSet has no pod yet", w.t.Placeholder)
		if w.pod != nil {
			msg = fmt.Sprintf("Waiting for the parent PipelineRun's placeholder %s to be placed again: its pod %s %s",
				w.t.Placeholder, w.pod.Name, goingState(w.pod))
		}
		if since, recorded = annotatedTime(w.sts, placeholder.WaitingSinceAnnotation); !recorded {
			return waiting(ReasonWaitingForNode, msg, createGrace)
		}
		every = diagnoseEvery
	case w.sts != nil:
		msg = fmt.Sprintf("Waiting for the parent PipelineRun %s to create its placeholder %s again: it is being deleted since %s",
			parentName(w), w.t.Placeholder, w.sts.DeletionTimestamp.UTC().Format(time.RFC3339))
		since, recorded = w.sts.DeletionTimestamp.Time, true
	default:
		msg = fmt.Sprintf("Waiting for the parent PipelineRun %s to create its placeholder %s again", parentName(w), w.t.Placeholder)
	}
	if !recorded && w.run.Status.StartTime == nil && !w.run.CreationTimestamp.IsZero() {
		since, recorded = w.run.CreationTimestamp.Time, true
	}
	if !recorded {
		return waiting(ReasonWaitingForNode, msg, createGrace)
	}
	return boundedWait(s, now, since, msg, every)
}

// goingState says what is taking a going pod away.
func goingState(p *corev1.Pod) string {
	if what, _ := disruption(p); what != "" {
		return "was " + what
	}
	if p.DeletionTimestamp != nil {
		return "is being deleted since " + p.DeletionTimestamp.UTC().Format(time.RFC3339)
	}
	return "has ended (" + string(p.Status.Phase) + ")"
}

// parentEnded says why a child run's parent, read afresh because its
// placeholder is gone or going (observeParent), holds no placeholder any
// more: it is done, being deleted or gone; "" when it still runs, or was
// not read.
func parentEnded(w world) string {
	switch {
	case !w.parentRead:
		return ""
	case w.parent == nil:
		return "is gone"
	case w.parent.DeletionTimestamp != nil:
		return "is being deleted"
	case w.parent.IsDone():
		why := "is done"
		if c := w.parent.Status.GetCondition(apis.ConditionSucceeded); c != nil && c.Reason != "" {
			why = fmt.Sprintf("is done (%s)", c.Reason)
		}
		return why
	}
	return ""
}

// parentName names a child run's parent: as read, or as its owner
// reference names it.
func parentName(w world) string {
	if w.parent != nil {
		return w.parent.Name
	}
	if ref := metav1.GetControllerOf(w.run); ref != nil {
		return ref.Name
	}
	return ""
}
