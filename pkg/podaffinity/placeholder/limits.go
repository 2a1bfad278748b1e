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
	corev1 "k8s.io/api/core/v1"
)

// WithinLimitRanges returns requests moved into the bounds that the
// namespace's LimitRanges set on a container and on a pod (the placeholder
// is a pod of one container whose limits equal its requests), so that the
// LimitRanger admits the placeholder pod: each resource is raised to the
// largest "min" and lowered to the smallest "max" that applies to it.
//
// A peak above a LimitRange's "max" is then reserved only up to that max:
// each of the run's pods is admitted under the same LimitRange, so the run
// can still run, with less of it reserved. Where a "min" is above a "max"
// the LimitRanges admit no pod at all; the max wins and the API server's
// rejection of the pod says why.
func WithinLimitRanges(requests corev1.ResourceList, limitRanges []*corev1.LimitRange) corev1.ResourceList {
	out := requests.DeepCopy()
	for _, lr := range limitRanges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer && item.Type != corev1.LimitTypePod {
				continue
			}
			for name, least := range item.Min {
				if q, ok := out[name]; !ok || q.Cmp(least) < 0 {
					out[name] = least.DeepCopy()
				}
			}
		}
	}
	for _, lr := range limitRanges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypeContainer && item.Type != corev1.LimitTypePod {
				continue
			}
			for name, most := range item.Max {
				if q, ok := out[name]; ok && q.Cmp(most) > 0 {
					out[name] = most.DeepCopy()
				}
			}
		}
	}
	return out
}
