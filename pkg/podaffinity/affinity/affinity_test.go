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

package affinity

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// otherTerm is a required pod affinity term a user may already have.
func otherTerm() corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}},
		TopologyKey:   "topology.kubernetes.io/zone",
	}
}

func TestTerm(t *testing.T) {
	const name = "placeholder-run-0123456789"
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{
		"app.kubernetes.io/component": "pipelinerun-placeholder",
		"app.kubernetes.io/instance":  name,
	}}
	for _, tc := range []struct {
		name string
		got  corev1.PodAffinityTerm
		want corev1.PodAffinityTerm
	}{
		{name: "Term: the node", got: Term(name), want: corev1.PodAffinityTerm{LabelSelector: selector, TopologyKey: "kubernetes.io/hostname"}},
		{name: "TermIn, no topology recorded: the node", got: TermIn(name, ""), want: corev1.PodAffinityTerm{LabelSelector: selector, TopologyKey: "kubernetes.io/hostname"}},
		{name: "TermIn the zone", got: TermIn(name, "topology.kubernetes.io/zone"), want: corev1.PodAffinityTerm{LabelSelector: selector, TopologyKey: "topology.kubernetes.io/zone"}},
		{name: "TermIn a custom label", got: TermIn(name, "example.com/rack"), want: corev1.PodAffinityTerm{LabelSelector: selector, TopologyKey: "example.com/rack"}},
	} {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func TestMerge(t *testing.T) {
	const name = "placeholder-run-0123456789"
	userNodeAffinity := &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}},
	}}
	userAntiAffinity := &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 1, PodAffinityTerm: otherTerm()}}}
	for _, tc := range []struct {
		name string
		in   *corev1.Affinity
		want *corev1.Affinity
	}{{
		name: "no affinity",
		in:   nil,
		want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name)}}},
	}, {
		name: "empty affinity",
		in:   &corev1.Affinity{},
		want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name)}}},
	}, {
		name: "existing terms and other affinities are kept",
		in: &corev1.Affinity{
			NodeAffinity:    userNodeAffinity.DeepCopy(),
			PodAntiAffinity: userAntiAffinity.DeepCopy(),
			PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution:  []corev1.PodAffinityTerm{otherTerm()},
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: otherTerm()}},
			},
		},
		want: &corev1.Affinity{
			NodeAffinity:    userNodeAffinity.DeepCopy(),
			PodAntiAffinity: userAntiAffinity.DeepCopy(),
			PodAffinity: &corev1.PodAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution:  []corev1.PodAffinityTerm{otherTerm(), Term(name)},
				PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 5, PodAffinityTerm: otherTerm()}},
			},
		},
	}, {
		name: "term already present is not duplicated",
		in:   &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name), otherTerm()}}},
		want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name), otherTerm()}}},
	}, {
		name: "another placeholder's term is a different term",
		in:   &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term("placeholder-other-9876543210")}}},
		want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term("placeholder-other-9876543210"), Term(name)}}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &corev1.PodSpec{Affinity: tc.in}
			Merge(spec, Term(name))
			if d := cmp.Diff(tc.want, spec.Affinity); d != "" {
				t.Errorf("Merge() (-want +got):\n%s", d)
			}
			// Idempotent: a second merge changes nothing.
			Merge(spec, Term(name))
			if d := cmp.Diff(tc.want, spec.Affinity); d != "" {
				t.Errorf("second Merge() (-want +got):\n%s", d)
			}
		})
	}
}

