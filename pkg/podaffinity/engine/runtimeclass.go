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
	"strings"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
)

// Tasks returns the run's unfinished tasks with their state (see
// demand.FromFacts) and what each of their pods requests in the run's
// namespace: with the defaults of its LimitRanges and the overhead of the
// RuntimeClass the pod runs with. A LimitRange or RuntimeClass that cannot
// be read is an error.
func (e *Engine) Tasks(ctx context.Context, run *v1.PipelineRun, facts *resources.PipelineRunFacts) ([]demand.Task, error) {
	limitRanges, err := e.LimitRangesIn(run.Namespace)
	if err != nil {
		return nil, err
	}
	classes, err := e.runtimeClasses(ctx, run)
	if err != nil {
		return nil, err
	}
	overheads := demand.Overheads{}
	for name, rc := range classes {
		if rc.Overhead != nil {
			overheads[name] = rc.Overhead.PodFixed
		}
	}
	return demand.FromFacts(run, facts, limitRanges, overheads), nil
}

// runtimeClasses reads the RuntimeClasses that the run's pod templates name
// (placeholder.RuntimeClassNames), by name; one that does not exist is
// left out. A class that cannot be read is an error, not a guess.
func (e *Engine) runtimeClasses(ctx context.Context, run *v1.PipelineRun) (map[string]*nodev1.RuntimeClass, error) {
	names := placeholder.RuntimeClassNames(run)
	classes := make(map[string]*nodev1.RuntimeClass, len(names))
	if len(names) == 0 {
		return classes, nil
	}
	if e.RuntimeClasses == nil {
		return nil, fmt.Errorf("PipelineRun %s/%s runs its pods with RuntimeClass %s, and the engine has no reader of RuntimeClasses",
			run.Namespace, run.Name, strings.Join(names, ", "))
	}
	for _, name := range names {
		rc, err := e.RuntimeClasses.Get(ctx, name)
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("reading RuntimeClass %s of PipelineRun %s/%s: %w", name, run.Namespace, run.Name, err)
		}
		classes[name] = rc
	}
	return classes, nil
}

// checkConstraints fails a run before its placeholder exists when no single
// node can run all its pods: its pod templates and their RuntimeClasses
// ask for different nodes (placeholder.CheckConstraints), or every node
// they can share has a taint some of them tolerate and others do not
// (placeholder.CheckTaints, against the nodes the engine sees). done is
// set with the failed placement. A failed read of the nodes is an error.
func (e *Engine) checkConstraints(run *v1.PipelineRun, classes map[string]*nodev1.RuntimeClass) (failed Placement, done bool, err error) {
	if err := placeholder.CheckConstraints(run, classes); err != nil {
		return Placement{Failed: true, Reason: ReasonConflictingNodeConstraints, Message: err.Error()}, true, nil
	}
	nodes, err := e.Nodes.List(labels.Everything())
	if err != nil {
		return Placement{}, false, fmt.Errorf("placing PipelineRun %s/%s: listing nodes: %w", run.Namespace, run.Name, err)
	}
	if err := placeholder.CheckTaints(run, classes, nodes); err != nil {
		return Placement{Failed: true, Reason: ReasonConflictingNodeConstraints, Message: err.Error()}, true, nil
	}
	return Placement{}, false, nil
}
