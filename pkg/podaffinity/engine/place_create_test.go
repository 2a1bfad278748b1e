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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

// TestPlaceCreate checks the StatefulSet that Place creates in detail.
func TestPlaceCreate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		config    map[string]string
		isolation selection.Isolation
		run       func(*v1.PipelineRun)
		// wantRepel is the anti-affinity between placeholders.
		wantRepel *corev1.PodAntiAffinity
		// wantNodes is the placeholder's node affinity.
		wantNodes *corev1.NodeAffinity
		wantVols  []string
	}{{
		name:      "required, cluster scope",
		isolation: selection.IsolationRequired,
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       placeholder.HostnameTopologyKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
	}, {
		name:      "preferred, namespace scope",
		config:    map[string]string{paconfig.IsolationScopeKey: paconfig.IsolationScopeNamespace},
		isolation: selection.IsolationPreferred,
		wantRepel: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: placeholder.AllPlaceholdersSelector(),
				TopologyKey:   placeholder.HostnameTopologyKey,
			},
		}}},
	}, {
		name:      "required, cluster scope, zone: placeholders repel each other in a zone",
		config:    map[string]string{paconfig.TopologyKeyKey: zoneKey},
		isolation: selection.IsolationRequired,
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       zoneKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
		wantNodes: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: zoneKey, Operator: corev1.NodeSelectorOpExists}},
		}}}},
	}, {
		name:      "workspaces' claims are mounted",
		isolation: selection.IsolationRequired,
		run: func(r *v1.PipelineRun) {
			r.Spec.Workspaces = []v1.WorkspaceBinding{
				{Name: "src", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "source"}},
				{Name: "tmp", EmptyDir: &corev1.EmptyDirVolumeSource{}},
			}
		},
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       placeholder.HostnameTopologyKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
		wantVols: []string{"source"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			run := testRun()
			if tc.run != nil {
				tc.run(run)
			}
			s := settings(t, tc.config)
			// The scope is decided with the run (Target) and then sticks to it.
			target := Target{Placeholder: phName(), Isolation: tc.isolation, NamespaceScoped: s.Config.IsolationScope() == paconfig.IsolationScopeNamespace, Topology: s.Config.Topology}
			if _, err := h.engine(t).Place(h.ctx, s, run, target, remaining()); err != nil {
				t.Fatalf("Place() = %v", err)
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				t.Fatal("no placeholder StatefulSet created")
			}
			wantOwner := []metav1.OwnerReference{{
				APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "build", UID: "run-uid",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}}
			if d := cmp.Diff(wantOwner, sts.OwnerReferences); d != "" {
				t.Errorf("owner references (-want +got):\n%s", d)
			}
			spec := sts.Spec.Template.Spec
			if d := cmp.Diff(tc.wantRepel, spec.Affinity.PodAntiAffinity); d != "" {
				t.Errorf("anti-affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantNodes, spec.Affinity.NodeAffinity); d != "" {
				t.Errorf("node affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(image, spec.Containers[0].Image); d != "" {
				t.Errorf("image (-want +got):\n%s", d)
			}
			wantResources := corev1.ResourceRequirements{Requests: peak(), Limits: peak()}
			if d := cmp.Diff(wantResources, spec.Containers[0].Resources, quantityEqual); d != "" {
				t.Errorf("resources (-want +got):\n%s", d)
			}
			var vols []string
			for _, v := range spec.Volumes {
				vols = append(vols, v.PersistentVolumeClaim.ClaimName)
			}
			if d := cmp.Diff(tc.wantVols, vols); d != "" {
				t.Errorf("claims mounted (-want +got):\n%s", d)
			}
		})
	}
}

