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
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// rl builds a ResourceList from name/quantity pairs.
func rl(pairs ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		out[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return out
}

// quantityEqual compares quantities by value, not by representation.
var quantityEqual = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

func TestPeak(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tasks []Task
		want  corev1.ResourceList
	}{{
		name:  "no tasks",
		tasks: nil,
		want:  corev1.ResourceList{},
	}, {
		name:  "tasks without requests",
		tasks: []Task{{Name: "a"}, {Name: "b", Pod: corev1.ResourceList{}}},
		want:  corev1.ResourceList{},
	}, {
		name:  "one task",
		tasks: []Task{{Name: "a", Pod: rl("cpu", "1500m", "memory", "1Gi")}},
		want:  rl("cpu", "1500m", "memory", "1Gi"),
	}, {
		name: "independent tasks run at once",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "1", "memory", "1Gi")},
			{Name: "b", Pod: rl("cpu", "500m", "memory", "2Gi")},
			{Name: "c", Pod: rl("cpu", "250m")},
		},
		want: rl("cpu", "1750m", "memory", "3Gi"),
	}, {
		name: "a chain runs one task at a time",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "1", "memory", "1Gi")},
			{Name: "b", After: []string{"a"}, Pod: rl("cpu", "3", "memory", "512Mi")},
			{Name: "c", After: []string{"b"}, Pod: rl("cpu", "2", "memory", "4Gi")},
		},
		want: rl("cpu", "3", "memory", "4Gi"),
	}, {
		name: "transitive dependency: a and c never overlap",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "4")},
			{Name: "b", After: []string{"a"}, Pod: rl("cpu", "1")},
			{Name: "c", After: []string{"b"}, Pod: rl("cpu", "4")},
		},
		want: rl("cpu", "4"),
	}, {
		name: "diamond: the two middle tasks overlap",
		tasks: []Task{
			{Name: "clone", Pod: rl("cpu", "1")},
			{Name: "build", After: []string{"clone"}, Pod: rl("cpu", "2")},
			{Name: "lint", After: []string{"clone"}, Pod: rl("cpu", "1500m")},
			{Name: "push", After: []string{"build", "lint"}, Pod: rl("cpu", "3")},
		},
		want: rl("cpu", "3500m"),
	}, {
		name: "heaviest antichain beats the largest one",
		// {b1, b2, b3} is the largest antichain (1.5 CPU) but {a, c} = 2.1 CPU.
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "2")},
			{Name: "b1", After: []string{"a"}, Pod: rl("cpu", "500m")},
			{Name: "b2", After: []string{"a"}, Pod: rl("cpu", "500m")},
			{Name: "b3", After: []string{"a"}, Pod: rl("cpu", "500m")},
			{Name: "c", Pod: rl("cpu", "100m")},
		},
		want: rl("cpu", "2100m"),
	}, {
		name: "each resource has its own heaviest antichain",
		// CPU peaks while a runs with c; memory peaks while b runs with c.
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "4", "memory", "1Gi")},
			{Name: "b", After: []string{"a"}, Pod: rl("cpu", "1", "memory", "8Gi")},
			{Name: "c", Pod: rl("cpu", "1", "memory", "1Gi")},
		},
		want: rl("cpu", "5", "memory", "9Gi"),
	}, {
		name: "matrix fan-out multiplies",
		tasks: []Task{
			{Name: "test", Pod: rl("cpu", "500m", "memory", "256Mi"), Count: 4},
			{Name: "lint", Pod: rl("cpu", "1")},
		},
		want: rl("cpu", "3", "memory", "1Gi"),
	}, {
		name: "count zero means one",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "1"), Count: 0},
		},
		want: rl("cpu", "1"),
	}, {
		name: "finally tasks are their own phase: DAG wins",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "2")},
			{Name: "b", Pod: rl("cpu", "2")},
			{Name: "notify", Finally: true, Pod: rl("cpu", "1")},
			{Name: "cleanup", Finally: true, Pod: rl("cpu", "1")},
		},
		want: rl("cpu", "4"),
	}, {
		name: "finally tasks are their own phase: finally wins",
		tasks: []Task{
			{Name: "a", Pod: rl("cpu", "1", "memory", "4Gi")},
			{Name: "b", After: []string{"a"}, Pod: rl("cpu", "1", "memory", "4Gi")},
			{Name: "report", Finally: true, Pod: rl("cpu", "2", "memory", "1Gi")},
			{Name: "upload", Finally: true, Pod: rl("cpu", "1", "memory", "1Gi"), Count: 2},
		},
		want: rl("cpu", "4", "memory", "4Gi"),
	}, {
		name: "only finally tasks left",
		tasks: []Task{
			{Name: "report", Finally: true, Pod: rl("cpu", "300m")},
			{Name: "upload", Finally: true, Pod: rl("cpu", "200m")},
		},
		want: rl("cpu", "500m"),
	}, {
		name: "dependencies on tasks not listed (already started) are ignored",
		tasks: []Task{
			{Name: "b", After: []string{"a"}, Pod: rl("cpu", "1")},
			{Name: "c", After: []string{"a"}, Pod: rl("cpu", "1")},
		},
		want: rl("cpu", "2"),
	}, {
		name: "extended and storage resources",
		tasks: []Task{
			{Name: "train", Pod: rl("nvidia.com/gpu", "1", "ephemeral-storage", "10Gi")},
			{Name: "eval", Pod: rl("nvidia.com/gpu", "1", "ephemeral-storage", "5Gi")},
		},
		want: rl("nvidia.com/gpu", "2", "ephemeral-storage", "15Gi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := Peak(tc.tasks)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("Peak() (-want +got):\n%s", d)
			}
		})
	}
}

