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
	_, released := e.released.get(uid, e.Clock.Now())
	return released
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
	// written: by a step in progress (types.UID to resourceVersion);
	// settled: needing no event.
	written sync.Map
	settled expiring[types.UID, string]
}

// wrote notes a StatefulSet as the engine's write left it (not settled).
func (o *ownEvents) wrote(after *appsv1.StatefulSet) {
	if after == nil || after.UID == "" || after.ResourceVersion == "" {
		return
	}
	o.written.Store(after.UID, after.ResourceVersion)
}

// settle ends the step that wrote the StatefulSet uid at now: when quiet,
// the event of its last write needs nothing. Old records are forgotten.
func (o *ownEvents) settle(uid types.UID, quiet bool, now time.Time) {
	version, ok := o.written.LoadAndDelete(uid)
	if !ok || !quiet {
		o.settled.prune(now)
		return
	}
	o.settled.set(uid, version.(string), now, ownEventTTL)
}

// has reports whether version of uid is a settled write, recent at now.
func (o *ownEvents) has(uid types.UID, version string, now time.Time) bool {
	settled, ok := o.settled.get(uid, now)
	return ok && settled == version
}

// OwnStatefulSetWrite reports whether obj, a placeholder StatefulSet as an
// informer's add or update handler gets it, is exactly as a settled write
// of the engine left it (see ownEvents): its event needs no reconcile.
// Anything else, a tombstone included, reports false.
func (e *Engine) OwnStatefulSetWrite(obj interface{}) bool {
	sts, ok := obj.(*appsv1.StatefulSet)
	return ok && e.ownEvents.has(sts.UID, sts.ResourceVersion, e.Clock.Now())
}
