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
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

func TestWithResizeRecord(t *testing.T) {
	asked := now.Add(-30 * time.Second)
	for _, tc := range []struct {
		name   string
		cached *corev1.Pod
		live   *corev1.Pod
		getErr error
		// remembered is when the engine remembers resizing the pod.
		remembered time.Time
		wantGets   int
		want       time.Time
		wantErr    string
	}{{
		name:   "the cached copy says when: no read",
		cached: resizedAt(shrunk(now.Add(-time.Hour)), asked),
		want:   asked,
	}, {
		name:     "the cache dropped managed fields: read from the API server",
		cached:   shrunk(now.Add(-time.Hour)),
		live:     resizedAt(shrunk(now.Add(-time.Hour)), asked),
		wantGets: 1,
		want:     asked,
	}, {
		name:       "the cache dropped managed fields, the engine remembers resizing it: no read",
		cached:     shrunk(now.Add(-time.Hour)),
		live:       resizedAt(shrunk(now.Add(-time.Hour)), now.Add(-time.Hour)),
		remembered: asked,
		want:       asked,
	}, {
		name:       "the engine remembers resizing it mid-second: at the whole second, as the API server records it",
		cached:     shrunk(now.Add(-time.Hour)),
		remembered: asked.Add(400 * time.Millisecond),
		want:       asked,
	}, {
		name:     "the pod is gone: as it is",
		cached:   shrunk(now.Add(-time.Hour)),
		wantGets: 1,
	}, {
		name:     "the pod cannot be read: an error",
		cached:   shrunk(now.Add(-time.Hour)),
		live:     resizedAt(shrunk(now.Add(-time.Hour)), asked),
		getErr:   errors.New("etcd is down"),
		wantGets: 1,
		wantErr:  "etcd is down",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			if tc.live != nil {
				objs = append(objs, tc.live)
			}
			h := newHarness(t, objs...)
			if tc.getErr != nil {
				h.client.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tc.getErr })
			}
			e := h.engine(t)
			if !tc.remembered.IsZero() {
				e.podResized(tc.cached.UID, tc.remembered)
			}
			got, err := e.withResizeRecord(h.ctx, tc.cached)
			gets := 0
			for _, a := range h.client.Actions() {
				if a.GetVerb() == "get" {
					gets++
				}
			}
			if gets != tc.wantGets {
				t.Errorf("%d reads of the pod, want %d", gets, tc.wantGets)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("withResizeRecord() = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("withResizeRecord() = %v", err)
			}
			at, _ := resizeAsked(got)
			if !at.Equal(tc.want) {
				t.Errorf("resize asked at %s, want %s", at, tc.want)
			}
		})
	}
}

// TestRememberedResizeInfeasible checks that a shrink the node reports
// Infeasible in the second the engine asked it is replaced at once, when
// the bound counts from the engine's memory of the resize: the condition
// is this shrink's, not a stale one of an earlier resize.
func TestRememberedResizeInfeasible(t *testing.T) {
	asked := now.Add(-2 * time.Second)
	p := withCondition(shrunk(now.Add(-time.Hour)), corev1.PodCondition{
		Type: podResizePending, Status: corev1.ConditionTrue, Reason: podReasonInfeasible,
		LastTransitionTime: metav1.NewTime(asked), Message: "Resize is infeasible"})
	h := newHarness(t)
	e := h.engine(t)
	e.podResized(p.UID, asked.Add(700*time.Millisecond))
	got, err := e.withResizeRecord(h.ctx, p)
	if err != nil {
		t.Fatalf("withResizeRecord() = %v", err)
	}
	if why := resizeStuck(got, now); !strings.Contains(why, "PodResizePending (Infeasible)") {
		t.Errorf("resizeStuck() = %q, want the Infeasible condition at once", why)
	}
}
