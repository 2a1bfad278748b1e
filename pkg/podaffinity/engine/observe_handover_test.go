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
