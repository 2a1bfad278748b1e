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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// observeAbsent reads what a run without a placeholder StatefulSet
// decides on: its pods, the run afresh (unless this is its first
// reconcile: Target.FirstReconcile), and, unless its pods show it needs no
// placeholder any more, its RuntimeClasses and the node of its last pod.
// A run that needs none is read afresh too: that is what a reconcile sees
// when it reads, from a stale cache, a run the engine has just failed
// mid-run (its placeholder released, its TaskRuns cancelled), and it must
// not compute the run's end from the cancelled TaskRuns over the engine's
// reason.
func (e *Engine) observeAbsent(ctx context.Context, w *world) error {
	if err := e.listMembers(w); err != nil {
		return err
	}
	var err error
	if !w.t.FirstReconcile {
		if w.stored, err = e.afresh(ctx, w.run); err != nil {
			return err
		}
		if changedSince(w.stored, w.run) {
			return nil
		}
	}
	if placedAll(w) {
		return nil
	}
	if w.classes, err = e.runtimeClasses(ctx, w.run); err != nil {
		return err
	}
	if w.nodes, err = e.Nodes.List(labels.Everything()); err != nil {
		return fmt.Errorf("placing PipelineRun %s/%s: listing nodes: %w", w.run.Namespace, w.run.Name, err)
	}
	latest := latestBound(w.members)
	if latest == nil {
		return nil
	}
	spec := w.spec
	spec.RuntimeClasses = w.classes
	why, err := e.unusable(latest.Spec.NodeName, placeholder.StatefulSet(spec).Spec.Template.Spec.Tolerations)
	if err != nil {
		return err
	}
	if why == "" {
		w.lastNode = latest.Spec.NodeName
	}
	return nil
}

// afresh returns the run as the API server has it now, or run itself
// when the engine has no reader of runs.
func (e *Engine) afresh(ctx context.Context, run *v1.PipelineRun) (*v1.PipelineRun, error) {
	if e.PipelineRuns == nil {
		return run, nil
	}
	current, err := e.PipelineRuns(ctx, run.Namespace, run.Name)
	if err != nil {
		return nil, fmt.Errorf("reading PipelineRun %s/%s afresh, as it has no placeholder: %w", run.Namespace, run.Name, err)
	}
	return current, nil
}

// changedSince reports whether current, the run as the API server has it
// now, is not the run read from the cache any more: done, being deleted,
// or another run of the same name. A run not read afresh (current nil, on
// its first reconcile) has not changed.
func changedSince(current, run *v1.PipelineRun) bool {
	if current == nil {
		return false
	}
	return current.UID != run.UID || current.IsDone() || current.DeletionTimestamp != nil
}
