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
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/v1beta1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipeline/dag"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	taskresources "github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func cpuTask(cpu string) *v1.TaskSpec {
	return &v1.TaskSpec{Steps: []v1.Step{{Name: "run", Image: "busybox", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", cpu)}}}}
}

func arrayParam(name string, values ...string) v1.Param {
	return v1.Param{Name: name, Value: v1.ParamValue{Type: v1.ParamTypeArray, ArrayVal: values}}
}

// pipelineFacts builds the facts of a pipeline:
//
//	clone (started) -> build -------> push
//	               \-> test (x6) -/
//	custom (custom task), child (child pipeline)
//	finally: notify
func pipelineFacts(t *testing.T) *resources.PipelineRunFacts {
	t.Helper()
	tasks := []v1.PipelineTask{
		{Name: "clone", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("1")}},
		{Name: "build", RunAfter: []string{"clone"}},
		{Name: "test", RunAfter: []string{"clone"}, Matrix: &v1.Matrix{Params: v1.Params{
			arrayParam("os", "linux", "darwin"),
			arrayParam("go", "1.25", "1.26", "1.27"),
		}}},
		{Name: "push", RunAfter: []string{"build", "test"}},
		{Name: "custom", TaskRef: &v1.TaskRef{APIVersion: "example.dev/v1", Kind: "Wait"}},
		{Name: "child", PipelineSpec: &v1.PipelineSpec{}},
	}
	finally := []v1.PipelineTask{{Name: "notify"}}

	graph, err := dag.Build(v1.PipelineTaskList(tasks), v1.PipelineTaskList(tasks).Deps())
	if err != nil {
		t.Fatalf("dag.Build(tasks) = %v", err)
	}
	finalGraph, err := dag.Build(v1.PipelineTaskList(finally), map[string][]string{})
	if err != nil {
		t.Fatalf("dag.Build(finally) = %v", err)
	}
	resolved := func(pt *v1.PipelineTask, spec *v1.TaskSpec) *resources.ResolvedPipelineTask {
		return &resources.ResolvedPipelineTask{PipelineTask: pt, ResolvedTask: &taskresources.ResolvedTask{TaskSpec: spec}}
	}
	clone := resolved(&tasks[0], cpuTask("1"))
	clone.TaskRunNames = []string{"run-clone"}
	clone.TaskRuns = []*v1.TaskRun{{ObjectMeta: metav1.ObjectMeta{Name: "run-clone"}}}
	custom := &resources.ResolvedPipelineTask{PipelineTask: &tasks[4], CustomTask: true}
	// A child pipeline's own pods are counted by its own placement, not here.
	child := resolved(&tasks[5], cpuTask("9"))
	return &resources.PipelineRunFacts{
		State: resources.PipelineRunState{
			clone,
			resolved(&tasks[1], cpuTask("2")),
			resolved(&tasks[2], cpuTask("500m")),
			resolved(&tasks[3], cpuTask("1")),
			custom,
			child,
			resolved(&finally[0], cpuTask("300m")),
		},
		TasksGraph:      graph,
		FinalTasksGraph: finalGraph,
	}
}

func TestFromFacts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		run      *v1.PipelineRun
		mutate   func(*resources.PipelineRunFacts)
		want     []Task
		wantPeak corev1.ResourceList
	}{{
		name: "not started yet, except clone",
		run:  &v1.PipelineRun{},
		want: []Task{
			{Name: "build", After: []string{"clone"}, Pod: rl("cpu", "2"), Count: 1},
			{Name: "test", After: []string{"clone"}, Pod: rl("cpu", "500m"), Count: 6},
			{Name: "push", After: []string{"build", "test"}, Pod: rl("cpu", "1"), Count: 1},
			{Name: "custom", Count: 1},
			{Name: "child", Count: 1},
			{Name: "notify", Finally: true, Pod: rl("cpu", "300m"), Count: 1},
		},
		// build and test (6 x 500m) run at once.
		wantPeak: rl("cpu", "5"),
	}, {
		name: "taskRunSpecs of the run apply",
		run: &v1.PipelineRun{Spec: v1.PipelineRunSpec{TaskRunSpecs: []v1.PipelineTaskRunSpec{{
			PipelineTaskName: "build",
			StepSpecs:        []v1.TaskRunStepSpec{{Name: "run", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "4")}}},
		}}}},
		want: []Task{
			{Name: "build", After: []string{"clone"}, Pod: rl("cpu", "4"), Count: 1},
			{Name: "test", After: []string{"clone"}, Pod: rl("cpu", "500m"), Count: 6},
			{Name: "push", After: []string{"build", "test"}, Pod: rl("cpu", "1"), Count: 1},
			{Name: "custom", Count: 1},
			{Name: "child", Count: 1},
			{Name: "notify", Finally: true, Pod: rl("cpu", "300m"), Count: 1},
		},
		wantPeak: rl("cpu", "7"),
	}, {
		name: "started tasks of every kind are left out",
		run:  &v1.PipelineRun{},
		mutate: func(f *resources.PipelineRunFacts) {
			f.State[1].TaskRuns = []*v1.TaskRun{{}}              // build
			f.State[2].TaskRuns = []*v1.TaskRun{{}}              // test: one of six started
			f.State[4].CustomRuns = []*v1beta1.CustomRun{{}}     // custom
			f.State[5].ChildPipelineRuns = []*v1.PipelineRun{{}} // child
		},
		want: []Task{
			{Name: "push", After: []string{"build", "test"}, Pod: rl("cpu", "1"), Count: 1},
			{Name: "notify", Finally: true, Pod: rl("cpu", "300m"), Count: 1},
		},
		wantPeak: rl("cpu", "1"),
	}, {
		name: "only finally left",
		run:  &v1.PipelineRun{},
		mutate: func(f *resources.PipelineRunFacts) {
			for _, rpt := range f.State[:6] {
				rpt.TaskRuns = []*v1.TaskRun{{}}
			}
		},
		want:     []Task{{Name: "notify", Finally: true, Pod: rl("cpu", "300m"), Count: 1}},
		wantPeak: rl("cpu", "300m"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			facts := pipelineFacts(t)
			if tc.mutate != nil {
				tc.mutate(facts)
			}
			got := FromFacts(tc.run, facts, nil)
			opts := cmp.Options{quantityEqual, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()}
			if d := cmp.Diff(tc.want, got, opts); d != "" {
				t.Errorf("FromFacts() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantPeak, Peak(got), quantityEqual); d != "" {
				t.Errorf("Peak(FromFacts()) (-want +got):\n%s", d)
			}
		})
	}
}

func TestFromFactsNil(t *testing.T) {
	if got := FromFacts(&v1.PipelineRun{}, nil, nil); got != nil {
		t.Errorf("FromFacts(nil facts) = %v, want nil", got)
	}
}
