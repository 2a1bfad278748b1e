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
	"k8s.io/apimachinery/pkg/selection"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
)

func cpuTask(cpu string) *v1.TaskSpec {
	return &v1.TaskSpec{Steps: []v1.Step{{Name: "run", Image: "busybox", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", cpu)}}}}
}

func arrayParam(name string, values ...string) v1.Param {
	return v1.Param{Name: name, Value: v1.ParamValue{Type: v1.ParamTypeArray, ArrayVal: values}}
}

func succeeded() duckv1.Status {
	return duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue}}}
}

func taskRun(done bool) *v1.TaskRun {
	tr := &v1.TaskRun{}
	if done {
		tr.Status.Status = succeeded()
	}
	return tr
}

// pipelineFacts builds the facts of a pipeline:
//
//	clone -> build -------> push
//	     \-> test (x6) -/
//	custom (custom task), child (child pipeline: x 2 CPU and y 1 CPU at once)
//	finally: notify
func pipelineFacts(t *testing.T) *resources.PipelineRunFacts {
	t.Helper()
	childSpec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		{Name: "x", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("2")}},
		{Name: "y", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("1")}},
	}}
	tasks := []v1.PipelineTask{
		{Name: "clone", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("1")}},
		{Name: "build", RunAfter: []string{"clone"}},
		{Name: "test", RunAfter: []string{"clone"}, Matrix: &v1.Matrix{Params: v1.Params{
			arrayParam("os", "linux", "darwin"),
			arrayParam("go", "1.25", "1.26", "1.27"),
		}}},
		{Name: "push", RunAfter: []string{"build", "test"}},
		{Name: "custom", TaskRef: &v1.TaskRef{APIVersion: "example.dev/v1", Kind: "Wait"}},
		{Name: "child", PipelineSpec: childSpec},
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
	custom := &resources.ResolvedPipelineTask{PipelineTask: &tasks[4], CustomTask: true}
	child := &resources.ResolvedPipelineTask{PipelineTask: &tasks[5], ResolvedPipeline: resources.ResolvedPipeline{PipelineSpec: childSpec}}
	return &resources.PipelineRunFacts{
		State: resources.PipelineRunState{
			resolved(&tasks[0], cpuTask("1")),
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
	clone := Task{Name: "clone", Pod: rl("cpu", "1"), Count: 1}
	build := Task{Name: "build", After: []string{"clone"}, Pod: rl("cpu", "2"), Count: 1}
	test := Task{Name: "test", After: []string{"clone"}, Pod: rl("cpu", "500m"), Count: 6}
	push := Task{Name: "push", After: []string{"build", "test"}, Pod: rl("cpu", "1"), Count: 1}
	custom := Task{Name: "custom", Count: 1}
	child := Task{Name: "child", Pod: rl("cpu", "3"), Count: 1}
	notify := Task{Name: "notify", Finally: true, Pod: rl("cpu", "300m"), Count: 1}
	in := func(task Task, state TaskState) Task {
		task.State = state
		return task
	}
	for _, tc := range []struct {
		name     string
		run      *v1.PipelineRun
		mutate   func(*resources.PipelineRunFacts)
		want     []Task
		wantPeak corev1.ResourceList
		wantHeld corev1.ResourceList
	}{{
		name: "nothing started: the roots start now",
		run:  &v1.PipelineRun{},
		want: []Task{in(clone, Starting), build, test, push, in(custom, Starting), in(child, Starting), notify},
		// build, test (6 x 500m) and child (2 + 1) run at once.
		wantPeak: rl("cpu", "8"),
		// clone, custom and child start now: 8 - 1 - 3.
		wantHeld: rl("cpu", "4"),
	}, {
		name: "taskRunSpecs of the run apply",
		run: &v1.PipelineRun{Spec: v1.PipelineRunSpec{TaskRunSpecs: []v1.PipelineTaskRunSpec{{
			PipelineTaskName: "build",
			StepSpecs:        []v1.TaskRunStepSpec{{Name: "run", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "4")}}},
		}}}},
		want: []Task{
			in(clone, Starting),
			{Name: "build", After: []string{"clone"}, Pod: rl("cpu", "4"), Count: 1},
			test, push, in(custom, Starting), in(child, Starting), notify,
		},
		wantPeak: rl("cpu", "10"),
		wantHeld: rl("cpu", "6"),
	}, {
		name: "clone finished: build and test start, the rest runs",
		run:  &v1.PipelineRun{},
		mutate: func(f *resources.PipelineRunFacts) {
			f.State[0].TaskRuns = []*v1.TaskRun{taskRun(true)}
			f.State[4].CustomRuns = []*v1beta1.CustomRun{{}}
			f.State[5].ChildPipelineRuns = []*v1.PipelineRun{{}}
		},
		want:     []Task{in(build, Starting), in(test, Starting), push, in(custom, Running), in(child, Running), notify},
		wantPeak: rl("cpu", "8"),
		wantHeld: corev1.ResourceList{},
	}, {
		name: "build finished, test running: the placeholder holds what push needs beyond test",
		run:  &v1.PipelineRun{},
		mutate: func(f *resources.PipelineRunFacts) {
			f.State[0].TaskRuns = []*v1.TaskRun{taskRun(true)}
			f.State[1].TaskRuns = []*v1.TaskRun{taskRun(true)}
			f.State[2].TaskRuns = []*v1.TaskRun{taskRun(false)}
			f.State[4].CustomRuns = []*v1beta1.CustomRun{{Status: v1beta1.CustomRunStatus{Status: succeeded()}}}
			f.State[5].ChildPipelineRuns = []*v1.PipelineRun{{Status: v1.PipelineRunStatus{Status: succeeded()}}}
		},
		want:     []Task{in(test, Running), push, notify},
		wantPeak: rl("cpu", "3"),
		wantHeld: corev1.ResourceList{},
	}, {
		name: "the DAG is done: finally starts",
		run:  &v1.PipelineRun{},
		mutate: func(f *resources.PipelineRunFacts) {
			for _, rpt := range f.State[:4] {
				rpt.TaskRuns = []*v1.TaskRun{taskRun(true)}
			}
			f.State[4].CustomRuns = []*v1beta1.CustomRun{{Status: v1beta1.CustomRunStatus{Status: succeeded()}}}
			f.State[5].ChildPipelineRuns = []*v1.PipelineRun{{Status: v1.PipelineRunStatus{Status: succeeded()}}}
		},
		want:     []Task{in(notify, Starting)},
		wantPeak: rl("cpu", "300m"),
		wantHeld: corev1.ResourceList{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			facts := pipelineFacts(t)
			if tc.mutate != nil {
				tc.mutate(facts)
			}
			got := FromFacts(tc.run, facts, nil, nil)
			opts := cmp.Options{quantityEqual, cmpopts.SortSlices(func(a, b string) bool { return a < b }), cmpopts.EquateEmpty()}
			if d := cmp.Diff(tc.want, got, opts); d != "" {
				t.Errorf("FromFacts() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantPeak, Peak(got), quantityEqual); d != "" {
				t.Errorf("Peak(FromFacts()) (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantHeld, Held(got), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Held(FromFacts()) (-want +got):\n%s", d)
			}
		})
	}
}

