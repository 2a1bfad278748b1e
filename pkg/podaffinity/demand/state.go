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

// FromFacts turns the PipelineRun reconciler's resolved state into Tasks.
// Tasks that have already started (they have a TaskRun, CustomRun or child
// PipelineRun) are left out: what remains is the demand still to come.
// Custom tasks and child pipelines count as requesting nothing here.
//
// limitRanges are the LimitRanges of the run's namespace; Tekton applies
// their defaults to steps that request nothing (see PodRequestsInNamespace).
func FromFacts(run *v1.PipelineRun, facts *resources.PipelineRunFacts, limitRanges []*corev1.LimitRange) []Task {
	if facts == nil {
		return nil
	}
	finals := map[string]bool{}
	if facts.FinalTasksGraph != nil {
		for name := range facts.GetFinalTaskNames() {
			finals[name] = true
		}
	}
	var tasks []Task
	for _, rpt := range facts.State {
		if rpt == nil || rpt.PipelineTask == nil {
			continue
		}
		name := rpt.PipelineTask.Name
		if len(rpt.TaskRuns) > 0 || len(rpt.CustomRuns) > 0 || len(rpt.ChildPipelineRuns) > 0 {
			continue
		}
		t := Task{Name: name, Finally: finals[name], Count: 1}
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
		if rpt.ResolvedTask != nil && !rpt.IsCustomTask() && !rpt.IsChildPipeline() {
			t.Pod = PodRequestsInNamespace(rpt.ResolvedTask.TaskSpec, run.GetTaskRunSpec(name), limitRanges)
		}
		tasks = append(tasks, t)
	}
	return tasks
}
