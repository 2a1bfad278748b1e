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

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestPlace checks how Place creates the placeholder and waits for a node
// (steps 1 to 3 of Place).
func TestPlace(t *testing.T) {
	token := placeholder.TokenRequests()
	runPlace(t, []placeCase{{
		name:         "(1) no StatefulSet: created with the peak demand",
		objects:      []runtime.Object{readyNode("node-1")},
		want:         waitAfterCreate,
		wantMessage:  []string{"Created placeholder StatefulSet " + phName(), "cpu=3, memory=3Gi", "waiting for the scheduler"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   nil, // the first creation: the Placed event that follows says what it requests
	}, {
		name:         "(1) no StatefulSet, reservation none: created with token requests",
		config:       map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects:      []runtime.Object{readyNode("node-1")},
		want:         waitAfterCreate,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate(""),
		wantEvents:   nil, // the first creation: the Placed event that follows says what it requests
	}, {
		name:         "(1) no StatefulSet, nothing left to run: created with the token floor",
		objects:      []runtime.Object{readyNode("node-1")},
		remaining:    []demand.Task{},
		want:         waitAfterCreate,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate(""),
		wantEvents:   nil, // the first creation: the Placed event that follows says what it requests
	}, {
		name:         "StatefulSet without its pod yet: the StatefulSet controller is given a moment",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 2*time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 3 * time.Second},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod past the moment, the pod would be admitted: the StatefulSet controller is nudged (it may be backing off after refusals), asked again",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0", "asked the StatefulSet controller to try again"},
		wantActions:  []string{"create pods (dry run)", "patch statefulsets"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod past the moment, not processed by the StatefulSet controller yet (it lags): no dry run, no nudge, a bounded wait for it",
		objects:      []runtime.Object{readyNode("node-1"), generations(ownSTS("", peak()), 2, 1)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0 (the StatefulSet controller has not processed the StatefulSet yet)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod past the moment, processed by the StatefulSet controller, the pod would be admitted: dry run, nudged",
		objects:      []runtime.Object{readyNode("node-1"), generations(ownSTS("", peak()), 2, 2)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery},
		wantMessage:  []string{"asked the StatefulSet controller to try again"},
		wantActions:  []string{"create pods (dry run)", "patch statefulsets"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod, nudged a moment ago, the pod would be admitted: not nudged again yet",
		objects:      []runtime.Object{readyNode("node-1"), nudgedAgo(ownSTS("", peak()), 4*time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery - 4*time.Second},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod refused by a ResourceQuota: the quota's message, a bounded wait",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute, requested: requests.cpu=3, used: requests.cpu=0, limited: requests.cpu=500m")),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage:  []string{"cannot be created yet", "exceeded quota: compute", "limited: requests.cpu=500m"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod refused by a ResourceQuota for longer than max-node-wait: failed with the quota's message",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute")),
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 1m0s", "exceeded quota: compute"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod forbidden by admission (a policy no retry satisfies): failed at once with the API's message",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New(`admission webhook "deny.example" denied the request`)),
		want:         Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMessage:  []string{"rejects placeholder pod " + phName() + "-0", `denied the request`},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod invalid: failed at once",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, phName()+"-0", nil),
		want:         Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "pinned StatefulSet whose pod is gone (evicted, say), first seen: the wait starts now",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), 3*time.Hour)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
	}, {
		name:         "pinned StatefulSet whose pod cannot come back: the wait counts from when it was first seen gone",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(createdAgo(ownSTS("node-1", token), 3*time.Hour), 10*time.Minute)},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute")),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage:  []string{"exceeded quota"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: waitingToken("node-1", 10*time.Minute),
	}, {
		name:         "placeholder pod terminating on a ready node, first seen: wait for it, the wait for a node starts now",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"Waiting for placeholder pod " + phName() + "-0 to terminate on node node-1"},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
		wantPod:      token,
	}, {
		name: "placeholder pod terminating on a node that stopped working (it never finishes there): deleted at once",
		objects: []runtime.Object{
			notReadyNode("node-1"), readyNode("node-2"),
			waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"did not terminate on node node-1"},
		wantActions:  []string{"delete pods (at once)"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name:         "placeholder pod terminating long past its deadline: deleted at once",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Minute)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantActions:  []string{"delete pods (at once)"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name:         "StatefulSet being deleted: wait for it to go, within max-node-wait from its deletion (see TestPlaceStuckDeleting)",
		objects:      []runtime.Object{readyNode("node-1"), beingDeleted(ownSTS("", peak()))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Hour - time.Second},
		wantMessage:  []string{"is being deleted", "held by finalizer orphan"},
		wantTemplate: reservationFor(),
	}, {
		name:         "(2) unschedulable pod: scheduler message, requeue after the remaining wait",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 10*time.Minute), placeholderPod("", peak(), ago(10*time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(2) unschedulable pod that asks more than any node allocates: said first, still a bounded wait (an autoscaler may add a larger node)",
		objects:      []runtime.Object{readyNode("node-1"), readyNode("node-2"), createdAgo(ownSTS("", rl("6", "1Gi")), 10*time.Minute), placeholderPod("", rl("6", "1Gi"), ago(10*time.Minute), unschedulableCondition("0/2 nodes are available: 2 Insufficient cpu"))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{"asks for more than any node can hold (cpu=6, the largest node allocates 4)", "Insufficient cpu"},
		wantTemplate: &template{Requests: rl("6", "1Gi")},
		wantPod:      rl("6", "1Gi")}, {
		name:         "(2) pending pod without a scheduler verdict",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "15m"},
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 10*time.Minute), placeholderPod("", peak(), ago(10*time.Minute))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 5 * time.Minute},
		wantMessage:  []string{"is not scheduled yet"},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) waited longer than max-node-wait: failed",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "30m"},
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 31*time.Minute), placeholderPod("", peak(), ago(31*time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 31m0s", paconfig.MaxNodeWaitKey + "=30m0s", schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) waited exactly max-node-wait (default 1h): failed",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), time.Hour), placeholderPod("", peak(), ago(time.Hour), unschedulableCondition(schedulerMessage))},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) max-node-wait 0 never fails",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "0"},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), placeholderPod("", peak(), ago(1000*time.Hour), unschedulableCondition(schedulerMessage))},
		want:         waitForNode,
		wantMessage:  []string{schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) the wait counts from the StatefulSet's creation: a recreated placeholder pod does not reset it",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 2*time.Hour), placeholderPod("", peak(), ago(time.Minute), unschedulableCondition("0/1 nodes are available"))},
		runCreated:   &metav1.Time{Time: now.Add(-3 * time.Hour)},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 2h0m0s", "0/1 nodes are available"},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) after a move the wait counts from the move, not from the StatefulSet's creation",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(createdAgo(ownSTS("", peak()), 3*time.Hour), 10*time.Minute), placeholderPod("", peak(), ago(time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{schedulerMessage},
		wantTemplate: waitingReservation(10 * time.Minute),
		wantPod:      peak(),
	}, {
		name:         "(1) no StatefulSet, run created two hours ago and held Pending until now: created, its wait starts now",
		objects:      []runtime.Object{readyNode("node-1")},
		runCreated:   &metav1.Time{Time: now.Add(-2 * time.Hour)},
		want:         waitAfterCreate,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   nil, // the first creation: the Placed event that follows says what it requests
	}, {
		name:        "(1) no StatefulSet, the API server finds it invalid (a run name too long for a label): failed at once",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, phName(), nil),
		want:        Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMessage: []string{"rejects placeholder StatefulSet " + phName()},
		wantActions: []string{"create statefulsets"},
	}, {
		name:        "(1) no StatefulSet, a quota on StatefulSets refuses it: wait with the quota's message",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New("exceeded quota: objects, requested: count/statefulsets.apps=1")),
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage: []string{"exceeded quota: objects"},
		wantActions: []string{"create statefulsets"},
	}, {
		name:         "(1) no StatefulSet, run created a minute ago: created",
		objects:      []runtime.Object{readyNode("node-1")},
		runCreated:   &metav1.Time{Time: now.Add(-time.Minute)},
		want:         waitAfterCreate,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   nil, // the first creation: the Placed event that follows says what it requests
	}})
}

func TestPlacedText(t *testing.T) {
	zoned := readyNode("node-1")
	zoned.Labels = map[string]string{zoneKey: "zone-a"}
	for _, tc := range []struct {
		name     string
		node     *corev1.Node
		topology string
		want     string
	}{
		// The event says what the placeholder requests: its creation
		// records none.
		{name: "one node", node: zoned, want: "All pods of this PipelineRun run on node node-1 (placeholder p requesting cpu=3, memory=3Gi; it waited 1.5s for it)"},
		{name: "a zone: its value", node: zoned, topology: zoneKey, want: "All pods of this PipelineRun run in topology.kubernetes.io/zone=zone-a; placeholder p holds the reservation on node node-1 (requesting cpu=3, memory=3Gi; it waited 1.5s for it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := placedText("node-1", tc.node, tc.topology, "p", peak(), 1500*time.Millisecond)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("placedText() (-want +got):\n%s", d)
			}
		})
	}
}
