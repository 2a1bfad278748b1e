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
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
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

// withParentSTS gives a child run's world, whose parent's placeholder pod
// is missing, its parent's placeholder StatefulSet sts.
func withParentSTS(w world, sts *appsv1.StatefulSet) world {
	w.sts = sts
	return w
}

// withParent gives a child run's world the parent run as read afresh (nil:
// gone), as observeParent does when the parent's StatefulSet is gone.
func withParent(w world, parent *v1.PipelineRun) world {
	w.parent, w.parentRead = parent, true
	return w
}

// childCreated makes the child run of w one created d ago that has not
// started (no start time).
func childCreated(w world, d time.Duration) world {
	w.run.CreationTimestamp = ago(d)
	return w
}

// childStarted makes the child run of w one that started d ago.
func childStarted(w world, d time.Duration) world {
	w.run.CreationTimestamp = ago(d + time.Minute)
	w.run.Status.StartTime = ptr.To(ago(d))
	return w
}

// parentRun is the parent of a child run; done, when set, its end.
func parentRun(done string) *v1.PipelineRun {
	pr := testRun()
	pr.Name, pr.UID = "parent", "parent-uid"
	if done != "" {
		pr.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: done})
	}
	return pr
}

// TestDecideJoinedParentMissing checks what a child run does when its
// parent's placeholder pod is missing: it fails at once when the parent
// is done or gone (its placeholder released: nothing will hold room for
// the child again), and otherwise waits, bounded by max-node-wait counted
// from a recorded start, and checked again: the parent's events do not
// bring the child back, and a child that has not started has no timeout
// of its own running.
func TestDecideJoinedParentMissing(t *testing.T) {
	token := placeholder.TokenRequests()
	released := Placement{Failed: true, Reason: ReasonParentReleased}
	timeout := Placement{Failed: true, Reason: ReasonNodeWaitTimeout}
	runDecide(t, []decideCase{{
		name:    "parent's placeholder released, parent failed: the child fails",
		world:   withParent(childCreated(joinedWorld(nil, ""), 3*time.Hour), parentRun("Failed")),
		want:    stepView{Kind: stepNone, Placement: released},
		message: []string{"parent PipelineRun parent", "Failed", phName()},
	}, {
		name:    "parent's placeholder released, parent gone: the child fails",
		world:   withParent(childCreated(joinedWorld(nil, ""), time.Minute), nil),
		want:    stepView{Kind: stepNone, Placement: released},
		message: []string{"parent PipelineRun", "gone", phName()},
	}, {
		name:  "parent's placeholder being released, parent failed: the child fails",
		world: withParent(withParentSTS(childStarted(joinedWorld(nil, ""), time.Minute), beingDeleted(ownSTS("node-1", token))), parentRun("Failed")),
		want:  stepView{Kind: stepNone, Placement: released},
	}, {
		name: "parent's placeholder being released, parent being deleted: the child fails",
		world: withParent(withParentSTS(childStarted(joinedWorld(nil, ""), time.Minute), beingDeleted(ownSTS("node-1", token))), func() *v1.PipelineRun {
			pr := parentRun("")
			pr.DeletionTimestamp = ptr.To(ago(time.Second))
			return pr
		}()),
		want: stepView{Kind: stepNone, Placement: released},
	}, {
		name:    "parent's StatefulSet makes its pod again, wait recorded a minute ago: bounded from it, checked again",
		world:   withParentSTS(childCreated(joinedWorld(nil, ""), 3*time.Hour), waitingSince(ownSTS("node-1", token), time.Minute)),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"Waiting for the parent PipelineRun's placeholder " + phName()},
	}, {
		name:   "parent's StatefulSet makes its pod again, the bound nearly out: checked again when it runs out",
		config: map[string]string{paconfig.MaxNodeWaitKey: "10m"},
		world:  withParentSTS(childCreated(joinedWorld(nil, ""), 3*time.Hour), waitingSince(ownSTS("node-1", token), 10*time.Minute-5*time.Second)),
		want:   stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 5*time.Second)},
	}, {
		name:    "parent's StatefulSet has had no pod for longer than the bound: the child fails",
		config:  map[string]string{paconfig.MaxNodeWaitKey: "10m"},
		world:   withParentSTS(childCreated(joinedWorld(nil, ""), 3*time.Hour), waitingSince(ownSTS("node-1", token), 11*time.Minute)),
		want:    stepView{Kind: stepNone, Placement: timeout, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{"parent PipelineRun's placeholder " + phName()},
	}, {
		// The parent records the start at its next reconcile: the child's
		// creation is no start of this wait (the parent was placed since).
		name:  "parent's pinned pod gone, its wait not recorded yet, child not started: checked again until the parent records it",
		world: withParentSTS(childCreated(joinedWorld(nil, ""), 2*time.Minute), ownSTS("node-1", token)),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, createGrace)},
	}, {
		name:  "parent's pinned pod evicted, its wait not recorded yet, child created longer ago than the bound: not failed, checked again",
		world: withParentSTS(childCreated(joinedWorld(terminating(placeholderPod("node-1", token, ago(3*time.Hour)), time.Second), ""), 3*time.Hour), ownSTS("node-1", token)),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, createGrace)},
	}, {
		name:  "the same a moment later, the parent's wait recorded: bounded from the record",
		world: withParentSTS(childCreated(joinedWorld(terminating(placeholderPod("node-1", token, ago(3*time.Hour)), time.Second), ""), 3*time.Hour), waitingSince(ownSTS("node-1", token), 0)),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
	}, {
		name:  "parent's StatefulSet without a record, child started: checked again until the parent records it",
		world: withParentSTS(childStarted(joinedWorld(nil, ""), 3*time.Hour), ownSTS("node-1", token)),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, createGrace)},
	}, {
		name:    "parent's placeholder gone, parent still runs: it makes it again; checked again soon",
		world:   withParent(childCreated(joinedWorld(nil, ""), time.Minute), parentRun("")),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, createGrace)},
		message: []string{"parent PipelineRun parent", phName()},
	}, {
		name:  "parent's placeholder gone for longer than the bound while the child waits: the child fails",
		world: withParent(childCreated(joinedWorld(nil, ""), 3*time.Hour), parentRun("")),
		want:  stepView{Kind: stepNone, Placement: timeout, Outcome: metrics.OutcomeWaitTimeout},
	}, {
		name:  "parent's placeholder being deleted, parent still runs: bounded from its deletion",
		world: withParent(withParentSTS(childStarted(joinedWorld(nil, ""), 3*time.Hour), beingDeleted(ownSTS("node-1", token))), parentRun("")),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, createGrace)},
	}, {
		name:  "parent's placeholder gone, the parent cannot be read (no reader), child not started: bounded from its creation",
		world: childCreated(joinedWorld(nil, ""), 3*time.Hour),
		want:  stepView{Kind: stepNone, Placement: timeout, Outcome: metrics.OutcomeWaitTimeout},
	}})
}

