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
