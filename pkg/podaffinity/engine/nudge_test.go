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
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNudge(t *testing.T) {
	for _, tc := range []struct {
		name        string
		sts         *appsv1.StatefulSet
		wantNudged  bool
		wantAfter   time.Duration
		wantActions []string
		// wantAnnotation is the StatefulSet's NudgedAnnotation afterwards.
		wantAnnotation string
	}{{
		name:           "never nudged: nudged now",
		sts:            ownSTS("", peak()),
		wantNudged:     true,
		wantAfter:      nudgeEvery,
		wantActions:    []string{"patch statefulsets"},
		wantAnnotation: now.Format(time.RFC3339),
	}, {
		name:           "nudged a moment ago: not again before nudgeEvery",
		sts:            nudgedAgo(ownSTS("", peak()), 3*time.Second),
		wantAfter:      nudgeEvery - 3*time.Second,
		wantAnnotation: now.Add(-3 * time.Second).Format(time.RFC3339),
	}, {
		name:           "nudged longer ago than nudgeEvery: nudged again",
		sts:            nudgedAgo(ownSTS("", peak()), 20*time.Second),
		wantNudged:     true,
		wantAfter:      nudgeEvery,
		wantActions:    []string{"patch statefulsets"},
		wantAnnotation: now.Format(time.RFC3339),
	}, {
		name:           "nudged in the future (another clock): nudged again, never waits longer than nudgeEvery",
		sts:            nudgedAgo(ownSTS("", peak()), -time.Hour),
		wantNudged:     true,
		wantAfter:      nudgeEvery,
		wantActions:    []string{"patch statefulsets"},
		wantAnnotation: now.Format(time.RFC3339),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.sts)
			e := h.engine(t)
			nudged, after, err := e.nudge(h.ctx, tc.sts)
			if err != nil {
				t.Fatalf("nudge() = %v", err)
			}
			if nudged != tc.wantNudged || after != tc.wantAfter {
				t.Errorf("nudge() = %t, %s; want %t, %s", nudged, after, tc.wantNudged, tc.wantAfter)
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("actions (-want +got):\n%s", d)
			}
			stored, err := h.client.AppsV1().StatefulSets(tc.sts.Namespace).Get(h.ctx, tc.sts.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := stored.Annotations[placeholder.NudgedAnnotation]; got != tc.wantAnnotation {
				t.Errorf("%s = %q, want %q", placeholder.NudgedAnnotation, got, tc.wantAnnotation)
			}
		})
	}
}
