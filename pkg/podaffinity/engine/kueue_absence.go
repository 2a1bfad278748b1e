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
	"sync"
	"time"
)

// visibilityRecheck is how long the engine takes Kueue's visibility API as
// not served once it found it so (no APIService, its server down, or no
// permission): until then waiting runs say their LocalQueue's count, and
// the API is not asked again.
const visibilityRecheck = 5 * time.Minute

// kueueVisibility remembers until when Kueue's visibility API is taken as
// not served. The zero value takes it as served.
type kueueVisibility struct {
	mu          sync.Mutex
	absentUntil time.Time
}

// absent reports whether the API is taken as not served at now.
func (v *kueueVisibility) absent(now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return now.Before(v.absentUntil)
}

// noteAbsent takes the API as not served for visibilityRecheck from now.
func (v *kueueVisibility) noteAbsent(now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.absentUntil = now.Add(visibilityRecheck)
}
