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
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
)

// A run labelled for a Kueue LocalQueue (KueueQueueLabel), or given one by
// pipelinerun-pod-affinity-kueue-queue-name (Spec.Queue), is admitted by
// Kueue as a whole: its placeholder pod is the run's Kueue workload, at the
// run's peak demand, held back by Kueue's scheduling gate until Kueue admits
// it. The placeholder carries by itself what Kueue's pod webhook would add
// (the managed label and the gate), so Kueue's plain-Pod integration
// ("pod" framework) manages it without that webhook.
//
// It is a pod group of one (KueuePodGroupLabel) rather than a single pod:
// Kueue matches a single pod's Workload to the pod by the pod's whole
// container spec, so the in-place shrink of a hand-over would make Kueue
// stop the pod; a group's Workload is matched by the role its pods declare
// (kueueRoleHashAnnotation) and their number, so it holds the quota it was
// admitted with, the run's peak, while the placeholder shrinks and grows on
// its node. The Workload is named after the group: the placeholder's name.
//
// The pod has no Kueue finalizer: nothing of the placeholder needs to be
// accounted after it is gone, and a pod kept by a finalizer would keep the
// StatefulSet from making its successor (same name). The Workload is owned
// by the pod and goes with it.
const (
	// KueueQueueLabel names the LocalQueue of the run (on the PipelineRun)
	// and of its placeholder pod.
	KueueQueueLabel = "kueue.x-k8s.io/queue-name"
	// KueuePriorityClassLabel names a Kueue WorkloadPriorityClass; copied
	// from the run to the placeholder pod.
	KueuePriorityClassLabel = "kueue.x-k8s.io/priority-class"
	// KueueManagedLabel marks the pods Kueue's pod integration manages.
	KueueManagedLabel = "kueue.x-k8s.io/managed"
	// KueuePodGroupLabel makes the placeholder pod a Kueue pod group.
	KueuePodGroupLabel = "kueue.x-k8s.io/pod-group-name"
	// KueueAdmissionGate is the scheduling gate Kueue removes on admission.
	KueueAdmissionGate = "kueue.x-k8s.io/admission"

	kueueGroupTotalCountAnnotation = "kueue.x-k8s.io/pod-group-total-count"
	kueueRoleHashAnnotation        = "kueue.x-k8s.io/role-hash"
	// kueueRole is the placeholder's role in its group: a constant, so
	// that the Workload matches the pod whatever its size.
	kueueRole = "placeholder"
)

// KueueQueue returns the Kueue LocalQueue the run is labelled for, or "".
func KueueQueue(run *v1.PipelineRun) string {
	if run == nil {
		return ""
	}
	return run.Labels[KueueQueueLabel]
}

// KueueQueue returns the Kueue LocalQueue the run is admitted through: the
// one it is labelled for, or else s.Queue; "" for none.
func (s Spec) KueueQueue() string {
	if queue := KueueQueue(s.Run); queue != "" {
		return queue
	}
	return s.Queue
}

// KueueWorkloadName returns the name of the Kueue Workload of the
// placeholder StatefulSet called name (its pod group).
func KueueWorkloadName(name string) string { return name }

// AwaitsAdmission reports whether a placeholder pod is held back by Kueue's
// scheduling gate: Kueue has not admitted it yet.
func AwaitsAdmission(p *corev1.Pod) bool {
	if p == nil {
		return false
	}
	for _, g := range p.Spec.SchedulingGates {
		if g.Name == KueueAdmissionGate {
			return true
		}
	}
	return false
}

// kueueTemplate adds to the placeholder pod template of a run admitted
// through a LocalQueue (Spec.KueueQueue) what makes it that run's Kueue
// workload; it does nothing for other runs.
func kueueTemplate(s Spec, tpl *corev1.PodTemplateSpec) {
	queue := s.KueueQueue()
	if queue == "" {
		return
	}
	tpl.Labels[KueueQueueLabel] = queue
	tpl.Labels[KueueManagedLabel] = "true"
	tpl.Labels[KueuePodGroupLabel] = KueueWorkloadName(s.Name)
	if pc := s.Run.Labels[KueuePriorityClassLabel]; pc != "" {
		tpl.Labels[KueuePriorityClassLabel] = pc
	}
	if tpl.Annotations == nil {
		tpl.Annotations = map[string]string{}
	}
	tpl.Annotations[kueueGroupTotalCountAnnotation] = "1"
	tpl.Annotations[kueueRoleHashAnnotation] = kueueRole
	tpl.Spec.SchedulingGates = append(tpl.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: KueueAdmissionGate})
}