func TestPlaceDoesNotRecreateForAStaleRun(t *testing.T) {
	// The run failed (NodeWaitTimeout) and its placeholder was released; a
	// reconcile that read the run from a stale cache finds no placeholder.
	// Before it makes a new one the engine reads the run afresh, and hands
	// the reconcile the current run instead.
	stale := testRun()
	failed := testRun()
	failed.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: ReasonNodeWaitTimeout})
	for _, tc := range []struct {
		name        string
		current     *v1.PipelineRun
		wantCurrent bool
		wantActions []string
	}{
		{name: "run done since it was read: nothing created, the current run handed back", current: failed, wantCurrent: true},
		{name: "run as read: the placeholder is created", current: stale, wantActions: []string{"create statefulsets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			e := h.engine(t)
			e.PipelineRuns = func(context.Context, string, string) (*v1.PipelineRun, error) { return tc.current.DeepCopy(), nil }
			got, err := e.Place(h.ctx, settings(t, nil), stale.DeepCopy(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if (got.Current != nil) != tc.wantCurrent {
				t.Errorf("Place().Current = %v, want set: %t", got.Current, tc.wantCurrent)
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceCreateFindsExisting checks what Place does when the placeholder's
// name is taken by a StatefulSet its cache does not hold: someone else's
// (the cache holds placeholders only) fails the run; its own (the cache is
// behind) is waited for, with no event, and checked again after createGrace
// as a fresh creation is: the event of that StatefulSet's creation may be
// one the engine already took for its own write, which re-queues nothing
// (TestPlaceRechecksItsOwnPlaceholderAfterAlreadyExists). The wait is
// bounded from when it began, as far as an unpinned StatefulSet tells.
func TestPlaceCreateFindsExisting(t *testing.T) {
	foreign := ownSTS("", peak())
	foreign.OwnerReferences = nil
	for _, tc := range []struct {
		name       string
		existing   *appsv1.StatefulSet
		want       Placement
		wantEvents []string
	}{{
		name:     "someone else's StatefulSet: conflict",
		existing: foreign,
		want:     Placement{Failed: true, Reason: ReasonPlaceholderConflict},
	}, {
		name:     "its own, not in the cache yet: wait, checked again",
		existing: createdAgo(ownSTS("", peak()), time.Second),
		want:     Placement{Reason: ReasonWaitingForNode, Since: now.Add(-time.Second), RequeueAfter: createGrace},
	}, {
		name:     "its own, waiting since before the bound: fails",
		existing: createdAgo(ownSTS("", peak()), 2*time.Hour),
		want:     Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
	}, {
		name:     "its own, with a recorded wait closer to the bound than createGrace: checked again at the bound",
		existing: waitingSince(createdAgo(ownSTS("", peak()), 2*time.Hour), time.Hour-time.Second),
		want:     Placement{Reason: ReasonWaitingForNode, Since: now.Add(-time.Hour + time.Second), RequeueAfter: time.Second},
	}, {
		// Pinned mid-run: the wait for its pod has no recorded start (the
		// engine records it once it sees the StatefulSet: decideNoPod).
		name:     "its own, pinned long ago: wait, checked again, not failed",
		existing: createdAgo(ownSTS("node-1", placeholder.TokenRequests()), 2*time.Hour),
		want:     Placement{Reason: ReasonWaitingForNode, Since: now.Add(-2 * time.Hour), RequeueAfter: createGrace},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			e := h.engine(t)
			h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName())
			})
			h.client.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, tc.existing.DeepCopy(), nil
			})
			got, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Placement{}, "Message")); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceReadsAfreshOnlyARunReconciledBefore checks that the engine reads
// a run afresh before creating its placeholder only when the reconcile's
// copy shows an earlier reconcile: a copy from before any reconcile cannot
// be one that an earlier reconcile finished (and released the placeholder
// of), since the cache never goes back to an older copy than one a
// reconcile read. Every run's first placement then costs no read.
func TestPlaceReadsAfreshOnlyARunReconciledBefore(t *testing.T) {
	for _, tc := range []struct {
		name      string
		first     bool
		wantReads int
	}{
		{name: "the run's first reconcile: no read", first: true, wantReads: 0},
		{name: "a run reconciled before: read afresh", first: false, wantReads: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			e := h.engine(t)
			reads := 0
			e.PipelineRuns = func(context.Context, string, string) (*v1.PipelineRun, error) {
				reads++
				return testRun(), nil
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, FirstReconcile: tc.first}
			got, err := e.Place(h.ctx, settings(t, nil), testRun(), target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if got.Reason != ReasonWaitingForNode || got.Current != nil {
				t.Errorf("Place() = %+v, want a wait for a node with the placeholder created", got)
			}
			if d := cmp.Diff([]string{"create statefulsets"}, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			if reads != tc.wantReads {
				t.Errorf("the run was read afresh %d times, want %d", reads, tc.wantReads)
			}
		})
	}
}

// TestTargetFirstReconcile checks that Target says whether the run's copy
// shows an earlier reconcile: Place reads the run afresh before creating a
// placeholder only then.
func TestTargetFirstReconcile(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  *v1.PipelineRun
		want bool
	}{
		{name: "never reconciled: no condition, no start time", run: testRun(), want: true},
		// The reconcile that created the placeholder wrote no status
		// (the quiet wait): its record for this run shows it.
		{name: "reconciled, no status written: recorded for this run", run: recordedFor(testRun(), "run-uid")},
		{name: "a record copied from another run: never reconciled", run: recordedFor(testRun(), "other-run-uid"), want: true},
		// A run waiting for its first node has no start time: its
		// Succeeded condition shows the earlier reconcile.
		{name: "waiting for its first node, no start time", run: waitingForFirstNode(recorded(testRun(), "required/cluster"), ReasonWaitingForNode)},
		// Held pending, the engine placed nothing: no reconcile can have
		// released a placeholder from a copy as old as this one.
		{name: "released from pending, not reconciled since", run: waitingForFirstNode(testRun(), v1.PipelineRunReasonPending.String()), want: true},
		{name: "reconciled before, no TaskRun yet", run: reconciled(recorded(testRun(), "required/cluster"), false)},
		{name: "reconciled before, with TaskRuns", run: reconciled(recorded(testRun(), "required/cluster"), true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			got, err := h.engine(t).Target(h.ctx, settings(t, map[string]string{paconfig.EnableKey: "true"}), tc.run)
			if err != nil {
				t.Fatalf("Target() = %v", err)
			}
			if !got.Handled() {
				t.Fatalf("Target() = %+v, want the run handled", got)
			}
			if got.FirstReconcile != tc.want {
				t.Errorf("Target().FirstReconcile = %t, want %t", got.FirstReconcile, tc.want)
			}
		})
	}
}

// TestPlaceHandsBackARunFailedSinceItWasRead checks the reconcile that reads
// a run from a stale cache just after the engine failed it mid-run (its
// placeholder released, its running TaskRun cancelled): every task it sees
// has started and its pods are on their node, so nothing is left to place,
// but the run as the API server has it is done. The engine hands that run
// back, so that the reconcile does not compute the run's end from its
// cancelled TaskRuns (Cancelled) and write it over the engine's reason.
// A run that is not done keeps going as placed, and a first reconcile
// reads nothing afresh.
func TestPlaceHandsBackARunFailedSinceItWasRead(t *testing.T) {
	cached := testRun()
	failed := testRun()
	failed.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: ReasonPlaceholderStuckDeleting})
	for _, tc := range []struct {
		name      string
		current   *v1.PipelineRun
		first     bool
		want      Placement
		wantReads int
	}{
		{name: "failed since it was read: the current run handed back", current: failed, want: Placement{Current: failed}, wantReads: 1},
		{name: "as read: placed", current: cached, want: Placement{Ready: true}, wantReads: 1},
		{name: "first reconcile: placed, nothing read", current: failed, first: true, want: Placement{Ready: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), memberPod("build-a-pod", "node-1", corev1.PodRunning, ago(time.Minute)))
			e := h.engine(t)
			reads := 0
			e.PipelineRuns = func(context.Context, string, string) (*v1.PipelineRun, error) {
				reads++
				return tc.current.DeepCopy(), nil
			}
			got, err := e.Place(h.ctx, settings(t, nil), cached.DeepCopy(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired, FirstReconcile: tc.first}, nil)
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if reads != tc.wantReads {
				t.Errorf("runs read afresh: %d, want %d", reads, tc.wantReads)
			}
			if d := cmp.Diff([]string(nil), h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
		})
	}
}
