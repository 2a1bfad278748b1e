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
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"k8s.io/apimachinery/pkg/types"
)

// refusalForgetAfter is how long a run's refusal is remembered once the
// engine stops asking about it (the run was deleted, say). A refused run
// is asked about every diagnoseEvery.
const refusalForgetAfter = 10 * time.Minute

// refusals remembers since when the API server refuses to create the
// placeholder StatefulSet of a run (a ResourceQuota on StatefulSets): no
// object holds that time (the placeholder does not exist, and a run that
// waits for its first node has no start time yet), so the controller's
// memory does, and a restart of the controller starts the wait again. The
// zero value is ready to use; it is safe for concurrent use.
type refusals struct {
	// since holds when each run was first found refused, until
	// refusalForgetAfter after it was last.
	since expiring[types.UID, time.Time]
}

// refusedSince returns when the run's wait for its placeholder StatefulSet,
// which the API server refuses now, began: when the engine first found it
// refused.
func (r *refusals) refusedSince(run *v1.PipelineRun, now time.Time) time.Time {
	return r.since.update(run.UID, now, refusalForgetAfter, func(first time.Time, found bool) time.Time {
		if !found {
			return now
		}
		return first
	})
}

// forget ends the wait of the run with uid: its placeholder was created.
func (r *refusals) forget(uid types.UID) {
	r.since.delete(uid)
}
