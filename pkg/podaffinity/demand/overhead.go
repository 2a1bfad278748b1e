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
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
)

// Overheads are the pod overheads of RuntimeClasses (their
// overhead.podFixed), by class name. The API server sets a pod's overhead
// from its RuntimeClass, and the scheduler and ResourceQuotas count it with
// the pod's requests: every pod that runs at once pays it.
type Overheads map[string]corev1.ResourceList

// of returns the overhead of a pod built from tpl, or nil.
func (o Overheads) of(tpl *pod.PodTemplate) corev1.ResourceList {
	if tpl == nil || tpl.RuntimeClassName == nil {
		return nil
	}
	return o[*tpl.RuntimeClassName]
}

// plus returns requests with overhead added, in a new list.
func plus(requests, overhead corev1.ResourceList) corev1.ResourceList {
	if len(overhead) == 0 {
		return requests
	}
	out := requests.DeepCopy()
	if out == nil {
		out = corev1.ResourceList{}
	}
	add(out, overhead)
	return out
}
