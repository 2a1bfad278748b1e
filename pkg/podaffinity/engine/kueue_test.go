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
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
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
		name: "stopped by Kueue (preempted), terminating: waits for it from now, the message names Kueue",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			terminating(kueueStopped(reporting(placeholderPod("node-1", token, ago(time.Hour)))), time.Second),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"was stopped by Kueue on node node-1", "Preempted: Preempted to accommodate a workload"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
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
		name: "queued again, back gated from the template before that (pinned to the node it lost, the token), which the controller has processed since: replaced, not admitted for the token",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(gatedPinned("node-1", token, ago(time.Second)), "rev-2"),
		},
		want:         Placement{Reason: ReasonWaitingForAdmission},
		wantMessage:  []string{"replacing placeholder pod", "made from an older template"},
		wantActions:  []string{"delete pods"},
		wantTemplate: &template{Requests: peak(), WaitingSince: now.Add(-time.Minute).Format(time.RFC3339)},
	}, {
		name: "queued again, the pod from the template before that admitted for the token and bound on the node it lost: replaced, not Ready there",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(awaitingAdmission(movedSTS(), time.Second), 3, 3), "rev-3"),
			fromRevision(pinnedTo("node-1", reporting(placeholderPod("node-1", token, ago(time.Second)))), "rev-2"),
		},
		want:         Placement{Reason: ReasonWaitingForAdmission},
		wantMessage:  []string{"replacing placeholder pod", "node node-1, which the PipelineRun left"},
		wantActions:  []string{"delete pods"},
		wantAwaiting: now.Add(-time.Second).Format(time.RFC3339),
		wantTemplate: &template{Requests: peak(), WaitingSince: now.Add(-time.Minute).Format(time.RFC3339)},
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
