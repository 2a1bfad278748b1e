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
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
)

const (
	// quotaRetryFirst is how soon a young TaskRun's refused pod is tried again.
	quotaRetryFirst = time.Second
	// quotaRetryLast is Tekton's own delay for a pod a ResourceQuota refused.
	quotaRetryLast = time.Minute
)

// QuotaRetryNote ends the message of the ExceededResourceQuota condition
// of a TaskRun for which QuotaRetryAfter answers.
const QuotaRetryNote = "; retrying within seconds: a ResourceQuota counts the room the PipelineRun's placeholder hands over to its TaskRuns only once the quota controller has recounted the namespace's usage"

// QuotaRetryAfter returns how soon Tekton's TaskRun reconciler tries again
// to create the pod of a TaskRun that a ResourceQuota refused, and true,
// for a TaskRun of a PipelineRun the engine places (its labels carry
// placeholder.MemberLabelKey), created at created and refused at now. For
// any other TaskRun it returns false: Tekton's minute applies.
//
// A placed run creates its TaskRuns as its placeholder shrinks to make
// room for them on its node. ResourceQuota admission charges only
// what a pod adds, so the quota's usage drops by what the placeholder gave
// up only when the quota controller recounts it: within moments, as it
// re-counts a pod whose container resources the kubelet reports changed
// (Kubernetes with in-place pod resize) or that is deleted (a placeholder
// replaced instead), but after the pods were refused. Tried again a minute
// later, as Tekton does, the room the placeholder gave up has been free for
// other workloads for that minute. So a young TaskRun's pod is tried again
// after a second, then after a quarter of the TaskRun's age, and after
// Tekton's minute once it is four minutes old: a quota that is full for
// other reasons gets about twenty tries in those minutes instead of four.
func QuotaRetryAfter(taskRunLabels map[string]string, created, now time.Time) (time.Duration, bool) {
	if taskRunLabels[placeholder.MemberLabelKey] == "" {
		return 0, false
	}
	after := now.Sub(created) / 4
	switch {
	case after < quotaRetryFirst:
		after = quotaRetryFirst
	case after > quotaRetryLast:
		after = quotaRetryLast
	}
	return after, true
}
