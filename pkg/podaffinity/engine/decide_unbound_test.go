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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// TestDecideUnbound checks the step decide takes for a placeholder pod the
// scheduler has not bound, on a usable node if pinned: Kueue's admission,
// the scheduler's verdict, the room a pod lost and asks for again.
func TestDecideUnbound(t *testing.T) {
	token := placeholder.TokenRequests()
	podName := placeholder.PodName(phName())
	runDecide(t, []decideCase{{
		name: "Kueue: gated, first seen: record since when, wait for admission with Kueue's word",
		world: decideWorld(ownSTS("", peak()), gated(placeholderPod("", peak(), ago(time.Second))), queued,
			func(w *world) { w.workload = "pending: insufficient unused quota" }),
		want: stepView{Kind: stepAnnotate, Placement: Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery, Since: now},
			Annotation: placeholder.AwaitingAdmissionAnnotation, Since: now},
		message: []string{"Waiting for admission by Kueue", "LocalQueue " + kueueQueue, "cpu=3", "pending: insufficient unused quota"},
	}, {
		name:  "Kueue took the admission back, none of the run's pods on its node: queued again as a whole, for any node",
		world: decideWorld(ownSTS("node-1", token), gatedPinned("node-1", token, ago(time.Second)), queued, withMembers()),
		want: stepView{Kind: stepMove, Placement: wait(ReasonWaitingForAdmission, 0), Requests: peak(), Since: now, Pod: podName,
			Events: []string{"Warning RequeuedForAdmission"}, Outcome: metrics.OutcomeMoved},
		message: []string{"lost its admission by Kueue and node node-1", "queued again in LocalQueue " + kueueQueue},
	}, {
		name: "Kueue took the admission back while a task pod runs on its node: wait for admission there",
		world: decideWorld(awaitingAdmission(ownSTS("node-1", token), time.Minute), gatedPinned("node-1", token, ago(time.Second)), queued,
			withMembers(running("node-1"))),
		want:    stepView{Kind: stepNone, Placement: Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery, Since: now.Add(-time.Minute)}},
		message: []string{"to come back to node node-1"},
	}, {
		name:    "Kueue: gated, made from the template before a requeue (processed since), past max-node-wait: replaced before any admission, queueing is no wait for a node",
		config:  map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		world:   decideWorld(atRevision(generations(movedSTS(), 3, 3), "rev-3"), fromRevision(gatedPinned("node-1", token, ago(time.Second)), "rev-2"), queued, withMembers()),
		want:    stepView{Kind: stepDelete, Placement: wait(ReasonWaitingForAdmission, 0), Pod: podName},
		message: []string{"replacing placeholder pod " + podName, "made from an older template", "rev-2", "rev-3"},
	}, {
		name:    "Kueue: gated, pinned to the node the run left, the controller lags: no admission decision, checked again after a second",
		world:   decideWorld(atRevision(generations(movedSTS(), 3, 2), "rev-2"), fromRevision(gatedPinned("node-1", token, ago(time.Second)), "rev-2"), queued, withMembers()),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, controllerRecheck)},
		message: []string{"has not processed the StatefulSet yet"},
	}, {
		name:  "Kueue: gated, made from the current template: wait for admission, as ever",
		world: decideWorld(atRevision(generations(awaitingAdmission(movedSTS(), time.Second), 3, 3), "rev-3"), fromRevision(gated(placeholderPod("", peak(), ago(time.Second))), "rev-3"), queued),
		want:  stepView{Kind: stepNone, Placement: Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery, Since: now.Add(-time.Second)}},
	}, {
		name:    "admitted by Kueue, not bound yet: record the admission, the wait for a node starts now",
		world:   decideWorld(awaitingAdmission(createdAgo(ownSTS("", peak()), time.Hour), time.Hour), placeholderPod("", peak(), ago(time.Hour)), queued),
		want:    stepView{Kind: stepNone, Admit: true, Placement: wait(ReasonWaitingForNode, time.Hour)},
		message: []string{"is not scheduled yet"},
	}, {
		name:  "pinned node no longer fits, none of the run's pods there: choose another node",
		world: decideWorld(ownSTS("node-1", token), unschedulablePod(token), withMembers()),
		want: stepView{Kind: stepMove, Placement: wait(ReasonWaitingForNode, 0), Requests: peak(), Since: now, Pod: podName,
			Events: []string{"Warning Moving"}, Outcome: metrics.OutcomeMoved},
		message: []string{"cannot return to node node-1", schedulerMessage},
	}, {
		name:    "pinned node no longer fits while a task pod runs there: wait for the scheduler",
		world:   decideWorld(ownSTS("node-1", token), unschedulablePod(token), withMembers(running("node-1"))),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 59*time.Minute)},
		message: []string{QuoteUnschedulable + schedulerMessage},
	}, {
		name:    "unschedulable, asking more than any node allocates: only a larger node can take the run",
		world:   decideWorld(ownSTS("", rl("8", "1Gi")), unschedulablePod(rl("8", "1Gi")), func(w *world) { w.nodes = []*corev1.Node{readyNode("node-1")} }),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 59*time.Minute)},
		message: []string{"asks for more than any node can hold (cpu=8, the largest node allocates 4)", QuoteScheduler + schedulerMessage},
	}, {
		name:    "unschedulable for longer than max-node-wait: fail",
		config:  map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		world:   decideWorld(ownSTS("", peak()), unschedulablePod(peak())),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{schedulerMessage},
	}, {
		name:    "the pod that asks again for the room it lost, not decided yet: wait, saying why",
		world:   decideWorld(reclaimingSTS("node-1", peak(), 10*time.Second), recreatedPod("", peak(), ago(10*time.Second))),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, time.Hour-10*time.Second)},
		message: []string{"lost its room on node node-1", "is not scheduled yet"},
	}, {
		name: "the room it lost is not to be had while a task pod runs there: wait to move",
		world: decideWorld(reclaimingSTS("node-1", peak(), 10*time.Second), recreatedPod("", peak(), ago(10*time.Second), unschedulableCondition(schedulerMessage)),
			withMembers(running("node-1"))),
		want:    stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove}},
		message: []string{"cannot get it back there", "build-compile-pod"},
	}, {
		name: "the room it lost is not to be had, none of the run's pods there: choose another node",
		world: decideWorld(reclaimingSTS("node-1", peak(), 10*time.Second), recreatedPod("", peak(), ago(10*time.Second), unschedulableCondition(schedulerMessage)),
			withMembers()),
		want: stepView{Kind: stepMove, Placement: wait(ReasonWaitingForNode, 0), Requests: peak(), Since: now, Pod: podName,
			Events: []string{"Warning Moving"}, Outcome: metrics.OutcomeMoved},
		message: []string{"lost its room on node node-1 (" + lostToken + ") and cannot get it back there"},
	}, {
		name: "recreated from the template before the move, which the controller has processed since: replace the pod",
		world: decideWorld(atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(pinnedTo("node-1", unschedulablePod(token)), "rev-2")),
		want:    stepView{Kind: stepDelete, Placement: wait(ReasonWaitingForNode, 59*time.Minute), Pod: podName},
		message: []string{"replacing placeholder pod " + podName, "made from an older template", "rev-2", "rev-3"},
	}, {
		name: "pinned to the node the run left, the controller has not processed the move yet: wait, checked again as long as the pod is old",
		world: decideWorld(atRevision(generations(movedSTS(), 3, 2), "rev-2"),
			fromRevision(pinnedTo("node-1", unschedulablePod(token)), "rev-2")),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"is unschedulable", "the StatefulSet controller has not processed the StatefulSet yet"},
	}, {
		name: "pinned to the node the run left, a second old, the controller lags: checked again after a second",
		world: decideWorld(atRevision(generations(movedSTS(), 3, 2), "rev-2"),
			fromRevision(pinnedTo("node-1", placeholderPod("", token, ago(time.Second))), "rev-2")),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, controllerRecheck)},
		message: []string{"is not scheduled yet", "has not processed the StatefulSet yet"},
	}, {
		name: "made from the current template: the scheduler's verdict, as ever",
		world: decideWorld(atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(unschedulablePod(peak()), "rev-3")),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 59*time.Minute)},
		message: []string{QuoteUnschedulable + schedulerMessage},
	}})
}
