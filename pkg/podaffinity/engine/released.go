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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/kmeta"
)

// releasedTTL bounds how long the engine remembers a placeholder it
// released: the watch events of its deletion, and of its pod's, come within
// moments.
const releasedTTL = time.Minute

// releases remembers the placeholder StatefulSets Release deleted, by UID,
// so that the events of those deletions re-queue nothing (see
// ReleasedPlaceholder). The zero value is ready to use; it is safe for
// concurrent use.
type releases struct {
	mu sync.Mutex
	at map[types.UID]time.Time
}

// add records that the engine deletes the StatefulSet uid at now, and
// forgets the records older than releasedTTL.
func (r *releases) add(uid types.UID, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, at := range r.at {
		if now.Sub(at) > releasedTTL {
			delete(r.at, id)
		}
	}
	if r.at == nil {
		r.at = map[types.UID]time.Time{}
	}
	r.at[uid] = now
}

// forget drops the record of uid: its deletion failed.
func (r *releases) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, uid)
}

// has reports whether the engine deleted the StatefulSet uid less than
// releasedTTL before now.
func (r *releases) has(uid types.UID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.at[uid]
	return ok && now.Sub(at) <= releasedTTL
}

// ReleasedPlaceholder reports whether obj, a placeholder StatefulSet or a
// pod it controls (or the tombstone of either, as an informer's delete
// handler gets it), belongs to a placeholder that Release deleted: its run
// is done, and the deletion and its consequences are the engine's own.
// Re-queueing that run for them would reconcile it from a cache that may not
// show it done yet (Release runs before the reconcile writes the done
// status), and that reconcile would write the status and record the
// run's last event a second time. A run that is done needs nothing from
// those events: each of its later reconciles releases its placeholder again
// if it is still there.
func (e *Engine) ReleasedPlaceholder(obj interface{}) bool {
	o, err := kmeta.DeletionHandlingAccessor(obj)
	if err != nil {
		return false
	}
	uid := o.GetUID()
	if owner := metav1.GetControllerOfNoCopy(o); owner != nil && owner.Kind == "StatefulSet" {
		uid = owner.UID
	}
	return e.released.has(uid, e.Clock.Now())
}

// ownEventTTL bounds how long the engine remembers a write (see ownEvents).
const ownEventTTL = time.Minute

// ownEvents remembers the placeholder StatefulSets as the engine's writes
// left them (UID and the resourceVersion answered) once the step that wrote
// one needs no event of it (settled, in act): the watch event of exactly
// that version then re-queues nothing (OwnStatefulSetWrite), where it cost
// a reconcile that decided nothing new (the creation, the pin). A change by
// anyone else has another version. Safe for concurrent use.
type ownEvents struct {
	mu sync.Mutex
	// written: by a step in progress; settled: needing no event.
	written map[types.UID]string
	settled map[types.UID]ownEvent
}

// ownEvent is a version whose event needs nothing, and when it was written.
type ownEvent struct {
	version string
	at      time.Time
}

// wrote notes a StatefulSet as the engine's write left it (not settled).
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
// the event of its last write needs nothing. Old records are forgotten.
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
	o.settled[uid] = ownEvent{version, now}
}

// has reports whether version of uid is a settled write, recent at now.
func (o *ownEvents) has(uid types.UID, version string, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.settled[uid]
	return ok && e.version == version && now.Sub(e.at) <= ownEventTTL
}

// OwnStatefulSetWrite reports whether obj, a placeholder StatefulSet as an
// informer's add or update handler gets it, is exactly as a settled write
// of the engine left it (see ownEvents): its event needs no reconcile.
// Anything else, a tombstone included, reports false.
func (e *Engine) OwnStatefulSetWrite(obj interface{}) bool {
	sts, ok := obj.(*appsv1.StatefulSet)
	return ok && e.ownEvents.has(sts.UID, sts.ResourceVersion, e.Clock.Now())
}
