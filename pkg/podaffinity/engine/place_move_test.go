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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestPlaceMove checks how Place moves a run off an unusable node, or
// waits until it can (steps 6 to 8 of Place).
func TestPlaceMove(t *testing.T) {
	token := placeholder.TokenRequests()
	runPlace(t, []placeCase{{
		name: "(6) node cordoned with an active TaskRun pod: wait to move",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is cordoned", "build-compile-pod"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(6) node not ready (NoExecute taint) with an active TaskRun pod: wait to move",
		objects: []runtime.Object{
			taintedNode("node-1", corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodPending, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"not ready (node.kubernetes.io/not-ready)"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node cordoned, no active pod there: unpinned with the reservation, pod replaced",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-lint-pod", "node-1", corev1.PodFailed, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		// The StatefulSet controller had not seen the move's template when
		// it recreated the pod: pinned to the node the run left.
		name: "(7) moved, the pod came back from the template before the move, the controller has processed the move since: pod replaced",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(pinnedTo("node-1", placeholderPod("", token, ago(time.Minute), unschedulableCondition(schedulerMessage))), "rev-2"),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		wantMessage:  []string{"replacing placeholder pod", "made from an older template"},
		wantActions:  []string{"delete pods"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name: "(7) moved, the pod from the template before the move bound on the node the run left, the controller has processed the move since: replaced, not pinned back",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(pinnedTo("node-1", reporting(placeholderPod("node-1", token, ago(time.Second)))), "rev-2"),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		wantMessage:  []string{"replacing placeholder pod", "bound to node node-1, which the PipelineRun left", "rev-2", "rev-3"},
		wantActions:  []string{"delete pods"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name: "(7) moved, the pod from the template before the move bound on the node the run left, the controller lags: wait, checked again after a second",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(movedSTS(), 3, 2), "rev-2"),
			fromRevision(pinnedTo("node-1", reporting(placeholderPod("node-1", token, ago(time.Second)))), "rev-2"),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
		wantMessage:  []string{"came back pinned to node node-1, which the PipelineRun left", "has not processed the StatefulSet yet"},
		wantTemplate: waitingReservation(time.Minute),
		wantPod:      token,
	}, {
		name: "bound, pinned where its template pins it, made from an older template (the one before the pin): ready there, nothing written",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(ownSTS("node-1", token), 3, 3), "rev-3"),
			fromRevision(pinnedTo("node-1", reporting(placeholderPod("node-1", token, ago(time.Hour)))), "rev-2"),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "bound, unpinned, made from the template before its pin: ready there, nothing written",
		objects: []runtime.Object{
			readyNode("node-1"), atRevision(generations(ownSTS("node-1", token), 3, 3), "rev-3"),
			fromRevision(reporting(placeholderPod("node-1", token, ago(time.Hour))), "rev-2"),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:     "(6) zone: node cordoned, a TaskRun pod runs on another node of the zone: wait to move, or the run would split",
		topology: zoneKey,
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is cordoned; waiting for build-other-pod to finish in the PipelineRun's topology.kubernetes.io/zone before the PipelineRun moves"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:     "(7) zone: node cordoned, every pod of the run done (a Pending one follows): unpinned with the reservation",
		topology: zoneKey,
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodFailed, ago(time.Hour)),
			memberPod("build-next-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name:     "(6) zone: node gone, a TaskRun pod runs on another node of the zone: wait to move; the gone node's pods do not count",
		topology: zoneKey,
		objects: []runtime.Object{
			readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is gone; waiting for build-other-pod to finish in the PipelineRun's topology.kubernetes.io/zone"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node gone: moves even with pods that were running there",
		objects: []runtime.Object{
			readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is gone"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name:         "(7) pinned node cordoned before the pod came back: unpinned",
		objects:      []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token)},
		want:         waitForNode,
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) node tainted NoSchedule with a taint the run's pods do not tolerate (disk pressure): move",
		objects: []runtime.Object{
			taintedNode("node-1", "node.kubernetes.io/disk-pressure", corev1.TaintEffectNoSchedule), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"tainted node.kubernetes.io/disk-pressure:NoSchedule"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) node being drained by an autoscaler while a task runs there: wait to move",
		objects: []runtime.Object{
			taintedNode("node-1", "karpenter.sh/disrupted", corev1.TaintEffectNoSchedule),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"tainted karpenter.sh/disrupted:NoSchedule", "build-compile-pod"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node tainted with a taint the run's pods tolerate: not a reason to move",
		objects: []runtime.Object{
			taintedNode("node-1", "dedicated", corev1.TaintEffectNoSchedule),
			tolerating(ownSTS("node-1", token), "dedicated"), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node tainted PreferNoSchedule: not a reason to move",
		objects: []runtime.Object{
			taintedNode("node-1", "dedicated", corev1.TaintEffectPreferNoSchedule),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) pinned pod cannot return to its node, no active pod there: unpinned, pod replaced",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector")),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"cannot return to node node-1", "Insufficient cpu"},
		wantActions:  []string{"patch statefulsets", "delete pods"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) pinned pod cannot return to its node while a TaskRun pod runs there: keep waiting",
		objects: []runtime.Object{
			readyNode("node-1"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/1 nodes are available: 1 Insufficient cpu")),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		wantMessage:  []string{"Insufficient cpu"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(8) StatefulSet gone mid-run: recreated on the node of the latest member pod",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-compile-pod", "node-2", corev1.PodRunning, ago(5*time.Minute)),
			memberPod("build-test-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		want:         waitAfterCreate,
		wantMessage:  []string{"Recreated placeholder StatefulSet " + phName() + " on node node-2"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate("node-2"),
		wantEvents:   []string{"Normal PlaceholderRecreated"},
	}, {
		name: "(8) StatefulSet gone, every task started and every pod placed: nothing to recreate",
		objects: []runtime.Object{
			readyNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
		},
		remaining: []demand.Task{},
		want:      Placement{Ready: true},
	}, {
		name: "(8) StatefulSet gone, every task started but a pod waits for the scheduler: recreated",
		objects: []runtime.Object{
			readyNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
			memberPod("build-test-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		remaining:    []demand.Task{},
		want:         waitAfterCreate,
		wantMessage:  []string{"Recreated placeholder StatefulSet " + phName() + " on node node-2"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate("node-2"),
		wantEvents:   []string{"Normal PlaceholderRecreated"},
	}, {
		name: "(8) StatefulSet gone mid-run, member pods' node cordoned: created anew with the reservation",
		objects: []runtime.Object{
			cordonedNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
		},
		want:         waitAfterCreate,
		wantMessage:  []string{"Created placeholder StatefulSet"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   []string{"Normal PlaceholderRecreated"},
	}})
}

// movedSTS is the StatefulSet of a run that left node-1: unpinned, asking
// for the peak again, waiting since a minute ago.
func movedSTS() *appsv1.StatefulSet {
	return waitingSince(ownSTS("", peak()), time.Minute)
}

// atRevision sets the revision the StatefulSet controller computed for
// sts's current template.
func atRevision(sts *appsv1.StatefulSet, rev string) *appsv1.StatefulSet {
	sts.Status.UpdateRevision = rev
	return sts
}

// fromRevision labels p as made from revision rev of its StatefulSet's
// template, as the StatefulSet controller does.
func fromRevision(p *corev1.Pod, rev string) *corev1.Pod {
	if p.Labels == nil {
		p.Labels = map[string]string{}
	}
	p.Labels[appsv1.ControllerRevisionHashLabelKey] = rev
	return p
}

// pinnedTo pins p to node, as a template pinned there does.
func pinnedTo(node string, p *corev1.Pod) *corev1.Pod {
	p.Spec.Affinity = ownSTS(node, placeholder.Requests(&p.Spec)).Spec.Template.Spec.Affinity
	return p
}