func TestTransformer(t *testing.T) {
	const name = "placeholder-run-0123456789"
	const zone = "topology.kubernetes.io/zone"
	for _, tc := range []struct {
		name        string
		labels      map[string]string
		annotations map[string]string
		in          *corev1.Affinity
		want        *corev1.Affinity
	}{{
		name:   "no labels: pod untouched",
		labels: nil,
		in:     &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm()}}},
		want:   &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm()}}},
	}, {
		name:   "empty member label: pod untouched",
		labels: map[string]string{placeholder.MemberLabelKey: ""},
		in:     nil,
		want:   nil,
	}, {
		name:   "other labels only: pod untouched",
		labels: map[string]string{"tekton.dev/pipelineRun": "run", "tekton.dev/pipelinerun-pod-affinity": "true"},
		in:     nil,
		want:   nil,
	}, {
		name:   "member without affinity",
		labels: map[string]string{placeholder.MemberLabelKey: name},
		in:     nil,
		want:   &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name)}}},
	}, {
		name:   "member with the podTemplate's affinity",
		labels: map[string]string{placeholder.MemberLabelKey: name},
		in:     &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm()}}},
		want:   &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm(), Term(name)}}},
	}, {
		name:        "member of a run in one zone: the zone of the placeholder",
		labels:      map[string]string{placeholder.MemberLabelKey: name},
		annotations: map[string]string{placeholder.TopologyAnnotationKey: zone},
		in:          nil,
		want:        &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{TermIn(name, zone)}}},
	}, {
		name:        "member of a run in one zone with the podTemplate's affinity",
		labels:      map[string]string{placeholder.MemberLabelKey: name},
		annotations: map[string]string{placeholder.TopologyAnnotationKey: zone, "other": "x"},
		in:          &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm()}}},
		want:        &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm(), TermIn(name, zone)}}},
	}, {
		name:        "topology annotation without the member label: pod untouched",
		annotations: map[string]string{placeholder.TopologyAnnotationKey: zone},
		in:          nil,
		want:        nil,
	}, {
		name:        "empty topology annotation: the node",
		labels:      map[string]string{placeholder.MemberLabelKey: name},
		annotations: map[string]string{placeholder.TopologyAnnotationKey: ""},
		in:          nil,
		want:        &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name)}}},
	}, {
		name:        "member of an isolated run: repels the other runs' placeholders too",
		labels:      map[string]string{placeholder.MemberLabelKey: name},
		annotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"},
		in:          nil,
		want: &corev1.Affinity{
			PodAffinity:     &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term(name)}},
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{placeholder.MemberRepelTerm(name, "", placeholder.Scope{})}},
		},
	}, {
		name:        "member of a run isolated per tenant in one zone, with the podTemplate's anti-affinity",
		labels:      map[string]string{placeholder.MemberLabelKey: name},
		annotations: map[string]string{placeholder.IsolationAnnotationKey: "tenant=acme", placeholder.TopologyAnnotationKey: zone},
		in:          &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm()}}},
		want: &corev1.Affinity{
			PodAffinity:     &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{TermIn(name, zone)}},
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{otherTerm(), placeholder.MemberRepelTerm(name, zone, placeholder.Scope{Tenant: ptr.To("acme")})}},
		},
	}, {
		name:        "isolation annotation without the member label: pod untouched",
		annotations: map[string]string{placeholder.IsolationAnnotationKey: "cluster"},
		in:          nil,
		want:        nil,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// shared stands for the TaskRun's podTemplate affinity, which
			// Tekton's pod builder assigns to the pod by pointer.
			shared := tc.in
			before := shared.DeepCopy()
			p := &corev1.Pod{Spec: corev1.PodSpec{Affinity: shared}}

			got, err := NewTransformer(tc.labels, tc.annotations)(p)
			if err != nil {
				t.Fatalf("transformer() = %v", err)
			}
			if got != p {
				t.Errorf("transformer() returned a different pod; Tekton's transformers chain on the same pod")
			}
			if d := cmp.Diff(tc.want, got.Spec.Affinity); d != "" {
				t.Errorf("pod affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, shared); d != "" {
				t.Errorf("transformer modified the shared podTemplate affinity (-before +after):\n%s", d)
			}
		})
	}
}

func TestTransformerDoesNotModifySharedAffinityAcrossPods(t *testing.T) {
	// Two TaskRuns of different runs built from the same podTemplate object.
	shared := &corev1.Affinity{}
	before := shared.DeepCopy()
	first := &corev1.Pod{Spec: corev1.PodSpec{Affinity: shared}}
	second := &corev1.Pod{Spec: corev1.PodSpec{Affinity: shared}}

	if _, err := NewTransformer(map[string]string{placeholder.MemberLabelKey: "placeholder-a-0000000000"}, nil)(first); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTransformer(map[string]string{placeholder.MemberLabelKey: "placeholder-b-1111111111"}, nil)(second); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  *corev1.Affinity
		want *corev1.Affinity
	}{
		{name: "first pod", got: first.Spec.Affinity, want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term("placeholder-a-0000000000")}}}},
		{name: "second pod", got: second.Spec.Affinity, want: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{Term("placeholder-b-1111111111")}}}},
		{name: "shared template", got: shared, want: before},
	} {
		if d := cmp.Diff(tc.want, tc.got); d != "" {
			t.Errorf("%s affinity (-want +got):\n%s", tc.name, d)
		}
	}
}

// The pods of a placed run's TaskRuns inherit the run's labels, Kueue's
// queue among them: they must not carry it, or Kueue's pod webhook (where
// installed) would queue each of them again, on top of the run's
// placeholder, which Kueue admitted for the whole run.
func TestTransformerDropsKueueLabels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		taskRun  map[string]string
		pod      map[string]string
		wantPods map[string]string
	}{{
		name:     "member of a placed run: Kueue's queue and priority labels dropped",
		taskRun:  map[string]string{placeholder.MemberLabelKey: "placeholder-a-0000000000", placeholder.KueueQueueLabel: "q"},
		pod:      map[string]string{"app": "x", placeholder.KueueQueueLabel: "q", placeholder.KueuePriorityClassLabel: "high", placeholder.MemberLabelKey: "placeholder-a-0000000000"},
		wantPods: map[string]string{"app": "x", placeholder.MemberLabelKey: "placeholder-a-0000000000"},
	}, {
		name:     "not a member: left alone",
		taskRun:  map[string]string{placeholder.KueueQueueLabel: "q"},
		pod:      map[string]string{"app": "x", placeholder.KueueQueueLabel: "q"},
		wantPods: map[string]string{"app": "x", placeholder.KueueQueueLabel: "q"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: tc.pod}}
			got, err := NewTransformer(tc.taskRun, nil)(p)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.wantPods, got.Labels); d != "" {
				t.Errorf("pod labels (-want +got):\n%s", d)
			}
		})
	}
}

func TestTransformerRejectsAnUnknownIsolationScope(t *testing.T) {
	p := &corev1.Pod{}
	_, err := NewTransformer(
		map[string]string{placeholder.MemberLabelKey: "placeholder-a-0000000000"},
		map[string]string{placeholder.IsolationAnnotationKey: "everywhere"})(p)
	if err == nil {
		t.Fatal("transformer() = nil error for an unknown isolation scope, want one")
	}
}
