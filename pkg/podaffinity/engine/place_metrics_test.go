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
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics/metricstest"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
)

// placements is what the placements counter recorded for outcome o, once.
func placements(o metrics.Outcome) string {
	return metrics.PlacementsName + "{outcome=" + string(o) + "}"
}

// TestPlaceRecordsMetrics checks what one Place records, for each kind of
// step it takes: the placements counter by outcome, the wait for a node
// of a run placed, and the hand-overs and restores of its reservation.
// Every other step records nothing (a creation, a wait, a deletion, a
// failure that is no outcome), nor does a step whose write fails.
func TestPlaceRecordsMetrics(t *testing.T) {
	token := placeholder.TokenRequests()
	held := rl("2", "16Mi")
	running := memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute))
	const hold = "example.com/hold"
	// placedAfter is what a run placed after a wait of d records.
	placedAfter := func(d time.Duration) metricstest.Recorded {
		return metricstest.Recorded{
			placements(metrics.OutcomePlaced): 1,
			metrics.NodeWaitName + "_count":   1,
			metrics.NodeWaitName + "_sum":     d.Seconds(),
		}
	}
	with := func(r metricstest.Recorded, name string, v float64) metricstest.Recorded {
		r[name] = v
		return r
	}
	for _, tc := range []struct {
		name      string
		config    map[string]string
		objects   []runtime.Object
		remaining []demand.Task
		resizeErr error
		dryRunErr error
		createErr error
		// patchErr, when set, is what patching a StatefulSet answers.
		patchErr error
		// refusedFor, when set, is how long the API server has refused to
		// create the StatefulSet, as the engine remembers.
		refusedFor time.Duration
		// want is the placement (its reason tells the step taken), and
		// wantMetrics what was recorded (empty: nothing).
		want        Placement
		wantErr     bool
		wantMetrics metricstest.Recorded
	}{{
		name:        "create: counted as no outcome",
		objects:     []runtime.Object{readyNode("node-1")},
		want:        waitAfterCreate,
		wantMetrics: metricstest.Recorded{},
	}, {
		name: "create on the node of the run's pods, the StatefulSet gone mid-run: recreated",
		objects: []runtime.Object{
			readyNode("node-1"), memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(5*time.Minute)),
			memberPod("build-test-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		want:        waitAfterCreate,
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeRecreated): 1},
	}, {
		name:        "create refused by a quota for longer than max-node-wait: wait_timeout",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New("exceeded quota: objects")),
		refusedFor:  time.Hour,
		want:        Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeWaitTimeout): 1},
	}, {
		name:        "create rejected for good: a failure that is no outcome",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, phName(), nil),
		want:        Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "wait for the scheduler: nothing",
		objects:     []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 10*time.Minute), placeholderPod("", peak(), ago(10*time.Minute), unschedulableCondition(schedulerMessage))},
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "wait for the scheduler past max-node-wait: wait_timeout",
		objects:     []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), time.Hour), placeholderPod("", peak(), ago(time.Hour), unschedulableCondition(schedulerMessage))},
		want:        Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeWaitTimeout): 1},
	}, {
		name:        "pod refused by a quota past max-node-wait (dry run): wait_timeout",
		config:      map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:   apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute")),
		want:        Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeWaitTimeout): 1},
	}, {
		name:        "pod rejected by admission (dry run): a failure that is no outcome",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:   apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New(`admission webhook "deny.example" denied the request`)),
		want:        Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "annotate: the StatefulSet controller nudged, nothing counted",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "pin, shrunk in place: placed after its wait, and the shrink counted as a hand-over",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		want:        Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true, RequeueAfter: resizeLimit},
		wantMetrics: with(placedAfter(2*time.Minute), metrics.ReservationHandoversName, 1),
	}, {
		name:        "pin on a node without in-place resize: placed, and handed over by replacement",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:   resizeUnsupported,
		want:        Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMetrics: with(placedAfter(2*time.Minute), metrics.ReservationHandoversName, 1),
	}, {
		name:        "pin, reservation none: placed in one step, nothing to hand over",
		config:      map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:        Placement{Node: "node-1", Ready: true},
		wantMetrics: placedAfter(time.Minute),
	}, {
		name:        "already pinned, container not started in time: handed over by replacement, not placed again",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", peak(), ago(2*time.Minute))},
		want:        Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMetrics: metricstest.Recorded{metrics.ReservationHandoversName: 1},
	}, {
		name:        "already pinned and token-sized: nothing",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:        Placement{Node: "node-1", Ready: true},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "a task finished: grown back in place, a restore",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))), running},
		remaining:   growBack(demand.Running, demand.Waiting),
		want:        Placement{Node: "node-1", Ready: true},
		wantMetrics: metricstest.Recorded{metrics.ReservationRestoresName: 1},
	}, {
		name:        "a task finished, the API refuses the grow: the pod kept, nothing",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))), running},
		remaining:   growBack(demand.Running, demand.Waiting),
		resizeErr:   resizeUnsupported,
		want:        Placement{Node: "node-1", Ready: true},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "pod came back token-sized while a later task needs more: the room asked for again, nothing yet",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), running, reporting(recreatedPod("node-1", token, ago(time.Second)))},
		remaining:   growBack(demand.Running, demand.Waiting),
		want:        Placement{Node: "node-1", Reason: ReasonWaitingForNode, RequeueAfter: controllerRecheck},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "a token-sized pod bound while the template asks for the room: replaced, no restore",
		objects:     []runtime.Object{readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running, reporting(recreatedPod("node-1", token, ago(time.Second)))},
		remaining:   growBack(demand.Running, demand.Waiting),
		want:        Placement{Node: "node-1", Reason: ReasonWaitingForNode},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "the replacement got the room on the node: a restore",
		objects:     []runtime.Object{readyNode("node-1"), reclaimingSTS("node-1", held, 5*time.Second), running, reporting(recreatedPod("node-1", held, ago(time.Second)))},
		remaining:   growBack(demand.Running, demand.Waiting),
		want:        Placement{Node: "node-1", Ready: true},
		wantMetrics: metricstest.Recorded{metrics.ReservationRestoresName: 1},
	}, {
		name:        "move off a cordoned node: moved",
		objects:     []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour))},
		want:        waitForNode,
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeMoved): 1},
	}, {
		name:        "move whose write fails: an error, nothing counted (the next reconcile moves and counts)",
		objects:     []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour))},
		patchErr:    apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), nil),
		wantErr:     true,
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "admission by Kueue whose record fails to write: an error",
		objects:     []runtime.Object{readyNode("node-1"), awaitingAdmission(ownSTS("", peak()), time.Hour), placeholderPod("", peak(), ago(time.Hour))},
		patchErr:    apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), nil),
		wantErr:     true,
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "pin whose write fails: an error, not placed yet",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		patchErr:    apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), nil),
		wantErr:     true,
		wantMetrics: metricstest.Recorded{},
	}, {
		name: "move: the pinned pod cannot return to its node: moved",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/2 nodes are available: 1 Insufficient cpu")),
		},
		want:        waitForNode,
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeMoved): 1},
	}, {
		name: "wait to move off a cordoned node while a task runs there: nothing",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMetrics: metricstest.Recorded{},
	}, {
		name: "delete a pod that does not terminate on a node that stopped working: nothing",
		objects: []runtime.Object{
			notReadyNode("node-1"), readyNode("node-2"),
			waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second),
		},
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "StatefulSet held by a finalizer within max-node-wait: nothing",
		objects:     []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), time.Minute, hold)},
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		wantMetrics: metricstest.Recorded{},
	}, {
		name:        "StatefulSet held by a finalizer past max-node-wait: stuck_deleting",
		objects:     []runtime.Object{readyNode("node-1"), heldSTS(ownSTS("", peak()), 2*time.Hour, hold), placeholderPod("", peak(), ago(3*time.Hour))},
		want:        Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeStuckDeleting): 1},
	}, {
		name:        "placed run's pod held by a finalizer past max-node-wait: stuck_deleting",
		objects:     []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), heldPodOf(reporting(placeholderPod("node-1", token, ago(3*time.Hour))), 2*time.Hour, 0, hold)},
		remaining:   startedTasks(),
		want:        Placement{Failed: true, Reason: ReasonPlaceholderStuckDeleting},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeStuckDeleting): 1},
	}, {
		name:        "run looking for a node past max-node-wait whose pod is held: wait_timeout, not stuck_deleting",
		objects:     []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), 2*time.Hour), heldPodOf(placeholderPod("node-1", peak(), ago(3*time.Hour)), time.Minute, 0, hold)},
		want:        Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMetrics: metricstest.Recorded{placements(metrics.OutcomeWaitTimeout): 1},
	}, {
		name: "StatefulSet of the same name not controlled by the run: a failure that is no outcome",
		objects: []runtime.Object{readyNode("node-1"), func() runtime.Object {
			sts := ownSTS("node-1", token)
			sts.OwnerReferences = nil
			return sts
		}()},
		want:        Placement{Failed: true, Reason: ReasonPlaceholderConflict},
		wantMetrics: metricstest.Recorded{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.resizeErr != nil {
				h.failResize(tc.resizeErr)
			}
			h.dryRunErr = tc.dryRunErr
			if tc.createErr != nil {
				h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			if tc.patchErr != nil {
				h.client.PrependReactor("patch", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.patchErr
				})
			}
			provider := metricstest.NewProvider()
			recorder, err := metrics.NewRecorderFrom(provider, func() (int64, error) { return 0, nil })
			if err != nil {
				t.Fatalf("NewRecorderFrom: %v", err)
			}
			e := h.engine(t)
			e.Metrics = recorder
			run := testRun()
			if tc.refusedFor > 0 {
				// First refused refusedFor ago, last diagnoseEvery ago.
				e.refused.since.set(run.UID, now.Add(-tc.refusedFor), now.Add(-diagnoseEvery), refusalForgetAfter)
			}
			tasks := remaining()
			if tc.remaining != nil {
				tasks = tc.remaining
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := e.Place(h.ctx, settings(t, tc.config), run, target, tasks)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Place() error = %v, want error: %t", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantMetrics, provider.Got()); d != "" {
				t.Errorf("recorded metrics (-want +got):\n%s", d)
			}
		})
	}
}
