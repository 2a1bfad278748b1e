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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// answered is the world in which observe asked the API server, with a dry
// run of the placeholder pod, why it cannot be created, and got err.
func answered(err error) func(*world) {
	return func(w *world) { w.dryRun, w.diagnosed = err, true }
}

// TestDecideDiagnosis checks the step decide takes for a StatefulSet that
// has had no pod for longer than createGrace, on the API server's answer to
// a dry run of that pod.
func TestDecideDiagnosis(t *testing.T) {
	token := placeholder.TokenRequests()
	podName := placeholder.PodName(phName())
	quota := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, podName, errors.New("exceeded quota: compute, requested: requests.cpu=3, used: requests.cpu=0, limited: requests.cpu=500m"))
	webhook := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, podName, errors.New(`admission webhook "deny.example" denied the request`))
	runDecide(t, []decideCase{{
		name:  "admitted now: nudge the StatefulSet controller, asked again after nudgeEvery",
		world: decideWorld(ownSTS("", peak()), nil, answered(nil)),
		want: stepView{Kind: stepAnnotate, Placement: wait(ReasonWaitingForNode, nudgeEvery),
			Annotation: placeholder.NudgedAnnotation, Since: now},
		message: []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + podName, "asked the StatefulSet controller to try again at once"},
	}, {
		name:  "processed by the StatefulSet controller (observedGeneration 2 of 2), admitted now: nudged",
		world: decideWorld(generations(ownSTS("", peak()), 2, 2), nil, answered(nil)),
		want: stepView{Kind: stepAnnotate, Placement: wait(ReasonWaitingForNode, nudgeEvery),
			Annotation: placeholder.NudgedAnnotation, Since: now},
		message: []string{"asked the StatefulSet controller to try again at once"},
	}, {
		name:    "not processed by the StatefulSet controller yet (observedGeneration 1 of 2), for a minute: no nudge, a bounded wait for it, asked again after diagnoseEvery at most",
		world:   decideWorld(generations(ownSTS("", peak()), 2, 1), nil, answered(nil)),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + podName + " (the StatefulSet controller has not processed the StatefulSet yet)"},
	}, {
		name:    "not processed by the StatefulSet controller yet, 7s after its creation: asked again after as long again (the controller lags in a burst; its pod's binding brings the run back sooner)",
		world:   decideWorld(generations(createdAgo(ownSTS("", peak()), 7*time.Second), 2, 1), nil, answered(nil)),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, 7*time.Second)},
		message: []string{"(the StatefulSet controller has not processed the StatefulSet yet)"},
	}, {
		name:    "not processed by the StatefulSet controller for longer than max-node-wait: fail",
		config:  map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		world:   decideWorld(generations(ownSTS("", peak()), 2, 1), nil, answered(nil)),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{"waited 1m0s", "has not processed the StatefulSet yet"},
	}, {
		name:  "admitted now, nudged a moment ago: not again yet",
		world: decideWorld(nudgedAgo(ownSTS("", peak()), 4*time.Second), nil, answered(nil)),
		want:  stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, nudgeEvery-4*time.Second)},
	}, {
		name:   "admitted now, but waited longer than max-node-wait: fail, no nudge",
		config: map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		world:  decideWorld(ownSTS("", peak()), nil, answered(nil)),
		want:   stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
	}, {
		name:    "refused by a ResourceQuota: its message, a bounded wait asked again after diagnoseEvery",
		world:   decideWorld(ownSTS("", peak()), nil, answered(quota)),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"Placeholder pod " + podName + " cannot be created yet", "limited: requests.cpu=500m"},
	}, {
		name:    "refused by a ResourceQuota for longer than max-node-wait: fail with its message",
		config:  map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		world:   decideWorld(ownSTS("", peak()), nil, answered(quota)),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonNodeWaitTimeout}, Outcome: metrics.OutcomeWaitTimeout},
		message: []string{"waited 1m0s", "exceeded quota: compute"},
	}, {
		name:    "forbidden by admission: fail at once with the API's message",
		world:   decideWorld(ownSTS("", peak()), nil, answered(webhook)),
		want:    stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonPlaceholderRejected}},
		message: []string{"rejects placeholder pod " + podName, "denied the request"},
	}, {
		name:  "invalid: fail at once",
		world: decideWorld(ownSTS("", peak()), nil, answered(apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, podName, nil))),
		want:  stepView{Kind: stepNone, Placement: Placement{Failed: true, Reason: ReasonPlaceholderRejected}},
	}, {
		name:    "pinned, its pod gone 10 min ago and refused since: the wait counts from when it was first seen gone",
		world:   decideWorld(waitingSince(createdAgo(ownSTS("node-1", token), 3*time.Hour), 10*time.Minute), nil, answered(quota)),
		want:    stepView{Kind: stepNone, Placement: wait(ReasonWaitingForNode, diagnoseEvery)},
		message: []string{"exceeded quota"},
	}})
}

// TestDiagnosing checks when observe asks the API server why the
// StatefulSet has no pod: only when decide goes on to decideDiagnosis.
func TestDiagnosing(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name  string
		world world
		want  bool
	}{{
		name:  "no pod past createGrace: asked",
		world: decideWorld(ownSTS("", peak()), nil),
		want:  true,
	}, {
		name:  "no pod past createGrace, processed by the StatefulSet controller (observedGeneration 2 of 2): asked",
		world: decideWorld(generations(ownSTS("", peak()), 2, 2), nil),
		want:  true,
	}, {
		name:  "no pod past createGrace, not processed by the StatefulSet controller yet (observedGeneration 1 of 2): not asked, it lags",
		world: decideWorld(generations(ownSTS("", peak()), 2, 1), nil),
	}, {
		name:  "pinned, its pod gone for a while, the StatefulSet controller has not processed the pin yet: not asked",
		world: decideWorld(generations(waitingSince(ownSTS("node-1", token), time.Minute), 3, 2), nil),
	}, {
		name:  "no pod a moment after the StatefulSet was created: not yet",
		world: decideWorld(createdAgo(ownSTS("", peak()), 2*time.Second), nil),
	}, {
		name:  "pinned, no pod, the wait not recorded yet: not yet",
		world: decideWorld(ownSTS("node-1", token), nil),
	}, {
		name:  "a pod: not asked",
		world: decideWorld(ownSTS("", peak()), unschedulablePod(peak())),
	}, {
		name:  "a pod that is going: not asked",
		world: decideWorld(ownSTS("node-1", token), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)),
	}, {
		name:  "pinned to an unusable node: not asked, the run moves",
		world: decideWorld(waitingSince(ownSTS("node-1", token), time.Minute), nil, unusableAs("cordoned")),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := diagnosing(&tc.world, now); got != tc.want {
				t.Errorf("diagnosing() = %t, want %t", got, tc.want)
			}
		})
	}
}