// TestDecideJoined checks the step decide takes for a child run: it never
// writes, and waits for its parent's placeholder to hold room on a usable
// node.
func TestDecideJoined(t *testing.T) {
	token := placeholder.TokenRequests()
	wait := Placement{Reason: ReasonWaitingForNode}
	deleted := placeholderPod("node-1", token, ago(time.Hour))
	deleted.DeletionTimestamp, deleted.Finalizers = ptr.To(ago(time.Second)), []string{"test"}
	evicted := placeholderPod("node-1", token, ago(time.Hour))
	evicted.Status.Phase, evicted.Status.Reason = corev1.PodFailed, "Evicted"
	runDecide(t, []decideCase{{
		name:    "parent placeholder pod missing, its StatefulSet makes it: wait for it, bounded",
		world:   withParentSTS(joinedWorld(nil, ""), waitingSince(ownSTS("node-1", token), time.Minute)),
		want:    stepView{Kind: stepNone, Placement: Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery}},
		message: []string{"Waiting for the parent PipelineRun's placeholder " + phName()},
	}, {
		name:  "parent placeholder pod not scheduled: wait",
		world: joinedWorld(placeholderPod("", peak(), ago(time.Minute)), ""),
		want:  stepView{Kind: stepNone, Placement: wait},
	}, {
		name:    "parent placeholder pod being deleted, its StatefulSet makes it again: wait, bounded, saying the pod is going",
		world:   withParentSTS(joinedWorld(deleted, ""), waitingSince(ownSTS("node-1", token), time.Minute)),
		want:    stepView{Kind: stepNone, Placement: Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery}},
		message: []string{"Waiting for the parent PipelineRun's placeholder " + phName(), "its pod " + deleted.Name + " is being deleted since"},
	}, {
		name:    "parent placeholder pod evicted by the kubelet, not deleted yet: wait, saying so",
		world:   withParentSTS(joinedWorld(evicted, ""), waitingSince(ownSTS("node-1", token), time.Minute)),
		want:    stepView{Kind: stepNone, Placement: Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery}},
		message: []string{"its pod " + evicted.Name + " was evicted by the kubelet"},
	}, {
		name:  "parent placeholder pod being deleted, the parent done: the child fails",
		world: withParent(joinedWorld(deleted, ""), parentRun("Failed")),
		want:  stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonParentReleased}},
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
		name: "no parent pod, nor a StatefulSet of its parent: no node is read",
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

