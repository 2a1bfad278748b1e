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
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// gated holds p back with Kueue's admission gate, as the StatefulSet makes
// the placeholder pod of a run labelled for a LocalQueue.
func gated(p *corev1.Pod) *corev1.Pod {
	p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: placeholder.KueueAdmissionGate}}
	return p
}

// gatedPinned is the gated pod the StatefulSet makes from the template of
// a placeholder pinned to node: its spec carries the pin, no node yet.
func gatedPinned(node string, requests corev1.ResourceList, created metav1.Time) *corev1.Pod {
	p := gated(placeholderPod("", requests, created))
	p.UID = "recreated-pod-uid"
	p.Spec.Affinity = ownSTS(node, requests).Spec.Template.Spec.Affinity
	return p
}

// kueueStopped marks p as Kueue does before it deletes a pod it stops.
func kueueStopped(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
		Type: kueueTerminationTarget, Status: corev1.ConditionTrue, Reason: "Preempted", Message: "Preempted to accommodate a workload",
	})
	return p
}

// awaitingAdmission records on sts that its pod waits for admission since d ago.
func awaitingAdmission(sts *appsv1.StatefulSet, d time.Duration) *appsv1.StatefulSet {
	if sts.Annotations == nil {
		sts.Annotations = map[string]string{}
	}
	sts.Annotations[placeholder.AwaitingAdmissionAnnotation] = now.Add(-d).Format(time.RFC3339)
	return sts
}

