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

// HoldsClock reports whether a run that has started no task, and whose
// Succeeded condition has reason, waits for the engine: for a node, or for
// its Kueue LocalQueue to admit it. Such a wait does not count against the
// run's timeouts, as a PipelineRunPending run's does not: a reconciler
// holds the run's start time while it lasts.
func HoldsClock(reason string) bool {
	return reason == ReasonWaitingForNode || reason == ReasonWaitingForAdmission
}
