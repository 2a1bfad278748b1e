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
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestFirstWarning(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	e := &Engine{Clock: clock}
	for _, tc := range []struct {
		after  time.Duration // the clock steps this far first
		uid    types.UID
		reason string
		want   bool
	}{
		{uid: "a", reason: "Invalid", want: true},
		{uid: "a", reason: "Invalid"},
		{uid: "a", reason: "NotSynced", want: true},
		{uid: "b", reason: "Invalid", want: true},
		{after: warnedTTL - time.Second, uid: "a", reason: "Invalid"},
		{after: time.Second, uid: "a", reason: "Invalid"},
		{after: warnedTTL + time.Second, uid: "a", reason: "Invalid", want: true},
		{uid: "a", reason: "Invalid"},
	} {
		clock.Step(tc.after)
		if d := cmp.Diff(tc.want, e.FirstWarning(tc.uid, tc.reason)); d != "" {
			t.Errorf("FirstWarning(%s, %s) %s after the start (-want +got):\n%s", tc.uid, tc.reason, clock.Since(time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)), d)
		}
	}
}
