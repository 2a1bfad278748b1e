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
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/kmeta"
)

// ownEventTTL bounds how long the engine remembers one of its writes to a
// placeholder StatefulSet: its watch event comes within moments.
const ownEventTTL = time.Minute

// ownEvents remembers the placeholder StatefulSets as the engine's own
// writes left them (by UID, the resourceVersion the API server answered),
// once the reconcile that wrote one needs no event of it to come back (see
// settled): the run has its placement, and what it waits for next is
// bounded (a requeue) or marked by another object's event (its pod's).
// The watch event of exactly that version then re-queues nothing
// (OwnStatefulSetWrite): each such event cost a full reconcile of the
// run that decided nothing new (the pin at every placement, the
// placeholder's creation). A change by anyone else has another version,
// and re-queues the run as before. The zero value is ready to use; it is
// safe for concurrent use.
type ownEvents struct {
	mu sync.Mutex
	// written holds the version of each StatefulSet as written by a step
	// in progress (act), settled holds those whose events need nothing.
	written map[types.UID]string
	settled map[types.UID]ownEvent
}

// ownEvent is a version of a StatefulSet whose event needs nothing, and
// when the engine wrote it.
type ownEvent struct {
	version string
	at      time.Time
}

// wrote notes the StatefulSet as the API server returned it from a write
// of the engine: not settled yet, its step may still need its event.
func (o *ownEvents) wrote(after *appsv1.StatefulSet) {
	if after == nil || after.UID == "" || after.ResourceVersion == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.written == nil {
		o.written = map[types.UID]string{}
	}
	o.written[after.UID] = after.ResourceVersion
}

// settle ends the step that wrote the StatefulSet uid at now: when quiet,
// the event of its last write needs nothing (see settled); otherwise it
// re-queues the run as any change does. Records older than ownEventTTL
// are forgotten.
func (o *ownEvents) settle(uid types.UID, quiet bool, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	version, ok := o.written[uid]
	delete(o.written, uid)
	for id, e := range o.settled {
		if now.Sub(e.at) > ownEventTTL {
			delete(o.settled, id)
		}
	}
	if !ok || !quiet {
		return
	}
	if o.settled == nil {
		o.settled = map[types.UID]ownEvent{}
	}
	o.settled[uid] = ownEvent{version: version, at: now}
}

// has reports whether version of the StatefulSet uid is a settled write of
// the engine, made less than ownEventTTL before now.
func (o *ownEvents) has(uid types.UID, version string, now time.Time) bool {
	if version == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.settled[uid]
	return ok && e.version == version && now.Sub(e.at) <= ownEventTTL
}

// settled reports whether placement p, the outcome of a step that wrote a
// placeholder StatefulSet, needs no event of that write to bring the run
// back: the run goes on now (Ready) or ends (Failed), it is called again
// after a while in any case (RequeueAfter), or it waits for its
// placeholder pod, which the step resized or deleted (HandOverBegun, or
// podWritten): that pod's events bring it back. A wait that counts on
// nothing else is left to the StatefulSet's event.
func settled(p Placement, podWritten bool) bool {
	return p.Ready || p.Failed || p.RequeueAfter > 0 || p.HandOverBegun || podWritten
}

// OwnStatefulSetWrite reports whether obj, a placeholder StatefulSet as an
// informer's add or update handler gets it, is exactly as a write of the
// engine left it, a write whose run needs no reconcile for it (see
// ownEvents). Anything else, a tombstone included, reports false.
func (e *Engine) OwnStatefulSetWrite(obj interface{}) bool {
	if _, ok := obj.(*appsv1.StatefulSet); !ok {
		return false
	}
	o, err := kmeta.DeletionHandlingAccessor(obj)
	if err != nil {
		return false
	}
	return e.ownEvents.has(o.GetUID(), o.GetResourceVersion(), e.Clock.Now())
}
