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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
)

// nudgeEvery is how often the engine asks the StatefulSet controller again
// to create a placeholder pod that the API server would admit.
const nudgeEvery = 10 * time.Second

// nudgeDue reports whether, at now, the engine asks the StatefulSet
// controller to create the missing pod of sts at once, by recording the
// time on it (placeholder.NudgedAnnotation): not when it did so less than
// nudgeEvery ago. after is when the run should be checked again.
//
// The StatefulSet controller retries a pod it could not create (a
// ResourceQuota was full, a webhook was down) after an exponential back-off
// that doubles with every refusal and is reset only by a success: in the
// soak (make soak), a quota full for about half a minute drew 13 refusals
// in 21 s, after which the next try was due 20 s later, however soon the
// quota freed up. Any change to the StatefulSet has it try at once. The
// engine nudges once a dry run shows that the API server admits the pod
// now (decideDiagnosis).
func nudgeDue(sts *appsv1.StatefulSet, now time.Time) (due bool, after time.Duration) {
	if last, ok := annotatedTime(sts, placeholder.NudgedAnnotation); ok {
		if since := now.Sub(last); since >= 0 && since < nudgeEvery {
			return false, nudgeEvery - since
		}
	}
	return true, nudgeEvery
}
