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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// TestOwnWritesPod checks which copy of a placeholder pod the engine acts
// on after it resized or deleted it: its own write while the cache shows
// the pod as it was before, the cache's copy once it shows anything else.
func TestOwnWritesPod(t *testing.T) {
	token := placeholder.TokenRequests()
	before := func() *corev1.Pod { return reporting(placeholderPod("node-1", peak(), ago(time.Minute))) }
	resized := func() *corev1.Pod {
		return reportingRequests(placeholderPod("node-1", token, ago(time.Minute)), peak())
	}
	for _, tc := range []struct {
		name string
		// write records the engine's write at now.
		write func(w *ownWrites)
		// cached is the cache's copy, read after.
		cached *corev1.Pod
		after  time.Duration
		// want is the requests of the pod acted on; wantGone: none.
		want            corev1.ResourceList
		wantGone        bool
		wantTerminating bool
	}{{
		name:   "resized, the cache shows the pod as before: the write",
		write:  func(w *ownWrites) { w.resized(before(), resized(), now) },
		cached: before(),
		want:   token,
	}, {
		name:   "resized, the cache shows the write: the cache's copy",
		write:  func(w *ownWrites) { w.resized(before(), resized(), now) },
		cached: reporting(placeholderPod("node-1", token, ago(time.Minute))),
		want:   token,
	}, {
		name:   "resized, the cache shows another size (someone else's write): the cache's copy",
		write:  func(w *ownWrites) { w.resized(before(), resized(), now) },
		cached: placeholderPod("node-1", rl("1", "1Gi"), ago(time.Minute)),
		want:   rl("1", "1Gi"),
	}, {
		name:   "resized over a minute ago, the cache still shows the pod as before: the cache's copy",
		write:  func(w *ownWrites) { w.resized(before(), resized(), now) },
		cached: before(),
		after:  ownWriteTTL + time.Second,
		want:   peak(),
	}, {
		name:     "deleted at once, the cache still has it: gone",
		write:    func(w *ownWrites) { w.deleted(before(), true, now) },
		cached:   before(),
		wantGone: true,
	}, {
		name:            "deleted gracefully, the cache still has it: terminating",
		write:           func(w *ownWrites) { w.deleted(before(), false, now) },
		cached:          before(),
		want:            peak(),
		wantTerminating: true,
	}, {
		name:   "another pod of the same name (recreated): the cache's copy",
		write:  func(w *ownWrites) { w.deleted(before(), true, now) },
		cached: func() *corev1.Pod { p := before(); p.UID = "recreated"; return p }(),
		want:   peak(),
	}, {
		name: "resized twice, the second time over the first, the cache shows neither: the second",
		write: func(w *ownWrites) {
			w.resized(before(), resized(), now)
			again := reportingRequests(placeholderPod("node-1", rl("1", "1Gi"), ago(time.Minute)), peak())
			w.resized(resized(), again, now)
		},
		cached: before(),
		want:   rl("1", "1Gi"),
	}, {
		name: "resized twice, the cache shows the first: the second",
		write: func(w *ownWrites) {
			w.resized(before(), resized(), now)
			again := reportingRequests(placeholderPod("node-1", rl("1", "1Gi"), ago(time.Minute)), peak())
			w.resized(resized(), again, now)
		},
		cached: resized(),
		want:   rl("1", "1Gi"),
	}, {
		name:   "nothing written: the cache's copy",
		write:  func(*ownWrites) {},
		cached: before(),
		want:   peak(),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var w ownWrites
			tc.write(&w)
			got := w.pod(tc.cached, now.Add(tc.after))
			if (got == nil) != tc.wantGone {
				t.Fatalf("pod() = %v, want gone: %t", got, tc.wantGone)
			}
			if got == nil {
				return
			}
			if d := cmp.Diff(tc.want, placeholder.Requests(&got.Spec), quantityEqual); d != "" {
				t.Errorf("pod() requests (-want +got):\n%s", d)
			}
			if terminating := got.DeletionTimestamp != nil; terminating != tc.wantTerminating {
				t.Errorf("pod() terminating = %t, want %t", terminating, tc.wantTerminating)
			}
		})
	}
}
