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
	"context"
	"fmt"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// Place takes one step towards the run being on a usable node with its
// placeholder holding it, and reports whether the run may start tasks.
// tasks are the run's unfinished tasks (Tasks): while it looks
// for a node, the placeholder reserves the peak demand of those that have
// not started; once bound, it holds what they need beyond what running and
// starting tasks hold themselves.
func (e *Engine) Place(ctx context.Context, s Settings, run *v1.PipelineRun, t Target, tasks []demand.Task) (Placement, error) {
	if err := e.synced(ctx); err != nil {
		return Placement{}, fmt.Errorf("placing PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
	}
	now := e.Clock.Now()
	w, err := e.observe(ctx, s, run, t, tasks, now)
	if err != nil {
		return Placement{}, err
	}
	return e.act(ctx, s, w, decide(w, now, s))
}