func TestPeakIsExactInMillicores(t *testing.T) {
	// 3 x 333m must not round to 1 CPU.
	cpu := Peak([]Task{{Name: "a", Pod: rl("cpu", "333m"), Count: 3}})[corev1.ResourceCPU]
	if d := cmp.Diff("999m", cpu.String()); d != "" {
		t.Errorf("Peak() cpu (-want +got):\n%s", d)
	}
}

// stages builds width parallel tasks per stage, named prefix-s<stage>-t<i>,
// each requesting cpu and waiting for every task of the previous stage (or
// for after, for the first stage).
func stages(prefix string, n, width int, cpu string, after []string) ([]Task, []string) {
	var tasks []Task
	previous := after
	for s := 0; s < n; s++ {
		var current []string
		for w := 0; w < width; w++ {
			name := fmt.Sprintf("%s-s%d-t%d", prefix, s, w)
			tasks = append(tasks, Task{Name: name, After: previous, Pod: rl("cpu", cpu)})
			current = append(current, name)
		}
		previous = current
	}
	return tasks, previous
}

func TestPeakFanOutFanIn(t *testing.T) {
	joined := func() []Task {
		first, last := stages("first", 1, 15, "200m", nil)
		mid := Task{Name: "mid", After: last, Pod: rl("cpu", "100m")}
		second, _ := stages("second", 1, 15, "200m", []string{"mid"})
		return append(append(first, mid), second...)
	}
	staged := func(n, width int, cpu string) []Task {
		tasks, _ := stages("stage", n, width, cpu, nil)
		return tasks
	}
	for _, tc := range []struct {
		name  string
		tasks []Task
		want  corev1.ResourceList
	}{{
		name:  "15 tasks, a join task, 15 tasks",
		tasks: joined(),
		want:  rl("cpu", "3"),
	}, {
		name:  "2 stages of 15, fully connected",
		tasks: staged(2, 15, "500m"),
		want:  rl("cpu", "7500m"),
	}, {
		name:  "20 stages of 10, fully connected",
		tasks: staged(20, 10, "500m"),
		want:  rl("cpu", "5"),
	}, {
		name:  "2 stages of 24, fully connected",
		tasks: staged(2, 24, "1"),
		want:  rl("cpu", "24"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := Peak(tc.tasks)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("Peak() (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	step := func(name string, r corev1.ResourceRequirements) v1.Step {
		return v1.Step{Name: name, Image: "busybox", ComputeResources: r}
	}
	req := func(pairs ...string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: rl(pairs...)}
	}
	lim := func(pairs ...string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: rl(pairs...)}
	}
	for _, tc := range []struct {
		name    string
		spec    *v1.TaskSpec
		runSpec v1.PipelineTaskRunSpec
		want    corev1.ResourceList
	}{{
		name: "nil spec",
		want: corev1.ResourceList{},
	}, {
		name: "steps without requests",
		spec: &v1.TaskSpec{Steps: []v1.Step{step("a", corev1.ResourceRequirements{})}},
		want: corev1.ResourceList{},
	}, {
		name: "steps add up",
		spec: &v1.TaskSpec{Steps: []v1.Step{
			step("a", req("cpu", "500m", "memory", "256Mi")),
			step("b", req("cpu", "1", "memory", "1Gi")),
		}},
		want: rl("cpu", "1500m", "memory", "1280Mi"),
	}, {
		name: "sidecars add to steps",
		spec: &v1.TaskSpec{
			Steps:    []v1.Step{step("a", req("cpu", "1"))},
			Sidecars: []v1.Sidecar{{Name: "docker", ComputeResources: req("cpu", "500m", "memory", "1Gi")}},
		},
		want: rl("cpu", "1500m", "memory", "1Gi"),
	}, {
		name: "limit without request counts as request",
		spec: &v1.TaskSpec{Steps: []v1.Step{
			step("a", lim("cpu", "2", "memory", "1Gi")),
			step("b", corev1.ResourceRequirements{Requests: rl("cpu", "100m"), Limits: rl("cpu", "4", "memory", "2Gi")}),
		}},
		want: rl("cpu", "2100m", "memory", "3Gi"),
	}, {
		name: "step template is the default of steps without resources",
		spec: &v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{ComputeResources: req("cpu", "250m", "memory", "64Mi")},
			Steps: []v1.Step{
				step("a", corev1.ResourceRequirements{}),
				step("b", req("cpu", "1", "memory", "1Gi")),
			},
		},
		want: rl("cpu", "1250m", "memory", "1088Mi"),
	}, {
		name: "step template fills the resources a step does not set",
		// Tekton merges the template into each step key by key
		// (v1.MergeStepsWithStepTemplate): step b requests cpu=1 and the
		// template's memory=64Mi.
		spec: &v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{ComputeResources: req("cpu", "250m", "memory", "64Mi")},
			Steps: []v1.Step{
				step("a", corev1.ResourceRequirements{}),
				step("b", req("cpu", "1")),
			},
		},
		want: rl("cpu", "1250m", "memory", "128Mi"),
	}, {
		name: "step template limit becomes the request of a step without one",
		spec: &v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{ComputeResources: lim("memory", "512Mi")},
			Steps:        []v1.Step{step("a", req("cpu", "1"))},
		},
		want: rl("cpu", "1", "memory", "512Mi"),
	}, {
		name: "stepSpecs override a step by name",
		spec: &v1.TaskSpec{Steps: []v1.Step{
			step("build", req("cpu", "1", "memory", "1Gi")),
			step("push", req("cpu", "100m", "memory", "64Mi")),
		}},
		runSpec: v1.PipelineTaskRunSpec{StepSpecs: []v1.TaskRunStepSpec{{Name: "build", ComputeResources: req("cpu", "4", "memory", "8Gi")}}},
		want:    rl("cpu", "4100m", "memory", "8256Mi"),
	}, {
		name: "stepSpecs override only the resources they set",
		// Tekton merges the override into the step key by key
		// (v1.MergeStepsWithSpecs): build keeps its memory.
		spec: &v1.TaskSpec{Steps: []v1.Step{
			step("build", req("cpu", "1", "memory", "1Gi")),
		}},
		runSpec: v1.PipelineTaskRunSpec{StepSpecs: []v1.TaskRunStepSpec{{Name: "build", ComputeResources: req("cpu", "4")}}},
		want:    rl("cpu", "4", "memory", "1Gi"),
	}, {
		name: "stepSpecs apply on top of the step template",
		spec: &v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{ComputeResources: req("cpu", "250m", "memory", "64Mi")},
			Steps:        []v1.Step{step("build", corev1.ResourceRequirements{})},
		},
		runSpec: v1.PipelineTaskRunSpec{StepSpecs: []v1.TaskRunStepSpec{{Name: "build", ComputeResources: req("cpu", "2")}}},
		want:    rl("cpu", "2", "memory", "64Mi"),
	}, {
		name:    "stepSpecs for unknown steps are ignored",
		spec:    &v1.TaskSpec{Steps: []v1.Step{step("build", req("cpu", "1"))}},
		runSpec: v1.PipelineTaskRunSpec{StepSpecs: []v1.TaskRunStepSpec{{Name: "nope", ComputeResources: req("cpu", "16")}}},
		want:    rl("cpu", "1"),
	}, {
		name: "sidecarSpecs override a sidecar by name",
		spec: &v1.TaskSpec{
			Steps:    []v1.Step{step("a", req("cpu", "1"))},
			Sidecars: []v1.Sidecar{{Name: "docker", ComputeResources: req("cpu", "500m", "memory", "1Gi")}, {Name: "proxy", ComputeResources: req("cpu", "100m")}},
		},
		runSpec: v1.PipelineTaskRunSpec{SidecarSpecs: []v1.TaskRunSidecarSpec{{Name: "docker", ComputeResources: req("cpu", "2", "memory", "4Gi")}}},
		want:    rl("cpu", "3100m", "memory", "4Gi"),
	}, {
		name: "task-level compute resources replace the steps' total",
		spec: &v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{ComputeResources: req("cpu", "8")},
			Steps: []v1.Step{
				step("a", req("cpu", "1", "memory", "1Gi")),
				step("b", req("cpu", "1", "memory", "1Gi")),
			},
			Sidecars: []v1.Sidecar{{Name: "docker", ComputeResources: req("cpu", "500m")}},
		},
		runSpec: v1.PipelineTaskRunSpec{
			ComputeResources: &corev1.ResourceRequirements{Requests: rl("cpu", "3", "memory", "2Gi"), Limits: rl("cpu", "4", "memory", "4Gi")},
			StepSpecs:        []v1.TaskRunStepSpec{{Name: "a", ComputeResources: req("cpu", "16")}},
		},
		want: rl("cpu", "3500m", "memory", "2Gi"),
	}, {
		name: "task-level limits only count as requests",
		spec: &v1.TaskSpec{Steps: []v1.Step{step("a", corev1.ResourceRequirements{}), step("b", corev1.ResourceRequirements{})}},
		runSpec: v1.PipelineTaskRunSpec{
			ComputeResources: &corev1.ResourceRequirements{Limits: rl("cpu", "2", "memory", "1Gi")},
		},
		want: rl("cpu", "2", "memory", "1Gi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var before *v1.TaskSpec
			if tc.spec != nil {
				before = tc.spec.DeepCopy()
			}
			runBefore := tc.runSpec.DeepCopy()
			got := PodRequests(tc.spec, tc.runSpec)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("PodRequests() (-want +got):\n%s", d)
			}
			if tc.spec != nil && tc.runSpec.ComputeResources == nil {
				// Check the expectation itself against Tekton's own merge.
				if d := cmp.Diff(tc.want, tektonRequests(t, tc.spec, tc.runSpec), quantityEqual); d != "" {
					t.Errorf("want disagrees with Tekton's step merge (-want +tekton):\n%s", d)
				}
			}
			if d := cmp.Diff(before, tc.spec); d != "" {
				t.Errorf("PodRequests() modified the TaskSpec (-before +after):\n%s", d)
			}
			if d := cmp.Diff(runBefore, &tc.runSpec); d != "" {
				t.Errorf("PodRequests() modified the run spec (-before +after):\n%s", d)
			}
		})
	}
}

