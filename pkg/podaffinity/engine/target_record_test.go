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
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

func TestLabel(t *testing.T) {
	const name = "placeholder-x-0123456789"
	member := map[string]string{placeholder.MemberLabelKey: name}
	inZone := map[string]string{placeholder.TopologyAnnotationKey: zoneKey}
	for _, tc := range []struct {
		name            string
		labels          map[string]string
		annotations     map[string]string
		target          Target
		want            map[string]string
		wantAnnotations map[string]string
	}{
		{name: "not handled: untouched", labels: map[string]string{"a": "b"}, target: Target{}, want: map[string]string{"a": "b"}},
		{name: "not handled, no labels: stays nil", target: Target{}, want: nil},
		{name: "not handled, the run's creator's topology annotation: untouched", annotations: inZone, target: Target{}, wantAnnotations: inZone},
		{name: "handled, no labels", target: Target{Placeholder: name}, want: member},
		{name: "handled, labels kept", labels: map[string]string{"a": "b"}, target: Target{Placeholder: name, Joined: true}, want: map[string]string{"a": "b", placeholder.MemberLabelKey: name}},
		{name: "handled, stale value replaced", labels: map[string]string{placeholder.MemberLabelKey: "old"}, target: Target{Placeholder: name}, want: member},
		{name: "handled, in a zone: annotated with the key", target: Target{Placeholder: name, Topology: zoneKey}, want: member, wantAnnotations: inZone},
		{name: "joined child, in a zone: annotated with the key", annotations: map[string]string{"a": "b"}, target: Target{Placeholder: name, Joined: true, Topology: zoneKey}, want: member, wantAnnotations: map[string]string{"a": "b", placeholder.TopologyAnnotationKey: zoneKey}},
		{name: "handled, on one node: a topology annotation copied from the run is removed", annotations: map[string]string{"a": "b", placeholder.TopologyAnnotationKey: zoneKey}, target: Target{Placeholder: name}, want: member, wantAnnotations: map[string]string{"a": "b"}},
		{name: "handled, in a zone: another topology copied from the run is replaced", annotations: map[string]string{placeholder.TopologyAnnotationKey: "rack"}, target: Target{Placeholder: name, Topology: zoneKey}, want: member, wantAnnotations: inZone},
		{name: "handled, isolated: annotated with the scope", annotations: map[string]string{"a": "b"}, target: Target{Placeholder: name, Isolation: selection.IsolationRequired}, want: member, wantAnnotations: map[string]string{"a": "b", placeholder.IsolationAnnotationKey: "cluster"}},
		{name: "handled, isolated per tenant: annotated with the tenant", target: Target{Placeholder: name, Isolation: selection.IsolationRequired, TenantLabel: tenantKey, Tenant: ptr.To("acme")}, want: member, wantAnnotations: map[string]string{placeholder.IsolationAnnotationKey: "tenant=acme"}},
		{name: "handled, isolated per namespace: annotated with the namespace", target: Target{Placeholder: name, Isolation: selection.IsolationRequired, NamespaceScoped: true}, want: member, wantAnnotations: map[string]string{placeholder.IsolationAnnotationKey: "namespace"}},
		{name: "handled, preferred isolation: a scope copied from the run is removed", annotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"}, target: Target{Placeholder: name, Isolation: selection.IsolationPreferred}, want: member},
		{name: "joined child: the scope its parent gave it is kept for its TaskRuns", annotations: map[string]string{placeholder.IsolationAnnotationKey: "namespace"}, target: Target{Placeholder: name, Joined: true}, want: member, wantAnnotations: map[string]string{placeholder.IsolationAnnotationKey: "namespace"}},
		{name: "handled, not isolated: a scope copied from the run is removed", annotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"}, target: Target{Placeholder: name}, want: member},
		{name: "not handled, the run's creator's isolation annotation: untouched", annotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"}, target: Target{}, wantAnnotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"}},
		{name: "handled: the run's record of whom it was made for is not copied", annotations: map[string]string{"a": "b", RecordedForAnnotationKey: "run-uid"}, target: Target{Placeholder: name}, want: member, wantAnnotations: map[string]string{"a": "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := &metav1.ObjectMeta{Labels: tc.labels, Annotations: tc.annotations}
			Label(meta, tc.target)
			if d := cmp.Diff(tc.want, meta.Labels); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantAnnotations, meta.Annotations, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	pending := func(r *v1.PipelineRun) *v1.PipelineRun {
		r.Spec.Status = v1.PipelineRunSpecStatusPending
		return r
	}
	withRecord := func(r *v1.PipelineRun, value string) *v1.PipelineRun {
		r.Annotations = map[string]string{selection.RecordAnnotationKey: value, "keep": "me"}
		return r
	}
	for _, tc := range []struct {
		name   string
		run    *v1.PipelineRun
		target Target
		want   map[string]string
	}{{
		name:   "handled: recorded, for this run",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
		want:   map[string]string{selection.RecordAnnotationKey: "required/cluster", RecordedForAnnotationKey: "run-uid"},
	}, {
		name:   "handled, namespace scope",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationPreferred, NamespaceScoped: true},
		want:   map[string]string{selection.RecordAnnotationKey: "preferred/namespace", RecordedForAnnotationKey: "run-uid"},
	}, {
		name:   "handled, in a zone: the key follows the scope",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: "example.com/tenant", Topology: zoneKey},
		want:   map[string]string{selection.RecordAnnotationKey: "required/label:example.com/tenant@" + zoneKey, RecordedForAnnotationKey: "run-uid"},
	}, {
		name:   "handled, queued through the default queue: the queue follows the scope and topology",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: zoneKey, Queue: "runs"},
		want:   map[string]string{selection.RecordAnnotationKey: "required/cluster@" + zoneKey + ",kueue-queue=runs", RecordedForAnnotationKey: "run-uid"},
	}, {
		name:   "handled, its status written: the record only (its status shows it was reconciled)",
		run:    waitingForFirstNode(testRun(), ReasonWaitingForNode),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
		want:   map[string]string{selection.RecordAnnotationKey: "required/cluster"},
	}, {
		name:   "not handled: nothing written",
		run:    testRun(),
		target: Target{},
	}, {
		name:   "not handled, with a record its creator wrote: overwritten",
		run:    withRecord(testRun(), "required/cluster"),
		target: Target{},
		want:   map[string]string{selection.RecordAnnotationKey: "none", "keep": "me"},
	}, {
		name: "not handled, with a record and the UID of the run its creator copied it from: both overwritten",
		run: func() *v1.PipelineRun {
			r := withRecord(testRun(), "required/cluster")
			r.Annotations[RecordedForAnnotationKey] = "copied-uid"
			return r
		}(),
		target: Target{},
		want:   map[string]string{selection.RecordAnnotationKey: "none", "keep": "me"},
	}, {
		name:   "pending: decided again when released, not recorded",
		run:    pending(testRun()),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:   "joined child: its member label is its record",
		run:    testRun(),
		target: Target{Placeholder: "placeholder-parent-0123456789", Joined: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			Record(tc.run, tc.target)
			if d := cmp.Diff(tc.want, tc.run.Annotations); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
		})
	}
}

// TestWaitsForFirstNode checks which runs WaitsForFirstNode takes for a run
// reconciled before that waits for its first node without a start time.
func TestWaitsForFirstNode(t *testing.T) {
	pending := testRun()
	pending.Spec.Status = v1.PipelineRunSpecStatusPending
	pending.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionUnknown, Reason: v1.PipelineRunReasonPending.String()})
	failed := testRun()
	failed.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: ReasonNodeWaitTimeout})
	withChildren := waitingForFirstNode(testRun(), ReasonWaitingForNode)
	withChildren.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	for _, tc := range []struct {
		name string
		run  *v1.PipelineRun
		want bool
	}{
		{name: "never reconciled", run: testRun()},
		// The reconcile that creates the placeholder writes no status
		// within the quiet wait: its record, for this run, says it ran.
		{name: "reconciled, no status written: recorded for this run", run: recordedFor(testRun(), "run-uid"), want: true},
		{name: "a record its creator copied from another run", run: recordedFor(testRun(), "other-run-uid")},
		{name: "recorded for this run, held pending", run: recordedFor(pending.DeepCopy(), "run-uid")},
		{name: "recorded for this run, started", run: reconciled(recordedFor(testRun(), "run-uid"), false)},
		{name: "waiting for a node", run: waitingForFirstNode(testRun(), ReasonWaitingForNode), want: true},
		{name: "within the quiet wait: still Started", run: waitingForFirstNode(testRun(), v1.PipelineRunReasonStarted.String()), want: true},
		{name: "held pending", run: pending},
		{name: "released from pending, not reconciled since", run: waitingForFirstNode(testRun(), v1.PipelineRunReasonPending.String())},
		{name: "started", run: reconciled(waitingForFirstNode(testRun(), ReasonWaitingForNode), false)},
		{name: "with children", run: withChildren},
		{name: "failed before its first node", run: failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := WaitsForFirstNode(tc.run); got != tc.want {
				t.Errorf("WaitsForFirstNode() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTargetOwnedPlaceholderWithoutRecord(t *testing.T) {
	// A handled run whose record was lost (written by a controller before
	// the record existed, say) still owns its placeholder: it stays handled.
	run := testRun()
	run.Labels = nil
	run.Status.StartTime = ptr.To(ago(time.Minute))
	run.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	h := newHarness(t, ownSTS("node-1", placeholder.TokenRequests()))
	s := settings(t, nil)
	s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
	want := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	got, err := h.engine(t).Target(h.ctx, s, run)
	if err != nil {
		t.Fatalf("Target() = %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Target() (-want +got):\n%s", d)
	}
}

// recordedFor gives r the decision "required/cluster", recorded for the run
// with uid, as a reconcile that wrote no status leaves it.
func recordedFor(r *v1.PipelineRun, uid string) *v1.PipelineRun {
	if r.Annotations == nil {
		r.Annotations = map[string]string{}
	}
	r.Annotations[selection.RecordAnnotationKey] = "required/cluster"
	r.Annotations[RecordedForAnnotationKey] = uid
	return r
}
