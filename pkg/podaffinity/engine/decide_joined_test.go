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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// joinedWorld is the world of a child run of testRun's pipeline, placed in
// its parent's placeholder, whose pod is p (nil: none), as observeJoined
// leaves it: the node is read only when the pod holds still on one.
func joinedWorld(p *corev1.Pod, unusable string) world {
	w := decideWorld(nil, nil)
	w.stored = nil
	w.t = Target{Placeholder: phName(), Joined: true}
	w.pod = p
	if !parentWaits(p) {
		w.node, w.unusable = p.Spec.NodeName, unusable
	}
	return w
}

// TestDecideJoined checks the step decide takes for a child run: it never
// writes, and waits for its parent's placeholder to hold room on a usable
// node.
func TestDecideJoined(t *testing.T) {
	token := placeholder.TokenRequests()
	wait := Placement{Reason: ReasonWaitingForNode}
	deleted := placeholderPod("node-1", token, ago(time.Hour))
	deleted.DeletionTimestamp, deleted.Finalizers = ptr.To(ago(time.Second)), []string{"test"}
	runDecide(t, []decideCase{{
		name:    "parent placeholder pod missing: wait for it",
		world:   joinedWorld(nil, ""),
		want:    stepView{Kind: stepNone, Placement: wait},
		message: []string{"Waiting for the parent PipelineRun's placeholder " + phName()},
	}, {
		name:  "parent placeholder pod not scheduled: wait",
		world: joinedWorld(placeholderPod("", peak(), ago(time.Minute)), ""),
		want:  stepView{Kind: stepNone, Placement: wait},
	}, {
		name:  "parent placeholder pod being deleted: wait",
		world: joinedWorld(deleted, ""),
		want:  stepView{Kind: stepNone, Placement: wait},
	}, {
		name:  "parent shrinking to make room, not applied yet: wait",
		world: joinedWorld(reportingRequests(placeholderPod("node-1", token, ago(time.Hour)), peak()), ""),
		want:  stepView{Kind: stepNone, Placement: wait},
	}, {
		name:  "parent grows back, the node deferred it: ready, nothing waits for a grow",
		world: joinedWorld(reportingRequests(placeholderPod("node-1", peak(), ago(time.Hour)), token), ""),
		want:  stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Ready: true}},
	}, {
		name:  "parent placed and handed over: ready on its node",
		world: joinedWorld(reporting(placeholderPod("node-1", token, ago(time.Hour))), ""),
		want:  stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Ready: true}},
	}, {
		name:    "parent's node cordoned: wait for the parent to move",
		world:   joinedWorld(reporting(placeholderPod("node-1", token, ago(time.Hour))), "cordoned"),
		want:    stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove}},
		message: []string{"Node node-1 is cordoned; waiting for the parent PipelineRun to move"},
	}, {
		name:  "parent's node gone: wait for the parent to move",
		world: joinedWorld(reporting(placeholderPod("node-1", token, ago(time.Hour))), nodeGone),
		want:  stepView{Kind: stepNone, Placement: Placement{Node: "node-1", Reason: ReasonWaitingToMove}},
	}})
}
