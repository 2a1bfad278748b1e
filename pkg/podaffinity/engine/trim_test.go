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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrimForCache(t *testing.T) {
	full := fullNode("node-1")
	got, err := TrimForCache(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: full.Labels},
		Spec:       full.Spec,
		Status:     corev1.NodeStatus{Allocatable: full.Status.Allocatable, Conditions: full.Status.Conditions},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("trimmed node (-want +got):\n%s", d)
	}
	trimmed := got.(*corev1.Node)
	// What the engine decides from a node is the same on the trimmed copy.
	tolerations := []corev1.Toleration{{Key: "example.com/pressure", Operator: corev1.TolerationOpExists}}
	volumes := []boundVolume{{claim: "c", volume: "v", affinity: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"zone-a"}}},
		MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
	}}}}}
	for _, check := range []struct {
		name        string
		full, terse any
	}{
		{"nodeUnusable", nodeUnusable(full, nil), nodeUnusable(trimmed, nil)},
		{"nodeUnusable, tolerated", nodeUnusable(full, tolerations), nodeUnusable(trimmed, tolerations)},
		{"nodeReady", nodeReady(full), nodeReady(trimmed)},
		{"shortfall", shortfall(rl("8", "1Gi"), []*corev1.Node{full}), shortfall(rl("8", "1Gi"), []*corev1.Node{trimmed})},
		{"mountsAll", mountsAll(full, volumes), mountsAll(trimmed, volumes)},
	} {
		if d := cmp.Diff(check.full, check.terse); d != "" {
			t.Errorf("%s on the trimmed node differs (-full +trimmed):\n%s", check.name, d)
		}
	}

	sts := ownSTS("node-1", peak())
	sts.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "tekton"}}
	gotSTS, err := TrimForCache(sts.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	wantSTS := sts.DeepCopy()
	wantSTS.ManagedFields = nil
	if d := cmp.Diff(wantSTS, gotSTS); d != "" {
		t.Errorf("trimmed StatefulSet (-want +got):\n%s", d)
	}
	pod := placeholderPod("node-1", peak(), ago(time.Minute))
	if gotPod, _ := TrimForCache(pod); gotPod != pod {
		t.Errorf("TrimForCache changed a pod")
	}
}
