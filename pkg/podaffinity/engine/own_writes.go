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
	"encoding/json"
	"slices"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownWriteTTL bounds how long the engine trusts its record of a write over
// its caches: an informer shows a write within moments, and a record whose
// watch event never comes must not hold the engine's view back for long.
const ownWriteTTL = time.Minute

// ownWrites remembers the engine's latest write to each placeholder pod and
// StatefulSet until its caches show it. The caches are informers: a
// reconcile that follows a write at once (the run's status update re-queues
// the run) may read the object as it was before, and would take the same
// step again: resize or move a second time, move the start of a wait, and
// record the event of the transition twice. Place reads the placeholder
// objects through ownWrites, which answers with the object as the API
// server returned it from the engine's write for as long as the cached copy
// is as it was before that write.
//
// A cached copy is "as before" when the fields the engine writes (see
// podKey, statefulSetKey) still have the values the engine wrote over:
// changes by others to other fields (the kubelet's status updates) do not
// hide a write, and a copy in which those fields changed in any other way
// ends the record. The zero value is ready to use; it is safe for
// concurrent use.
type ownWrites struct {
	written expiring[types.UID, ownWrite]
}

// ownWrite is the latest of the writes the caches may not show yet.
type ownWrite struct {
	// before are the keys (podKey, statefulSetKey) of the copies written
	// over: the one the first of these writes changed, and the result of
	// each write but the latest (the engine wrote over its own write while
	// the cache showed neither).
	before []string
	// pod or statefulSet is the object as the API server returned it; both
	// nil when the object was deleted at once.
	pod         *corev1.Pod
	statefulSet *appsv1.StatefulSet
}

// record notes a write over the object with uid whose copy, as the engine
// read it, had the key before, made at now. A write that changed none of
// the keyed fields is not recorded: a copy that shows it cannot be told
// from one that does not.
func (w *ownWrites) record(uid types.UID, before, after string, write ownWrite, now time.Time) {
	if before == after {
		return
	}
	w.written.update(uid, now, ownWriteTTL, func(last ownWrite, found bool) ownWrite {
		write.before = []string{before}
		if found && last.afterKey() == before {
			// Written over the engine's own write: a cache that shows
			// any copy before either is behind.
			write.before = append(slices.Clone(last.before), before)
		}
		return write
	})
}

// afterKey is the key of the object as the write left it.
func (r ownWrite) afterKey() string {
	switch {
	case r.statefulSet != nil:
		return statefulSetKey(r.statefulSet)
	case r.pod != nil:
		return podKey(r.pod)
	}
	return deletingKey
}

// latest returns the write recorded over the object with uid when its
// cached copy, whose key is key, does not show it yet; ok is false, and the
// record is dropped, once it does (or it expired).
func (w *ownWrites) latest(uid types.UID, key string, now time.Time) (write ownWrite, ok bool) {
	return w.written.getOrDrop(uid, now, func(r ownWrite) bool { return !slices.Contains(r.before, key) })
}

// pod returns the placeholder pod p as the engine last wrote it, when the
// cache does not show that write yet, or p; nil when the engine deleted it
// at once. p may be nil.
func (w *ownWrites) pod(p *corev1.Pod, now time.Time) *corev1.Pod {
	if p == nil {
		return nil
	}
	r, ok := w.latest(p.UID, podKey(p), now)
	if !ok {
		return p
	}
	return r.pod
}

// statefulSet is pod for the placeholder StatefulSet.
func (w *ownWrites) statefulSet(sts *appsv1.StatefulSet, now time.Time) *appsv1.StatefulSet {
	if sts == nil {
		return nil
	}
	r, ok := w.latest(sts.UID, statefulSetKey(sts), now)
	if !ok || r.statefulSet == nil {
		return sts
	}
	return r.statefulSet
}

// resized records that the engine resized placeholder pod p; after is the
// pod the API server returned.
func (w *ownWrites) resized(p, after *corev1.Pod, now time.Time) {
	w.record(p.UID, podKey(p), podKey(after), ownWrite{pod: after}, now)
}

// deleted records that the engine deleted placeholder pod p at now: at
// once (gone), or gracefully (terminating).
func (w *ownWrites) deleted(p *corev1.Pod, atOnce bool, now time.Time) {
	var after *corev1.Pod
	if !atOnce {
		after = p.DeepCopy()
		after.DeletionTimestamp = &metav1.Time{Time: now}
	}
	w.record(p.UID, podKey(p), deletingKey, ownWrite{pod: after}, now)
}

// updated records that the engine changed placeholder StatefulSet sts;
// after is the StatefulSet the API server returned.
func (w *ownWrites) updated(sts, after *appsv1.StatefulSet, now time.Time) {
	w.record(sts.UID, statefulSetKey(sts), statefulSetKey(after), ownWrite{statefulSet: after}, now)
}

const deletingKey = "deleting"

// podKey sums up what the engine writes of a placeholder pod: its
// requests, or that it is being deleted.
func podKey(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return deletingKey
	}
	return formatResources(placeholder.Requests(&p.Spec))
}

// statefulSetKey sums up what the engine writes of a placeholder
// StatefulSet: its template's affinity (the pin) and requests, and the
// records of its wait's start and of a reclaim (which may change nothing else).
func statefulSetKey(sts *appsv1.StatefulSet) string {
	// Marshalling these types cannot fail.
	key, _ := json.Marshal(struct {
		Affinity     *corev1.Affinity
		Requests     string
		WaitingSince string
		Reclaiming   string
	}{
		Affinity:     sts.Spec.Template.Spec.Affinity,
		Requests:     formatResources(placeholder.Requests(&sts.Spec.Template.Spec)),
		WaitingSince: sts.Annotations[placeholder.WaitingSinceAnnotation],
		Reclaiming:   sts.Annotations[placeholder.ReclaimingAnnotation],
	})
	return string(key)
}
