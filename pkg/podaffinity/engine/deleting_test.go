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
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// heldSTS marks sts as deleted d ago and held by finalizers, as the API
// server keeps a StatefulSet whose finalizers are not all removed.
func heldSTS(sts *appsv1.StatefulSet, d time.Duration, finalizers ...string) *appsv1.StatefulSet {
	sts.DeletionTimestamp = ptr.To(ago(d))
	sts.DeletionGracePeriodSeconds = ptr.To[int64](0)
	sts.Finalizers = finalizers
	return sts
}

// heldPodOf marks p as deleted d ago with grace seconds (its deletion
// timestamp is then d-grace ago), held by finalizers.
func heldPodOf(p *corev1.Pod, d time.Duration, grace int64, finalizers ...string) *corev1.Pod {
	p.DeletionTimestamp = ptr.To(metav1.NewTime(now.Add(-d + time.Duration(grace)*time.Second)))
	p.DeletionGracePeriodSeconds = ptr.To(grace)
	p.Finalizers = finalizers
	return p
}

// startedTasks is a run whose first task runs and whose second waits for it.
func startedTasks() []demand.Task {
	return []demand.Task{
		{Name: "a", Pod: rl("1", "1Gi"), State: demand.Running},
		{Name: "b", After: []string{"a"}, Pod: rl("1", "1Gi")},
	}
}

// TestPlaceStuckDeleting checks that a run whose placeholder StatefulSet,
// or placeholder pod, is being deleted and held by finalizers waits with a
// message that names the object, since when it is being deleted and what
// holds it, and no longer than max-node-wait counted from its deletion:
// then it fails with ReasonPlaceholderStuckDeleting, before or after its
// first tasks started.
func TestPlaceStuckDeleting(t *testing.T) {
	const hold = "example.com/hold"
	token := placeholder.TokenRequests()
	podName := placeholder.PodName(phName())
	sinceMinute := "since 2026-03-14T15:08:26Z"
	deadlineMinute := "fails if it is not gone by 2026-03-14T16:08:26Z (" + paconfig.MaxNodeWaitKey + "=1h0m0s)"
	for _, tc := range []struct {
		name    string
		config  map[string]string
		objects []runtime.Object
		tasks   []demand.Task
		want    Placement
		// message lists substrings of the message; notMessage, ones it must not have.
		message, notMessage []string
		actions             []string
		template            *template
		pod                 corev1.ResourceList
	}{{
		name:     "StatefulSet held by a finalizer for a minute, no task started: a wait that says what holds it, until the bound",
		objects:  []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), time.Minute, hold), placeholderPod("", peak(), ago(time.Minute))},
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		message:  []string{"Placeholder StatefulSet " + phName() + " is being deleted " + sinceMinute + ", held by finalizer " + hold, "a new one is created once it is gone", deadlineMinute},
		template: reservationFor(),
		pod:      peak(),
	}, {
		name:     "StatefulSet held for longer than max-node-wait, no task started: the run fails, naming what holds it",
		objects:  []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), 2*time.Hour, hold, "example.com/other"), placeholderPod("", peak(), ago(3*time.Hour))},
		want:     Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting},
		message:  []string{"Placeholder StatefulSet " + phName() + " is still being deleted 2h0m0s after its deletion at 2026-03-14T13:09:26Z", paconfig.MaxNodeWaitKey + "=1h0m0s", "held by finalizers " + hold + ", example.com/other"},
		template: reservationFor(),
		pod:      peak(),
	}, {
		name:     "StatefulSet held for longer than max-node-wait mid-run: the run fails too",
		objects:  []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("node-1", token), 2*time.Hour, hold), reporting(placeholderPod("node-1", token, ago(3*time.Hour)))},
		tasks:    startedTasks(),
		want:     Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting},
		message:  []string{"held by finalizer " + hold},
		template: tokenTemplate("node-1"),
		pod:      token,
	}, {
		name:       "StatefulSet held, max-node-wait 0: waits for as long as it takes, and says what holds it",
		config:     map[string]string{paconfig.MaxNodeWaitKey: "0"},
		objects:    []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), 2*time.Hour, hold)},
		want:       Placement{Reason: ReasonWaitingForNode},
		message:    []string{"held by finalizer " + hold},
		notMessage: []string{"fails if"},
		template:   reservationFor(),
	}, {
		name: "foreground deletion held by its pod's finalizer: the message names the pod and what holds it",
		objects: []runtime.Object{
			readyNode("node-1"), heldSTS(ownSTS("node-1", token), time.Minute, metav1.FinalizerDeleteDependents),
			heldPodOf(reporting(placeholderPod("node-1", token, ago(time.Hour))), 30*time.Second, 0, hold),
		},
		tasks: startedTasks(),
		want:  Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		message: []string{"held by finalizer foregroundDeletion, which waits for its pod " + podName +
			" to go first: it is being deleted since 2026-03-14T15:08:56Z, held by finalizer " + hold, deadlineMinute},
		template: tokenTemplate("node-1"),
		pod:      token,
	}, {
		name:     "StatefulSet being deleted that nothing holds: gone in a moment, look again",
		objects:  []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), time.Second)},
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Second},
		message:  []string{"Placeholder StatefulSet " + phName() + " is being deleted"},
		template: reservationFor(),
	}, {
		name:     "placed run whose pod was deleted at once a minute ago on a ready node and is held by a finalizer: a wait bounded from the deletion, no second deletion; the wait for a node starts now",
		objects:  []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), heldPodOf(reporting(placeholderPod("node-1", token, ago(time.Hour))), time.Minute, 0, hold)},
		tasks:    startedTasks(),
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		message:  []string{"Placeholder pod " + podName + " is being deleted " + sinceMinute + ", held by finalizer " + hold + "; it was deleted at once on node node-1; the StatefulSet creates it again once it is gone", deadlineMinute},
		actions:  []string{"patch statefulsets"},
		template: waitingToken("node-1", 0),
		pod:      token,
	}, {
		name:     "placed run whose pod has been held for longer than max-node-wait: the run fails, naming the pod and what holds it",
		objects:  []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), heldPodOf(reporting(placeholderPod("node-1", token, ago(3*time.Hour))), 2*time.Hour, 0, hold)},
		tasks:    startedTasks(),
		want:     Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting},
		message:  []string{"Placeholder pod " + podName + " is still being deleted 2h0m0s", "held by finalizer " + hold},
		template: tokenTemplate("node-1"),
		pod:      token,
	}, {
		name:     "placed run whose pod is past its grace period on a ready node: deleted at once, and the wait counts from the deletion; the wait for a node starts now",
		objects:  []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), heldPodOf(reporting(placeholderPod("node-1", token, ago(time.Hour))), time.Minute+30*time.Second, 30, hold)},
		tasks:    startedTasks(),
		want:     Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		message:  []string{"is being deleted since 2026-03-14T15:07:56Z, held by finalizer " + hold + "; it did not terminate on node node-1 and was deleted at once"},
		actions:  []string{"patch statefulsets", "delete pods (at once)"},
		template: waitingToken("node-1", 0),
	}, {
		name:     "run looking for a node for longer than max-node-wait whose pod is held: NodeWaitTimeout, whose last cause names what holds it",
		objects:  []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), 2*time.Hour), heldPodOf(placeholderPod("node-1", peak(), ago(3*time.Hour)), time.Minute, 0, hold)},
		want:     Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		message:  []string{"held by finalizer " + hold},
		template: waitingReservation(2 * time.Hour),
		pod:      peak(),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			tasks := remaining()
			if tc.tasks != nil {
				tasks = tc.tasks
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := h.engine(t).Place(h.ctx, settings(t, tc.config), testRun(), target, tasks)
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, message: tc.message, actions: tc.actions, template: tc.template, pod: tc.pod,
			})
			for _, not := range tc.notMessage {
				if strings.Contains(got.Message, not) {
					t.Errorf("Place().Message = %q, want it without %q", got.Message, not)
				}
			}
		})
	}
}

