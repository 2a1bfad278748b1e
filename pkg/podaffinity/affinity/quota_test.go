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

package affinity

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
)

// TestQuotaRetryAfter checks how soon the pod of a TaskRun that a
// ResourceQuota refused is tried again: for a placed run's TaskRun, within
// a second while the TaskRun is young (the quota has not counted the
// hand-over that made room for it yet), then less often, and never less
// often than Tekton's minute; for any other TaskRun, Tekton decides.
func TestQuotaRetryAfter(t *testing.T) {
	created := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	member := map[string]string{placeholder.MemberLabelKey: "placeholder-run-0123456789"}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		age    time.Duration
		want   time.Duration
		wantOK bool
	}{
		{name: "a TaskRun of a run the engine does not place", labels: map[string]string{"tekton.dev/pipelineRun": "run"}, age: time.Second},
		{name: "no labels", age: time.Second},
		{name: "refused at once", labels: member, want: time.Second, wantOK: true},
		{name: "refused 3 s after its creation", labels: member, age: 3 * time.Second, want: time.Second, wantOK: true},
		{name: "refused for 20 s", labels: member, age: 20 * time.Second, want: 5 * time.Second, wantOK: true},
		{name: "refused for 2 minutes", labels: member, age: 2 * time.Minute, want: 30 * time.Second, wantOK: true},
		{name: "refused for 10 minutes: Tekton's minute", labels: member, age: 10 * time.Minute, want: time.Minute, wantOK: true},
		{name: "created in the future (clock skew)", labels: member, age: -time.Minute, want: time.Second, wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := QuotaRetryAfter(tc.labels, created, created.Add(tc.age))
			if d := cmp.Diff([]any{tc.want, tc.wantOK}, []any{got, ok}); d != "" {
				t.Errorf("QuotaRetryAfter() (-want +got):\n%s", d)
			}
		})
	}
}
