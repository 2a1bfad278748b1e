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
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// The pod conditions and the reason by which the kubelet reports an in-place
// resize (Kubernetes 1.33 on). Spelled out because k8s.io/api names them only
// from v0.33 on, and Tekton v1.9, one of the releases the series is kept
// for, has v0.32.
const (
	podResizePending    corev1.PodConditionType = "PodResizePending"
	podResizeInProgress corev1.PodConditionType = "PodResizeInProgress"
	podReasonInfeasible                         = "Infeasible"
)

// PlaceholderPodAdded reports whether a placeholder pod's add event is worth
// reconciling its runs: not for a pod the StatefulSet controller has just
// created, which the scheduler has not seen yet (no node, no scheduling
// gates, no conditions, not being deleted). The scheduler binds it or marks
// it unschedulable, an update that brings the runs back
// (PlaceholderPodChanged), and a run that waits for its pod to be created
// is checked again after createGrace in any case (Engine.create,
// decideNoPod): that reconcile would decide nothing new. A pod seen first
// with anything more (after a restart of the controller, say) counts, and
// so does an object that is not a pod.
func PlaceholderPodAdded(obj interface{}) bool {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return true
	}
	return p.Spec.NodeName != "" || len(p.Spec.SchedulingGates) > 0 || len(p.Status.Conditions) > 0 || p.DeletionTimestamp != nil
}

// PlaceholderPodChanged reports whether an update of a placeholder pod
// changed what the engine reads of it, so that its runs are worth
// reconciling: its node (binding), its scheduling gates (Kueue admitted
// it), deletion, labels or status (phase,
// conditions, the resources the node reports, the resize's progress). Not a
// change of its spec alone: that is the engine's own resize, and the node's
// answer to it comes as a status change. Nor the node saying that it began
// to apply a resize (resizeBegunOnly): the run waits for it to be applied,
// and was told when to look again if it is not (resizeLimit). Nor a resync
// that changed nothing. Objects that are not pods always count as changed.
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
		(!equality.Semantic.DeepEqual(o.Status, n.Status) && !resizeBegunOnly(o.Status, n.Status))
}

// resizeBegunOnly reports whether the status n differs from o only in that
// the node began to apply a resize: the condition PodResizeInProgress,
// without a reason (an error has one), and the generation the node has
// observed. (Compared through JSON: k8s.io/api names the observed
// generation only from v0.33 on; see podResizeInProgress.)
func resizeBegunOnly(o, n corev1.PodStatus) bool {
	if !resizeBegun(n) || resizeBegun(o) {
		return false
	}
	a, errA := statusBesidesResizeProgress(o)
	b, errB := statusBesidesResizeProgress(n)
	return errA == nil && errB == nil && equality.Semantic.DeepEqual(a, b)
}

// resizeBegun reports whether s has PodResizeInProgress true, without a
// reason.
func resizeBegun(s corev1.PodStatus) bool {
	for _, c := range s.Conditions {
		if c.Type == podResizeInProgress && c.Status == corev1.ConditionTrue && c.Reason == "" {
			return true
		}
	}
	return false
}

// statusBesidesResizeProgress is s as JSON fields, without the condition
// PodResizeInProgress and the observed generation.
func statusBesidesResizeProgress(s corev1.PodStatus) (map[string]interface{}, error) {
	out := s.DeepCopy()
	out.Conditions = nil
	for _, c := range s.Conditions {
		if c.Type != podResizeInProgress {
			out.Conditions = append(out.Conditions, c)
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	fields := map[string]interface{}{}
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	delete(fields, "observedGeneration")
	return fields, nil
}
