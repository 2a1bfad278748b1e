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
	"errors"
	"testing"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestPlaceHandOver checks how Place pins the placeholder to its node and
// hands its reservation over to the first tasks that start, and fails on
// a StatefulSet of its name the run does not control (steps 4, 5 and 9 of
// Place; the later waves of tasks: TestPlaceWaves).
func TestPlaceHandOver(t *testing.T) {
	token := placeholder.TokenRequests()
	runPlace(t, []placeCase{{
		name:         "(4) bound with the reservation: pinned, token requests, pod shrunk in place: wait for the node to apply it",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch statefulsets", "patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal Placed"},
	}, {
		// A ResourceQuota recounts a pod only when the resources its node
		// reports change: resized before its container starts, the pod could
		// stay charged at the reservation and the first TaskRun pods be
		// refused for minutes.
		name:         "(4) bound with the reservation, its container not started yet: pinned, not resized until the node starts it",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), placeholderPod("node-1", peak(), ago(10*time.Second))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
		wantMessage:  []string{"waiting for the node to start placeholder pod " + placeholder.PodName(phName())},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
		wantEvents:   []string{"Normal Placed"},
	}, {
		name:         "(4) bound with the reservation, its container not started a minute after the pod's creation: replaced by a token pod",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", peak(), ago(2*time.Minute))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"its container has not started in 2m0s", "replacing it with a token pod"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(5) shrunk in place but the node still reports the reservation: wait",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), func() *corev1.Pod {
			p := placeholderPod("node-1", token, ago(2*time.Minute))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: placeholder.ContainerName, Resources: &corev1.ResourceRequirements{Requests: peak(), Limits: peak()}}}
			return p
		}()},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver},
		wantMessage:  []string{"waiting for the node to apply it"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(5) shrunk in place and applied by the node: ready",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), func() *corev1.Pod {
			p := placeholderPod("node-1", token, ago(2*time.Minute))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: placeholder.ContainerName, Resources: &corev1.ResourceRequirements{Requests: token, Limits: token}}}
			return p
		}()},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:         "(4) bound with the reservation, no in-place resize: pinned, token requests, pod replaced",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch statefulsets", "patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal Placed", "Normal ReservationHandedOver"},
	}, {
		name:         "(4) resize forbidden by RBAC: handled as without in-place resize (and logged as a warning)",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods/resize"}, "p", errors.New("RBAC: access denied")),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name:         "(4) already pinned but the pod still holds the reservation: only the pod is handed over",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name:         "(4) resize conflict: error, pod kept for the next reconcile",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "p", nil),
		wantErr:      true,
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
	}, {
		name:         "(5) bound with token requests and pinned: ready",
		objects:      []runtime.Object{readyNode("node-1"), readyNode("node-2"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:         "(5) reservation none: pinned and ready in one step",
		config:       map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal Placed"},
	}, {
		name: "(9) StatefulSet of the same name not controlled by the run: conflict",
		objects: []runtime.Object{readyNode("node-1"), func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", token)
			sts.OwnerReferences = nil
			return sts
		}(), placeholderPod("node-1", peak(), ago(time.Minute))},
		want:         Placement{Failed: true, Reason: ReasonPlaceholderConflict},
		wantMessage:  []string{"StatefulSet " + ns + "/" + phName() + " exists and is not controlled by this PipelineRun"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
	}, {
		name: "(9) StatefulSet of a previous run with the same name: conflict",
		objects: []runtime.Object{readyNode("node-1"), func() *appsv1.StatefulSet {
			sts := ownSTS("", peak())
			sts.OwnerReferences[0].UID = "previous-run-uid"
			return sts
		}(), placeholderPod("node-1", peak(), ago(time.Minute))},
		want:         Placement{Failed: true, Reason: ReasonPlaceholderConflict},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}})
}
