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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResizeStuck(t *testing.T) {
	now := time.Now()
	condition := func(typ corev1.PodConditionType, reason string, since time.Duration) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-since))}
	}
	running := &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
		// wantRecheck is how soon a run waiting for this pod's shrink is
		// reconciled again without an event (resizeRecheck): when
		// resizeStuck would turn true; 0 when nothing is timed.
		wantRecheck time.Duration
	}{{
		name:        "in progress for a moment: checked again when the limit runs out",
		pod:         reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizeInProgress, "", time.Second))),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "infeasible",
		pod:  reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, podReasonInfeasible, time.Second))),
		want: "PodResizePending (Infeasible)",
	}, {
		name: "pending longer than the limit",
		pod:  reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 2*time.Minute))),
		want: "PodResizePending (Deferred), for 2m0s",
	}, {
		name:        "pending for a while: checked again when the limit runs out",
		pod:         reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 58*time.Second))),
		wantRecheck: 2 * time.Second,
	}, {
		name:        "container not started, pod created a moment ago: checked again when the limit runs out",
		pod:         generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Second))), 2, nil),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "container not started within the limit",
		pod:  generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-90*time.Second))), 2, nil),
		want: "its container has not started in 1m30s",
	}, {
		name: "container running, nothing reported, long ago: nothing pending, nothing timed",
		pod:  generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour))), 2, running),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resizeStuck(tc.pod, now); got != tc.want {
				t.Errorf("resizeStuck() = %q, want %q", got, tc.want)
			}
			if got := resizeRecheck(tc.pod, now); got != tc.wantRecheck {
				t.Errorf("resizeRecheck() = %s, want %s", got, tc.wantRecheck)
			}
		})
	}
}
