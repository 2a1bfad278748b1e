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
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kueueParts is what kueueTemplate adds to a placeholder pod template.
type kueueParts struct {
	Labels      map[string]string
	Annotations map[string]string
	Gates       []corev1.PodSchedulingGate
}

func TestStatefulSetKueue(t *testing.T) {
	const name = "placeholder-build-0123456789"
	base := Labels(name, "build")
	gate := []corev1.PodSchedulingGate{{Name: KueueAdmissionGate}}
	groupAnnotations := merged(autoscalerAnnotations(), map[string]string{
		"kueue.x-k8s.io/pod-group-total-count": "1",
		"kueue.x-k8s.io/role-hash":             "placeholder",
	})
	queuedIn := func(queue string) kueueParts {
		return kueueParts{
			Labels: merged(base, map[string]string{
				KueueQueueLabel:    queue,
				KueueManagedLabel:  "true",
				KueuePodGroupLabel: name,
			}),
			Annotations: groupAnnotations,
			Gates:       gate,
		}
	}
	tests := []struct {
		name   string
		labels map[string]string
		// queue is Spec.Queue: the default queue recorded for the run.
		queue string
		want  kueueParts
	}{{
		name: "no queue label: not a Kueue workload",
		want: kueueParts{Labels: base, Annotations: autoscalerAnnotations()},
	}, {
		name:   "queue label: a gated pod group of one in that queue",
		labels: map[string]string{KueueQueueLabel: "team-a"},
		want: kueueParts{
			Labels: merged(base, map[string]string{
				KueueQueueLabel:    "team-a",
				KueueManagedLabel:  "true",
				KueuePodGroupLabel: name,
			}),
			Annotations: groupAnnotations,
			Gates:       gate,
		},
	}, {
		name:   "priority class label is copied",
		labels: map[string]string{KueueQueueLabel: "team-a", KueuePriorityClassLabel: "high"},
		want: kueueParts{
			Labels: merged(base, map[string]string{
				KueueQueueLabel:         "team-a",
				KueueManagedLabel:       "true",
				KueuePodGroupLabel:      name,
				KueuePriorityClassLabel: "high",
			}),
			Annotations: groupAnnotations,
			Gates:       gate,
		},
	}, {
		name:  "no queue label, a default queue: a gated pod group of one in the default queue",
		queue: "runs",
		want:  queuedIn("runs"),
	}, {
		name:   "queue label and a default queue: the label wins",
		labels: map[string]string{KueueQueueLabel: "team-a"},
		queue:  "runs",
		want:   queuedIn("team-a"),
	}, {
		name:   "default queue with the run's priority class label",
		labels: map[string]string{KueuePriorityClassLabel: "high"},
		queue:  "runs",
		want: kueueParts{
			Labels:      merged(queuedIn("runs").Labels, map[string]string{KueuePriorityClassLabel: "high"}),
			Annotations: groupAnnotations,
			Gates:       gate,
		},
	}, {
		name:   "priority class label alone does nothing",
		labels: map[string]string{KueuePriorityClassLabel: "high"},
		want:   kueueParts{Labels: base, Annotations: autoscalerAnnotations()},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a", UID: "uid", Labels: tc.labels}}
			spec := Spec{Name: name, Run: run, Image: "nop", Queue: tc.queue}
			if got, want := spec.KueueQueue(), tc.want.Labels[KueueQueueLabel]; got != want {
				t.Errorf("Spec.KueueQueue() = %q, want %q", got, want)
			}
			sts := StatefulSet(spec)
			tpl := sts.Spec.Template
			got := kueueParts{Labels: tpl.Labels, Annotations: tpl.Annotations, Gates: tpl.Spec.SchedulingGates}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("template (-want +got):\n%s", diff)
			}
			// The StatefulSet's own labels select the pod; Kueue's are on the pod only.
			if diff := cmp.Diff(base, sts.Labels); diff != "" {
				t.Errorf("StatefulSet labels (-want +got):\n%s", diff)
			}
		})
	}
}

// merged returns the union of a and b (b wins).
func merged(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestAwaitsAdmission(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{name: "no pod", want: false},
		{name: "no gate", pod: &corev1.Pod{}, want: false},
		{name: "another gate", pod: &corev1.Pod{Spec: corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: "example.com/other"}}}}, want: false},
		{name: "Kueue's gate", pod: &corev1.Pod{Spec: corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: "example.com/other"}, {Name: KueueAdmissionGate}}}}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AwaitsAdmission(tc.pod); got != tc.want {
				t.Errorf("AwaitsAdmission() = %v, want %v", got, tc.want)
			}
		})
	}
}