// workloadJSON is a Kueue Workload with conditions, as the API server serves it.
func workloadJSON(t *testing.T, conditions ...metav1.Condition) []byte {
	t.Helper()
	var wl kueueWorkload
	wl.Status.Conditions = conditions
	raw, err := json.Marshal(wl)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestPlaceKueue(t *testing.T) {
	token := placeholder.TokenRequests()
	pending := metav1.Condition{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending",
		Message: "couldn't assign flavors to pod set placeholder: insufficient unused quota for cpu in flavor default, 1 more needed"}
	notFound := apierrors.NewNotFound(schema.GroupResource{Group: "kueue.x-k8s.io", Resource: "workloads"}, phName())
	for _, tc := range []struct {
		name    string
		config  map[string]string
		objects []runtime.Object
		// workload is what reading the Workload answers.
		workload    []byte
		workloadErr error
		// localQueue is what reading the run's LocalQueue answers.
		localQueue    []byte
		localQueueErr error
		// pending is what Kueue's visibility API answers for the run's
		// LocalQueue (nil, nil: not served).
		pending     []byte
		pendingErr  error
		want        Placement
		wantMessage []string
		wantActions []string
		wantEvents  []string
		// wantAwaiting is the StatefulSet's AwaitingAdmissionAnnotation afterwards.
		wantAwaiting string
		wantTemplate *template
		wantPod      corev1.ResourceList
	}{{
		name:         "gated, first seen: waits for admission with Kueue's reason, and records since when",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second)))},
		workload:     workloadJSON(t, pending),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"Waiting for admission by Kueue", "LocalQueue " + kueueQueue, "cpu=3", "Workload " + phName(), "pending: couldn't assign flavors", "1 more needed"},
		wantActions:  []string{"patch statefulsets"},
		wantAwaiting: now.Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "gated, pending, Kueue counts the LocalQueue's pending workloads: the count is said",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:     workloadJSON(t, pending),
		localQueue:   []byte(`{"status":{"pendingWorkloads":3,"reservingWorkloads":2,"admittedWorkloads":2}}`),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"pending: couldn't assign flavors", "Kueue counts 3 workloads pending in LocalQueue " + kueueQueue + ", this one included"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "gated, pending, Kueue's visibility API lists it: its position is said, not the count",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:     workloadJSON(t, pending),
		localQueue:   []byte(`{"status":{"pendingWorkloads":3}}`),
		pending:      pendingWorkloadsJSON(2, "other-1", phName(), "other-2"),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"pending: couldn't assign flavors", "1 more needed; position 2 of 3 pending in LocalQueue " + kueueQueue + ", 4 in its ClusterQueue"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "gated, pending, Kueue's visibility API not served: the LocalQueue's count",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:     workloadJSON(t, pending),
		localQueue:   []byte(`{"status":{"pendingWorkloads":3}}`),
		pendingErr:   visibilityGone,
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"pending: couldn't assign flavors", "Kueue counts 3 workloads pending in LocalQueue " + kueueQueue + ", this one included"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "gated, pending, Kueue's visibility API fails: the run says so, no count",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:     workloadJSON(t, pending),
		localQueue:   []byte(`{"status":{"pendingWorkloads":3}}`),
		pendingErr:   visibilityBroken,
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"pending: couldn't assign flavors", "its position in LocalQueue " + kueueQueue + " is unknown: reading the pending workloads", "etcd is sad"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:          "gated, pending, the LocalQueue cannot be read: no count, the rest is said",
		objects:       []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:      workloadJSON(t, pending),
		localQueueErr: apierrors.NewForbidden(schema.GroupResource{Group: "kueue.x-k8s.io", Resource: "localqueues"}, kueueQueue, errors.New("no RBAC")),
		want:          Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:   []string{"pending: couldn't assign flavors"},
		wantAwaiting:  now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate:  reservationFor(),
		wantPod:       peak(),
	}, {
		name:         "gated, quota reserved: no count of pending workloads (this one is not)",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workload:     workloadJSON(t, metav1.Condition{Type: "QuotaReserved", Status: metav1.ConditionTrue, Reason: "QuotaReserved"}),
		localQueue:   []byte(`{"status":{"pendingWorkloads":3}}`),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"quota reserved, waiting for its admission checks"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name: "gated for longer than max-node-wait: still waits, queueing is not a wait for a node",
		config: map[string]string{
			paconfig.MaxNodeWaitKey: "1m",
		},
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(createdAgo(ownSTS("", peak()), time.Hour), time.Hour), gated(placeholderPod("", peak(), ago(time.Hour)))},
		workload:     workloadJSON(t, pending),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"Waiting for admission by Kueue"},
		wantAwaiting: now.Add(-time.Hour).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "no Workload yet: says so",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Minute), gated(placeholderPod("", peak(), ago(time.Minute)))},
		workloadErr:  notFound,
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"Kueue has not made Workload " + phName() + " yet"},
		wantAwaiting: now.Add(-time.Minute).Format(time.RFC3339),
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name: "admitted, not bound yet: the wait for a node starts now",
		config: map[string]string{
			paconfig.MaxNodeWaitKey: "1m",
		},
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(createdAgo(ownSTS("", peak()), time.Hour), time.Hour), placeholderPod("", peak(), ago(time.Hour))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Minute},
		wantMessage:  []string{"is not scheduled yet"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: &template{Requests: peak(), WaitingSince: now.Format(time.RFC3339)},
		wantPod:      peak(),
	}, {
		name:         "admitted and bound: placed, pinned, no record of a wait left",
		objects:      []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Hour), reporting(placeholderPod("node-1", peak(), ago(time.Hour)))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantActions:  []string{"patch statefulsets", "patch pods/resize"},
		wantEvents:   []string{"Normal Placed"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "stopped by Kueue (preempted), terminating: waits for it, the message names Kueue",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			terminating(kueueStopped(reporting(placeholderPod("node-1", token, ago(time.Hour)))), time.Second),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Second},
		wantMessage:  []string{"was stopped by Kueue on node node-1", "Preempted: Preempted to accommodate a workload"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:         "preempted by Kueue, back gated and pinned to its old node, none of the run's pods there: queued again as a whole, for any node",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), gatedPinned("node-1", token, ago(time.Second))},
		want:         Placement{Reason: ReasonWaitingForAdmission},
		wantMessage:  []string{"lost its admission by Kueue and node node-1", "queued again in LocalQueue " + kueueQueue, "cpu=3"},
		wantActions:  []string{"patch statefulsets", "delete pods"},
		wantEvents:   []string{"Warning RequeuedForAdmission"},
		wantTemplate: &template{Requests: peak(), WaitingSince: now.Format(time.RFC3339)},
	}, {
		name: "back gated and pinned while a task of the run runs there: waits for admission there",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), gatedPinned("node-1", token, ago(time.Second)),
			memberPod("build-a-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		workload:     workloadJSON(t, pending),
		want:         Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"to come back to node node-1", "pending:"},
		wantActions:  []string{"patch statefulsets"},
		wantAwaiting: now.Format(time.RFC3339),
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			run := testRun()
			run.Labels[placeholder.KueueQueueLabel] = kueueQueue
			e := h.engine(t)
			e.Workloads = func(_ context.Context, namespace, name string) ([]byte, error) {
				if namespace != ns || name != phName() {
					t.Errorf("read Workload %s/%s, want %s/%s", namespace, name, ns, phName())
				}
				return tc.workload, tc.workloadErr
			}
			e.LocalQueues = func(_ context.Context, namespace, name string) ([]byte, error) {
				if namespace != ns || name != kueueQueue {
					t.Errorf("read LocalQueue %s/%s, want %s/%s", namespace, name, ns, kueueQueue)
				}
				return tc.localQueue, tc.localQueueErr
			}
			positionReads := 0
			e.PendingWorkloads = func(_ context.Context, namespace, queue string) ([]byte, error) {
				positionReads++
				if namespace != ns || queue != kueueQueue {
					t.Errorf("read the pending workloads of %s/%s, want %s/%s", namespace, queue, ns, kueueQueue)
				}
				return tc.pending, tc.pendingErr
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := e.Place(h.ctx, settings(t, tc.config), run, target, remaining())
			if err == nil && !got.Ready && !got.Failed && got.Reason == ReasonWaitingForAdmission && got.Since.IsZero() {
				t.Errorf("Place() = %+v: a wait for admission needs its start", got)
			}
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, message: tc.wantMessage, actions: tc.wantActions,
				events: tc.wantEvents, template: tc.wantTemplate, pod: tc.wantPod,
			})
			var wl kueueWorkload
			if tc.workload != nil {
				if err := json.Unmarshal(tc.workload, &wl); err != nil {
					t.Fatal(err)
				}
			}
			if positionReads > 1 || positionReads > 0 && !pendingWorkload(wl.Status.Conditions) {
				t.Errorf("Place() read the visibility API %d times, want at most once and only while the Workload is pending", positionReads)
			}
			if (tc.localQueue == nil || tc.pending != nil || tc.pendingErr == visibilityBroken) && strings.Contains(got.Message, "workloads pending in LocalQueue") {
				t.Errorf("Place() message %q counts pending workloads it was not given", got.Message)
			}
			if strings.Contains(tc.name, "no count") && strings.Contains(got.Message, "pending in LocalQueue") {
				t.Errorf("Place() message %q has a count, want none", got.Message)
			}
			if sts := h.placeholderSTS(t, phName()); sts != nil {
				if d := cmp.Diff(tc.wantAwaiting, sts.Annotations[placeholder.AwaitingAdmissionAnnotation]); d != "" {
					t.Errorf("AwaitingAdmissionAnnotation (-want +got):\n%s", d)
				}
			}
		})
	}
}

