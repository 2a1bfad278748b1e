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

package demand

import (
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	corev1 "k8s.io/api/core/v1"
)

// maxChildPipelineDepth bounds how deep FromFacts follows embedded child
// pipelines (pipelines in pipelines) when it sums their demand.
const maxChildPipelineDepth = 5

// FromFacts turns the PipelineRun reconciler's resolved state into Tasks:
// every task that has not finished and is not skipped, with its state. A
// task whose runs exist and have not finished is Running; a task that the
// reconciler creates now (Tekton's DAG execution queue, or the finally
// tasks once the DAG is done) is Starting; the rest are Waiting.
//
// A child pipeline counts as the peak of its pipeline spec (its pods share
// the parent's node); of that spec, tasks given by taskRef and custom tasks
// count as requesting nothing, since they are resolved only when the child
// runs.
//
// Whether a task runs and whether it is a child pipeline is read from the
// task and its runs, not from ResolvedPipelineTask.IsRunning and
// IsChildPipeline: before Tekton v1.15 those ignore child PipelineRuns and
// pipelineRef, and the series is kept for v1.12 and v1.9 too.
//
// limitRanges are the LimitRanges of the run's namespace; Tekton and the API
// server apply their defaults to the pod's containers (see
// PodRequestsInNamespace). Each pod also pays the overhead of the
// RuntimeClass its pod template names (overheads): a task's pod the one of
// its taskRunSpecs podTemplate merged over the run's, each pod of a child
// pipeline the one of the run's podTemplate, which Tekton gives the child.
func FromFacts(run *v1.PipelineRun, facts *resources.PipelineRunFacts, limitRanges []*corev1.LimitRange, overheads Overheads) []Task {
	if facts == nil {
		return nil
	}
	finals := map[string]bool{}
	if facts.FinalTasksGraph != nil {
		for name := range facts.GetFinalTaskNames() {
			finals[name] = true
		}
	}
	starting := startingNow(facts)
	var tasks []Task
	for _, rpt := range facts.State {
		if rpt == nil || rpt.PipelineTask == nil {
			continue
		}
		name := rpt.PipelineTask.Name
		state := Waiting
		started, running := runs(rpt)
		switch {
		case started:
			if !running {
				continue
			}
			state = Running
		case starting[name]:
			state = Starting
		case skipped(rpt, facts, finals[name]):
			continue
		}
		t := Task{Name: name, Finally: finals[name], Count: 1, State: state}
		if facts.TasksGraph != nil {
			if node, ok := facts.TasksGraph.Nodes[name]; ok {
				for _, prev := range node.Prev {
					t.After = append(t.After, prev.Key)
				}
			}
		}
		if rpt.PipelineTask.IsMatrixed() {
			t.Count = rpt.PipelineTask.Matrix.CountCombinations()
		}
		switch {
		case rpt.IsCustomTask():
		case isChildPipeline(rpt):
			spec := rpt.ResolvedPipeline.PipelineSpec
			if spec == nil {
				spec = rpt.PipelineTask.PipelineSpec
			}
			t.Pod = PipelinePeak(spec, limitRanges, overheads.of(run.Spec.TaskRunTemplate.PodTemplate))
		case rpt.ResolvedTask != nil:
			spec := run.GetTaskRunSpec(name)
			t.Pod = plus(PodRequestsInNamespace(rpt.ResolvedTask.TaskSpec, spec, limitRanges), overheads.of(spec.PodTemplate))
		}
		tasks = append(tasks, t)
	}
	return tasks
}

// runs reports whether a task has runs (TaskRuns, CustomRuns or child
// PipelineRuns) and whether one of them has not finished. This is what
// Tekton v1.15's ResolvedPipelineTask.IsRunning answers: it is false once
// every run succeeded, or once one failed and all are done.
func runs(rpt *resources.ResolvedPipelineTask) (started, running bool) {
	for _, tr := range rpt.TaskRuns {
		if tr != nil {
			started = true
			running = running || !tr.IsDone()
		}
	}
	for _, r := range rpt.CustomRuns {
		if r != nil {
			started = true
			running = running || !r.IsDone()
		}
	}
	for _, pr := range rpt.ChildPipelineRuns {
		if pr != nil {
			started = true
			running = running || !pr.IsDone()
		}
	}
	return started, running
}

// isChildPipeline reports whether a pipeline task runs a child pipeline:
// given by pipelineSpec or pipelineRef, or already running as child
// PipelineRuns.
func isChildPipeline(rpt *resources.ResolvedPipelineTask) bool {
	pt := rpt.PipelineTask
	return pt.PipelineSpec != nil || pt.PipelineRef != nil || len(rpt.ChildPipelineRuns) > 0
}

// startingNow returns the names of the tasks that Tekton's
// runNextSchedulableTask creates in this reconcile. It asks the same
// questions of facts that runNextSchedulableTask asks next.
func startingNow(facts *resources.PipelineRunFacts) map[string]bool {
	names := map[string]bool{}
	if facts.TasksGraph == nil {
		return names
	}
	if next, err := facts.DAGExecutionQueue(); err == nil {
		for _, rpt := range next {
			names[rpt.PipelineTask.Name] = true
		}
	}
	if facts.FinalTasksGraph != nil {
		for _, rpt := range facts.GetFinalTasks() {
			names[rpt.PipelineTask.Name] = true
		}
	}
	return names
}

// skipped reports whether Tekton already knows that a task that has not
// started never will.
func skipped(rpt *resources.ResolvedPipelineTask, facts *resources.PipelineRunFacts, final bool) bool {
	if facts.TasksGraph == nil {
		return false
	}
	if final {
		return facts.FinalTasksGraph != nil && rpt.IsFinallySkipped(facts).IsSkipped
	}
	return rpt.Skip(facts).IsSkipped
}

// PipelinePeak returns the peak demand of an embedded pipeline spec: its
// tasks with embedded task specs, its child pipelines with embedded specs,
// and its finally tasks; each pod of an embedded task spec requests
// overhead (its RuntimeClass's) on top. Tasks given by reference count as
// requesting nothing.
func PipelinePeak(spec *v1.PipelineSpec, limitRanges []*corev1.LimitRange, overhead corev1.ResourceList) corev1.ResourceList {
	return pipelinePeak(spec, limitRanges, overhead, 0)
}

func pipelinePeak(spec *v1.PipelineSpec, limitRanges []*corev1.LimitRange, overhead corev1.ResourceList, depth int) corev1.ResourceList {
	if spec == nil || depth >= maxChildPipelineDepth {
		return corev1.ResourceList{}
	}
	deps := v1.PipelineTaskList(spec.Tasks).Deps()
	var tasks []Task
	add := func(pt v1.PipelineTask, finally bool) {
		t := Task{Name: pt.Name, Finally: finally, Count: 1}
		if !finally {
			t.After = deps[pt.Name]
		}
		if pt.IsMatrixed() {
			t.Count = pt.Matrix.CountCombinations()
		}
		switch {
		case pt.PipelineSpec != nil:
			t.Pod = pipelinePeak(pt.PipelineSpec, limitRanges, overhead, depth+1)
		case pt.TaskSpec != nil:
			t.Pod = plus(PodRequestsInNamespace(&pt.TaskSpec.TaskSpec, v1.PipelineTaskRunSpec{}, limitRanges), overhead)
		}
		tasks = append(tasks, t)
	}
	for _, pt := range spec.Tasks {
		add(pt, false)
	}
	for _, pt := range spec.Finally {
		add(pt, true)
	}
	return Peak(tasks)
}
