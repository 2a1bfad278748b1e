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

import "testing"

func TestHoldsClock(t *testing.T) {
	for _, tc := range []struct {
		reason string
		want   bool
	}{
		{reason: ReasonWaitingForNode, want: true},
		{reason: ReasonWaitingForAdmission, want: true},
		// Handing over is a moment's wait on a node the run holds.
		{reason: ReasonHandingOver, want: false},
		// Waiting to move: tasks ran; Tekton's timeouts count from then.
		{reason: ReasonWaitingToMove, want: false},
		{reason: ReasonNodeWaitTimeout, want: false},
		{reason: "Started", want: false},
		{reason: "", want: false},
	} {
		if got := HoldsClock(tc.reason); got != tc.want {
			t.Errorf("HoldsClock(%q) = %t, want %t", tc.reason, got, tc.want)
		}
	}
}
