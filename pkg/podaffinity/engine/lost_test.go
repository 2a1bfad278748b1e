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
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// disrupted adds the condition the API server, the scheduler or the
// kubelet sets on a pod they are about to remove.
func disrupted(p *corev1.Pod, reason, message string) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: reason, Message: message,
	})
	return p
}

// evictedByKubelet is p as the kubelet leaves it after a node-pressure
// eviction: failed, not deleted.
func evictedByKubelet(p *corev1.Pod) *corev1.Pod {
	p = disrupted(p, "TerminationByKubelet", "The node was low on resource: memory.")
	p.Status.Phase = corev1.PodFailed
	p.Status.Reason = "Evicted"
	p.Status.Message = "The node was low on resource: memory."
	return p
}

// recreatedPod is the pod the StatefulSet controller makes on its own from
// the template of a placeholder pinned to node: its spec carries the pin.
func recreatedPod(node string, requests corev1.ResourceList, created metav1.Time, conditions ...corev1.PodCondition) *corev1.Pod {
	p := placeholderPod(node, requests, created, conditions...)
	p.UID = "recreated-pod-uid"
	p.Spec.Affinity = ownSTS(node, requests).Spec.Template.Spec.Affinity
	return p
}

// reclaimingSTS is the StatefulSet of a placeholder whose pod came back
// holding less than the run needs, replaced by one that asks for requests
// on node.
func reclaimingSTS(node string, requests corev1.ResourceList, since time.Duration) *appsv1.StatefulSet {
	sts := ownSTS(node, requests)
	sts.Annotations = map[string]string{placeholder.ReclaimingAnnotation: now.Add(-since).Format(time.RFC3339)}
	return sts
}

