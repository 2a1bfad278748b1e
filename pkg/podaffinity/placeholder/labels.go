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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// LabelComponent and ComponentName mark every placeholder pod; placeholders
	// repel each other by this label.
	LabelComponent = "app.kubernetes.io/component"
	// ComponentName is the value of LabelComponent on placeholders.
	ComponentName = "pipelinerun-placeholder"
	// LabelInstance carries the placeholder name; TaskRun pods are attracted
	// to the pod that has their placeholder's name here.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelManagedBy makes placeholder pods visible to Tekton's filtered pod informer.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value Tekton uses for LabelManagedBy.
	ManagedByValue = "tekton-pipelines"
	// LabelPipelineRun names the PipelineRun that owns the placeholder, so that
	// events on the placeholder pod re-queue that run.
	LabelPipelineRun = "tekton.dev/pipelineRun"
	// MemberLabelKey is set on every TaskRun, CustomRun and child PipelineRun
	// of a handled run (and so on their pods) to the placeholder name. The pod
	// builder reads it to add the required pod affinity.
	MemberLabelKey = "tekton.dev/pod-affinity-placeholder"
	// LabelTenant carries, on the placeholder pod of a run isolated per
	// tenant, its namespace's value of the tenant label (see isolationTerm).
	LabelTenant = "tekton.dev/pod-affinity-tenant"
	// WaitingSinceAnnotation on a placeholder StatefulSet records, in RFC
	// 3339, when the run's current wait for a node began after a move, so
	// that the wait's bound counts from then. It is removed once placed.
	WaitingSinceAnnotation = "tekton.dev/pod-affinity-waiting-since"
	// ReclaimingAnnotation on a placeholder StatefulSet records, in RFC
	// 3339, since when its pod asks the scheduler again for the room its
	// run needs on its node: the pod the StatefulSet controller had made
	// on its own (after the one before was preempted, evicted or deleted)
	// held only the token amount. It is removed once that room is held
	// again, or the run moves.
	ReclaimingAnnotation = "tekton.dev/pod-affinity-reclaiming"
	// AwaitingAdmissionAnnotation on a placeholder StatefulSet records, in
	// RFC 3339, since when its pod waits for admission by Kueue (see
	// KueueQueue). Once Kueue admits it, the wait for a node starts
	// (WaitingSinceAnnotation): time spent queued is not a wait for a node.
	AwaitingAdmissionAnnotation = "tekton.dev/pod-affinity-awaiting-admission"
	// NudgedAnnotation on a placeholder StatefulSet records, in RFC 3339,
	// when the engine last asked the StatefulSet controller to create the
	// missing placeholder pod now: a write to the StatefulSet has it try
	// at once, instead of after the back-off its refused tries (a quota
	// that was full, say) piled up. See the engine's nudge.
	NudgedAnnotation = "tekton.dev/pod-affinity-nudged"
	// TopologyAnnotationKey is set, next to MemberLabelKey, on every
	// TaskRun, CustomRun and child PipelineRun of a handled run whose pods
	// share a topology wider than a node, to its key (recorded on the run,
	// see selection.Record.Topology). The pod builder reads it as the
	// topology of the pod affinity to the placeholder. Absent: one node.
	// (An annotation: a label key such as topology.kubernetes.io/zone is
	// no valid label value.)
	TopologyAnnotationKey = "tekton.dev/pod-affinity-topology"
	// IsolationAnnotationKey is set, next to MemberLabelKey, on every
	// TaskRun, CustomRun and child PipelineRun of a run whose placeholder
	// requires isolation, to its scope (Scope.String). The pod builder
	// gives the pods of such TaskRuns MemberRepelTerm. Absent: the run's
	// pods repel nothing.
	IsolationAnnotationKey = "tekton.dev/pod-affinity-isolation"
	// HostnameTopologyKey is the topology of "same node".
	HostnameTopologyKey = "kubernetes.io/hostname"
)

// TopologyKey returns the topology key that a recorded topology means:
// HostnameTopologyKey for "".
func TopologyKey(recorded string) string {
	if recorded == "" {
		return HostnameTopologyKey
	}
	return recorded
}

// Labels returns the labels of the placeholder StatefulSet and its pod.
func Labels(name, runName string) map[string]string {
	return map[string]string{
		LabelComponent:   ComponentName,
		LabelInstance:    name,
		LabelManagedBy:   ManagedByValue,
		LabelPipelineRun: runName,
	}
}

// Selector selects exactly the pod of the placeholder called name.
func Selector(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{
		LabelComponent: ComponentName,
		LabelInstance:  name,
	}}
}

// AllPlaceholdersSelector selects the pods of every placeholder.
func AllPlaceholdersSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{LabelComponent: ComponentName}}
}
