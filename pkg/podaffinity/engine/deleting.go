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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A placeholder StatefulSet or pod that is being deleted is waited for: a
// new StatefulSet of the same name can be created only once the old one is
// gone, and the StatefulSet controller makes its pod again only once the
// old pod is gone (a StatefulSet pod's name is its identity). Finalizers
// that somebody else put on either, or a foreground deletion whose pod
// never goes, hold it there for as long as they like. The engine removes
// no finalizer it did not set, and it cannot make the replacement under
// another name: the placeholder's name is the run's (placeholder.Name, from
// its UID), which its TaskRuns carry (placeholder.MemberLabelKey) and
// their pods' affinity selects; a move, too, keeps the name and changes
// the pin. So such a wait is bounded by max-node-wait, counted from the
// deletion, and its message names the object, since when it is being
// deleted and what holds it. Past the bound the run fails with
// ReasonPlaceholderStuckDeleting, whether or not it has started tasks (as
// a run does whose wait for a node runs out mid-run: its TaskRuns are
// cancelled); its release then deletes what of the placeholder it can.

// deleting is a placeholder object that is being deleted, as a run's
// condition names it.
type deleting struct {
	// what names the object: "Placeholder StatefulSet x", "Placeholder
	// pod x-0 on node n".
	what string
	// since is when its deletion was asked for.
	since time.Time
	// finalizers hold it.
	finalizers []string
	// also says what else holds it (the pod of a foreground deletion), or "".
	also string
}

// deletingObject describes o, which is being deleted. Its deletion was
// asked for at its deletion timestamp less its grace period: the API
// server sets the timestamp to the end of the grace period, and moves both
// when a deletion shortens it, keeping their difference.
func deletingObject(what string, o metav1.Object) deleting {
	since := o.GetDeletionTimestamp().Time
	if g := o.GetDeletionGracePeriodSeconds(); g != nil {
		since = since.Add(-time.Duration(*g) * time.Second)
	}
	return deleting{what: what, since: since, finalizers: slices.Clone(o.GetFinalizers())}
}

// held says what holds the object.
func (d deleting) held() string {
	var held string
	switch len(d.finalizers) {
	case 0:
		held = "held by nothing any more"
	case 1:
		held = "held by finalizer " + d.finalizers[0]
	default:
		held = "held by finalizers " + strings.Join(d.finalizers, ", ")
	}
	return held + d.also
}

// deletionWait is the placement of a run whose placeholder object d is
// being deleted, at now: a wait whose message says since when and what
// holds it, then what happens once it is gone (then), asking to be called
// again after every or when the bound runs out, whichever comes first; or,
// once it has been deleted for longer than the bound, the run's failure.
// A bound of zero waits for as long as it takes.
func deletionWait(bound time.Duration, now time.Time, d deleting, then string, every time.Duration) Placement {
	since := d.since.UTC().Format(time.RFC3339)
	waited := now.Sub(d.since)
	if bound > 0 && waited >= bound {
		return Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting, Message: fmt.Sprintf(
			"%s is still being deleted %s after its deletion at %s, longer than %s=%s: %s. The PipelineRun cannot go on until it is gone; remove those finalizers, or repair what should remove them",
			d.what, waited.Round(time.Second), since, paconfig.MaxNodeWaitKey, bound, d.held())}
	}
	msg := fmt.Sprintf("%s is being deleted since %s, %s; %s", d.what, since, d.held(), then)
	after := every
	if bound > 0 {
		deadline := d.since.Add(bound)
		msg += fmt.Sprintf(". The PipelineRun fails if it is not gone by %s (%s=%s)", deadline.UTC().Format(time.RFC3339), paconfig.MaxNodeWaitKey, bound)
		after = sooner(after, deadline.Sub(now))
	}
	return waiting(ReasonWaitingForNode, msg, after)
}

// statefulSetGone is the wait, at now, of a run whose placeholder
// StatefulSet sts is being deleted (by someone else: the engine deletes it
// only once the run is done), which a new one replaces once it is gone;
// pod is its pod as the cache has it, or nil. Without finalizers it goes
// in a moment (the cache is behind); otherwise the wait is bounded and
// says what holds it (see deletionWait). A foreground deletion (finalizer
// foregroundDeletion) waits for its pod to go first: the message says how
// that pod is held.
func statefulSetGone(bound time.Duration, now time.Time, sts *appsv1.StatefulSet, pod *corev1.Pod) Placement {
	if len(sts.Finalizers) == 0 {
		return waiting(ReasonWaitingForNode, fmt.Sprintf("Placeholder StatefulSet %s is being deleted; it is created again once gone", sts.Name), time.Second)
	}
	d := deletingObject("Placeholder StatefulSet "+sts.Name, sts)
	if slices.Contains(sts.Finalizers, metav1.FinalizerDeleteDependents) {
		name := placeholder.PodName(sts.Name)
		switch {
		case pod == nil:
		case pod.DeletionTimestamp != nil:
			p := deletingObject("", pod)
			d.also = fmt.Sprintf(", which waits for its pod %s to go first: it is being deleted since %s, %s", name, p.since.UTC().Format(time.RFC3339), p.held())
		default:
			d.also = fmt.Sprintf(", which waits for its pod %s to go first", name)
		}
	}
	return deletionWait(bound, now, d, "a new one is created once it is gone", 0)
}

// heldPod reports whether finalizers hold the terminating placeholder pod
// p: it has some, and no kubelet is still stopping it, as far as the
// engine can tell (the pod was deleted at once, or the engine deletes it at
// once now: stuck, see terminationWait).
func heldPod(p *corev1.Pod, stuck bool) bool {
	if p.DeletionTimestamp == nil || len(p.Finalizers) == 0 {
		return false
	}
	return stuck || deletedAtOnce(p)
}

// deletedAtOnce reports whether p's deletion has no grace period left to
// give: the kubelet, or whoever deleted it, no longer waits for anything.
func deletedAtOnce(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.DeletionGracePeriodSeconds != nil && *p.DeletionGracePeriodSeconds == 0
}
