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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// TestPlaceLifecycle walks a run through its placement with the fake API
// server standing in for the StatefulSet controller and the scheduler, and
// calls Place twice at every step: a second call on the state the first one
// left must write nothing (13).
func TestPlaceLifecycle(t *testing.T) {
	type step struct {
		name   string
		before func(*testing.T, *harness)
		want   Placement
		// wantSecond is what the second call returns, when it differs from want.
		wantSecond *Placement
		// wantActions are the writes of the first call; the second writes
		// wantSecondActions.
		wantActions       []string
		wantSecondActions []string
		wantTemplate      template
		// wantSecondTemplate is the template after the second call, when it
		// differs from wantTemplate.
		wantSecondTemplate *template
		wantPod            corev1.ResourceList
	}
	podName := placeholder.PodName(phName())
	// statefulSetController creates the pod from the current template.
	statefulSetController := func(node string, conditions ...corev1.PodCondition) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			sts := h.placeholderSTS(t, phName())
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns, UID: types.UID("pod-on-" + node), Labels: sts.Spec.Template.Labels, CreationTimestamp: ago(10 * time.Second)},
				Spec:       *sts.Spec.Template.Spec.DeepCopy(),
				Status:     corev1.PodStatus{Phase: corev1.PodPending, Conditions: conditions},
			}
			p.Spec.NodeName = node
			if _, err := h.client.CoreV1().Pods(ns).Create(h.ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// kubelet starts the pod's container; reporting, it reports the
	// container's resources as they are in the pod's spec then, as a kubelet
	// with in-place resize does once it has applied a resize.
	kubelet := func(reporting bool) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, podName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if reporting {
				reportingRequests(p, placeholder.Requests(&p.Spec))
			} else {
				runningUnreported(p)
			}
			if _, err := h.client.CoreV1().Pods(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	scheduler := func(node string) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, podName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.NodeName = node
			p.Status.Conditions = nil
			if _, err := h.client.CoreV1().Pods(ns).Update(h.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := []step{{
		name: "create",
		want: waitAfterCreate,
		// The StatefulSet controller is given a moment to create the pod.
		wantSecond:   &Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: template{Requests: peak()},
	}, {
		name:         "pod pending",
		before:       statefulSetController("", unschedulableCondition(schedulerMessage)),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Hour},
		wantTemplate: template{Requests: peak()},
		wantPod:      peak(),
	}}
	pinned := template{Pinned: "node-2", Requests: placeholder.TokenRequests()}

	for _, tc := range []struct {
		name       string
		resizeErr  error
		steps      []step
		wantEvents []string
	}{{
		name: "in-place resize",
		steps: append(append([]step{}, start...), step{
			name:         "pod bound: pinned, the shrink waits for the node to start the container",
			before:       scheduler("node-2"),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      peak(),
		}, step{
			name:         "container started: shrink in place, then wait for the node to report it",
			before:       kubelet(true),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
			wantSecond:   &Placement{Node: "node-2", Reason: ReasonHandingOver},
			wantActions:  []string{"patch pods/resize"},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}, step{
			name:         "the node reports the smaller size: ready",
			before:       kubelet(true),
			want:         Placement{Node: "node-2", Ready: true},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}),
		// A shrink in place is counted, not recorded as an event.
		wantEvents: []string{"Normal Placed"},
	}, {
		name:      "pod replaced",
		resizeErr: resizeUnsupported,
		steps: append(append([]step{}, start...), step{
			name:         "pod bound: pinned, the shrink waits for the node to start the container",
			before:       scheduler("node-2"),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      peak(),
		}, step{
			name:   "container started, no resources reported: replace the pod",
			before: kubelet(false),
			want:   Placement{Node: "node-2", Reason: ReasonHandingOver, HandOverBegun: true},
			// The pod is gone: its wait starts, the StatefulSet controller
			// is given a moment.
			wantSecond:         &Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
			wantActions:        []string{"patch pods/resize", "delete pods"},
			wantSecondActions:  []string{"patch statefulsets"},
			wantTemplate:       pinned,
			wantSecondTemplate: &template{Pinned: "node-2", Requests: placeholder.TokenRequests(), WaitingSince: now.Format(time.RFC3339)},
		}, step{
			name:   "token pod bound: ready",
			before: statefulSetController("node-2"),
			want:   Placement{Node: "node-2", Ready: true},
			// Placed again: the record of the wait goes.
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}),
		wantEvents: []string{"Normal Placed", "Normal ReservationHandedOver"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), readyNode("node-2"))
			if tc.resizeErr != nil {
				h.failResize(tc.resizeErr)
			}
			run := testRun()
			s := settings(t, nil)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			for _, st := range tc.steps {
				if st.before != nil {
					st.before(t, h)
				}
				for call, wantActions := range [][]string{st.wantActions, st.wantSecondActions} {
					got, err := h.engine(t).Place(h.ctx, s, run, target, remaining())
					if err != nil {
						t.Fatalf("%s, call %d: Place() = %v", st.name, call+1, err)
					}
					want := st.want
					if call > 0 && st.wantSecond != nil {
						want = *st.wantSecond
					}
					if d := cmp.Diff(want, got, ignoreMessage); d != "" {
						t.Errorf("%s, call %d: Place() (-want +got):\n%s", st.name, call+1, d)
					}
					if d := cmp.Diff(wantActions, h.actions()); d != "" {
						t.Errorf("%s, call %d: API writes (-want +got):\n%s", st.name, call+1, d)
					}
					wantTemplate := st.wantTemplate
					if call > 0 && st.wantSecondTemplate != nil {
						wantTemplate = *st.wantSecondTemplate
					}
					if d := cmp.Diff(wantTemplate, templateOf(h.placeholderSTS(t, phName())), quantityEqual); d != "" {
						t.Errorf("%s, call %d: placeholder template (-want +got):\n%s", st.name, call+1, d)
					}
					if d := cmp.Diff(st.wantPod, h.podRequests(t), quantityEqual); d != "" {
						t.Errorf("%s, call %d: placeholder pod requests, nil when deleted (-want +got):\n%s", st.name, call+1, d)
					}
				}
			}
			// One creation, one placement, one hand-over over the whole lifecycle.
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceSince checks when Place says a run's wait began: a reconciler
// keeps a wait of a moment out of the run's status by it.
func TestPlaceSince(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name      string
		objects   []runtime.Object
		createErr error
		want      time.Time
	}{{
		name:    "placeholder created now",
		objects: []runtime.Object{readyNode("node-1")},
		want:    now,
	}, {
		name:      "placeholder refused by a quota: since the engine first found it refused, not the run's start time",
		objects:   []runtime.Object{readyNode("node-1")},
		createErr: apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New("exceeded quota: count")),
		want:      now,
	}, {
		name: "placeholder pod unschedulable: since the placeholder was created",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 3*time.Second),
			placeholderPod("", peak(), ago(2*time.Second), unschedulableCondition(schedulerMessage))},
		want: now.Add(-3 * time.Second),
	}, {
		name: "moved: since the move",
		objects: []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), 10*time.Second),
			placeholderPod("", peak(), ago(9*time.Second), unschedulableCondition(schedulerMessage))},
		want: now.Add(-10 * time.Second),
	}, {
		name: "moving now off a cordoned node: since the move, not the placeholder's creation",
		objects: []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), createdAgo(ownSTS("node-1", token), 3*time.Hour),
			reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		want: now,
	}, {
		name: "moving now, a move recorded before: since this move",
		objects: []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), waitingSince(createdAgo(ownSTS("node-1", token), 3*time.Hour), 2*time.Hour),
			reporting(placeholderPod("node-1", token, ago(time.Hour)))},
		want: now,
	}, {
		name:    "pinned pod gone, first seen: since now, when the wait is recorded",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), 3*time.Hour)},
		want:    now,
	}, {
		name:    "pinned pod going, first seen: since now, when the wait is recorded",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), 3*time.Hour), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)},
		want:    now,
	}, {
		name: "handing over: since the placeholder was created",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), time.Second),
			reporting(placeholderPod("node-1", peak(), ago(time.Second)))},
		want: now.Add(-time.Second),
	}, {
		name:    "placed, nothing to hand over: no wait",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Minute)))},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.createErr != nil {
				h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			run := testRun()
			run.CreationTimestamp = ago(time.Hour)
			run.Status.StartTime = ptr.To(ago(30 * time.Minute))
			rem := remaining()
			if tc.want.IsZero() {
				rem = growBack(demand.Running, demand.Running)
			}
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, rem)
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if !got.Since.Equal(tc.want) {
				t.Errorf("Place() = %+v, Since %v, want %v", got, got.Since, tc.want)
			}
		})
	}
}
