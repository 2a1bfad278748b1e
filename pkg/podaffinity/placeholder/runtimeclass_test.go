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

package placeholder

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// runtimeClass is a RuntimeClass whose pods run on nodes labelled
// sandbox=<handler> and tainted sandbox=<handler>:NoSchedule.
func runtimeClass(name, handler string) *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Handler:    handler,
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{"sandbox": handler},
			Tolerations:  []corev1.Toleration{sandboxToleration(handler)},
		},
	}
}

func sandboxToleration(handler string) corev1.Toleration {
	return corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: handler, Effect: corev1.TaintEffectNoSchedule}
}

// TestPlaceholderHasItsTasksRuntimeClassScheduling checks that the
// scheduling of the RuntimeClass each pod template of the run names (the
// run's, and each taskRunSpecs entry's merged over it) joins the
// placeholder's node constraints as the API server's RuntimeClass admission
// adds it to the pods: its nodeSelector to theirs, its tolerations to
// theirs. Classes no single node can serve together, or a class that does
// not exist, are reported naming the templates.
func TestPlaceholderHasItsTasksRuntimeClassScheduling(t *testing.T) {
	classes := map[string]*nodev1.RuntimeClass{
		"gvisor":  runtimeClass("gvisor", "runsc"),
		"kata":    runtimeClass("kata", "kata"),
		"kata-fc": runtimeClass("kata-fc", "kata"),
		"plain":   {ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Handler: "runc"},
	}
	spot := corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists}
	withClass := func(name string, tpl *pod.PodTemplate) *pod.PodTemplate {
		if tpl == nil {
			tpl = &pod.PodTemplate{}
		}
		tpl.RuntimeClassName = ptr.To(name)
		return tpl
	}
	for _, tc := range []struct {
		name          string
		template      *pod.PodTemplate
		specs         []v1.PipelineTaskRunSpec
		wantNames     []string
		wantSelector  map[string]string
		wantTolerates []corev1.Toleration
		wantErr       string
	}{{
		name:          "the run's class: its nodeSelector and tolerations join the run's",
		template:      withClass("gvisor", &pod.PodTemplate{NodeSelector: map[string]string{"pool": "ci"}, Tolerations: []corev1.Toleration{spot}}),
		wantNames:     []string{"gvisor"},
		wantSelector:  map[string]string{"pool": "ci", "sandbox": "runsc"},
		wantTolerates: []corev1.Toleration{spot, sandboxToleration("runsc")},
	}, {
		name:         "one task's class: its nodeSelector joins; its toleration only the task's pods have",
		template:     &pod.PodTemplate{},
		specs:        []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: withClass("kata", nil)}},
		wantNames:    []string{"kata"},
		wantSelector: map[string]string{"sandbox": "kata"},
	}, {
		name:          "a task inherits the run's class",
		template:      withClass("kata", nil),
		specs:         []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"disk": "ssd"}}}},
		wantNames:     []string{"kata"},
		wantSelector:  map[string]string{"sandbox": "kata", "disk": "ssd"},
		wantTolerates: []corev1.Toleration{sandboxToleration("kata")},
	}, {
		name:          "two classes with the same scheduling: one node serves both",
		template:      withClass("kata", nil),
		specs:         []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: withClass("kata-fc", nil)}},
		wantNames:     []string{"kata", "kata-fc"},
		wantSelector:  map[string]string{"sandbox": "kata"},
		wantTolerates: []corev1.Toleration{sandboxToleration("kata")},
	}, {
		name:      "a class without scheduling constrains nothing",
		template:  withClass("plain", nil),
		wantNames: []string{"plain"},
	}, {
		name:     "two tasks' classes select different nodes: no node runs both",
		template: &pod.PodTemplate{},
		specs: []v1.PipelineTaskRunSpec{
			{PipelineTaskName: "a", PodTemplate: withClass("gvisor", nil)},
			{PipelineTaskName: "b", PodTemplate: withClass("kata", nil)},
		},
		wantNames: []string{"gvisor", "kata"},
		wantErr:   "taskRunSpecs[a].podTemplate's RuntimeClass gvisor selects nodes with sandbox=runsc, taskRunSpecs[b].podTemplate's RuntimeClass kata selects sandbox=kata",
	}, {
		name:      "the run's class and a task's: no node runs both",
		template:  withClass("gvisor", nil),
		specs:     []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: withClass("kata", nil)}},
		wantNames: []string{"gvisor", "kata"},
		wantErr:   "the run's podTemplate's RuntimeClass gvisor selects nodes with sandbox=runsc, taskRunSpecs[b].podTemplate's RuntimeClass kata selects sandbox=kata",
	}, {
		name:      "a task's nodeSelector and its own class disagree",
		specs:     []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: withClass("kata", &pod.PodTemplate{NodeSelector: map[string]string{"sandbox": "none"}})}},
		wantNames: []string{"kata"},
		wantErr:   "taskRunSpecs[b].podTemplate selects nodes with sandbox=none, its RuntimeClass kata selects sandbox=kata",
	}, {
		name:      "a class that does not exist",
		template:  &pod.PodTemplate{},
		specs:     []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: withClass("wasm", nil)}},
		wantNames: []string{"wasm"},
		wantErr:   `taskRunSpecs[b].podTemplate names RuntimeClass "wasm", which does not exist`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "ns", UID: "uid"}}
			run.Spec.TaskRunTemplate.PodTemplate = tc.template
			run.Spec.TaskRunSpecs = tc.specs
			before := run.DeepCopy()
			if d := cmp.Diff(tc.wantNames, RuntimeClassNames(run)); d != "" {
				t.Errorf("RuntimeClassNames() (-want +got):\n%s", d)
			}
			err := CheckConstraints(run, classes)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckConstraints() = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckConstraints() = %v", err)
			}
			spec := StatefulSet(Spec{Name: "placeholder-build-0123456789", Run: run, Isolation: selection.IsolationRequired, RuntimeClasses: classes}).Spec.Template.Spec
			if d := cmp.Diff(tc.wantSelector, spec.NodeSelector); d != "" {
				t.Errorf("nodeSelector (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantTolerates, spec.Tolerations); d != "" {
				t.Errorf("tolerations (-want +got):\n%s", d)
			}
			if spec.RuntimeClassName != nil {
				t.Errorf("runtimeClassName = %q, want none: the placeholder runs no task", *spec.RuntimeClassName)
			}
			if d := cmp.Diff(before, run); d != "" {
				t.Errorf("the run was modified (-before +after):\n%s", d)
			}
		})
	}
}
