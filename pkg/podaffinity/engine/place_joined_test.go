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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func TestPlaceJoined(t *testing.T) {
	const parentPlaceholder = "placeholder-parent-0123456789"
	parentPod := func(node string, requests corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: placeholder.PodName(parentPlaceholder), Namespace: ns, Labels: placeholder.Labels(parentPlaceholder, "parent")},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name:      placeholder.ContainerName,
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests},
			}}},
		}
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		want    Placement
	}{{
		name:    "parent placeholder pod missing",
		objects: []runtime.Object{readyNode("node-1")},
		want:    waitForNode,
	}, {
		name:    "parent placeholder pod not scheduled",
		objects: []runtime.Object{readyNode("node-1"), parentPod("", peak())},
		want:    waitForNode,
	}, {
		name:    "parent placeholder shrinking to make room: the node has not applied it yet",
		objects: []runtime.Object{readyNode("node-1"), reportingRequests(parentPod("node-1", placeholder.TokenRequests()), peak())},
		want:    waitForNode,
	}, {
		name:    "parent placeholder grows back but the node deferred it: ready, nothing waits for a grow",
		objects: []runtime.Object{readyNode("node-1"), reportingRequests(parentPod("node-1", peak()), placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name:    "parent placeholder shrunk and applied: ready",
		objects: []runtime.Object{readyNode("node-1"), reporting(parentPod("node-1", placeholder.TokenRequests()))},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name: "parent placeholder pod being deleted",
		objects: []runtime.Object{readyNode("node-1"), func() *corev1.Pod {
			p := parentPod("node-1", placeholder.TokenRequests())
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Finalizers = []string{"test"}
			return p
		}()},
		want: waitForNode,
	}, {
		name:    "parent placed and handed over: ready",
		objects: []runtime.Object{readyNode("node-1"), parentPod("node-1", placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name:    "parent's node cordoned: wait for the parent to move",
		objects: []runtime.Object{cordonedNode("node-1"), parentPod("node-1", placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Reason: ReasonWaitingToMove},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			child := testRun()
			child.Name, child.UID = "build-child", "child-uid"
			target := Target{Placeholder: parentPlaceholder, Joined: true}
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), child, target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if !got.Ready && !strings.Contains(got.Message, parentPlaceholder) && !strings.Contains(got.Message, "parent") {
				t.Errorf("Place().Message = %q, want it to explain the wait for the parent", got.Message)
			}
			if d := cmp.Diff([]string(nil), h.actions()); d != "" {
				t.Errorf("a joined run writes nothing (-want +got):\n%s", d)
			}
		})
	}
}
