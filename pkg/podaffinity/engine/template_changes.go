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

	"k8s.io/apimachinery/pkg/types"
)

// The engine remembers, for a minute, when it last changed each
// placeholder StatefulSet's pod template: the StatefulSet controller makes
// pods from the template as its informer has it, and a pod the engine
// replaces waits for it to have seen the new one, for a while
// (controllerSaw). Kept apart from the caches' view (ownWrites): it
// outlives the moment the caches show the write.
//
// It also remembers, for resizeMemory, when it last resized each
// placeholder pod: the tasks of a wave start while the node applies the
// shrink, and a shrink the node never applies is replaced once it counts
// as stuck, which counts from when it was asked (resizeStuck). The API
// server records that moment in the pod's managed fields, which Tekton's
// pod informer drops; remembered, it need not be read back at every
// reconcile of a run whose shrink is in flight.

// templateChanged notes that the engine changed the template of the
// placeholder StatefulSet uid at now.
func (e *Engine) templateChanged(uid types.UID, now time.Time) {
	e.changed.set(uid, now, now, ownWriteTTL)
}

// templateChangedAt returns when the engine last changed the template of
// the placeholder StatefulSet uid, if in the minute before now; zero
// otherwise (not lately, or not since the controller started).
func (e *Engine) templateChangedAt(uid types.UID, now time.Time) time.Time {
	at, _ := e.changed.get(uid, now)
	return at
}

// resizeMemory bounds how long the engine remembers a resize: longer than
// the bound on a shrink in flight (resizeLimit, a minute; decided on in a
// later file, so not named here).
const resizeMemory = 2 * time.Minute

// podResized notes that the engine resized the placeholder pod uid at now.
func (e *Engine) podResized(uid types.UID, now time.Time) {
	e.resized.set(uid, now, now, resizeMemory)
}

// podResizedAt returns when the engine last resized the placeholder pod
// uid, if it remembers; zero otherwise (not lately, or not since the
// controller started).
func (e *Engine) podResizedAt(uid types.UID, now time.Time) time.Time {
	at, _ := e.resized.get(uid, now)
	return at
}
