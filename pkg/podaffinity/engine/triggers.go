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
	"k8s.io/apimachinery/pkg/api/equality"
)

// PlaceholderPodChanged reports whether an update of a placeholder pod
// changed what the engine reads of it, so that its runs are worth
// reconciling: its node (binding), its scheduling gates (Kueue admitted
// it), deletion, labels or status (phase,
// conditions, the resources the node reports, the resize's progress). Not a
// change of its spec alone: that is the engine's own resize, and the node's
// answer to it comes as a status change. Nor a resync that changed nothing.
// Objects that are not pods always count as changed.
func PlaceholderPodChanged(oldObj, newObj interface{}) bool {
	o, ok1 := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return true
	}
	return o.Spec.NodeName != n.Spec.NodeName ||
		!equality.Semantic.DeepEqual(o.Spec.SchedulingGates, n.Spec.SchedulingGates) ||
		!o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(o.Status, n.Status)
}