// TestPlaceLostPlaceholder walks what happens to a placed run whose
// placeholder pod is preempted, evicted or deleted: the pod the StatefulSet
// controller recreates, pinned to the node and token-sized, does not hold
// the room the run's later tasks need, and is not trusted to. It is
// replaced by one that asks the scheduler for that room on the node: bound,
// the run goes on there; refused, the run moves between tasks.
func TestPlaceLostPlaceholder(t *testing.T) {
	token := placeholder.TokenRequests()
	// While b (1 CPU) runs, c (3 CPU) waits: the placeholder holds 2 CPU.
	held := rl("2", "16Mi")
	running := memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute))
	for _, tc := range []struct {
		name        string
		config      map[string]string
		objects     []runtime.Object
		remaining   []demand.Task
		want        Placement
		wantMessage []string
		wantActions []string
		// wantTemplate and wantReclaiming are the placeholder's template
		// and its ReclaimingAnnotation afterwards.
		wantTemplate   *template
		wantReclaiming string
		wantPod        corev1.ResourceList
		wantEvents     []string
	}{{
		name: "placeholder pod preempted, not gone yet: wait for it from now, the message names the preemption",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			disrupted(reporting(placeholderPod("node-1", held, ago(time.Hour))), "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod"),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"was preempted by a higher-priority pod on node node-1", "PreemptionByScheduler"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
		wantPod:      held,
	}, {
		name: "placeholder pod evicted by the Eviction API (a drain), terminating: wait for it from now, the message names the eviction",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			terminating(disrupted(reporting(placeholderPod("node-1", held, ago(time.Hour))), "EvictionByEvictionAPI", "Eviction API: evicting"), time.Second),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"was evicted through the Eviction API on node node-1"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
		wantPod:      held,
	}, {
		name: "placeholder pod evicted by the kubelet (failed, not deleted): deleted at once, not resized, the wait for a node starts now",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			evictedByKubelet(reporting(placeholderPod("node-1", held, ago(time.Hour)))),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"was evicted by the kubelet on node node-1", "low on resource: memory"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingToken("node-1", 0),
	}, {
		// The pod is deleted at the next call, once the StatefulSet
		// controller has seen the template (TestPlaceTokenPodWhileReclaiming,
		// TestReclaimMadeFromObservedTemplate).
		name: "recreated on its own, token-sized, while a task runs and a later one needs more: its template asks for that room on the node, the pod to be replaced from it",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			reporting(recreatedPod("node-1", token, ago(time.Second))),
		},
		remaining:      growBack(demand.Running, demand.Waiting),
		want:           Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
		wantMessage:    []string{"preempted, evicted or deleted", "cpu=2"},
		wantActions:    []string{"patch statefulsets"},
		wantTemplate:   &template{Pinned: "node-1", Requests: held},
		wantReclaiming: now.Format(time.RFC3339),
		wantPod:        token,
		wantEvents:     []string{"Warning PlaceholderLost"},
	}, {
		name: "recreated token-sized while tasks start: the hand-over goes on (the engine's own replacement of the pod looks the same)",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
			reporting(recreatedPod("node-1", token, ago(time.Second))),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "recreated token-sized on a node without in-place resize: kept (the engine replaces the pod at every hand-over there, which looks the same)",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			recreatedPod("node-1", token, ago(time.Second)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:   "recreated token-sized with reservation none: the token is all it ever holds",
		config: map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			reporting(recreatedPod("node-1", token, ago(time.Second))),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "recreated, later tasks need nothing more than the token: kept",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), running,
			reporting(recreatedPod("node-1", token, ago(time.Second))),
		},
		remaining:    []demand.Task{{Name: "b", Pod: rl("1", "1Mi"), State: demand.Running}},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "the replacement got the room on the node: held again, the template back to the token, the mark removed",
		objects: []runtime.Object{
			readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running,
			reporting(recreatedPod("node-1", held, ago(time.Second))),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      held,
		wantEvents:   []string{"Normal ReservationRestored"},
	}, {
		name: "the replacement is not scheduled yet: a wait bounded from its creation",
		objects: []runtime.Object{
			readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running,
			recreatedPod("", held, ago(time.Second)),
		},
		remaining:      growBack(demand.Running, demand.Waiting),
		want:           Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Hour - time.Second},
		wantMessage:    []string{"preempted, evicted or deleted"},
		wantTemplate:   &template{Pinned: "node-1", Requests: held},
		wantReclaiming: now.Add(-5 * time.Second).Format(time.RFC3339),
		wantPod:        held,
	}, {
		name: "the node has no room for the replacement while a task runs there: wait for it, then move",
		objects: []runtime.Object{
			readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running,
			recreatedPod("", held, ago(time.Second), unschedulableCondition("0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector")),
		},
		remaining:      growBack(demand.Running, demand.Waiting),
		want:           Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:    []string{"lost its room on node node-1", "preempted, evicted or deleted", "Insufficient cpu", "build-b-pod"},
		wantTemplate:   &template{Pinned: "node-1", Requests: held},
		wantReclaiming: now.Add(-5 * time.Second).Format(time.RFC3339),
		wantPod:        held,
	}, {
		name: "the node has no room for the replacement and nothing of the run runs there: the run moves with the peak of the tasks not started",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"), reclaimingSTS("node-1", rl("3", "1Mi"), 5*time.Second),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
			recreatedPod("", rl("3", "1Mi"), ago(time.Second), unschedulableCondition("0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector")),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         waitForNode,
		wantMessage:  []string{"lost its room on node node-1", "preempted, evicted or deleted", "Insufficient cpu", "choosing another node"},
		wantActions:  []string{"patch statefulsets", "delete pods"},
		wantTemplate: &template{Requests: rl("3", "16Mi"), WaitingSince: now.Format(time.RFC3339)},
		wantEvents:   []string{"Warning Moving"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := h.engine(t).Place(h.ctx, settings(t, tc.config), testRun(), target, tc.remaining)
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, message: tc.wantMessage, actions: tc.wantActions,
				events: tc.wantEvents, template: tc.wantTemplate, pod: tc.wantPod,
			})
			if sts := h.placeholderSTS(t, phName()); sts != nil {
				if d := cmp.Diff(tc.wantReclaiming, sts.Annotations[placeholder.ReclaimingAnnotation]); d != "" {
					t.Errorf("%s (-want +got):\n%s", placeholder.ReclaimingAnnotation, d)
				}
			}
		})
	}
}