// tektonRequests sums the container requests the way Tekton's pod builder
// merges them: stepTemplate, then stepSpecs, then sidecarSpecs.
func tektonRequests(t *testing.T, spec *v1.TaskSpec, runSpec v1.PipelineTaskRunSpec) corev1.ResourceList {
	t.Helper()
	spec = spec.DeepCopy()
	steps, err := v1.MergeStepsWithStepTemplate(spec.StepTemplate, spec.Steps)
	if err != nil {
		t.Fatalf("MergeStepsWithStepTemplate() = %v", err)
	}
	if steps, err = v1.MergeStepsWithSpecs(steps, runSpec.StepSpecs); err != nil {
		t.Fatalf("MergeStepsWithSpecs() = %v", err)
	}
	sidecars, err := v1.MergeSidecarsWithSpecs(spec.Sidecars, runSpec.SidecarSpecs)
	if err != nil {
		t.Fatalf("MergeSidecarsWithSpecs() = %v", err)
	}
	total := corev1.ResourceList{}
	for _, s := range steps {
		add(total, requestsOf(s.ComputeResources))
	}
	for _, s := range sidecars {
		add(total, requestsOf(s.ComputeResources))
	}
	return total
}

func TestWithFloor(t *testing.T) {
	floor := rl("cpu", "10m", "memory", "16Mi")
	for _, tc := range []struct {
		name     string
		requests corev1.ResourceList
		want     corev1.ResourceList
	}{
		{name: "nothing requested", requests: nil, want: rl("cpu", "10m", "memory", "16Mi")},
		{name: "below the floor", requests: rl("cpu", "1m", "memory", "1Mi"), want: rl("cpu", "10m", "memory", "16Mi")},
		{name: "above the floor", requests: rl("cpu", "2", "memory", "1Gi"), want: rl("cpu", "2", "memory", "1Gi")},
		{name: "one resource missing", requests: rl("cpu", "2"), want: rl("cpu", "2", "memory", "16Mi")},
		{name: "equal to the floor", requests: rl("cpu", "0.01", "memory", "16Mi"), want: rl("cpu", "10m", "memory", "16Mi")},
		{name: "resources outside the floor are kept", requests: rl("nvidia.com/gpu", "1"), want: rl("cpu", "10m", "memory", "16Mi", "nvidia.com/gpu", "1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requestsBefore, floorBefore := tc.requests.DeepCopy(), floor.DeepCopy()
			got := WithFloor(tc.requests, floor)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("WithFloor() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(requestsBefore, tc.requests); d != "" {
				t.Errorf("WithFloor() modified requests (-before +after):\n%s", d)
			}
			if d := cmp.Diff(floorBefore, floor); d != "" {
				t.Errorf("WithFloor() modified floor (-before +after):\n%s", d)
			}
		})
	}
}

