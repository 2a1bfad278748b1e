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
	corev1 "k8s.io/api/core/v1"
)

// resizable returns want with every resource that cannot be resized in
// place (all but CPU and memory: ephemeral storage, extended resources)
// kept at what the pod has: the API server refuses an in-place resize that
// changes, adds or removes one, and replacing the pod for it at every
// hand-over would only churn.
func resizable(want, have corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range want {
		if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
			out[name] = q.DeepCopy()
		}
	}
	for name, q := range have {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

// resizeInfeasible returns the node's reason for never applying the pod's
// pending resize ("Infeasible" and its message), or "".
func resizeInfeasible(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodResizePending && c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonInfeasible {
			if c.Message != "" {
				return c.Reason + ": " + c.Message
			}
			return c.Reason
		}
	}
	return ""
}
