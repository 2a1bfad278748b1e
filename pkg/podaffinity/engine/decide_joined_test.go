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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
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

// failingPodGet is a pod lister whose Get fails.
type failingPodGet struct{ corelisters.PodLister }

func (f failingPodGet) Pods(namespace string) corelisters.PodNamespaceLister {
	return failingPodGetIn{f.PodLister.Pods(namespace)}
}

type failingPodGetIn struct{ corelisters.PodNamespaceLister }

func (failingPodGetIn) Get(string) (*corev1.Pod, error) { return nil, errCacheRead }

// TestObserveJoined checks what observe reads for a child run: its
// parent's placeholder pod, and its node only once the pod holds still on
// one; a read that fails is an error, never taken for an answer.
func TestObserveJoined(t *testing.T) {
	token := placeholder.TokenRequests()
	target := Target{Placeholder: phName(), Joined: true}
	type seen struct {
		Pod      string
		Node     string
		Unusable string
	}
	for _, tc := range []struct {
		name      string
		objects   []runtime.Object
		failPods  bool
		failNodes bool
		want      seen
		wantErr   bool
	}{{
		name:    "parent placed on a ready node: its pod and node",
		objects: []runtime.Object{readyNode("node-1"), reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		want:    seen{Pod: placeholder.PodName(phName()), Node: "node-1"},
	}, {
		name:    "parent's node cordoned: why it is unusable",
		objects: []runtime.Object{cordonedNode("node-1"), reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		want:    seen{Pod: placeholder.PodName(phName()), Node: "node-1", Unusable: "cordoned"},
	}, {
		name:    "parent's node gone",
		objects: []runtime.Object{reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		want:    seen{Pod: placeholder.PodName(phName()), Node: "node-1", Unusable: nodeGone},
	}, {
		name:      "parent's pod not bound: its node is not read",
		objects:   []runtime.Object{placeholderPod("", peak(), ago(time.Minute))},
		failNodes: true,
		want:      seen{Pod: placeholder.PodName(phName())},
	}, {
		name: "no parent pod: nothing more is read",
	}, {
		name:     "the parent's pod cannot be read: an error",
		objects:  []runtime.Object{reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		failPods: true,
		wantErr:  true,
	}, {
		name:      "the parent's node cannot be read: an error",
		objects:   []runtime.Object{reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		failNodes: true,
		wantErr:   true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			if tc.failPods {
				e.Pods = failingPodGet{e.Pods}
			}
			if tc.failNodes {
				e.Nodes = failingNodeReads{e.Nodes}
			}
			w, err := e.observe(h.ctx, settings(t, nil), testRun(), target, remaining(), now)
			if tc.wantErr {
				if !errors.Is(err, errCacheRead) {
					t.Fatalf("observe() = %v, want the read error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("observe() = %v", err)
			}
			got := seen{Node: w.node, Unusable: w.unusable}
			if w.pod != nil {
				got.Pod = w.pod.Name
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("observe() (-want +got):\n%s", d)
			}
			if a := h.actions(); len(a) != 0 {
				t.Errorf("API calls %v, want none", a)
			}
		})
	}
}
