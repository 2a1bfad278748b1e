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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// countingPods is a pod lister that counts the lists of the run's pods.
type countingPods struct {
	corelisters.PodLister
	lists *int
}

func (c countingPods) Pods(namespace string) corelisters.PodNamespaceLister {
	return countingPodsIn{PodNamespaceLister: c.PodLister.Pods(namespace), lists: c.lists}
}

type countingPodsIn struct {
	corelisters.PodNamespaceLister
	lists *int
}

func (c countingPodsIn) List(selector labels.Selector) ([]*corev1.Pod, error) {
	if selector.String() == labels.SelectorFromSet(labels.Set{placeholder.MemberLabelKey: phName()}).String() {
		*c.lists++
	}
	return c.PodNamespaceLister.List(selector)
}

// TestPlaceListsMembersOnce checks that one call of Place lists the run's
// pods at most once, whatever it decides: the world it decides on is one
// snapshot, not a read per question.
func TestPlaceListsMembersOnce(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name     string
		config   map[string]string
		objects  []runtime.Object
		tasks    []demand.Task
		kueue    bool
		want     Placement
		wantList int
	}{{
		name: "placeholder released, every task started and on its node: nothing to place",
		objects: []runtime.Object{
			readyNode("node-1"),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		tasks:    []demand.Task{{Name: "a", Pod: rl("1", "1Gi"), State: demand.Running}},
		want:     Placement{Ready: true},
		wantList: 1,
	}, {
		name: "placeholder gone mid-run: recreated on the node of the run's pods",
		objects: []runtime.Object{
			readyNode("node-1"),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		want:     waitAfterCreate,
		wantList: 1,
	}, {
		name: "node cordoned with an active pod: wait to move",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:     Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantList: 1,
	}, {
		name: "pinned pod unschedulable, no active pod: choose again",
		objects: []runtime.Object{
			readyNode("node-1"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition(schedulerMessage)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
		},
		want:     waitForNode,
		wantList: 1,
	}, {
		name: "Kueue took the admission back: queued again",
		objects: []runtime.Object{
			readyNode("node-1"),
			ownSTS("node-1", token), gatedPinned("node-1", token, ago(time.Second)),
		},
		kueue:    true,
		want:     Placement{Reason: ReasonWaitingForAdmission},
		wantList: 1,
	}, {
		name: "the pod that asked again for its lost room is refused while a task pod runs there: wait to move",
		objects: []runtime.Object{
			readyNode("node-1"),
			reclaimingSTS("node-1", peak(), 10*time.Second), recreatedPod("", peak(), ago(10*time.Second), unschedulableCondition(schedulerMessage)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:     Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantList: 1,
	}, {
		name: "bound to a usable node: the run's pods are not needed",
		objects: []runtime.Object{
			readyNode("node-1"),
			ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
		},
		want:     Placement{Node: "node-1", Ready: true},
		wantList: 0,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			var lists int
			e.Pods = countingPods{PodLister: e.Pods, lists: &lists}
			tasks := remaining()
			if tc.tasks != nil {
				tasks = tc.tasks
			}
			run := testRun()
			if tc.kueue {
				run.Labels[placeholder.KueueQueueLabel] = kueueQueue
			}
			got, err := e.Place(h.ctx, settings(t, tc.config), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, tasks)
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if lists != tc.wantList {
				t.Errorf("Place() listed the run's pods %d times, want %d", lists, tc.wantList)
			}
		})
	}
}

// failingMemberList is a pod lister whose lists of the run's pods fail.
type failingMemberList struct{ corelisters.PodLister }

func (f failingMemberList) Pods(namespace string) corelisters.PodNamespaceLister {
	return failingMemberListIn{f.PodLister.Pods(namespace)}
}

type failingMemberListIn struct{ corelisters.PodNamespaceLister }

func (failingMemberListIn) List(labels.Selector) ([]*corev1.Pod, error) { return nil, errCacheRead }

// TestPlaceMemberListError checks that the run's pods that cannot be
// listed are an error wherever Place needs them, never taken for "none":
// that would move a run off a node where its pods run, or recreate its
// placeholder away from them.
func TestPlaceMemberListError(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
	}{{
		name:    "placeholder gone mid-run",
		objects: []runtime.Object{readyNode("node-1"), memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute))},
	}, {
		name:    "node cordoned",
		objects: []runtime.Object{cordonedNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour))},
	}, {
		name:    "pinned pod unschedulable",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition(schedulerMessage))},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			e.Pods = failingMemberList{e.Pods}
			_, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if !errors.Is(err, errCacheRead) {
				t.Errorf("Place() error = %v, want the list error", err)
			}
			if got := h.actions(); len(got) != 0 {
				t.Errorf("API writes %v, want none", got)
			}
		})
	}
}

// TestPlaceReadsWorkloadOnlyForAdmission checks that observe reads the
// Kueue Workload of a gated placeholder pod only when decide takes Kueue's
// word on it: not for a pod made from an older template, which is
// replaced (or waited for while the StatefulSet controller lags), nor for
// a run that goes back to the queue as a whole.
func TestPlaceReadsWorkloadOnlyForAdmission(t *testing.T) {
	token := placeholder.TokenRequests()
	pending := metav1.Condition{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient unused quota"}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		want    Placement
		// wantReads is how many times the Workload is read.
		wantReads int
	}{{
		name: "gated, made from the current template: its Workload read",
		objects: []runtime.Object{readyNode("node-1"), atRevision(generations(awaitingAdmission(movedSTS(), time.Second), 3, 3), "rev-3"),
			fromRevision(gated(placeholderPod("", peak(), ago(time.Second))), "rev-3")},
		want:      Placement{Reason: ReasonWaitingForAdmission, RequeueAfter: diagnoseEvery},
		wantReads: 1,
	}, {
		name: "gated, made from an older template the controller has replaced since: the pod replaced, no Workload read",
		objects: []runtime.Object{readyNode("node-1"), atRevision(generations(movedSTS(), 3, 3), "rev-3"),
			fromRevision(gatedPinned("node-1", token, ago(time.Second)), "rev-2")},
		want: Placement{Reason: ReasonWaitingForAdmission},
	}, {
		name: "gated, pinned to the node the run left, the controller lags: checked again, no Workload read",
		objects: []runtime.Object{readyNode("node-1"), atRevision(generations(movedSTS(), 3, 2), "rev-2"),
			fromRevision(gatedPinned("node-1", token, ago(time.Second)), "rev-2")},
		want: Placement{Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			run := testRun()
			run.Labels[placeholder.KueueQueueLabel] = kueueQueue
			e := h.engine(t)
			reads := 0
			e.Workloads = func(context.Context, string, string) ([]byte, error) {
				reads++
				return workloadJSON(t, pending), nil
			}
			got, err := e.Place(h.ctx, settings(t, nil), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantReads, reads); d != "" {
				t.Errorf("Workload reads (-want +got):\n%s", d)
			}
		})
	}
}
