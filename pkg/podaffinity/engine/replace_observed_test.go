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
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
)

// statefulSetController stands in for the StatefulSet controller of a
// harness: the API server counts the template's changes (generation); the
// controller makes the missing placeholder pod from the template as it has
// observed it, and reports what it has observed (observedGeneration). Its
// informer may lag behind the engine's writes (lag): by the last one
// (lagging is the StatefulSet as it was before it), or by every one since
// its last sync (lagging is the StatefulSet as it was then).
type statefulSetController struct {
	h       *harness
	lag     lag
	lagging *appsv1.StatefulSet
	// made lists the pods it made, as "name uid requests".
	made []string
}

// lag is how far the StatefulSet controller's informer is behind.
type lag int

const (
	lagNone lag = iota
	lagLastWrite
	lagAllWrites
)

func newStatefulSetController(t *testing.T, h *harness, l lag) *statefulSetController {
	t.Helper()
	c := &statefulSetController{h: h, lag: l}
	h.client.PrependReactor("patch", "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		before, err := h.client.Tracker().Get(a.GetResource(), a.GetNamespace(), phName())
		if err != nil {
			return true, nil, err
		}
		old := before.(*appsv1.StatefulSet).DeepCopy()
		if c.lagging == nil || c.lag == lagLastWrite {
			c.lagging = old
		}
		handled, after, err := k8stesting.ObjectReaction(h.client.Tracker())(a)
		if !handled || err != nil {
			return handled, after, err
		}
		sts := after.(*appsv1.StatefulSet)
		if !equality.Semantic.DeepEqual(old.Spec, sts.Spec) {
			sts.Generation = old.Generation + 1
			if err := h.client.Tracker().Update(a.GetResource(), sts, a.GetNamespace()); err != nil {
				return true, nil, err
			}
		}
		return true, sts, nil
	})
	return c
}

// sync is the controller's turn after a reconcile: a missing pod is made
// from the template it has observed, bound to the node the template pins
// (node-1 when unpinned) and running at its size; then it observes the
// StatefulSet as it is.
func (c *statefulSetController) sync(t *testing.T) {
	t.Helper()
	ctx := c.h.ctx
	current := c.h.placeholderSTS(t, phName())
	seen := current
	if c.lag != lagNone && c.lagging != nil {
		seen = c.lagging
	}
	name := placeholder.PodName(phName())
	if _, err := c.h.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		requests := placeholder.Requests(&seen.Spec.Template.Spec)
		node := placeholder.PinnedNode(&seen.Spec.Template.Spec, testRun())
		if node == "" {
			node = "node-1"
		}
		p := reporting(placeholderPod(node, requests, metav1.NewTime(now)))
		p.UID = types.UID(fmt.Sprintf("pod-%d", len(c.made)+2))
		p.Spec.Affinity = seen.Spec.Template.Spec.Affinity
		if _, err := c.h.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.made = append(c.made, fmt.Sprintf("%s %s %s", name, p.UID, formatResources(requests)))
	} else if err != nil {
		t.Fatal(err)
	}
	current.Status.ObservedGeneration = current.Generation
	if _, err := c.h.client.AppsV1().StatefulSets(ns).UpdateStatus(ctx, current, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.lagging = nil
}

// TestReplacementMadeFromObservedTemplate replaces the placeholder pod at
// a hand-over that changes an extended resource, with a StatefulSet
// controller whose informer is behind the engine's writes (the API server
// and the controller under load): the pod the engine deletes is made
// again from the template as the controller has observed it. The engine
// deletes the pod only once the controller has observed the template the
// replacement is to be made from, so that the first replacement holds
// what later tasks need: no second replacement (a PlaceholderLost reclaim
// of a pod made token-sized from the pin, or another hand-over).
func TestReplacementMadeFromObservedTemplate(t *testing.T) {
	tasks := func(a demand.TaskState) []demand.Task {
		return []demand.Task{
			{Name: "a", Pod: withExtended(rl("1", "16Mi"), "2"), State: a},
			{Name: "b", After: []string{"a"}, Pod: withExtended(rl("2", "16Mi"), "2")},
			{Name: "c", After: []string{"b"}, Pod: withExtended(rl("1", "16Mi"), "3")},
		}
	}
	peak := withExtended(rl("2", "16Mi"), "3")
	for _, tc := range []struct {
		name string
		lag  lag
	}{
		{"the controller observes each write at once", lagNone},
		{"its informer is behind by the engine's last write (it made the pod token-sized from the pin)", lagLastWrite},
		{"its informer is behind by every write of the reconcile (it made the pod from the reservation)", lagAllWrites},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts := ownSTS("", peak)
			sts.Generation, sts.Status.ObservedGeneration = 1, 1
			first := reporting(placeholderPod("node-1", peak, ago(time.Minute)))
			h := newHarness(t, readyNode("node-1"), sts, first)
			c := newStatefulSetController(t, h, tc.lag)
			e := h.engine(t)
			s := settings(t, nil)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			place := func(a demand.TaskState) Placement {
				t.Helper()
				// The same engine (its memory of its writes), with caches
				// that show the API server as it is now.
				fresh := h.engine(t)
				e.StatefulSets, e.Pods, e.Nodes = fresh.StatefulSets, fresh.Pods, fresh.Nodes
				got, err := e.Place(h.ctx, s, testRun(), target, tasks(a))
				if err != nil {
					t.Fatalf("Place: %v", err)
				}
				c.sync(t)
				return got
			}
			// a starts: the hand-over, in as many reconciles as it takes.
			ready := false
			for i := 0; i < 5 && !ready; i++ {
				ready = place(demand.Starting).Ready
			}
			if !ready {
				t.Fatalf("a never started: pods made %v, events %v", c.made, h.events())
			}
			// a runs, b and c wait: nothing left to do.
			for i := 0; i < 2; i++ {
				if got := place(demand.Running); !got.Ready {
					t.Errorf("with a running: %+v, want ready", got)
				}
			}
			want := []string{placeholder.PodName(phName()) + " pod-2 " + formatResources(withExtended(rl("1", "16Mi"), "1"))}
			if diff := cmp.Diff(want, c.made); diff != "" {
				t.Errorf("placeholder pods made by the StatefulSet controller (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Normal Placed", "Normal ReservationHandedOver"}, h.events()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
