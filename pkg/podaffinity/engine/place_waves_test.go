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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestPlaceWaves checks how Place resizes a placeholder pinned to its node
// between waves of a run's tasks: it grows back in place as tasks finish,
// and hands its share over again as the next ones start, by a resize, or by
// a replacement when the node cannot resize it in time or at all (step 9
// of Place).
func TestPlaceWaves(t *testing.T) {
	token := placeholder.TokenRequests()
	runPlace(t, []placeCase{{
		name: "(9) a task finished: the placeholder grows back in place to what the next task needs",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("2", "16Mi"),
		wantEvents:   []string{"Normal ReservationRestored"},
	}, {
		name: "(9) grown back already: nothing to do",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("2", "16Mi"),
	}, {
		name: "(9) the node does not resize in place: never grows by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(9) the API refuses the grow: the pod is kept, no event",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(9) the next task starts: the placeholder hands its share over and the task waits for the node",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   nil,
	}, {
		name: "(9) the node reports the shrink Infeasible (static CPU manager): hand over by replacing the pod, not wait forever",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizePending, Status: corev1.ConditionTrue, Reason: podReasonInfeasible,
				Message: "Resize is infeasible for Guaranteed Pods alongside CPU Manager static policy",
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"cannot resize placeholder pod", "PodResizePending (Infeasible): Resize is infeasible"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) the node has kept the shrink in progress for longer than the limit: hand over by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: ago(2 * time.Minute),
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"PodResizeInProgress, for 2m0s"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) a shrink in progress for a moment: the tasks wait for it, checked again when it would count as stuck (no event marks that moment)",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: ago(5 * time.Second),
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: resizeLimit - 5*time.Second},
		wantMessage:  []string{"waiting for the node to apply it"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		// No condition and no applied size: nothing but the pod's managed
		// fields, which the API server writes when the engine resizes it,
		// says since when the tasks wait.
		name: "(9) the node has neither applied nor marked a shrink asked longer than the limit ago: hand over by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			resizedAt(shrinkNotApplied(), now.Add(-90*time.Second)),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"cannot resize placeholder pod", "its shrink, asked 1m30s ago, is neither applied nor marked pending or in progress by the node", "replacing it with a token pod"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) a shrink asked a moment ago, neither applied nor marked: the tasks wait, checked again when it would count as stuck",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			resizedAt(shrinkNotApplied(), now.Add(-20*time.Second)),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: resizeLimit - 20*time.Second},
		wantMessage:  []string{"waiting for the node to apply it"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		// The tasks started with the shrink: their pods may not fit
		// until the node applies it, which it has not in time.
		name: "(9) the tasks started with a shrink the node has neither applied nor marked in longer than the limit: hand over by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			resizedAt(shrinkNotApplied(), now.Add(-90*time.Second)),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
			memberPod("build-c-pod", "node-1", corev1.PodPending, ago(90*time.Second)),
		},
		remaining:    growBack(-1, demand.Running),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"cannot resize placeholder pod", "its shrink, asked 1m30s ago, is neither applied nor marked pending or in progress by the node", "replacing it with a token pod"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) resources that cannot be resized in place (ephemeral storage) stay as they are while later tasks need them: CPU and memory are handed over",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "1Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining: []demand.Task{
			{Name: "c", After: []string{"a", "b"}, Pod: rl("3", "1Mi"), State: demand.Starting},
			{Name: "d", After: []string{"c"}, Pod: withEphemeral(rl("1", "1Mi"), "1Gi")},
		},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      withEphemeral(token, "1Gi"),
		wantEvents:   nil,
	}, {
		name: "(9) tasks that start need ephemeral storage the placeholder holds, later tasks need none: handed over by replacing the pod with a token pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "1Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining: []demand.Task{
			{Name: "c", After: []string{"a", "b"}, Pod: withEphemeral(rl("3", "1Mi"), "2Gi"), State: demand.Starting},
		},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		// The StatefulSet controller makes the new pod from the template as
		// its informer has it: the pod is deleted once it has seen what the
		// replacement holds (TestReplacementMadeFromObservedTemplate).
		name: "(9) tasks that start need ephemeral storage the placeholder holds, later tasks need some too: first the template asks what they need, the pod is kept",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "3Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    laterEphemeral(),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: controllerRecheck},
		wantMessage:  []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place", "once the StatefulSet controller has seen the template"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: &template{Pinned: "node-1", Requests: withEphemeral(token, "2Gi")},
		wantPod:      withEphemeral(rl("2", "16Mi"), "3Gi"),
	}, {
		name: "(9) ... then, the template asking what they need: the pod is replaced by one that holds it",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", withEphemeral(token, "2Gi")),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "3Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    laterEphemeral(),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place"},
		wantActions:  []string{"delete pods"},
		wantTemplate: &template{Pinned: "node-1", Requests: withEphemeral(token, "2Gi")},
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) a LimitRange's max caps the reservation the placeholder grows back to",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: ns}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")},
			}}}},
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("1500m", "16Mi"),
		wantEvents:   []string{"Normal ReservationRestored"},
	}, {
		// The node has room for d beside what the placeholder holds (2
		// CPU, the spec of the deferred grow) and b: d starts with the
		// shrink, its pod bound at once.
		name: "(9) a grow the node deferred is not waited for when tasks start: shrink below what the node allocated, the task starts with it",
		objects: []runtime.Object{
			// The spec asks 2 CPU, the node still gives the token amount.
			readyNode("node-1"), ownSTS("node-1", token), reportingRequests(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour)), token),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining: append(growBack(demand.Running, demand.Waiting),
			demand.Task{Name: "d", Pod: rl("100m", "1Mi"), State: demand.Starting}),
		want:         Placement{Node: "node-1", Ready: true, RequeueAfter: resizeLimit},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   nil,
	}, {
		name:   "(9) reservation none: the placeholder keeps token requests while tasks finish",
		config: map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}})
}

// shrinkNotApplied is the placeholder pod on node-1 shrunk to the token in
// its spec while the node still gives it 2 CPU and reports conditions.
func shrinkNotApplied(conditions ...corev1.PodCondition) *corev1.Pod {
	p := reportingRequests(placeholderPod("node-1", placeholder.TokenRequests(), ago(time.Hour)), rl("2", "16Mi"))
	p.Status.Conditions = append(p.Status.Conditions, conditions...)
	return p
}

// laterEphemeral is a run whose task c starts needing 1Gi of ephemeral
// storage, and whose task d needs 2Gi after it.
func laterEphemeral() []demand.Task {
	return []demand.Task{
		{Name: "c", After: []string{"a", "b"}, Pod: withEphemeral(rl("1", "1Mi"), "1Gi"), State: demand.Starting},
		{Name: "d", After: []string{"c"}, Pod: withEphemeral(rl("1", "1Mi"), "2Gi")},
	}
}
