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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// claim is the run's workspace claim "src", bound to volume unless it is "".
func claim(volume string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "src", Namespace: ns},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: volume},
	}
}

// volumeOn is a PersistentVolume that only nodes whose label key is value can mount.
func volumeOn(name, key, value string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value},
			}}}},
		}}},
	}
}

// TestPlaceVolumesKeepTheRun checks a run whose node becomes unusable and
// whose workspace claim is bound to a volume: it moves only to a node that
// can mount the volume, and otherwise waits on its node, within the bound.
func TestPlaceVolumesKeepTheRun(t *testing.T) {
	token := placeholder.TokenRequests()
	moved := &template{Requests: token, WaitingSince: now.Format(time.RFC3339)}
	pinnedWaiting := func(d time.Duration) *template {
		return &template{Pinned: "node-1", Requests: token, WaitingSince: now.Add(-d).Format(time.RFC3339)}
	}
	for _, tc := range []struct {
		name        string
		config      map[string]string
		objects     []runtime.Object
		getErr      error
		want        Placement
		wantErr     bool
		wantMessage []string
		wantActions []string
		wantEvents  []string
		wantTmpl    *template
		wantPod     corev1.ResourceList
	}{{
		name: "local volume on the cordoned node: waits there, the wait recorded",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "a"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			claim("pv-1"), volumeOn("pv-1", corev1.LabelHostname, "node-1"),
		},
		want: Placement{Node: "node-1", Reason: ReasonWaitingToMove, RequeueAfter: time.Hour},
		wantMessage: []string{"Node node-1 is cordoned and the PipelineRun cannot move to another node",
			"claim src is bound to PersistentVolume pv-1 (kubernetes.io/hostname in [node-1])", "Waiting for node node-1 to be usable again"},
		wantActions: []string{"patch statefulsets"},
		wantTmpl:    pinnedWaiting(0),
		wantPod:     token,
	}, {
		name:   "local volume, the wait outlasts the bound: the run fails",
		config: map[string]string{paconfig.MaxNodeWaitKey: "10m"},
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "a"),
			waitingSince(ownSTS("node-1", token), 11*time.Minute), placeholderPod("node-1", token, ago(time.Hour)),
			claim("pv-1"), volumeOn("pv-1", corev1.LabelHostname, "node-1"),
		},
		want:        Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage: []string{"longer than pipelinerun-pod-affinity-max-node-wait=10m0s", "cannot move to another node"},
		wantTmpl:    pinnedWaiting(11 * time.Minute),
		wantPod:     token,
	}, {
		name: "local volume, a task still runs on the cordoned node: it finishes there, no bound yet",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "a"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			claim("pv-1"), volumeOn("pv-1", corev1.LabelHostname, "node-1"),
		},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage: []string{"cannot move to another node", "Waiting for build-compile-pod to finish there"},
		wantTmpl:    tokenTemplate("node-1"),
		wantPod:     token,
	}, {
		name: "zonal volume, another usable node in the zone: the run moves",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "b"), inZone(readyNode("node-3"), "a"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			claim("pv-1"), volumeOn("pv-1", zoneLabel, "a"),
		},
		want:        waitForNode,
		wantMessage: []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
		wantActions: []string{"patch statefulsets", "delete pods (at once)"},
		wantEvents:  []string{"Warning Moving"},
		wantTmpl:    moved,
	}, {
		name: "zonal volume, the zone's other node is not ready: waits",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "b"), inZone(notReadyNode("node-3"), "a"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			claim("pv-1"), volumeOn("pv-1", zoneLabel, "a"),
		},
		want:        Placement{Node: "node-1", Reason: ReasonWaitingToMove, RequeueAfter: time.Hour},
		wantMessage: []string{"(topology.kubernetes.io/zone in [a])"},
		wantActions: []string{"patch statefulsets"},
		wantTmpl:    pinnedWaiting(0),
		wantPod:     token,
	}, {
		name: "the claim is not bound yet: it restricts nothing, the run moves",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "b"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			claim(""),
		},
		want:        waitForNode,
		wantActions: []string{"patch statefulsets", "delete pods (at once)"},
		wantEvents:  []string{"Warning Moving"},
		wantTmpl:    moved,
	}, {
		name: "the node is usable again: pinned, the wait record removed",
		objects: []runtime.Object{
			inZone(readyNode("node-1"), "a"),
			waitingSince(ownSTS("node-1", token), time.Minute), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			claim("pv-1"), volumeOn("pv-1", corev1.LabelHostname, "node-1"),
		},
		want:        Placement{Node: "node-1", Ready: true},
		wantActions: []string{"patch statefulsets"},
		wantTmpl:    tokenTemplate("node-1"),
		wantPod:     token,
	}, {
		name: "the claim cannot be read: an error, nothing written",
		objects: []runtime.Object{
			inZone(cordonedNode("node-1"), "a"), inZone(readyNode("node-2"), "a"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
		},
		getErr:   errors.New("etcd timeout"),
		wantErr:  true,
		wantTmpl: tokenTemplate("node-1"),
		wantPod:  token,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.getErr != nil {
				h.client.PrependReactor("get", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.getErr
				})
			}
			run := testRun()
			run.Spec.Workspaces = []v1.WorkspaceBinding{{Name: "src", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "src"}}}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			got, err := h.engine(t).Place(h.ctx, settings(t, tc.config), run, target, growBack(-1, demand.Running))
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, wantErr: tc.wantErr, message: tc.wantMessage, actions: tc.wantActions,
				events: tc.wantEvents, template: tc.wantTmpl, pod: tc.wantPod,
			})
		})
	}
}