// TestReleaseStatefulSetHeld checks that releasing a run whose placeholder
// StatefulSet is being deleted, held by finalizers, deletes its pod, which
// would otherwise keep the run's room on the node for as long as they
// hold the StatefulSet; and nothing else.
func TestReleaseStatefulSetHeld(t *testing.T) {
	token := placeholder.TokenRequests()
	owned := func(p *corev1.Pod) *corev1.Pod {
		sts := ownSTS("node-1", token)
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: sts.Name, UID: sts.UID, Controller: ptr.To(true)}}
		return p
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		actions []string
		// pod is what the placeholder pod requests afterwards; nil: gone.
		pod corev1.ResourceList
	}{{
		name:    "its pod still runs: deleted",
		objects: []runtime.Object{heldSTS(ownSTS("node-1", token), time.Minute, "example.com/hold"), owned(reporting(placeholderPod("node-1", token, ago(time.Hour))))},
		actions: []string{"delete pods"},
	}, {
		name:    "its pod is being deleted already: nothing to do",
		objects: []runtime.Object{heldSTS(ownSTS("node-1", token), time.Minute, "example.com/hold"), heldPodOf(owned(placeholderPod("node-1", token, ago(time.Hour))), time.Minute, 0, "example.com/hold")},
		pod:     token,
	}, {
		name:    "a pod of that name the StatefulSet does not control: kept",
		objects: []runtime.Object{heldSTS(ownSTS("node-1", token), time.Minute, "example.com/hold"), reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		pod:     token,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if err := h.engine(t).Release(h.ctx, settings(t, nil), testRun()); err != nil {
				t.Fatalf("Release() = %v", err)
			}
			if d := cmp.Diff(tc.actions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.pod, h.podRequests(t), quantityEqual); d != "" {
				t.Errorf("placeholder pod requests, nil when deleted (-want +got):\n%s", d)
			}
			if h.placeholderSTS(t, phName()) == nil {
				t.Errorf("placeholder StatefulSet was deleted; want it left to its finalizers")
			}
		})
	}
}
