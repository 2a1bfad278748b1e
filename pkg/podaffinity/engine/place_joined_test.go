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
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	parent := parentRun("")
	parent.CreationTimestamp = ago(time.Hour)
	failedParent := parentRun("Failed")
	// parentSTS is the parent's placeholder StatefulSet, pinned to node-1,
	// its wait for a node recorded d ago (none when d is 0).
	parentSTS := func(d time.Duration) *appsv1.StatefulSet {
		sts := placeholder.StatefulSet(placeholder.Spec{Name: parentPlaceholder, Run: parent, Image: image, Requests: placeholder.TokenRequests(), PinnedNode: "node-1"})
		sts.CreationTimestamp = ago(time.Hour)
		if d > 0 {
			sts.Annotations = map[string]string{placeholder.WaitingSinceAnnotation: now.Add(-d).Format(time.RFC3339)}
		}
		return sts
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// runs are what the engine's reader of runs finds (readRuns).
		runs     []*v1.PipelineRun
		readRuns bool
		// created is how long ago the child, not started, was created
		// (3h when 0).
		created time.Duration
		want    Placement
	}{{
		name:     "parent placeholder released, parent failed: the child fails",
		objects:  []runtime.Object{readyNode("node-1")},
		runs:     []*v1.PipelineRun{failedParent},
		readRuns: true,
		want:     Placement{Failed: true, Reason: ReasonParentReleased},
	}, {
		name:     "parent placeholder released, parent gone: the child fails",
		objects:  []runtime.Object{readyNode("node-1")},
		readRuns: true,
		want:     Placement{Failed: true, Reason: ReasonParentReleased},
	}, {
		name:     "parent placeholder released, another run of the parent's name: the child fails",
		objects:  []runtime.Object{readyNode("node-1")},
		runs:     []*v1.PipelineRun{func() *v1.PipelineRun { pr := parentRun(""); pr.UID = "another-uid"; return pr }()},
		readRuns: true,
		want:     Placement{Failed: true, Reason: ReasonParentReleased},
	}, {
		name:     "parent placeholder gone, the parent runs: it makes it again; the child waits, checked again",
		objects:  []runtime.Object{readyNode("node-1")},
		runs:     []*v1.PipelineRun{parent},
		readRuns: true,
		created:  time.Minute,
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
	}, {
		name:     "parent placeholder gone for longer than the bound, the parent runs: the child fails",
		objects:  []runtime.Object{readyNode("node-1")},
		runs:     []*v1.PipelineRun{parent},
		readRuns: true,
		want:     Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
	}, {
		name:     "parent placeholder pod missing, its StatefulSet makes it again: wait, bounded, checked again",
		objects:  []runtime.Object{readyNode("node-1"), parentSTS(time.Minute)},
		readRuns: true,
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
	}, {
		name:     "parent placeholder pod missing longer than the bound: the child fails",
		objects:  []runtime.Object{readyNode("node-1"), parentSTS(2 * time.Hour)},
		readRuns: true,
		want:     Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
	}, {
		name:    "parent placeholder pod missing, no reader of runs: bounded from the child's creation",
		objects: []runtime.Object{readyNode("node-1")},
		want:    Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
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
		objects: []runtime.Object{readyNode("node-1"), parentSTS(time.Minute), func() *corev1.Pod {
			p := parentPod("node-1", placeholder.TokenRequests())
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Finalizers = []string{"test"}
			return p
		}()},
		want: Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
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
			child.CreationTimestamp = ago(3 * time.Hour)
			if tc.created > 0 {
				child.CreationTimestamp = ago(tc.created)
			}
			child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: parent.Name, UID: parent.UID, Controller: ptr.To(true)}}
			target := Target{Placeholder: parentPlaceholder, Joined: true}
			e := h.engine(t)
			if tc.readRuns {
				e.PipelineRuns = func(_ context.Context, namespace, name string) (*v1.PipelineRun, error) {
					for _, pr := range tc.runs {
						if pr.Namespace == namespace && pr.Name == name {
							return pr, nil
						}
					}
					return nil, apierrors.NewNotFound(v1.Resource("pipelineruns"), name)
				}
			}
			got, err := e.Place(h.ctx, settings(t, nil), child, target, remaining())
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
