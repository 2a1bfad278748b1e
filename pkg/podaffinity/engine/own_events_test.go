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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// TestOwnEvents checks which versions of a StatefulSet the engine wrote
// re-queue nothing.
func TestOwnEvents(t *testing.T) {
	written := &appsv1.StatefulSet{}
	written.UID, written.ResourceVersion = "uid-1", "7"
	for _, tc := range []struct {
		name    string
		quiet   bool
		uid     types.UID
		version string
		after   time.Duration
		want    bool
	}{
		{name: "settled write, its own event", quiet: true, uid: "uid-1", version: "7", want: true},
		{name: "settled write, a later change by someone else", quiet: true, uid: "uid-1", version: "8"},
		{name: "settled write, another StatefulSet", quiet: true, uid: "uid-2", version: "7"},
		{name: "a step that counts on the event", uid: "uid-1", version: "7"},
		{name: "settled write, its event past the TTL", quiet: true, uid: "uid-1", version: "7", after: ownEventTTL + time.Second},
		{name: "no version", quiet: true, uid: "uid-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o ownEvents
			o.wrote(written)
			o.settle(written.UID, tc.quiet, now)
			if got := o.has(tc.uid, tc.version, now.Add(tc.after)); got != tc.want {
				t.Errorf("has(%s, %q) = %t, want %t", tc.uid, tc.version, got, tc.want)
			}
		})
	}
}

// TestSettled checks which placements need no event of the step's write.
func TestSettled(t *testing.T) {
	for _, tc := range []struct {
		name       string
		p          Placement
		podWritten bool
		want       bool
	}{
		{name: "ready", p: Placement{Ready: true}, want: true},
		{name: "failed", p: Placement{Failed: true}, want: true},
		{name: "a bounded wait", p: Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Second}, want: true},
		{name: "hand-over begun: the pod's update", p: Placement{Reason: ReasonHandingOver, HandOverBegun: true}, want: true},
		{name: "a wait for the pod the step deleted", p: Placement{Reason: ReasonWaitingForNode}, podWritten: true, want: true},
		{name: "a wait for nothing else", p: Placement{Reason: ReasonWaitingForNode}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := settled(tc.p, tc.podWritten); got != tc.want {
				t.Errorf("settled(%+v, %t) = %t, want %t", tc.p, tc.podWritten, got, tc.want)
			}
		})
	}
}

// TestOwnStatefulSetWrite checks, through Place, that the watch event of the
// placeholder's creation and of its pin re-queues nothing, and that any
// other version of it does.
func TestOwnStatefulSetWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		// wantWrite is the write sent; its answer is the event checked.
		wantWrite string
		want      Placement
	}{{
		name:      "created: checked again after createGrace",
		objects:   []runtime.Object{readyNode("node-1")},
		wantWrite: "create",
		want:      waitAfterCreate,
	}, {
		name:      "pod bound: pinned to its node, its container awaited",
		objects:   []runtime.Object{readyNode("node-1"), ownSTS("", peak()), placeholderPod("node-1", peak(), ago(time.Second))},
		wantWrite: "patch",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			// As the API server does: every write answers a new version.
			var answered []runtime.Object
			version := 100
			h.client.PrependReactor(tc.wantWrite, "statefulsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
				handled, obj, err := k8stesting.ObjectReaction(h.client.Tracker())(a)
				if sts, ok := obj.(*appsv1.StatefulSet); ok && err == nil {
					version++
					sts = sts.DeepCopy()
					if sts.UID == "" {
						sts.UID = "created-uid"
					}
					sts.ResourceVersion = fmt.Sprint(version)
					answered = append(answered, sts)
					obj = sts
				}
				return handled, obj, err
			})
			e := h.engine(t)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
			if err != nil {
				t.Fatalf("Place() error: %v", err)
			}
			if tc.want != (Placement{}) {
				if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
					t.Errorf("Place() (-want +got):\n%s", d)
				}
			}
			if len(answered) != 1 {
				t.Fatalf("%s statefulsets answered %d times, want once", tc.wantWrite, len(answered))
			}
			event := answered[0].(*appsv1.StatefulSet)
			if !e.OwnStatefulSetWrite(event) {
				t.Errorf("OwnStatefulSetWrite(the %s's answer) = false, want true: its event would re-queue the run for nothing", tc.wantWrite)
			}
			later := event.DeepCopy()
			later.ResourceVersion += "1"
			if e.OwnStatefulSetWrite(later) {
				t.Error("OwnStatefulSetWrite(a later version) = true, want false: a change by anyone else re-queues the run")
			}
			if e.OwnStatefulSetWrite(cache.DeletedFinalStateUnknown{Key: "k", Obj: event}) {
				t.Error("OwnStatefulSetWrite(a tombstone) = true, want false")
			}
		})
	}
}
