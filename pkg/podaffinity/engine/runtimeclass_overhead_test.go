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
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipeline/dag"
	"github.com/tektoncd/pipeline/pkg/reconciler/pipelinerun/resources"
	taskresources "github.com/tektoncd/pipeline/pkg/reconciler/taskrun/resources"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// classFacts is a run of two tasks, a (1 CPU) then b (2 CPU), before it starts.
func classFacts(t *testing.T) *resources.PipelineRunFacts {
	t.Helper()
	cpu := func(q string) *v1.TaskSpec {
		return &v1.TaskSpec{Steps: []v1.Step{{Name: "run", Image: "busybox", ComputeResources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)},
		}}}}
	}
	tasks := []v1.PipelineTask{{Name: "a"}, {Name: "b", RunAfter: []string{"a"}}}
	graph, err := dag.Build(v1.PipelineTaskList(tasks), v1.PipelineTaskList(tasks).Deps())
	if err != nil {
		t.Fatal(err)
	}
	finalGraph, err := dag.Build(v1.PipelineTaskList(nil), map[string][]string{})
	if err != nil {
		t.Fatal(err)
	}
	return &resources.PipelineRunFacts{
		State: resources.PipelineRunState{
			{PipelineTask: &tasks[0], ResolvedTask: &taskresources.ResolvedTask{TaskSpec: cpu("1")}},
			{PipelineTask: &tasks[1], ResolvedTask: &taskresources.ResolvedTask{TaskSpec: cpu("2")}},
		},
		TasksGraph:      graph,
		FinalTasksGraph: finalGraph,
	}
}

// TestTasksCountRuntimeClassOverhead checks that the tasks the engine
// reserves for pay the overhead of their pods' RuntimeClass, and that a
// failed read of one is an error.
func TestTasksCountRuntimeClassOverhead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		run     *v1.PipelineRun
		reader  RuntimeClassReader
		want    map[string]string
		wantErr bool
	}{{
		name:   "no class",
		run:    testRun(),
		reader: sandboxClasses,
		want:   map[string]string{"a": "1", "b": "2"},
	}, {
		name:   "the run's class, and b's own",
		run:    withRuntimeClasses(testRun(), "gvisor", map[string]string{"b": "kata"}),
		reader: sandboxClasses,
		want:   map[string]string{"a": "1100m", "b": "2250m"},
	}, {
		name:    "the class cannot be read",
		run:     withRuntimeClasses(testRun(), "kata", nil),
		reader:  fakeRuntimeClasses{err: apierrors.NewInternalError(errors.New("etcd is down"))},
		wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			e := h.engine(t)
			e.RuntimeClasses = tc.reader
			tasks, err := e.Tasks(h.ctx, tc.run, classFacts(t))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Tasks() = %v, want error: %t", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			got := map[string]string{}
			for _, task := range tasks {
				q := task.Pod[corev1.ResourceCPU]
				got[task.Name] = q.String()
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("CPU of each task's pod (-want +got):\n%s", d)
			}
		})
	}
}

// sandboxNode is a ready node labelled sandbox=handler, as sandboxClass
// selects, and tainted sandbox=handler:NoSchedule when tainted.
