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

// Package affinity ties the pods of a handled PipelineRun to its placeholder:
// it builds the required pod affinity term and merges it into a pod.
package affinity

import (
	"fmt"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// Term returns the required pod affinity term that puts a pod on the node of
// the placeholder called placeholderName.
func Term(placeholderName string) corev1.PodAffinityTerm {
	return TermIn(placeholderName, "")
}

// TermIn returns the required pod affinity term that puts a pod where the
// node of the placeholder called placeholderName has the same value of the
// node label topology: in its zone for "topology.kubernetes.io/zone". ""
// is the placeholder's node (Term).
func TermIn(placeholderName, topology string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: placeholder.Selector(placeholderName),
		TopologyKey:   placeholder.TopologyKey(topology),
	}
}

// Merge adds term to the required pod affinity of spec, keeping every term
// already there. It is idempotent: merging twice leaves one copy of the
// term.
func Merge(spec *corev1.PodSpec, term corev1.PodAffinityTerm) {
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.PodAffinity == nil {
		spec.Affinity.PodAffinity = &corev1.PodAffinity{}
	}
	affinity := spec.Affinity.PodAffinity
	affinity.RequiredDuringSchedulingIgnoredDuringExecution = appendOnce(affinity.RequiredDuringSchedulingIgnoredDuringExecution, term)
}

// mergeAnti adds term to the required pod anti-affinity of spec, which has
// an affinity, keeping every term already there, once.
func mergeAnti(spec *corev1.PodSpec, term corev1.PodAffinityTerm) {
	if spec.Affinity.PodAntiAffinity == nil {
		spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
	}
	anti := spec.Affinity.PodAntiAffinity
	anti.RequiredDuringSchedulingIgnoredDuringExecution = appendOnce(anti.RequiredDuringSchedulingIgnoredDuringExecution, term)
}

// appendOnce appends term to terms unless they hold it already.
func appendOnce(terms []corev1.PodAffinityTerm, term corev1.PodAffinityTerm) []corev1.PodAffinityTerm {
	for _, existing := range terms {
		if equality.Semantic.DeepEqual(existing, term) {
			return terms
		}
	}
	return append(terms, term)
}

// NewTransformer returns a Tekton pod transformer (a func(*corev1.Pod)
// (*corev1.Pod, error), assignable to pod.Transformer) for a TaskRun with the
// given labels and annotations. Pods of TaskRuns that carry
// placeholder.MemberLabelKey get the required pod affinity to that
// placeholder, in the topology of placeholder.TopologyAnnotationKey (its
// node when absent), and lose the labels that would queue them in Kueue
// (placeholder.KueueQueueLabel, placeholder.KueuePriorityClassLabel);
// others are left alone. Pods of TaskRuns that also carry
// placeholder.IsolationAnnotationKey get the required pod anti-affinity to
// the placeholders of other runs of that scope (placeholder.MemberRepelTerm),
// so that no other run's placeholder is bound next to them while their own
// is being replaced.
//
// The pod's affinity is deep-copied before it is changed: Tekton's pod
// builder assigns the TaskRun's podTemplate affinity by pointer, and that
// object must not be modified.
func NewTransformer(taskRunLabels, taskRunAnnotations map[string]string) func(*corev1.Pod) (*corev1.Pod, error) {
	name := taskRunLabels[placeholder.MemberLabelKey]
	topology := taskRunAnnotations[placeholder.TopologyAnnotationKey]
	isolation, isolated := taskRunAnnotations[placeholder.IsolationAnnotationKey]
	return func(p *corev1.Pod) (*corev1.Pod, error) {
		if name == "" {
			return p, nil
		}
		p.Spec.Affinity = p.Spec.Affinity.DeepCopy()
		Merge(&p.Spec, TermIn(name, topology))
		if isolated {
			scope, err := placeholder.ParseScope(isolation)
			if err != nil {
				return nil, fmt.Errorf("annotation %s of the TaskRun: %w", placeholder.IsolationAnnotationKey, err)
			}
			mergeAnti(&p.Spec, placeholder.MemberRepelTerm(name, topology, scope))
		}
		// The run's placeholder is its Kueue workload, admitted for the
		// whole run: its pods, which inherit the run's labels, must not be
		// queued again one by one (by Kueue's pod webhook, where installed).
		delete(p.Labels, placeholder.KueueQueueLabel)
		delete(p.Labels, placeholder.KueuePriorityClassLabel)
		return p, nil
	}
}