func TestMatchesNodeSelector(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{zoneLabel: "a", "disks": "4"}}}
	req := func(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
		return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
	}
	for _, tc := range []struct {
		name  string
		terms []corev1.NodeSelectorTerm
		want  bool
	}{
		{"In matches", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, corev1.NodeSelectorOpIn, "a", "b")}}}, true},
		{"In misses", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, corev1.NodeSelectorOpIn, "b")}}}, false},
		{"NotIn", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, corev1.NodeSelectorOpNotIn, "b")}}}, true},
		{"Exists and Gt ANDed", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
			req(zoneLabel, corev1.NodeSelectorOpExists), req("disks", corev1.NodeSelectorOpGt, "3")}}}, true},
		{"Lt misses", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("disks", corev1.NodeSelectorOpLt, "3")}}}, false},
		{"DoesNotExist misses", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, corev1.NodeSelectorOpDoesNotExist)}}}, false},
		{"metadata.name field", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node-1")}}}, true},
		{"terms ORed", []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, corev1.NodeSelectorOpIn, "b")}},
			{MatchFields: []corev1.NodeSelectorRequirement{req("metadata.name", corev1.NodeSelectorOpIn, "node-1")}}}, true},
		{"an empty term matches no node", []corev1.NodeSelectorTerm{{}}, false},
		{"an unknown operator matches no node", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req(zoneLabel, "Near", "a")}}}, false},
		{"an invalid Gt value matches no node", []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req("disks", corev1.NodeSelectorOpGt, "many")}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matchesNodeSelector(node, &corev1.NodeSelector{NodeSelectorTerms: tc.terms}); got != tc.want {
				t.Errorf("matchesNodeSelector() = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestPlaced(t *testing.T) {
	child := func() *v1.PipelineRun {
		r := testRun()
		r.Labels[placeholder.MemberLabelKey] = "placeholder-parent"
		r.OwnerReferences = []metav1.OwnerReference{{Kind: "PipelineRun", Name: "parent", Controller: ptr.To(true)}}
		return r
	}
	annotated := func(value string) *v1.PipelineRun {
		r := testRun()
		r.Annotations = map[string]string{selection.RecordAnnotationKey: value}
		return r
	}
	for _, tc := range []struct {
		name string
		run  *v1.PipelineRun
		want bool
	}{
		{"recorded isolated", annotated("required/cluster"), true},
		{"recorded without isolation", annotated("preferred/namespace"), true},
		{"recorded none", annotated("none"), false},
		{"a record that does not parse", annotated("sideways"), false},
		{"no record", testRun(), false},
		{"a child that joined its parent", child(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Placed(tc.run); got != tc.want {
				t.Errorf("Placed() = %t, want %t", got, tc.want)
			}
		})
	}
}
