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

	"k8s.io/apimachinery/pkg/types"
)

// TestTemplateChanges checks what the engine remembers of its changes to a
// placeholder's template: when it last changed it, for a minute (the bound
// of a replacement's wait for the StatefulSet controller, controllerSaw,
// counts from it; zero means "not known", and the pod is replaced at once).
func TestTemplateChanges(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		changes []time.Time
		uid     types.UID
		at      time.Time
		want    time.Time
	}{
		{name: "never changed", uid: "a", at: t0},
		{name: "changed a moment ago", changes: []time.Time{t0}, uid: "a", at: t0.Add(5 * time.Second), want: t0},
		{name: "the last of two changes", changes: []time.Time{t0, t0.Add(20 * time.Second)}, uid: "a", at: t0.Add(30 * time.Second), want: t0.Add(20 * time.Second)},
		{name: "a minute ago, still known", changes: []time.Time{t0}, uid: "a", at: t0.Add(ownWriteTTL), want: t0},
		{name: "longer ago than a minute: forgotten", changes: []time.Time{t0}, uid: "a", at: t0.Add(ownWriteTTL + time.Second)},
		{name: "another placeholder's change", changes: []time.Time{t0}, uid: "b", at: t0.Add(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Engine{}
			for _, at := range tc.changes {
				e.templateChanged("a", at)
			}
			if got := e.templateChangedAt(tc.uid, tc.at); !got.Equal(tc.want) {
				t.Errorf("templateChangedAt(%s, %s) = %s, want %s", tc.uid, tc.at.Format(time.RFC3339), got.Format(time.RFC3339), tc.want.Format(time.RFC3339))
			}
		})
	}
}