func pipelineRun(status corev1.ConditionStatus) *v1.PipelineRun {
	pr := &v1.PipelineRun{}
	if status != "" {
		pr.Status.Status = duckv1.Status{Conditions: duckv1.Conditions{{Type: apis.ConditionSucceeded, Status: status}}}
	}
	return pr
}

// TestFromFactsChildPipelines checks how child pipelines count whatever
// Tekton's ResolvedPipelineTask says about them: before v1.15 its IsRunning
// looks only at TaskRuns and CustomRuns, and its IsChildPipeline only at
// pipelineSpec, so a running child PipelineRun would count as finished and a
// child given by pipelineRef as requesting nothing.
func TestFromFactsChildPipelines(t *testing.T) {
	childSpec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		{Name: "x", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("2")}},
		{Name: "y", TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask("1")}},
	}}
	facts := func(t *testing.T) *resources.PipelineRunFacts {
		t.Helper()
		tasks := []v1.PipelineTask{
			{Name: "embedded", PipelineSpec: childSpec},
			{Name: "referenced", PipelineRef: &v1.PipelineRef{Name: "inner"}},
			{Name: "matrixed", PipelineSpec: childSpec, Matrix: &v1.Matrix{Params: v1.Params{arrayParam("os", "linux", "darwin")}}},
		}
		graph, err := dag.Build(v1.PipelineTaskList(tasks), v1.PipelineTaskList(tasks).Deps())
		if err != nil {
			t.Fatalf("dag.Build(tasks) = %v", err)
		}
		noFinally, err := dag.Build(v1.PipelineTaskList(nil), map[string][]string{})
		if err != nil {
			t.Fatalf("dag.Build(finally) = %v", err)
		}
		state := resources.PipelineRunState{}
		for i := range tasks {
			state = append(state, &resources.ResolvedPipelineTask{PipelineTask: &tasks[i], ResolvedPipeline: resources.ResolvedPipeline{PipelineSpec: childSpec}})
		}
		return &resources.PipelineRunFacts{State: state, TasksGraph: graph, FinalTasksGraph: noFinally}
	}
	embedded := Task{Name: "embedded", Pod: rl("cpu", "3"), Count: 1}
	referenced := Task{Name: "referenced", Pod: rl("cpu", "3"), Count: 1}
	matrixed := Task{Name: "matrixed", Pod: rl("cpu", "3"), Count: 2}
	in := func(task Task, state TaskState) Task {
		task.State = state
		return task
	}
	const (
		running = corev1.ConditionUnknown
		ok      = corev1.ConditionTrue
		failed  = corev1.ConditionFalse
	)
	for _, tc := range []struct {
		name     string
		runs     [3][]*v1.PipelineRun // the child PipelineRuns of embedded, referenced, matrixed
		want     []Task
		wantHeld corev1.ResourceList
	}{{
		name:     "none started: all start now, each with the peak of its pipeline",
		want:     []Task{in(embedded, Starting), in(referenced, Starting), in(matrixed, Starting)},
		wantHeld: corev1.ResourceList{},
	}, {
		name:     "child PipelineRuns running, one without a condition yet: still running",
		runs:     [3][]*v1.PipelineRun{{pipelineRun(running)}, {pipelineRun("")}, {pipelineRun(running), pipelineRun(running)}},
		want:     []Task{in(embedded, Running), in(referenced, Running), in(matrixed, Running)},
		wantHeld: corev1.ResourceList{},
	}, {
		name: "a matrixed child with one run done and one running is still running",
		runs: [3][]*v1.PipelineRun{{pipelineRun(ok)}, {pipelineRun(failed)}, {pipelineRun(ok), pipelineRun(running)}},
		want: []Task{in(matrixed, Running)},
	}, {
		name: "a matrixed child with one run failed and one running is still running",
		runs: [3][]*v1.PipelineRun{{pipelineRun(ok)}, {pipelineRun(ok)}, {pipelineRun(failed), pipelineRun(running)}},
		want: []Task{in(matrixed, Running)},
	}, {
		name: "every child PipelineRun done: nothing left to reserve",
		runs: [3][]*v1.PipelineRun{{pipelineRun(ok)}, {pipelineRun(failed)}, {pipelineRun(failed), pipelineRun(ok)}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := facts(t)
			for i, runs := range tc.runs {
				f.State[i].ChildPipelineRuns = runs
			}
			got := FromFacts(&v1.PipelineRun{}, f, nil, nil)
			if d := cmp.Diff(tc.want, got, quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("FromFacts() (-want +got):\n%s", d)
			}
			// Running children hold their own share: the placeholder
			// reserves only what has not started.
			if d := cmp.Diff(tc.wantHeld, Held(got), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Held(FromFacts()) (-want +got):\n%s", d)
			}
		})
	}
}

