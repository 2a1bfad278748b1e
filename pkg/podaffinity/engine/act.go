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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/logging"
)

// act carries out step st that decide took in world w: its writes, then
// its events, log and metrics, and returns the run's placement. A write
// that fails is returned as an error, and nothing after it is done; the
// next reconcile decides again.
func (e *Engine) act(ctx context.Context, s Settings, w world, st step) (placement Placement, err error) {
	sts := w.sts
	// recorded is sts as the step leaves the record of its wait: written
	// by an annotate, a move or a delete that records its start.
	recorded := sts
	recheck := st.recheck
	if sts != nil {
		// The watch event of the step's write to the StatefulSet re-queues
		// the run only if the placement counts on it (see ownEvents).
		defer func() {
			podWritten := st.pod != nil || st.reclaim != nil || st.handOver != nil
			e.ownEvents.settle(sts.UID, err == nil && settled(placement, podWritten || recheck > 0), e.Clock.Now())
		}()
		defer func() {
			// A wait reports when it began, as far as the StatefulSet
			// tells once the step has recorded its start.
			if err == nil && !placement.Ready && !placement.Failed && placement.Since.IsZero() {
				placement.Since = waitBegan(recorded)
			}
		}()
	}
	// Every decision replaces the run's recheck, or stops it (recheck 0).
	defer func() {
		if err == nil {
			placement = e.armRecheck(w.run, placement, recheck)
		}
	}()
	if st.admit {
		// sts stays set when the write fails: the deferred settle reads it.
		after, err := e.admitted(ctx, sts)
		if err != nil {
			return Placement{}, err
		}
		sts, recorded = after, after
	}
	switch st.kind {
	case stepCreate:
		return e.create(ctx, s, w.run, st.spec, len(w.members) > 0 || len(w.run.Status.ChildReferences) > 0)
	case stepAnnotate:
		if recorded, err = e.annotate(ctx, sts, st.annotation, st.since); err != nil {
			return Placement{}, err
		}
	case stepMove:
		if recorded, err = e.updateTemplate(ctx, sts, st.spec, ptr.To(st.since)); err != nil {
			return Placement{}, err
		}
		if st.pod != nil {
			if err := e.deletePod(ctx, st.pod, st.atOnce); err != nil {
				return Placement{}, err
			}
		}
	case stepDelete:
		// The start of the wait first: a delete that fails leaves it
		// recorded, and the next reconcile deletes again.
		if st.annotation != "" {
			if recorded, err = e.annotate(ctx, sts, st.annotation, st.since); err != nil {
				return Placement{}, err
			}
		}
		if err := e.deletePod(ctx, st.pod, st.atOnce); err != nil {
			return Placement{}, err
		}
	case stepPin:
		if st.write {
			if _, err := e.updateTemplate(ctx, sts, st.spec, nil); err != nil {
				return Placement{}, err
			}
		}
		if r := st.reclaim; r != nil && r.replace {
			if err := e.deletePod(ctx, w.pod, false); err != nil {
				return Placement{}, err
			}
		}
		if st.restored {
			e.reclaimed(ctx, w.run, sts, w.pod)
		}
	}
	e.record(ctx, w, st)
	if st.kind != stepPin || st.reclaim != nil {
		return st.placement, nil
	}
	if h := st.handOver; h != nil {
		refused, err := e.handOver(ctx, w, h)
		if err != nil {
			return Placement{}, err
		}
		if refused {
			// The pod is replaced instead of resized: its replacement's
			// binding brings the run back, no bound on a resize to wait.
			recheck = 0
			if h.refusedWait != nil {
				return *h.refusedWait, nil
			}
		}
	}
	return st.placement, nil
}

// handOver carries out hand-over h of w's pod: the resize or the
// replacement (its template was written by the pin); then the event,
// counted (a shrink in place is counted without one). It
// reports whether the cluster refused the resize, which replaced the pod.
func (e *Engine) handOver(ctx context.Context, w world, h *handOverStep) (refused bool, err error) {
	ev := h.event
	switch {
	case h.resize != nil:
		inPlace, err := e.resize(ctx, w.pod, h.resize, !h.grows)
		if err != nil {
			return false, err
		}
		switch {
		case !inPlace:
			refused, ev = true, h.refused
		case !h.grows:
			// A shrink in place: counted, with no event.
			e.Metrics.Handover(ctx)
		}
	default:
		if h.replace {
			if err := e.deletePod(ctx, w.pod, false); err != nil {
				return false, err
			}
		}
	}
	if ev == nil {
		return refused, nil
	}
	if ev.reason == EventReservationRestored {
		e.Metrics.Restore(ctx)
	} else {
		e.Metrics.Handover(ctx)
	}
	event(ctx, w.run, ev.kind, ev.reason, ev.message)
	return refused, nil
}

// record logs the step, and records its events and metrics.
func (e *Engine) record(ctx context.Context, w world, st step) {
	if st.log != "" {
		logging.FromContext(ctx).Infof("PipelineRun %s/%s: %s", w.run.Namespace, w.run.Name, st.log)
	}
	if st.outcome == metrics.OutcomePlaced {
		e.Metrics.NodeWait(ctx, st.nodeWait)
	}
	if st.outcome != "" {
		e.Metrics.Placement(ctx, st.outcome)
	}
	for _, ev := range st.events {
		event(ctx, w.run, ev.kind, ev.reason, ev.message)
	}
}

// settled reports whether placement p, the outcome of a step that wrote a
// placeholder StatefulSet, needs no event of that write to bring the run
// back: the run goes on now (Ready) or ends (Failed), it is called again
// after a while in any case (RequeueAfter), or it waits for its
// placeholder pod, which the step resized or deleted (HandOverBegun), or
// wrote, or waits for with a recheck (podWritten): that pod's events
// bring it back. A wait that counts on
// nothing else is left to the StatefulSet's event.
func settled(p Placement, podWritten bool) bool {
	return p.Ready || p.Failed || p.RequeueAfter > 0 || p.HandOverBegun || podWritten
}