func TestWorkloadMessage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		conditions []metav1.Condition
		want       string
	}{{
		name: "no conditions",
		want: "not evaluated by Kueue yet",
	}, {
		name:       "pending",
		conditions: []metav1.Condition{{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient quota "}},
		want:       "pending: insufficient quota",
	}, {
		name:       "quota reserved, admission checks pending",
		conditions: []metav1.Condition{{Type: "QuotaReserved", Status: metav1.ConditionTrue}},
		want:       "quota reserved, waiting for its admission checks",
	}, {
		name: "admitted",
		conditions: []metav1.Condition{
			{Type: "QuotaReserved", Status: metav1.ConditionTrue},
			{Type: "Admitted", Status: metav1.ConditionTrue},
		},
		want: "admitted; Kueue lifts the scheduling gate next",
	}, {
		name: "evicted and pending again",
		conditions: []metav1.Condition{
			{Type: "Evicted", Status: metav1.ConditionTrue, Reason: "Preempted", Message: "Preempted to accommodate a workload"},
			{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient quota"},
		},
		want: "evicted by Kueue (Preempted: Preempted to accommodate a workload); pending: insufficient quota",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, workloadMessage(tc.conditions)); d != "" {
				t.Errorf("workloadMessage() (-want +got):\n%s", d)
			}
		})
	}
}

