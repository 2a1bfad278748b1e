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
	appsv1 "k8s.io/api/apps/v1"
)

func TestNudgeDue(t *testing.T) {
	type answer struct {
		Due   bool
		After time.Duration
	}
	for _, tc := range []struct {
		name string
		sts  *appsv1.StatefulSet
		want answer
	}{{
		name: "never nudged: nudged now",
		sts:  ownSTS("", peak()),
		want: answer{Due: true, After: nudgeEvery},
	}, {
		name: "nudged a moment ago: not again before nudgeEvery",
		sts:  nudgedAgo(ownSTS("", peak()), 3*time.Second),
		want: answer{After: nudgeEvery - 3*time.Second},
	}, {
		name: "nudged longer ago than nudgeEvery: nudged again",
		sts:  nudgedAgo(ownSTS("", peak()), 20*time.Second),
		want: answer{Due: true, After: nudgeEvery},
	}, {
		name: "nudged in the future (another clock): nudged again, never waits longer than nudgeEvery",
		sts:  nudgedAgo(ownSTS("", peak()), -time.Hour),
		want: answer{Due: true, After: nudgeEvery},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			due, after := nudgeDue(tc.sts, now)
			if d := cmp.Diff(tc.want, answer{Due: due, After: after}); d != "" {
				t.Errorf("nudgeDue() (-want +got):\n%s", d)
			}
		})
	}
}
