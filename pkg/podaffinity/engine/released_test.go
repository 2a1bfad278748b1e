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
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestReleasedPlaceholder checks that the engine tells the deletions Release
// made (of a done run's placeholder, and so of its pod) from others: the
// PipelineRun reconciler's event handlers re-queue a run for the latter
// only.
func TestReleasedPlaceholder(t *testing.T) {
	sts := ownSTS("node-1", placeholder.TokenRequests())
	pod := placeholderPod("node-1", placeholder.TokenRequests(), ago(time.Minute))
	pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(sts, sts.GroupVersionKind())}
	pod.OwnerReferences[0].Kind = "StatefulSet"
	other := ownSTS("node-2", placeholder.TokenRequests())
	other.Name, other.UID = "another-placeholder", "other-sts-uid"
	tombstone := func(o runtime.Object) interface{} {
		return cache.DeletedFinalStateUnknown{Key: "ns/name", Obj: o}
	}
	for _, tc := range []struct {
		name string
		// release calls Release on the run; deleteErr is what deleting its
		// placeholder answers.
		release   bool
		deleteErr error
		// later is how long after the release the events come.
		later time.Duration
		want  map[string]bool
	}{{
		name: "nothing released",
		want: map[string]bool{"statefulset": false, "pod": false, "tombstone": false, "other": false},
	}, {
		name:    "released: its StatefulSet and pod, as objects or tombstones; not another placeholder",
		release: true,
		want:    map[string]bool{"statefulset": true, "pod": true, "tombstone": true, "other": false},
	}, {
		name:      "the deletion failed: not released",
		release:   true,
		deleteErr: errors.New("the API server is down"),
		want:      map[string]bool{"statefulset": false, "pod": false, "tombstone": false, "other": false},
	}, {
		name:    "released long ago: forgotten",
		release: true,
		later:   releasedTTL + time.Second,
		want:    map[string]bool{"statefulset": false, "pod": false, "tombstone": false, "other": false},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, sts.DeepCopy(), other.DeepCopy())
			if tc.deleteErr != nil {
				h.client.PrependReactor("delete", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.deleteErr
				})
			}
			e := h.engine(t)
			clock := clocktesting.NewFakePassiveClock(now)
			e.Clock = clock
			if tc.release {
				err := e.Release(h.ctx, settings(t, nil), testRun())
				if (err != nil) != (tc.deleteErr != nil) {
					t.Fatalf("Release() = %v, want error %v", err, tc.deleteErr)
				}
			}
			clock.SetTime(now.Add(tc.later))
			got := map[string]bool{
				"statefulset": e.ReleasedPlaceholder(sts),
				"pod":         e.ReleasedPlaceholder(pod),
				"tombstone":   e.ReleasedPlaceholder(tombstone(pod)),
				"other":       e.ReleasedPlaceholder(other),
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("ReleasedPlaceholder() (-want +got):\n%s", d)
			}
		})
	}
}
