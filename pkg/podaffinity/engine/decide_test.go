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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestDecide checks the step decide takes in each world, with nothing read
// and nothing written: every case Place tells apart at its top level but
// those of a pod the scheduler has not bound (TestDecideUnbound).
func TestDecide(t *testing.T) {
	token := placeholder.TokenRequests()
	podName := placeholder.PodName(phName())
	goingAway := func(p *corev1.Pod) *corev1.Pod {
		p.DeletionTimestamp = ptr.To(metav1.NewTime(now.Add(20 * time.Second)))
		return p
	}
	stale := testRun()
	stale.DeletionTimestamp = ptr.To(ago(time.Second))
	conflicting := func(w *world) {
		w.run.Spec.TaskRunSpecs = []v1.PipelineTaskRunSpec{
			{PipelineTaskName: "a", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "x"}}},
			{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "y"}}},
		}
	}
	keptByVolume := func(w *world) {
		w.keep = "no other usable node can mount its volumes: claim data is bound to PersistentVolume local-1 (kubernetes.io/hostname in [node-1])"
	}
	heldPod2h := func(p *corev1.Pod) *corev1.Pod {
		p.DeletionTimestamp = ptr.To(ago(2 * time.Hour))
		p.DeletionGracePeriodSeconds = ptr.To[int64](0)
		p.Finalizers = []string{"example.com/hold"}
		return p
	}
	// ready: on node-1, nothing to hand over; startWait: tasks start once
	// the node has started the pod 30 s old, to shrink it (rechecked 30 s
	// from now).
	ready := Placement{Node: "node-1", Ready: true}
	startWait := Placement{Node: "node-1", Reason: ReasonHandingOver}
	foreign := ownSTS("node-1", token)
	foreign.OwnerReferences = nil

	runDecide(t, []decideCase{{
		name: "no StatefulSet, every task started and on its node: nothing to place",
		world: decideWorld(nil, nil, withMembers(running("node-1")), func(w *world) {
			w.tasks = []demand.Task{{Name: "a", Pod: rl("1", "1Gi"), State: demand.Running}}
		}),
		want: stepView{Kind: stepNone, Placement: Placement{Ready: true}},
	}, {
		name:  "no StatefulSet, the cache is behind the API server: carry on with the run as it has it",
		world: decideWorld(nil, nil, func(w *world) { w.stored = stale }),
		want:  stepView{Kind: stepNone, Placement: Placement{Current: stale}},
	}, {
		name:    "no StatefulSet, the tasks' templates ask for nodes no node can be: fail",
		world:   decideWorld(nil, nil, conflicting),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonConflictingNodeConstraints}},
		message: []string{"pool"},
	}, {
		name:  "no StatefulSet: create it with the peak",
		world: decideWorld(nil, nil),
		want:  stepView{Kind: stepCreate, Requests: peak()},
	}, {
		name:  "no StatefulSet mid-run, the run's pods on a usable node: create it pinned there, token-sized",
		world: decideWorld(nil, nil, func(w *world) { w.lastNode = "node-1" }),
		want:  stepView{Kind: stepCreate, Pinned: "node-1", Requests: token},
	}, {
		name:  "no StatefulSet, a LimitRange caps containers at cpu=2: the reservation stays within it",
		world: decideWorld(nil, nil, containerLimits(nil, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")})),
		want:  stepView{Kind: stepCreate, Requests: rl("2", "3Gi")},
	}, {
		name:    "a StatefulSet of the placeholder's name that the run does not control: conflict",
		world:   decideWorld(foreign, nil),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonPlaceholderConflict}},
		message: []string{"is not controlled by this PipelineRun"},
	}, {
		name:    "StatefulSet being deleted, held by a finalizer: wait, bounded from its deletion",
		world:   decideWorld(heldSTS(ownSTS("node-1", token), time.Minute, "example.com/hold"), placeholderPod("node-1", token, ago(time.Hour))),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 59*time.Minute)},
		message: []string{"held by finalizer example.com/hold", "a new one is created once it is gone"},
	}, {
		name:    "StatefulSet held for longer than max-node-wait: fail, naming the finalizer",
		world:   decideWorld(heldSTS(ownSTS("node-1", token), 2*time.Hour, "example.com/hold"), nil),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting}, Outcome: metrics.OutcomeStuckDeleting},
		message: []string{"example.com/hold"},
	}, {
		name:    "pod deleted at once, held by a finalizer for longer than max-node-wait: fail, counted",
		world:   decideWorld(ownSTS("node-1", token), heldPod2h(placeholderPod("node-1", token, ago(3*time.Hour)))),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting}, Outcome: metrics.OutcomeStuckDeleting},
		message: []string{"example.com/hold"},
	}, {
		name:    "node cordoned while a task pod runs there: wait to move",
		world:   decideWorld(ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)), unusableAs("cordoned"), withMembers(running("node-1"))),
		want:    stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove}},
		message: []string{"Node node-1 is cordoned; waiting for build-compile-pod to finish"},
	}, {
		name: "zone: node cordoned while a task pod runs on another node of the zone: wait to move, or the run would split",
		world: decideWorld(ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)), unusableAs("cordoned"), withMembers(running("node-2")),
			func(w *world) { w.t.Topology = zoneKey }),
		want:    stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove}},
		message: []string{"build-compile-pod"},
	}, {
		name:  "node cordoned, none of the run's pods there: unpin, ask for the peak, delete the pod at once",
		world: decideWorld(ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)), unusableAs("cordoned"), withMembers()),
		want: stepView{Kind: stepMove, Placement: wait(ReasonWaitingForNode, 0), Requests: peak(), Since: now, Pod: podName, AtOnce: true,
			Events: []string{"Warning Moving"}, Outcome: metrics.OutcomeMoved},
		message: []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
	}, {
		name:  "node gone with a task pod on it: that pod keeps nothing, move",
		world: decideWorld(ownSTS("node-1", token), nil, unusableAs(nodeGone), withMembers(running("node-1"))),
		want: stepView{Kind: stepMove, Placement: wait(ReasonWaitingForNode, 0), Requests: peak(), Since: now, AtOnce: true,
			Events: []string{"Warning Moving"}, Outcome: metrics.OutcomeMoved},
		message: []string{"Node node-1 is gone"},
	}, {
		name:  "node cordoned, a local volume keeps the run there: record the wait, wait for the node",
		world: decideWorld(ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)), unusableAs("cordoned"), withMembers(), keptByVolume),
		want: stepView{Kind: stepAnnotate, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove, RequeueAfter: time.Hour},
			Annotation: placeholder.WaitingSinceAnnotation, Since: now},
		message: []string{"cannot move to another node", "PersistentVolume local-1", "Waiting for node node-1 to be usable again"},
	}, {
		name: "node cordoned, a local volume keeps the run there, for longer than max-node-wait: fail",
		world: decideWorld(waitingSince(ownSTS("node-1", token), 2*time.Hour), placeholderPod("node-1", token, ago(3*time.Hour)),
			unusableAs("cordoned"), withMembers(), keptByVolume),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{"longer than " + paconfig.MaxNodeWaitKey, "PersistentVolume local-1"},
	}, {
		name:  "no pod, pinned, first seen: record that the wait starts now",
		world: decideWorld(ownSTS("node-1", token), nil),
		want: stepView{Kind: stepAnnotate, Placement: wait(ReasonWaitingForNode, createGrace),
			Annotation: placeholder.WaitingSinceAnnotation, Since: now},
		message: []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod"},
	}, {
		name:  "no pod a moment after the StatefulSet was created: wait for its controller",
		world: decideWorld(createdAgo(ownSTS("", peak()), 2*time.Second), nil),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 3*time.Second)},
	}, {
		name:  "no pod past the moment, the API server not asked why (observed at another time): asked at the next call",
		world: decideWorld(ownSTS("", peak()), nil),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, time.Second)},
	}, {
		name:    "no pod past the moment, the StatefulSet controller has not processed the StatefulSet yet: a bounded wait for it, no dry run asked for",
		world:   decideWorld(generations(ownSTS("", peak()), 2, 1), nil),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + podName + " (the StatefulSet controller has not processed the StatefulSet yet)"},
	}, {
		name:  "pinned pod terminating on a node that stopped working, first seen: delete it at once, the wait for a node starts now",
		world: decideWorld(ownSTS("node-1", token), goingAway(placeholderPod("node-1", token, ago(time.Hour))), func(w *world) { w.oldNodeDown = true }),
		want: stepView{Kind: stepDelete, Placement: wait(ReasonWaitingForNode, terminationSlack), Pod: podName, AtOnce: true,
			Annotation: placeholder.WaitingSinceAnnotation, Since: now},
		message: []string{"did not terminate on node node-1; deleted it at once"},
	}, {
		name:  "pinned pod terminating on a ready node, first seen: wait for it, the wait for a node starts now",
		world: decideWorld(ownSTS("node-1", token), goingAway(placeholderPod("node-1", token, ago(time.Hour)))),
		want: stepView{Kind: stepAnnotate, Placement: wait(ReasonWaitingForNode, terminationSlack),
			Annotation: placeholder.WaitingSinceAnnotation, Since: now},
		message: []string{"Waiting for placeholder pod " + podName + " to terminate on node node-1"},
	}, {
		name:    "pinned pod terminating on a ready node, the wait recorded: bounded from the record",
		world:   decideWorld(waitingSince(ownSTS("node-1", token), time.Hour-time.Second), goingAway(placeholderPod("node-1", token, ago(time.Hour)))),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, time.Second)},
		message: []string{"Waiting for placeholder pod " + podName + " to terminate on node node-1"},
	}, {
		name:    "pinned pod terminating on a ready node, waited past the bound: fail",
		world:   decideWorld(waitingSince(ownSTS("node-1", token), 2*time.Hour), goingAway(placeholderPod("node-1", token, ago(3*time.Hour)))),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{"Waiting for placeholder pod " + podName + " to terminate on node node-1"},
	}, {
		name:  "pinned pod deleted at once, held by a finalizer, first seen: wait bounded from its deletion, the wait for a node starts now",
		world: decideWorld(ownSTS("node-1", token), heldPodOf(placeholderPod("node-1", token, ago(time.Hour)), time.Minute, 0, "example.com/hold")),
		want: stepView{Kind: stepAnnotate, Placement: wait(ReasonWaitingForNode, terminationSlack),
			Annotation: placeholder.WaitingSinceAnnotation, Since: now},
		message: []string{"held by finalizer example.com/hold"},
	}, {
		name:  "bound for the first time: pin it token-sized, say where, then hand over",
		world: decideWorld(ownSTS("", peak()), placeholderPod("node-1", peak(), ago(30*time.Second))),
		want: stepView{Kind: stepPin, Placement: startWait, Write: true, Pinned: "node-1", Requests: token, Events: []string{"Normal Placed"},
			Outcome: metrics.OutcomePlaced, NodeWait: 30 * time.Second, Recheck: 30 * time.Second},
		message: []string{"All pods of this PipelineRun run on node node-1"},
	}, {
		name: "zone: bound for the first time: the event names the zone",
		world: decideWorld(ownSTS("", peak()), placeholderPod("node-1", peak(), ago(30*time.Second)), func(w *world) {
			w.t.Topology, w.nodeObj = zoneKey, inZone(readyNode("node-1"), "zone-a")
		}),
		want: stepView{Kind: stepPin, Placement: startWait, Write: true, Pinned: "node-1", Requests: token, Events: []string{"Normal Placed"},
			Outcome: metrics.OutcomePlaced, NodeWait: 30 * time.Second, Recheck: 30 * time.Second},
		message: []string{"run in " + zoneKey + "=zone-a", "holds the reservation on node node-1"},
	}, {
		name:  "bound, a LimitRange min above the token: pinned with the token raised to it",
		world: decideWorld(ownSTS("", peak()), placeholderPod("node-1", peak(), ago(30*time.Second)), containerLimits(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}, nil)),
		want: stepView{Kind: stepPin, Placement: startWait, Write: true, Pinned: "node-1", Requests: rl("100m", "16Mi"), Events: []string{"Normal Placed"},
			Outcome: metrics.OutcomePlaced, NodeWait: 30 * time.Second, Recheck: 30 * time.Second},
	}, {
		name:  "bound, pinned, token-sized: nothing to write, nothing to hand over: ready",
		world: decideWorld(ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour))),
		want:  stepView{Kind: stepPin, Placement: ready, Pinned: "node-1", Requests: token},
	}, {
		name:  "bound after a wait recorded on its node: pinned again, the record removed",
		world: decideWorld(waitingSince(ownSTS("node-1", token), time.Minute), placeholderPod("node-1", token, ago(time.Minute))),
		want:  stepView{Kind: stepPin, Placement: ready, Write: true, Pinned: "node-1", Requests: token},
	}, {
		name: "recreated on its own, token-sized, while a later task needs more: the template asks for that room there, the pod replaced once the StatefulSet controller has seen it",
		world: decideWorld(ownSTS("node-1", token), reporting(recreatedPod("node-1", token, ago(time.Second))),
			func(w *world) { w.tasks = growBack(demand.Running, demand.Waiting) }),
		want: stepView{Kind: stepPin, Placement: Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
			Write: true, Pinned: "node-1", Requests: rl("2", "16Mi"), Events: []string{"Warning PlaceholderLost"},
			Reclaim: &reclaimView{}, ReclaimSince: now},
		message: []string{"came back on node node-1 holding only cpu=10m", "asking the scheduler again for the cpu=2", "once the StatefulSet controller has seen"},
	}, {
		name: "recreated on its own, token-sized, while a task starts: hand over (nothing to give), not replaced",
		world: decideWorld(ownSTS("node-1", token), reporting(recreatedPod("node-1", token, ago(time.Second))),
			func(w *world) { w.tasks = growBack(demand.Starting, demand.Waiting) }),
		want: stepView{Kind: stepPin, Placement: ready, Pinned: "node-1", Requests: token},
	}, {
		name:  "the pod that asked again for its room is bound there: the room is held again",
		world: decideWorld(reclaimingSTS("node-1", peak(), 10*time.Second), recreatedPod("node-1", peak(), ago(10*time.Second))),
		want: stepView{Kind: stepPin, Placement: Placement{Node: "node-1", Reason: ReasonHandingOver},
			Write: true, Pinned: "node-1", Requests: token, Restored: true, Recheck: 50 * time.Second},
	}})
}