// TestPlaceJoinedLostParent checks that a child run does not start tasks
// on the node of a parent placeholder pod that was evicted.
func TestPlaceJoinedLostParent(t *testing.T) {
	const parent = "placeholder-parent-0123456789"
	p := evictedByKubelet(reporting(placeholderPod("node-1", placeholder.TokenRequests(), ago(time.Hour))))
	p.Name = placeholder.PodName(parent)
	h := newHarness(t, readyNode("node-1"), p)
	child := testRun()
	child.Name = "build-child"
	child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "parent", UID: "parent-uid", Controller: ptr.To(true)}}
	got, err := h.engine(t).Place(h.ctx, settings(t, nil), child, Target{Placeholder: parent, Joined: true}, nil)
	if err != nil {
		t.Fatalf("Place() = %v", err)
	}
	// Its parent cannot be read here: the child waits for the pod to come
	// back, checked again soon.
	if d := cmp.Diff(Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace}, got, ignoreMessage); d != "" {
		t.Errorf("Place() (-want +got):\n%s", d)
	}
}

// TestPlacePriorityClass checks the priority class of the placeholder pod
// that Place creates.
func TestPlacePriorityClass(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config map[string]string
		// runClass is the run's podTemplate priorityClassName.
		runClass string
		want     string
	}{
		{name: "nothing configured: none", want: ""},
		{name: "the run's podTemplate's", runClass: "ci-high", want: "ci-high"},
		{name: "configured: wins over the run's", config: map[string]string{paconfig.PriorityClassKey: "placeholders-low"}, runClass: "ci-high", want: "placeholders-low"},
		{name: "configured, the run has none", config: map[string]string{paconfig.PriorityClassKey: "placeholders-low"}, want: "placeholders-low"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			run := testRun()
			if tc.runClass != "" {
				run.Spec.TaskRunTemplate.PodTemplate = &pod.Template{PriorityClassName: ptr.To(tc.runClass)}
			}
			if _, err := h.engine(t).Place(h.ctx, settings(t, tc.config), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining()); err != nil {
				t.Fatalf("Place() = %v", err)
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				t.Fatal("no placeholder StatefulSet created")
			}
			if d := cmp.Diff(tc.want, sts.Spec.Template.Spec.PriorityClassName); d != "" {
				t.Errorf("priorityClassName (-want +got):\n%s", d)
			}
		})
	}
}

// TestReclaimRoom checks the room a pod that lost it asks for again on its
// node, as lostRoom and reclaimNeeded both count it: what the tasks that
// have not started need beyond what the running ones hold, at least the
// token, within the namespace's LimitRanges.
func TestReclaimRoom(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tasks  []demand.Task
		limits []*corev1.LimitRange
		want   corev1.ResourceList
	}{{
		name:  "a later task needs more than the running one holds: the difference, the token's memory at least",
		tasks: growBack(demand.Running, demand.Waiting),
		want:  rl("2", "16Mi"),
	}, {
		name: "nothing left to run: the token",
		want: placeholder.TokenRequests(),
	}, {
		name:   "a LimitRange max below the room: capped at it",
		tasks:  growBack(demand.Running, demand.Waiting),
		limits: []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Max: rl("1", "1Gi")}}}}},
		want:   rl("1", "16Mi"),
	}, {
		name:   "a LimitRange min above the token: the token raised to it",
		limits: []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: rl("100m", "1Mi")}}}}},
		want:   rl("100m", "16Mi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, reclaimRoom(tc.tasks, placeholder.WithinLimitRanges(placeholder.TokenRequests(), tc.limits), tc.limits), quantityEqual); d != "" {
				t.Errorf("reclaimRoom() (-want +got):\n%s", d)
			}
		})
	}
}