func TestFromFactsLeavesSkippedTasksOut(t *testing.T) {
	facts := pipelineFacts(t)
	facts.State[1].PipelineTask.When = v1.WhenExpressions{{Input: "a", Operator: selection.In, Values: []string{"b"}}}
	facts.State[0].TaskRuns = []*v1.TaskRun{taskRun(true)}
	var names []string
	for _, task := range FromFacts(&v1.PipelineRun{}, facts, nil, nil) {
		names = append(names, task.Name)
	}
	want := []string{"test", "push", "custom", "child", "notify"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("tasks of FromFacts() (-want +got):\n%s", d)
	}
}

func TestFromFactsNil(t *testing.T) {
	if got := FromFacts(&v1.PipelineRun{}, nil, nil, nil); got != nil {
		t.Errorf("FromFacts(nil facts) = %v, want nil", got)
	}
}

func TestPipelinePeak(t *testing.T) {
	embedded := func(name, cpu string, after ...string) v1.PipelineTask {
		return v1.PipelineTask{Name: name, RunAfter: after, TaskSpec: &v1.EmbeddedTask{TaskSpec: *cpuTask(cpu)}}
	}
	for _, tc := range []struct {
		name string
		spec *v1.PipelineSpec
		want corev1.ResourceList
	}{{
		name: "nil spec",
		want: corev1.ResourceList{},
	}, {
		name: "a chain needs its largest task",
		spec: &v1.PipelineSpec{Tasks: []v1.PipelineTask{embedded("a", "1"), embedded("b", "2", "a")}},
		want: rl("cpu", "2"),
	}, {
		name: "parallel tasks add up; a referenced task counts as nothing",
		spec: &v1.PipelineSpec{Tasks: []v1.PipelineTask{
			embedded("a", "1"), embedded("b", "2"), {Name: "ref", TaskRef: &v1.TaskRef{Name: "elsewhere"}},
		}},
		want: rl("cpu", "3"),
	}, {
		name: "finally is its own phase",
		spec: &v1.PipelineSpec{
			Tasks:   []v1.PipelineTask{embedded("a", "1")},
			Finally: []v1.PipelineTask{embedded("f1", "2"), embedded("f2", "2")},
		},
		want: rl("cpu", "4"),
	}, {
		name: "a nested child pipeline counts with its own peak",
		spec: &v1.PipelineSpec{Tasks: []v1.PipelineTask{
			embedded("a", "1"),
			{Name: "inner", PipelineSpec: &v1.PipelineSpec{Tasks: []v1.PipelineTask{embedded("x", "2"), embedded("y", "2")}}},
		}},
		want: rl("cpu", "5"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, PipelinePeak(tc.spec, nil, nil), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("PipelinePeak() (-want +got):\n%s", d)
			}
		})
	}
}
