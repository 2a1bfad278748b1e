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

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	corev1 "k8s.io/api/core/v1"
)

// TestRoomBeside checks what the engine counts of a node's room beside a
// placeholder pod: the node's allocatable less the pod at the larger of
// its spec and what the node reports, and less the unfinished pods on the
// node that are not the run's.
func TestRoomBeside(t *testing.T) {
	node := readyNode("node-1") // cpu=4, memory=16Gi
	// Its spec asks the token, the node still gives it 2 CPU and 16Mi.
	shrinking := shrunk(now.Add(-time.Hour))
	sidecar := corev1.ContainerRestartPolicyAlways
	withInit := requesting(otherPod("init", "node-1"), rl("100m", "1Gi"))
	withInit.Spec.InitContainers = []corev1.Container{
		{Name: "prepare", Resources: corev1.ResourceRequirements{Requests: rl("1", "1Mi")}},
		{Name: "proxy", RestartPolicy: &sidecar, Resources: corev1.ResourceRequirements{Requests: rl("200m", "1Mi")}},
	}
	withOverhead := requesting(otherPod("kata", "node-1"), rl("500m", "1Gi"))
	withOverhead.Spec.Overhead = rl("250m", "1Gi")
	done := requesting(otherPod("done", "node-1"), rl("3", "1Gi"))
	done.Status.Phase = corev1.PodSucceeded
	own := memberPod("build-a-pod", "node-1", corev1.PodRunning, ago(time.Minute))
	own.Spec.Containers = []corev1.Container{{Name: "step", Resources: corev1.ResourceRequirements{Requests: rl("3", "1Gi")}}}

	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
		want corev1.ResourceList
	}{{
		name: "the pod alone: allocatable less what the node still gives it",
		pods: []*corev1.Pod{shrinking},
		want: rl("2", "16368Mi"),
	}, {
		name: "the run's own pods, finished pods and pods on other nodes take nothing",
		pods: []*corev1.Pod{shrinking, own, done, requesting(otherPod("elsewhere", "node-2"), rl("3", "1Gi"))},
		want: rl("2", "16368Mi"),
	}, {
		name: "another pod takes its requests",
		pods: []*corev1.Pod{shrinking, requesting(otherPod("other", "node-1"), rl("1500m", "1Gi"))},
		want: rl("500m", "15344Mi"),
	}, {
		// Containers and sidecar 300m, 1Gi+1Mi; the init container 1 CPU.
		name: "init containers count at their largest, sidecars beside the containers",
		pods: []*corev1.Pod{shrinking, withInit},
		want: rl("1", "15343Mi"),
	}, {
		name: "a pod's overhead counts",
		pods: []*corev1.Pod{shrinking, withOverhead},
		want: rl("1250m", "14320Mi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := roomBeside(node, shrinking, phName(), tc.pods)
			if d := cmp.Diff(tc.want, got, quantityEqual); d != "" {
				t.Errorf("roomBeside() (-want +got):\n%s", d)
			}
		})
	}
	t.Run("a node that reports no allocatable: unknown", func(t *testing.T) {
		bare := readyNode("node-1")
		bare.Status.Allocatable = nil
		if got := roomBeside(bare, shrinking, phName(), []*corev1.Pod{shrinking}); got != nil {
			t.Errorf("roomBeside() = %v, want nil", got)
		}
	})
}

// TestFitsBeside checks whether the run's running and starting tasks fit
// in the room beside its placeholder pod.
func TestFitsBeside(t *testing.T) {
	matrix := demand.Task{Name: "m", Pod: rl("1", "1Gi"), Count: 3, State: demand.Starting}
	for _, tc := range []struct {
		name  string
		room  corev1.ResourceList
		tasks []demand.Task
		want  bool
	}{{
		name:  "unknown room: no",
		tasks: remaining(),
	}, {
		name:  "a and b (3 CPU, 3Gi) in exactly that: yes",
		room:  rl("3", "3Gi"),
		tasks: remaining(),
		want:  true,
	}, {
		name:  "a CPU short: no",
		room:  rl("2999m", "3Gi"),
		tasks: remaining(),
	}, {
		name:  "a resource the node lacks: no",
		room:  corev1.ResourceList{corev1.ResourceCPU: rl("8", "1Mi")[corev1.ResourceCPU]},
		tasks: remaining(),
	}, {
		name:  "a running task counts, a waiting one does not",
		room:  rl("1", "1Gi"),
		tasks: growBack(demand.Running, demand.Waiting),
		want:  true,
	}, {
		name:  "every pod of a matrix counts",
		room:  rl("2", "16Gi"),
		tasks: []demand.Task{matrix},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := world{room: tc.room, tasks: tc.tasks}
			if got := fitsBeside(&w); got != tc.want {
				t.Errorf("fitsBeside() = %t, want %t", got, tc.want)
			}
		})
	}
}
