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
)

func TestShrinking(t *testing.T) {
	withStatus := func(spec, status corev1.ResourceList) *corev1.Pod {
		p := placeholderPod("node-1", spec, ago(time.Minute))
		if status != nil {
			reportingRequests(p, status)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{name: "no container resources reported: nothing to apply", pod: withStatus(peak(), nil), want: false},
		// A real kubelet reports a container's resources only once it has
		// started; until then it holds the pod at the size it admitted it
		// with, whatever the spec says since (seen on a real node).
		{name: "resized before its container started: the node holds the admitted size", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, nil), want: true},
		{name: "never resized, container not started: nothing to apply", pod: generation(withStatus(peak(), nil), 1, nil), want: false},
		{name: "resized, container running, no resources reported: the node does not resize in place", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), want: false},
		{name: "resized, container terminated, no resources reported: nothing is held", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}), want: false},
		{name: "applied", pod: withStatus(peak(), peak()), want: false},
		{name: "shrink not applied yet", pod: withStatus(rl("1", "1Gi"), peak()), want: true},
		{name: "grow deferred by the node", pod: withStatus(peak(), rl("1", "1Gi")), want: false},
		{name: "a resource the node does not report is not waited for", pod: withStatus(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
		}, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shrinking(tc.pod); got != tc.want {
				t.Errorf("shrinking() = %t, want %t", got, tc.want)
			}
		})
	}
}
