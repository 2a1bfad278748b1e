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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlaceholderHasEveryTasksNodeConstraints(t *testing.T) {
	gpu := corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	spot := corev1.Toleration{Key: "spot", Operator: corev1.TolerationOpExists}
	zoneTerm := func(zone string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{zone}}}}
	}
	archTerm := corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"arm64"}}}}
	nodeAffinity := func(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	}
	for _, tc := range []struct {
		name          string
		template      *pod.PodTemplate
		specs         []v1.PipelineTaskRunSpec
		wantSelector  map[string]string
		wantTolerates []corev1.Toleration
		wantTerms     []corev1.NodeSelectorTerm
		wantErr       string
	}{{
		name:          "the run's template only",
		template:      &pod.PodTemplate{NodeSelector: map[string]string{"pool": "ci"}, Tolerations: []corev1.Toleration{spot}},
		wantSelector:  map[string]string{"pool": "ci"},
		wantTolerates: []corev1.Toleration{spot},
	}, {
		name:         "a task's nodeSelector joins the run's",
		template:     &pod.PodTemplate{NodeSelector: map[string]string{"pool": "ci"}},
		specs:        []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"disk": "ssd"}}}},
		wantSelector: map[string]string{"pool": "ci", "disk": "ssd"},
	}, {
		name:         "a task's nodeSelector alone",
		specs:        []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"e2e-pool": "special"}}}},
		wantSelector: map[string]string{"e2e-pool": "special"},
	}, {
		name:     "two tasks select different values of one label: no node fits both",
		template: &pod.PodTemplate{},
		specs: []v1.PipelineTaskRunSpec{
			{PipelineTaskName: "a", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "x"}}},
			{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "y"}}},
		},
		wantErr: "taskRunSpecs[a].podTemplate selects nodes with pool=x, taskRunSpecs[b].podTemplate selects pool=y",
	}, {
		name:          "tolerations: only those every task has",
		template:      &pod.PodTemplate{Tolerations: []corev1.Toleration{spot, gpu}},
		specs:         []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{Tolerations: []corev1.Toleration{gpu}}}},
		wantTolerates: []corev1.Toleration{gpu},
	}, {
		name:          "a task without its own tolerations inherits the run's",
		template:      &pod.PodTemplate{Tolerations: []corev1.Toleration{spot}},
		specs:         []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"disk": "ssd"}}}},
		wantSelector:  map[string]string{"disk": "ssd"},
		wantTolerates: []corev1.Toleration{spot},
	}, {
		name:      "required node affinity of the run and of a task: ANDed",
		template:  &pod.PodTemplate{Affinity: nodeAffinity(zoneTerm("a"), zoneTerm("b"))},
		specs:     []v1.PipelineTaskRunSpec{{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{Affinity: nodeAffinity(archTerm)}}},
		wantTerms: []corev1.NodeSelectorTerm{{MatchExpressions: append(zoneTerm("a").MatchExpressions, archTerm.MatchExpressions...)}, {MatchExpressions: append(zoneTerm("b").MatchExpressions, archTerm.MatchExpressions...)}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "ns", UID: "uid"}}
			run.Spec.TaskRunTemplate.PodTemplate = tc.template
			run.Spec.TaskRunSpecs = tc.specs
			before := run.DeepCopy()
			err := CheckConstraints(run, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("CheckConstraints() = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckConstraints() = %v", err)
			}
			spec := StatefulSet(Spec{Name: "placeholder-build-0123456789", Run: run, Isolation: selection.IsolationRequired, PinnedNode: "node-1"}).Spec.Template.Spec
			if d := cmp.Diff(tc.wantSelector, spec.NodeSelector); d != "" {
				t.Errorf("nodeSelector (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantTolerates, spec.Tolerations); d != "" {
				t.Errorf("tolerations (-want +got):\n%s", d)
			}
			var terms []corev1.NodeSelectorTerm
			if na := spec.Affinity.NodeAffinity; na != nil && na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
				terms = na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			}
			// Every term also carries the pin, which PinnedNode reads back.
			if got := PinnedNode(&spec, run); got != "node-1" {
				t.Errorf("PinnedNode() = %q, want node-1", got)
			}
			var unpinned []corev1.NodeSelectorTerm
			for _, term := range terms {
				term.MatchFields = term.MatchFields[:len(term.MatchFields)-1]
				if len(term.MatchFields) == 0 {
					term.MatchFields = nil
				}
				unpinned = append(unpinned, term)
			}
			want := tc.wantTerms
			if len(want) == 0 {
				want = []corev1.NodeSelectorTerm{{}}
			}
			if d := cmp.Diff(want, unpinned); d != "" {
				t.Errorf("required node selector terms without the pin (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, run); d != "" {
				t.Errorf("the run was modified (-before +after):\n%s", d)
			}
		})
	}
}