// TestObserveParent checks what observe reads for a child run whose
// parent's placeholder pod is missing: the parent's StatefulSet, and,
// only when that is gone or being deleted, the parent run from the API
// server; a read that fails is an error.
func TestObserveParent(t *testing.T) {
	token := placeholder.TokenRequests()
	target := Target{Placeholder: phName(), Joined: true}
	errRead := errors.New("reading the parent failed")
	type seen struct {
		STS        bool
		Parent     string
		ParentRead bool
		Reads      int
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// parentUID is the UID the child's owner reference names.
		parentUID string
		runs      []*v1.PipelineRun
		noReader  bool
		failRead  bool
		want      seen
		wantErr   bool
	}{{
		name:    "the parent's StatefulSet makes the pod again: the parent is not read",
		objects: []runtime.Object{ownSTS("node-1", token)},
		runs:    []*v1.PipelineRun{testRun()},
		want:    seen{STS: true},
	}, {
		name:    "the parent's pod is going, its StatefulSet is there: the parent is not read",
		objects: []runtime.Object{ownSTS("node-1", token), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)},
		runs:    []*v1.PipelineRun{testRun()},
		want:    seen{STS: true},
	}, {
		name:    "the parent's StatefulSet is being deleted: the parent is read",
		objects: []runtime.Object{beingDeleted(ownSTS("node-1", token))},
		runs:    []*v1.PipelineRun{testRun()},
		want:    seen{STS: true, Parent: "build", ParentRead: true, Reads: 1},
	}, {
		name: "no StatefulSet, the parent gone",
		want: seen{ParentRead: true, Reads: 1},
	}, {
		name:      "a StatefulSet of another run, and another run of the parent's name: neither is the parent's",
		objects:   []runtime.Object{ownSTS("node-1", token)},
		parentUID: "other-uid",
		runs:      []*v1.PipelineRun{testRun()},
		want:      seen{ParentRead: true, Reads: 1},
	}, {
		name:     "no StatefulSet, no reader of runs: the parent is not read",
		noReader: true,
	}, {
		name:     "the parent cannot be read: an error",
		failRead: true,
		wantErr:  true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			reads := 0
			if !tc.noReader {
				e.PipelineRuns = func(_ context.Context, namespace, name string) (*v1.PipelineRun, error) {
					reads++
					if tc.failRead {
						return nil, errRead
					}
					for _, pr := range tc.runs {
						if pr.Namespace == namespace && pr.Name == name {
							return pr, nil
						}
					}
					return nil, apierrors.NewNotFound(v1.Resource("pipelineruns"), name)
				}
			}
			uid := types.UID("run-uid")
			if tc.parentUID != "" {
				uid = types.UID(tc.parentUID)
			}
			child := testRun()
			child.Name, child.UID = "build-child", "child-uid"
			child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "build", UID: uid, Controller: ptr.To(true)}}
			w, err := e.observe(h.ctx, settings(t, nil), child, target, remaining(), now)
			if tc.wantErr {
				if !errors.Is(err, errRead) {
					t.Fatalf("observe() = %v, want the read error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("observe() = %v", err)
			}
			got := seen{STS: w.sts != nil, ParentRead: w.parentRead, Reads: reads}
			if w.parent != nil {
				got.Parent = w.parent.Name
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
