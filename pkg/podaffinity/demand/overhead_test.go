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
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// TestFromFactsCountsRuntimeClassOverhead checks that every pod of a task
// pays the overhead (overhead.podFixed) of the RuntimeClass its pod
// template names, as the scheduler and a ResourceQuota count it: once per
// pod of a matrixed task, once per pod of a child pipeline (which runs with
// the run's podTemplate), not for a custom task.
func TestFromFactsCountsRuntimeClassOverhead(t *testing.T) {
	overheads := Overheads{"kata": rl("cpu", "250m"), "gvisor": rl("cpu", "100m")}
	withClass := func(name string) *pod.PodTemplate { return &pod.PodTemplate{RuntimeClassName: ptr.To(name)} }
	for _, tc := range []struct {
		name     string
		run      *v1.PipelineRun
		want     map[string]corev1.ResourceList
		wantPeak corev1.ResourceList
	}{{
		name: "no class: no overhead",
		run:  &v1.PipelineRun{},
		want: map[string]corev1.ResourceList{
			"clone": rl("cpu", "1"), "build": rl("cpu", "2"), "test": rl("cpu", "500m"), "push": rl("cpu", "1"),
			"custom": nil, "child": rl("cpu", "3"), "notify": rl("cpu", "300m"),
		},
		wantPeak: rl("cpu", "8"),
	}, {
		name: "the run's class: every pod pays its overhead",
		run:  &v1.PipelineRun{Spec: v1.PipelineRunSpec{TaskRunTemplate: v1.PipelineTaskRunTemplate{PodTemplate: withClass("kata")}}},
		want: map[string]corev1.ResourceList{
			"clone": rl("cpu", "1250m"), "build": rl("cpu", "2250m"), "test": rl("cpu", "750m"), "push": rl("cpu", "1250m"),
			"custom": nil, "child": rl("cpu", "3500m"), "notify": rl("cpu", "550m"),
		},
		// build 2.25, test 6 x 750m and child (x 2.25 + y 1.25) at once.
		wantPeak: rl("cpu", "10250m"),
	}, {
		name: "a task's own class wins over the run's; the child pipeline keeps the run's",
		run: &v1.PipelineRun{Spec: v1.PipelineRunSpec{
			TaskRunTemplate: v1.PipelineTaskRunTemplate{PodTemplate: withClass("gvisor")},
			TaskRunSpecs:    []v1.PipelineTaskRunSpec{{PipelineTaskName: "test", PodTemplate: withClass("kata")}},
		}},
		want: map[string]corev1.ResourceList{
			"clone": rl("cpu", "1100m"), "build": rl("cpu", "2100m"), "test": rl("cpu", "750m"), "push": rl("cpu", "1100m"),
			"custom": nil, "child": rl("cpu", "3200m"), "notify": rl("cpu", "400m"),
		},
		wantPeak: rl("cpu", "9800m"),
	}, {
		name: "a class without overhead",
		run:  &v1.PipelineRun{Spec: v1.PipelineRunSpec{TaskRunTemplate: v1.PipelineTaskRunTemplate{PodTemplate: withClass("runc")}}},
		want: map[string]corev1.ResourceList{
			"clone": rl("cpu", "1"), "build": rl("cpu", "2"), "test": rl("cpu", "500m"), "push": rl("cpu", "1"),
			"custom": nil, "child": rl("cpu", "3"), "notify": rl("cpu", "300m"),
		},
		wantPeak: rl("cpu", "8"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tasks := FromFacts(tc.run, pipelineFacts(t), nil, overheads)
			got := map[string]corev1.ResourceList{}
			for _, task := range tasks {
				got[task.Name] = task.Pod
			}
			if d := cmp.Diff(tc.want, got, quantityEqual, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("pod requests of FromFacts() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantPeak, Peak(tasks), quantityEqual); d != "" {
				t.Errorf("Peak(FromFacts()) (-want +got):\n%s", d)
			}
		})
	}
}
