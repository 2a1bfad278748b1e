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
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestWithinLimitRanges(t *testing.T) {
	res := func(kv ...string) corev1.ResourceList {
		out := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return out
	}
	lr := func(items ...corev1.LimitRangeItem) *corev1.LimitRange {
		return &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: items}}
	}
	container := func(min, max corev1.ResourceList) corev1.LimitRangeItem {
		return corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: min, Max: max}
	}
	for _, tc := range []struct {
		name        string
		requests    corev1.ResourceList
		limitRanges []*corev1.LimitRange
		want        corev1.ResourceList
	}{{
		name:     "no LimitRange",
		requests: res("cpu", "1600m", "memory", "1Gi"),
		want:     res("cpu", "1600m", "memory", "1Gi"),
	}, {
		name:        "peak above the container max: reserved up to it",
		requests:    res("cpu", "1600m", "memory", "1Gi"),
		limitRanges: []*corev1.LimitRange{lr(container(nil, res("cpu", "1")))},
		want:        res("cpu", "1", "memory", "1Gi"),
	}, {
		name:        "token below the container min: raised to it",
		requests:    TokenRequests(),
		limitRanges: []*corev1.LimitRange{lr(container(res("cpu", "100m", "memory", "64Mi"), nil))},
		want:        res("cpu", "100m", "memory", "64Mi"),
	}, {
		name:        "a min for a resource the placeholder does not ask for is added (the LimitRanger requires it)",
		requests:    res("cpu", "1"),
		limitRanges: []*corev1.LimitRange{lr(container(res("ephemeral-storage", "1Gi"), nil))},
		want:        res("cpu", "1", "ephemeral-storage", "1Gi"),
	}, {
		name:     "pod max and container max: the smallest wins",
		requests: res("cpu", "4"),
		limitRanges: []*corev1.LimitRange{
			lr(container(nil, res("cpu", "3"))),
			lr(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: res("cpu", "2")}),
		},
		want: res("cpu", "2"),
	}, {
		name:        "PVC limits do not apply",
		requests:    res("cpu", "1"),
		limitRanges: []*corev1.LimitRange{lr(corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Max: res("cpu", "100m")})},
		want:        res("cpu", "1"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.requests.DeepCopy()
			got := WithinLimitRanges(tc.requests, tc.limitRanges)
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })); d != "" {
				t.Errorf("WithinLimitRanges (-want +got):\n%s", d)
			}
			if d := cmp.Diff(in, tc.requests); d != "" {
				t.Errorf("input modified (-before +after):\n%s", d)
			}
		})
	}
}
