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
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// going reports whether a placeholder pod holds its node no more: it is
// being deleted, preempted or evicted, or has finished.
func going(p *corev1.Pod) bool {
	what, _ := disruption(p)
	return p.DeletionTimestamp != nil || finished(p) || what != ""
}

// finished reports whether the pod's containers will not run again.
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

// disruption says who is taking the pod away and why, as its
// DisruptionTarget condition (or the kubelet's eviction status) says; what
// is "" when nothing is.
func disruption(p *corev1.Pod) (what, detail string) {
	for _, c := range p.Status.Conditions {
		if c.Type != corev1.DisruptionTarget || c.Status != corev1.ConditionTrue {
			continue
		}
		what = "disrupted"
		switch c.Reason {
		case corev1.PodReasonPreemptionByScheduler:
			what = "preempted by a higher-priority pod"
		case corev1.PodReasonTerminationByKubelet:
			what = "evicted by the kubelet"
		case "EvictionByEvictionAPI":
			what = "evicted through the Eviction API"
		case "DeletionByTaintManager":
			what = "deleted for a NoExecute taint it does not tolerate"
		case "DeletionByPodGC":
			what = "deleted by the pod garbage collector"
		}
		detail = c.Reason
		if c.Message != "" {
			detail += ": " + strings.TrimSpace(c.Message)
		}
		return what, detail
	}
	for _, c := range p.Status.Conditions {
		// Kueue marks a pod it stops (its Workload preempted or evicted)
		// before it deletes it.
		if c.Type == kueueTerminationTarget && c.Status == corev1.ConditionTrue {
			detail = c.Reason
			if c.Message != "" {
				detail += ": " + strings.TrimSpace(c.Message)
			}
			return "stopped by Kueue", detail
		}
	}
	if p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted" {
		return "evicted by the kubelet", strings.TrimSpace(p.Status.Message)
	}
	return "", ""
}

// kueueTerminationTarget is the pod condition Kueue sets on a pod it stops.
const kueueTerminationTarget corev1.PodConditionType = "TerminationTarget"
