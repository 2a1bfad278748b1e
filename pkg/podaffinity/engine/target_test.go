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

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	logtesting "knative.dev/pkg/logging/testing"
)

func TestTarget(t *testing.T) {
	withLabels := func(r *v1.PipelineRun, labels map[string]string) *v1.PipelineRun {
		r.Labels = labels
		return r
	}
	childRun := func(labels map[string]string) *v1.PipelineRun {
		r := testRun()
		r.Name, r.UID = "build-child", "child-uid"
		r.Labels = labels
		r.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "parent", UID: "parent-uid", Controller: ptr.To(true)}}
		return r
	}
	done := testRun()
	done.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue})
	const parentPlaceholder = "placeholder-parent-0123456789"

	pending := func(r *v1.PipelineRun) *v1.PipelineRun {
		r.Spec.Status = v1.PipelineRunSpecStatusPending
		return waitingForFirstNode(r, v1.PipelineRunReasonPending.String())
	}
	withAnnotations := func(r *v1.PipelineRun, annotations map[string]string) *v1.PipelineRun {
		r.Annotations = annotations
		return r
	}
	for _, tc := range []struct {
		name       string
		enabled    bool
		coschedule string
		// topology is the value of the topology key flag, if set.
		topology string
		// queue is the value of the Kueue queue flag, if set.
		queue      string
		run        *v1.PipelineRun
		want       Target
		wantEvents []string
	}{{
		name:    "feature disabled",
		enabled: false,
		run:     testRun(),
		want:    Target{},
	}, {
		name:    "labelled run: required isolation",
		enabled: true,
		run:     testRun(),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:       "coschedule pipelineruns: preferred isolation",
		enabled:    true,
		coschedule: tektonconfig.CoschedulePipelineRuns,
		run:        withLabels(testRun(), nil),
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationPreferred},
	}, {
		name:    "not selected",
		enabled: true,
		run:     withLabels(testRun(), nil),
		want:    Target{},
	}, {
		name:    "done run",
		enabled: true,
		run:     done,
		want:    Target{},
	}, {
		name:     "topology key set to the zone: the run's pods share a zone",
		enabled:  true,
		topology: zoneKey,
		run:      testRun(),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: zoneKey},
	}, {
		name:     "topology key set to the node: the default",
		enabled:  true,
		topology: placeholder.HostnameTopologyKey,
		run:      testRun(),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:     "topology key changed to the zone mid-run: the run's record (one node) holds",
		enabled:  true,
		topology: zoneKey,
		run:      reconciled(recorded(testRun(), "required/cluster"), true),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "topology key changed back to the node mid-run: the run's record (the zone) holds",
		enabled: true,
		run:     reconciled(recorded(testRun(), "required/namespace@"+zoneKey), true),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired, NamespaceScoped: true, Topology: zoneKey},
	}, {
		name:    "Kueue queue flag: a run without a queue label is queued there",
		enabled: true,
		queue:   "runs",
		run:     testRun(),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Queue: "runs"},
	}, {
		name:    "Kueue queue flag, run labelled for a queue of its own: the label wins, no default",
		enabled: true,
		queue:   "runs",
		run:     withLabels(testRun(), map[string]string{selection.LabelKey: "true", placeholder.KueueQueueLabel: "team-a"}),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "Kueue queue flag, run not handled: no queue",
		enabled: true,
		queue:   "runs",
		run:     withLabels(testRun(), nil),
		want:    Target{},
	}, {
		name:    "Kueue queue flag set mid-run: the run's record (no queue) holds",
		enabled: true,
		queue:   "runs",
		run:     reconciled(recorded(testRun(), "required/cluster"), true),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "Kueue queue flag cleared mid-run: the run's record (the queue) holds",
		enabled: true,
		run:     reconciled(recorded(testRun(), "required/cluster,kueue-queue=runs"), true),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Queue: "runs"},
	}, {
		name:    "Kueue queue flag changed mid-run: the run's record (the old queue) holds",
		enabled: true,
		queue:   "other",
		run:     reconciled(recorded(testRun(), "required/cluster@"+zoneKey+",kueue-queue=runs"), true),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: zoneKey, Queue: "runs"},
	}, {
		name:     "child PipelineRun of a run in one zone joins in the parent's zone, whatever the flag says",
		enabled:  true,
		topology: "example.com/rack",
		run:      withAnnotations(childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}), map[string]string{placeholder.TopologyAnnotationKey: zoneKey}),
		want:     Target{Placeholder: parentPlaceholder, Joined: true, Topology: zoneKey},
	}, {
		name:     "child PipelineRun of a run on one node joins on it, whatever the flag says",
		enabled:  true,
		topology: zoneKey,
		run:      childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:     Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "child PipelineRun joins the parent's placeholder",
		enabled: true,
		run:     childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:       "child PipelineRun joins even when coschedule would select it",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:       Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "child PipelineRun joins after the feature was turned off: the parent's decision holds",
		enabled: false,
		run:     childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "feature turned off mid-run: the run's record holds",
		enabled: false,
		run:     reconciled(recorded(testRun(), "required/cluster"), false),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "feature turned off while the run waits for its first node (no start time until it has one): the run's record holds",
		enabled: false,
		run:     waitingForFirstNode(recorded(testRun(), "required/cluster"), ReasonWaitingForNode),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "feature turned off within the run's quiet wait for its first node: the run's record holds",
		enabled: false,
		run:     waitingForFirstNode(recorded(testRun(), "required/cluster"), v1.PipelineRunReasonStarted.String()),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "a record on a run held pending is its creator's: the run has not started",
		enabled: false,
		run:     waitingForFirstNode(recorded(testRun(), "required/cluster"), v1.PipelineRunReasonPending.String()),
		want:    Target{},
	}, {
		name:       "coschedule and scope changed mid-run: the run's record holds",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "preferred/namespace"), true),
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationPreferred, NamespaceScoped: true},
	}, {
		name:       "recorded as not handled: the feature turned on later leaves it alone",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "none"), true),
		want:       Target{},
	}, {
		name:       "feature turned on while a run without a record is between tasks: it finishes under the Affinity Assistant",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(withLabels(testRun(), nil), true),
		want:       Target{},
	}, {
		name:       "a record on a run the controller never reconciled is its creator's, not the engine's",
		enabled:    false,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        recorded(testRun(), "required/cluster"),
		want:       Target{},
	}, {
		name:       "an invalid record is ignored; a run with children finishes as it began",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "always"), true),
		want:       Target{},
	}, {
		name:    "member label on a run not owned by a PipelineRun is ignored",
		enabled: true,
		run:     withLabels(testRun(), map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{},
	}, {
		name:    "child of a handled parent without the member label is placed on its own terms",
		enabled: true,
		run:     childRun(map[string]string{selection.LabelKey: "true"}),
		want:    Target{Placeholder: placeholder.Name(&childRun(nil).ObjectMeta), Isolation: selection.IsolationRequired},
	}, {
		name:       "invalid label on a run reconciled before: not handled, no second warning",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(withLabels(testRun(), map[string]string{selection.LabelKey: "yes"}), false),
		want:       Target{},
	}, {
		// A held run is reconciled at each change of it (a queueing
		// front end's labels, say) and has no start time until it is
		// released: it is warned of once, when it is released.
		name:       "invalid label on a run held pending: not handled, no warning while it is held",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        pending(withLabels(testRun(), map[string]string{selection.LabelKey: "yes"})),
		want:       Target{},
	}, {
		name:       "invalid label on a run just released: not handled, warning event",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        waitingForFirstNode(withLabels(testRun(), map[string]string{selection.LabelKey: "yes"}), v1.PipelineRunReasonPending.String()),
		want:       Target{},
		wantEvents: []string{"Warning InvalidPodAffinityLabel"},
	}, {
		name:       "invalid label: not handled, warning event",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        withLabels(testRun(), map[string]string{selection.LabelKey: "yes"}),
		want:       Target{},
		wantEvents: []string{"Warning InvalidPodAffinityLabel"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			flags := map[string]string{paconfig.EnableKey: fmt.Sprint(tc.enabled)}
			if tc.topology != "" {
				flags[paconfig.TopologyKeyKey] = tc.topology
			}
			if tc.queue != "" {
				flags[paconfig.KueueQueueKey] = tc.queue
			}
			s := settings(t, flags)
			s.Coschedule = tc.coschedule
			got, err := h.engine(t).Target(h.ctx, s, tc.run)
			if err != nil {
				t.Fatalf("Target() = %v", err)
			}
			// FirstReconcile: TestTargetFirstReconcile.
			if d := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Target{}, "FirstReconcile")); d != "" {
				t.Errorf("Target() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want.Placeholder != "", got.Handled()); d != "" {
				t.Errorf("Target().Handled() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestTargetWithoutRecorder(t *testing.T) {
	// No recorder in the context: the invalid label is still ignored, without a panic.
	e := newHarness(t).engine(t)
	run := testRun()
	run.Labels[selection.LabelKey] = "maybe"
	got, err := e.Target(logtesting.TestContextWithLogger(t), settings(t, nil), run)
	if err != nil {
		t.Fatalf("Target() = %v", err)
	}
	if d := cmp.Diff(Target{}, got); d != "" {
		t.Errorf("Target() (-want +got):\n%s", d)
	}
}

// TestTargetInvalidLabelWarnedOnce checks that a run with an invalid opt-in
// label is warned of once although a second reconcile reads it from a cache
// that has not seen the first one's status write (no start time yet), and
// that another run is warned of too.
func TestTargetInvalidLabelWarnedOnce(t *testing.T) {
	h := newHarness(t)
	e := h.engine(t)
	s := settings(t, map[string]string{paconfig.EnableKey: "true"})
	s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
	run := testRun()
	run.Labels[selection.LabelKey] = "yes"
	other := run.DeepCopy()
	other.Name, other.UID = "other", "other-uid"
	for _, r := range []*v1.PipelineRun{run, run.DeepCopy(), other} {
		if _, err := e.Target(h.ctx, s, r); err != nil {
			t.Fatalf("Target() = %v", err)
		}
	}
	if d := cmp.Diff([]string{"Warning InvalidPodAffinityLabel", "Warning InvalidPodAffinityLabel"}, h.events()); d != "" {
		t.Errorf("events, one per run (-want +got):\n%s", d)
	}
}
