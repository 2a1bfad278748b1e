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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPlaceholderPodChanged(t *testing.T) {
	base := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "placeholder-0", Namespace: "ns", ResourceVersion: "1", Labels: map[string]string{"a": "b"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "holder", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	base.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "kueue.x-k8s.io/admission"}}
	for _, tc := range []struct {
		name   string
		change func(*corev1.Pod)
		want   bool
	}{{
		name:   "resync: nothing changed",
		change: func(*corev1.Pod) {},
	}, {
		name: "the engine's own resize: spec only",
		change: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("100m")
		},
	}, {
		name:   "an annotation only",
		change: func(p *corev1.Pod) { p.Annotations = map[string]string{"x": "y"} },
	}, {
		name:   "bound to a node",
		change: func(p *corev1.Pod) { p.Spec.NodeName = "node-1" },
		want:   true,
	}, {
		name:   "running",
		change: func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning },
		want:   true,
	}, {
		name: "unschedulable",
		change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		},
		want: true,
	}, {
		name: "the node applied a resize",
		change: func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "holder", Resources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
			}}}
		},
		want: true,
	}, {
		// Nothing to decide: the run waits for the node to apply the
		// resize, and was told when to look again (resizeLimit).
		name: "the node began to apply a resize",
		change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		},
	}, {
		name: "the node began to apply a resize and something else changed",
		change: func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: podResizeInProgress, Status: corev1.ConditionTrue}}
		},
		want: true,
	}, {
		name: "the node failed to apply a resize",
		change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: podResizeInProgress, Status: corev1.ConditionTrue, Reason: "Error", Message: "failed"}}
		},
		want: true,
	}, {
		name: "the node defers a resize",
		change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: podResizePending, Status: corev1.ConditionTrue, Reason: "Deferred"}}
		},
		want: true,
	}, {
		name:   "admitted by Kueue: its scheduling gate lifted",
		change: func(p *corev1.Pod) { p.Spec.SchedulingGates = nil },
		want:   true,
	}, {
		name:   "deleted",
		change: func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} },
		want:   true,
	}, {
		name:   "relabelled",
		change: func(p *corev1.Pod) { p.Labels = map[string]string{"a": "c"} },
		want:   true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			updated := base.DeepCopy()
			updated.ResourceVersion = "2"
			tc.change(updated)
			if got := PlaceholderPodChanged(base, updated); got != tc.want {
				t.Errorf("PlaceholderPodChanged() = %t, want %t", got, tc.want)
			}
		})
	}
	if !PlaceholderPodChanged("not a pod", base) {
		t.Errorf("PlaceholderPodChanged() of an object that is not a pod = false, want true")
	}
}

func TestPlaceholderPodAdded(t *testing.T) {
	fresh := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "placeholder-0", Namespace: "ns", ResourceVersion: "1"},
			Status:     corev1.PodStatus{Phase: corev1.PodPending},
		}
	}
	for _, tc := range []struct {
		name   string
		change func(*corev1.Pod)
		obj    func(*corev1.Pod) interface{}
		want   bool
	}{{
		name:   "just created by the StatefulSet controller: the scheduler's update brings the runs back",
		change: func(*corev1.Pod) {},
	}, {
		name:   "bound already (seen first after a restart, or the watch caught up late)",
		change: func(p *corev1.Pod) { p.Spec.NodeName = "node-1" },
		want:   true,
	}, {
		name: "marked unschedulable already",
		change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
		},
		want: true,
	}, {
		name: "gated: waits for Kueue, whose admission the engine follows",
		change: func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "kueue.x-k8s.io/admission"}}
		},
		want: true,
	}, {
		name:   "being deleted",
		change: func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} },
		want:   true,
	}, {
		name:   "not a pod",
		change: func(*corev1.Pod) {},
		obj:    func(p *corev1.Pod) interface{} { return p.ObjectMeta },
		want:   true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := fresh()
			tc.change(p)
			var obj interface{} = p
			if tc.obj != nil {
				obj = tc.obj(p)
			}
			if got := PlaceholderPodAdded(obj); got != tc.want {
				t.Errorf("PlaceholderPodAdded() = %t, want %t", got, tc.want)
			}
		})
	}
}
