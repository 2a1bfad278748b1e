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

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestPlaceRecheck checks, through Place, the bound on the wait for the
// node to apply a shrink when the engine can enqueue runs itself: Place
// asks for no requeue, and the run comes back at the bound only if no
// later decision for it came first.
func TestPlaceRecheck(t *testing.T) {
	key := types.NamespacedName{Namespace: ns, Name: testRun().Name}
	for _, tc := range []struct {
		name string
		// then is what happens after the shrink was asked, at the fake
		// clock's time, before the clock passes the bound.
		then func(t *testing.T, h *harness, e *Engine, clock *clocktesting.FakeClock)
		// want is what the clock's passing resizeLimit enqueues.
		want []types.NamespacedName
	}{{
		name: "the node does not apply the shrink: the run comes back at the bound",
		then: func(*testing.T, *harness, *Engine, *clocktesting.FakeClock) {},
		want: []types.NamespacedName{key},
	}, {
		name: "the node applies it: the decision then stops the bound, nothing comes back",
		then: func(t *testing.T, h *harness, e *Engine, clock *clocktesting.FakeClock) {
			clock.Step(time.Second)
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, placeholder.PodName(phName()), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.client.CoreV1().Pods(ns).UpdateStatus(h.ctx, reporting(p), metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := place(t, h, e); !got.Ready || got.RequeueAfter != 0 {
				t.Errorf("Place() once the shrink is applied = %+v, want ready, no requeue", got)
			}
		},
	}, {
		name: "decided again while the shrink is pending: one bound, not two",
		then: func(t *testing.T, h *harness, e *Engine, clock *clocktesting.FakeClock) {
			// The node began to apply it (an update that brings no run back
			// by itself; PlaceholderPodChanged), and the run is reconciled
			// for another reason.
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, placeholder.PodName(phName()), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now)})
			if _, err := h.client.CoreV1().Pods(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			clock.Step(10 * time.Second)
			if got := place(t, h, e); got.Reason != ReasonHandingOver || got.RequeueAfter != 0 {
				t.Errorf("Place() while the shrink is pending = %+v, want %s, no requeue", got, ReasonHandingOver)
			}
		},
		want: []types.NamespacedName{key},
	}, {
		name: "the run is done: Release stops the bound",
		then: func(t *testing.T, h *harness, e *Engine, _ *clocktesting.FakeClock) {
			if err := e.Release(h.ctx, settings(t, nil), testRun()); err != nil {
				t.Fatalf("Release() error: %v", err)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(2*time.Minute))))
			e := h.engine(t)
			clock := clocktesting.NewFakeClock(now)
			var enqueued []types.NamespacedName
			e.Clock, e.Enqueue = clock, func(k types.NamespacedName) { enqueued = append(enqueued, k) }

			got := place(t, h, e)
			want := Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true}
			if d := cmp.Diff(want, got, ignoreMessage); d != "" {
				t.Errorf("Place() asking the shrink (-want +got):\n%s", d)
			}
			tc.then(t, h, e, clock)
			clock.Step(resizeLimit)
			if d := cmp.Diff(tc.want, enqueued); d != "" {
				t.Errorf("enqueued once the bound has passed (-want +got):\n%s", d)
			}
			if n := len(e.rechecks.timers); n != 0 {
				t.Errorf("%d timers left, want none", n)
			}
		})
	}
}

// place calls e.Place for testRun as the reconciler does, with e's listers
// showing what h's API server holds now (e keeps its timers).
func place(t *testing.T, h *harness, e *Engine) Placement {
	t.Helper()
	fresh := h.engine(t)
	e.StatefulSets, e.Pods, e.Nodes = fresh.StatefulSets, fresh.Pods, fresh.Nodes
	target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	got, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
	if err != nil {
		t.Fatalf("Place() error: %v", err)
	}
	return got
}