func TestHeldToPlaceAndInUse(t *testing.T) {
	// a and b run at once, then c needs 3 CPU, then finally f. A finished
	// task is not in the list at all.
	a := Task{Name: "a", Pod: rl("cpu", "1")}
	b := Task{Name: "b", Pod: rl("cpu", "1", "memory", "1Gi")}
	c := Task{Name: "c", After: []string{"a", "b"}, Pod: rl("cpu", "3")}
	f := Task{Name: "f", Finally: true, Pod: rl("memory", "2Gi")}
	in := func(task Task, state TaskState) Task {
		task.State = state
		return task
	}
	for _, tc := range []struct {
		name        string
		tasks       []Task
		wantHeld    corev1.ResourceList
		wantToPlace corev1.ResourceList
		wantInUse   corev1.ResourceList
	}{{
		name:        "a and b start: they take 2 of the 3 CPU",
		tasks:       []Task{in(a, Starting), in(b, Starting), c, f},
		wantHeld:    rl("cpu", "1", "memory", "1Gi"),
		wantToPlace: rl("cpu", "3", "memory", "2Gi"),
		wantInUse:   rl("cpu", "2", "memory", "1Gi"),
	}, {
		name:        "a finished, b runs: the CPU a gave back is held again for c",
		tasks:       []Task{in(b, Running), c, f},
		wantHeld:    rl("cpu", "2", "memory", "1Gi"),
		wantToPlace: rl("cpu", "3", "memory", "2Gi"),
		wantInUse:   rl("cpu", "1", "memory", "1Gi"),
	}, {
		name:        "c starts: nothing left to hold but finally's memory",
		tasks:       []Task{in(c, Starting), f},
		wantHeld:    rl("memory", "2Gi"),
		wantToPlace: rl("cpu", "3", "memory", "2Gi"),
		wantInUse:   rl("cpu", "3"),
	}, {
		name:        "finally starts",
		tasks:       []Task{in(f, Starting)},
		wantHeld:    corev1.ResourceList{},
		wantToPlace: rl("memory", "2Gi"),
		wantInUse:   rl("memory", "2Gi"),
	}, {
		name:        "a matrix of three pods of c starts: each counts",
		tasks:       []Task{func() Task { t := in(c, Starting); t.Count = 3; return t }()},
		wantHeld:    corev1.ResourceList{},
		wantToPlace: rl("cpu", "9"),
		wantInUse:   rl("cpu", "9"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.wantHeld, Held(tc.tasks), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Held() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantToPlace, ToPlace(tc.tasks), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("ToPlace() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantInUse, InUse(tc.tasks), quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("InUse() (-want +got):\n%s", d)
			}
		})
	}
}