func TestPendingText(t *testing.T) {
	for _, tc := range []struct {
		n    int32
		want string
	}{
		{0, ""},
		{-1, ""},
		{1, "; it is the only workload Kueue counts pending in LocalQueue runs"},
		{4, "; Kueue counts 4 workloads pending in LocalQueue runs, this one included"},
	} {
		if d := cmp.Diff(tc.want, pendingText(tc.n, "runs")); d != "" {
			t.Errorf("pendingText(%d) (-want +got):\n%s", tc.n, d)
		}
	}
}

// A run that is not labelled for a queue never reads Workloads.
func TestPlaceWithoutKueueReadsNoWorkload(t *testing.T) {
	h := newHarness(t, readyNode("node-1"), ownSTS("", peak()), placeholderPod("", peak(), ago(time.Second)))
	e := h.engine(t)
	e.Workloads = func(context.Context, string, string) ([]byte, error) {
		t.Error("read a Workload for a run without a queue")
		return nil, nil
	}
	target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	got, err := e.Place(h.ctx, settings(t, nil), testRun(), target, []demand.Task{{Name: "a", Pod: rl("3", "3Gi"), State: demand.Starting}})
	if err != nil || got.Reason != ReasonWaitingForNode {
		t.Errorf("Place() = %+v, %v; want a wait for a node", got, err)
	}
}

// A run without a queue label, given a LocalQueue by the Kueue queue flag
// (Target.Queue, as recorded on it), is admitted through that queue: its
// placeholder is made gated in it, and it waits for admission there.
func TestPlaceKueueDefaultQueue(t *testing.T) {
	pending := metav1.Condition{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient unused quota"}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// labelled labels the run for a queue of its own, which wins.
		labelled    string
		want        Placement
		wantMessage []string
		wantQueue   string
		wantGated   bool
	}{{
		name:        "no placeholder yet: made gated in the default queue",
		objects:     []runtime.Object{readyNode("node-1")},
		want:        Placement{Reason: ReasonWaitingForNode},
		wantQueue:   "runs",
		wantGated:   true,
		wantMessage: []string{},
	}, {
		name:        "gated: waits for admission in the default queue",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second)))},
		want:        Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage: []string{"Waiting for admission by Kueue", "LocalQueue runs", "pending: insufficient unused quota"},
	}, {
		name:        "labelled for a queue of its own: the label wins",
		objects:     []runtime.Object{readyNode("node-1")},
		labelled:    kueueQueue,
		want:        Placement{Reason: ReasonWaitingForNode},
		wantQueue:   kueueQueue,
		wantGated:   true,
		wantMessage: []string{},
	}, {
		name:        "labelled, gated: waits for admission in the label's queue",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second)))},
		labelled:    kueueQueue,
		want:        Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantMessage: []string{"LocalQueue " + kueueQueue},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			run := testRun()
			if tc.labelled != "" {
				run.Labels[placeholder.KueueQueueLabel] = tc.labelled
			}
			e := h.engine(t)
			e.Workloads = func(context.Context, string, string) ([]byte, error) { return workloadJSON(t, pending), nil }
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Queue: "runs"}
			got, err := e.Place(h.ctx, settings(t, nil), run, target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage, cmpopts.IgnoreFields(Placement{}, "Since", "RequeueAfter")); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			for _, want := range tc.wantMessage {
				if !strings.Contains(got.Message, want) {
					t.Errorf("Place() message %q does not contain %q", got.Message, want)
				}
			}
			if tc.wantQueue == "" {
				return
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				t.Fatal("no placeholder StatefulSet made")
			}
			tpl := sts.Spec.Template
			if d := cmp.Diff(tc.wantQueue, tpl.Labels[placeholder.KueueQueueLabel]); d != "" {
				t.Errorf("template queue label (-want +got):\n%s", d)
			}
			if gated := placeholder.AwaitsAdmission(&corev1.Pod{Spec: tpl.Spec}); gated != tc.wantGated {
				t.Errorf("template gated by Kueue = %v, want %v", gated, tc.wantGated)
			}
		})
	}
}
