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
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// resizable returns want with every resource that cannot be resized in
// place (all but CPU and memory: ephemeral storage, extended resources)
// kept at what the pod has: the API server refuses an in-place resize that
// changes, adds or removes one, and replacing the pod for it at every
// hand-over would only churn.
func resizable(want, have corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range want {
		if inPlace(name) {
			out[name] = q.DeepCopy()
		}
	}
	for name, q := range have {
		if !inPlace(name) {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// inPlace reports whether a node resizes a pod's request of name in place:
// CPU and memory only.
func inPlace(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}

// fixedExcess names, sorted, the resources that cannot be resized in place
// of which have holds more than want.
func fixedExcess(have, want corev1.ResourceList) []string {
	var names []string
	for _, name := range sortedNames(have) {
		if inPlace(name) {
			continue
		}
		if q := have[name]; q.Cmp(want[name]) > 0 {
			names = append(names, string(name))
		}
	}
	return names
}

// resizeSubresource is the pods subresource through which the engine
// resizes a placeholder in place (Engine.resize).
const resizeSubresource = "resize"

// resizeLimit bounds how long a placeholder's shrink may stay pending or in
// progress on the node before the engine hands over by replacing the pod:
// the tasks that start wait for it.
const resizeLimit = time.Minute

// resizeStuck returns why the node will not apply the pod's pending resize
// in time, or "": it reports this resize Infeasible (a condition older
// than the resize, when the pod records when it was asked, is an earlier
// resize's and is timed like a pending one), or has kept it pending
// or in progress for resizeLimit or longer (as of now; counted from when
// this resize was asked, if the condition is older), or has not started
// the pod's container within resizeLimit of binding it (boundAt), or has neither
// applied nor marked (PodResizePending, PodResizeInProgress) a shrink asked
// resizeLimit or longer ago (resizeAsked).
func resizeStuck(p *corev1.Pod, now time.Time) string {
	return resizeCheck(p, now).stuck
}

// resizeRecheck returns how long from now resizeStuck turns true for p
// if nothing else changes, or 0 when it is already true or depends on no
// clock: a run whose shrink is in flight is reconciled again then, since no
// event of the pod marks that moment.
func resizeRecheck(p *corev1.Pod, now time.Time) time.Duration {
	return resizeCheck(p, now).recheck
}

// resizeVerdict is resizeStuck's answer and resizeRecheck's.
type resizeVerdict struct {
	stuck   string
	recheck time.Duration
}

func resizeCheck(p *corev1.Pod, now time.Time) resizeVerdict {
	var v resizeVerdict
	// until notes a deadline of resizeLimit from since: the earliest is
	// when the verdict changes.
	until := func(since time.Time) {
		if left := resizeLimit - now.Sub(since); left > 0 && (v.recheck == 0 || left < v.recheck) {
			v.recheck = left
		}
	}
	stuck := func(why string) resizeVerdict { return resizeVerdict{stuck: why} }

	if bound := boundAt(p); reportedResources(p) == nil && !containerStarted(p) && !bound.IsZero() {
		if now.Sub(bound) >= resizeLimit {
			// Its node has not started the container to apply the shrink to.
			return stuck(fmt.Sprintf("its container has not started in %s", now.Sub(bound).Round(time.Second)))
		}
		until(bound)
	}
	asked, recorded := resizeAsked(p)
	marked := false
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue || (c.Type != podResizePending && c.Type != podResizeInProgress) {
			continue
		}
		since := c.LastTransitionTime.Time
		stale := false
		if !since.IsZero() {
			marked = true
			if recorded && asked.After(since) {
				// The condition stayed true from an earlier resize (a grow
				// deferred or infeasible, say): it says nothing of this one,
				// which the node has had since it was asked.
				since, stale = asked, true
			}
		}
		what := string(c.Type)
		if c.Reason != "" {
			what += " (" + c.Reason + ")"
		}
		if c.Message != "" {
			what += ": " + c.Message
		}
		switch {
		case c.Type == podResizePending && c.Reason == podReasonInfeasible && !stale:
			return stuck(what)
		case since.IsZero():
		case now.Sub(since) >= resizeLimit:
			return stuck(fmt.Sprintf("%s, for %s", what, now.Sub(since).Round(time.Second)))
		default:
			until(since)
		}
	}
	if r := reportedResources(p); !marked && r != nil && r.Requests != nil && exceeds(r.Requests, placeholder.Requests(&p.Spec)) {
		// A shrink the node has neither applied nor marked, with a time: it
		// may not have seen it yet, or never will (an old or odd kubelet).
		// Counted from when it was asked, as the API server recorded it.
		if recorded {
			if now.Sub(asked) >= resizeLimit {
				return stuck(fmt.Sprintf("its shrink, asked %s ago, is neither applied nor marked pending or in progress by the node", now.Sub(asked).Round(time.Second)))
			}
			until(asked)
		}
	}
	return v
}

// boundAt returns since when p's node has had it: when the scheduler bound
// it (its PodScheduled condition turned true), or its creation when it
// records no such time. A pod that waited for a node (an isolated run
// waits for another run's node to free up) could not be started before.
func boundAt(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue && c.LastTransitionTime.After(p.CreationTimestamp.Time) {
			return c.LastTransitionTime.Time
		}
	}
	return p.CreationTimestamp.Time
}

// resizeAsked returns when p's resources were last changed through the
// pods/resize subresource: the time of its managed fields entry for that
// subresource (the latest, if several managers resized it), which the API
// server sets whenever a write changes the fields that entry owns. It
// survives a restart of the controller, unlike anything the engine could
// keep in memory. ok is false when p records no such write (the engine
// resized it on a cluster that does not track managed fields, or not at
// all).
func resizeAsked(p *corev1.Pod) (asked time.Time, ok bool) {
	for _, f := range p.ManagedFields {
		if f.Subresource != resizeSubresource || f.Time == nil {
			continue
		}
		if !ok || f.Time.After(asked) {
			asked, ok = f.Time.Time, true
		}
	}
	return asked, ok
}
