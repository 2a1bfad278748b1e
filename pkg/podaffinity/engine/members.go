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
	"sort"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// memberPods lists the pods of the run whose placeholder is called name:
// its TaskRun pods and those of its child PipelineRuns.
func (e *Engine) memberPods(namespace, name string) ([]*corev1.Pod, error) {
	return e.Pods.Pods(namespace).List(labels.SelectorFromSet(labels.Set{placeholder.MemberLabelKey: name}))
}

// activeOn names the run's pods, of pods, that have not finished and
// keep it where it is: those on node when the run's pods share one node
// (topology ""); with a wider topology (a zone), those bound to any node,
// which are in the placeholder's zone (their affinity puts them there). A
// run that moved while one of them ran elsewhere in the zone could land in
// another zone and split: it moves only once they are done. When node is
// gone, its own pods keep nothing: they fail with it.
func activeOn(pods []*corev1.Pod, node, topology string, gone bool) []string {
	var active []string
	for _, p := range pods {
		holds := (p.Spec.NodeName == node && !gone) || (wide(topology) && p.Spec.NodeName != "" && p.Spec.NodeName != node)
		if holds && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			active = append(active, p.Name)
		}
	}
	sort.Strings(active)
	return active
}

// memberState is what the engine needs to know of a run's pods at once.
type memberState struct {
	// started: the run has created some pod under its placeholder.
	started bool
	// unbound: some pod of the run waits for the scheduler, and so needs
	// the placeholder to land.
	unbound bool
}

// memberStateOf sums up the run's pods.
func memberStateOf(pods []*corev1.Pod) memberState {
	state := memberState{started: len(pods) > 0}
	for _, p := range pods {
		if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
			state.unbound = true
		}
	}
	return state
}

// latestBound returns the run's most recent pod bound to a node, or nil.
func latestBound(pods []*corev1.Pod) *corev1.Pod {
	var latest *corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			continue
		}
		if latest == nil || p.CreationTimestamp.After(latest.CreationTimestamp.Time) {
			latest = p
		}
	}
	return latest
}
