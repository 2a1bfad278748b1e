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
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

func limitRange(items ...corev1.LimitRangeItem) *corev1.LimitRange {
	return &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: items}}
}

func TestPodRequestsInNamespace(t *testing.T) {
	twoSteps := &v1.TaskSpec{Steps: []v1.Step{
		{Name: "a"},
		{Name: "b", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}},
	}}
	for _, tc := range []struct {
		name        string
		spec        *v1.TaskSpec
		runSpec     v1.PipelineTaskRunSpec
		limitRanges []*corev1.LimitRange
		want        corev1.ResourceList
	}{{
		name: "no LimitRange: only explicit requests",
		spec: twoSteps,
		want: rl("cpu", "1"),
	}, {
		name: "default request divided by the number of steps fills what a step does not request",
		spec: twoSteps,
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type:           corev1.LimitTypeContainer,
			DefaultRequest: rl("cpu", "500m", "memory", "256Mi"),
		})},
		// a: 250m + 128Mi; b: 1 (explicit) + 128Mi.
		want: rl("cpu", "1250m", "memory", "256Mi"),
	}, {
		name: "the minimum wins over a smaller share of the default",
		spec: twoSteps,
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type:           corev1.LimitTypeContainer,
			DefaultRequest: rl("memory", "100Mi"),
			Min:            rl("memory", "64Mi"),
		})},
		want: rl("cpu", "1", "memory", "128Mi"),
	}, {
		name: "Pod items are not per-container defaults",
		spec: twoSteps,
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypePod,
			Min:  rl("memory", "1Gi"),
		})},
		want: rl("cpu", "1"),
	}, {
		name: "of two LimitRanges the larger default counts",
		spec: &v1.TaskSpec{Steps: []v1.Step{{Name: "only"}}},
		limitRanges: []*corev1.LimitRange{
			limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "100m")}),
			limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "300m")}),
		},
		want: rl("cpu", "300m"),
	}, {
		name:    "a task-level computeResources is explicit: no step defaults, but the init container's",
		spec:    twoSteps,
		runSpec: v1.PipelineTaskRunSpec{ComputeResources: &corev1.ResourceRequirements{Requests: rl("cpu", "2")}},
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypeContainer, DefaultRequest: rl("memory", "1Gi"),
		})},
		want: rl("cpu", "2", "memory", "1Gi"),
	}, {
		name: "Tekton's init containers get the whole default: it wins over smaller steps",
		spec: &v1.TaskSpec{Steps: []v1.Step{
			{Name: "a", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}},
			{Name: "b", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}},
		}},
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "1"),
		})},
		want: rl("cpu", "1"),
	}, {
		name: "a sidecar gets the whole default, not a share",
		spec: &v1.TaskSpec{
			Steps:    []v1.Step{{Name: "a", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "1")}}},
			Sidecars: []v1.Sidecar{{Name: "db"}},
		},
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "500m", "memory", "128Mi"),
		})},
		// a: 1 + 128Mi (its share); db: 500m + 128Mi.
		want: rl("cpu", "1500m", "memory", "256Mi"),
	}, {
		name: "a sidecar with a limit requests its limit, not the default",
		spec: &v1.TaskSpec{
			Steps:    []v1.Step{{Name: "a", ComputeResources: corev1.ResourceRequirements{Requests: rl("cpu", "1", "memory", "1Gi")}}},
			Sidecars: []v1.Sidecar{{Name: "db", ComputeResources: corev1.ResourceRequirements{Limits: rl("cpu", "2")}}},
		},
		limitRanges: []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{
			Type: corev1.LimitTypeContainer, DefaultRequest: rl("cpu", "500m", "memory", "128Mi"),
		})},
		want: rl("cpu", "3", "memory", "1152Mi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := PodRequestsInNamespace(tc.spec, tc.runSpec, tc.limitRanges)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("PodRequestsInNamespace() (-want +got):\n%s", d)
			}
		})
	}
}
