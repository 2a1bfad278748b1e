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

package placeholder

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// userNodeAffinity is a pod template's required node affinity.
func userNodeAffinity(terms ...corev1.NodeSelectorTerm) *corev1.NodeAffinity {
	return &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}
}

func TestAffinity(t *testing.T) {
	preferredNodeAffinity := &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 1, Preference: diskTerm("ssd")}}}
	for _, tc := range []struct {
		name            string
		podAffinity     *corev1.Affinity
		isolation       selection.Isolation
		namespaceScoped bool
		tenantLabel     string
		tenant          *string
		topology        string
		pinnedNode      string
		want            *corev1.Affinity
	}{{
		name: "not isolated, not pinned",
		want: &corev1.Affinity{},
	}, {
		name:      "required, cluster scope",
		isolation: selection.IsolationRequired,
		want:      &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{repelTerm(&metav1.LabelSelector{})}}},
	}, {
		name:            "required, namespace scope",
		isolation:       selection.IsolationRequired,
		namespaceScoped: true,
		want:            &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{repelTerm(nil)}}},
	}, {
		name:      "preferred, cluster scope",
		isolation: selection.IsolationPreferred,
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 100, PodAffinityTerm: repelTerm(&metav1.LabelSelector{})},
		}}},
	}, {
		name:            "preferred, namespace scope",
		isolation:       selection.IsolationPreferred,
		namespaceScoped: true,
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 100, PodAffinityTerm: repelTerm(nil)},
		}}},
	}, {
		name:        "required, tenant scope: the namespaces with the run's namespace's value of the label",
		isolation:   selection.IsolationRequired,
		tenantLabel: "example.com/tenant",
		tenant:      ptr.To("acme"),
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			tenantTerm("acme"),
		}}},
	}, {
		name:        "required, tenant scope, the label's value is empty: still a value",
		isolation:   selection.IsolationRequired,
		tenantLabel: "tenant",
		tenant:      ptr.To(""),
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			tenantTerm(""),
		}}},
	}, {
		name:        "required, tenant scope, namespace without the label: a tenant of its own (the namespace scope)",
		isolation:   selection.IsolationRequired,
		tenantLabel: "tenant",
		want:        &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{repelTerm(nil)}}},
	}, {
		name:            "tenant scope wins over a namespace scope set beside it",
		isolation:       selection.IsolationRequired,
		namespaceScoped: true,
		tenantLabel:     "tenant",
		tenant:          ptr.To("acme"),
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			tenantTerm("acme"),
		}}},
	}, {
		name:        "preferred, tenant scope",
		isolation:   selection.IsolationPreferred,
		tenantLabel: "tenant",
		tenant:      ptr.To("acme"),
		want: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 100, PodAffinityTerm: tenantTerm("acme")},
		}}},
	}, {
		name:      "the node written explicitly is the default: nothing more",
		isolation: selection.IsolationRequired,
		topology:  HostnameTopologyKey,
		want:      &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{repelTerm(&metav1.LabelSelector{})}}},
	}, {
		name:      "required, cluster scope, zone: repels placeholders in the zone; its node has a zone",
		isolation: selection.IsolationRequired,
		topology:  zoneKey,
		want: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{inTopology(zoneKey)}}},
			}},
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{withTopology(repelTerm(&metav1.LabelSelector{}), zoneKey)}},
		},
	}, {
		name:            "preferred, namespace scope, zone",
		isolation:       selection.IsolationPreferred,
		namespaceScoped: true,
		topology:        zoneKey,
		want: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{inTopology(zoneKey)}}},
			}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 100, PodAffinityTerm: withTopology(repelTerm(nil), zoneKey)},
			}},
		},
	}, {
		name:        "required, tenant scope, zone",
		isolation:   selection.IsolationRequired,
		tenantLabel: "example.com/tenant",
		tenant:      ptr.To("acme"),
		topology:    zoneKey,
		want: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{inTopology(zoneKey)}}},
			}},
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{withTopology(tenantTerm("acme"), zoneKey)}},
		},
	}, {
		name:        "zone, pinned, with the user's required terms: the label and the pin ANDed with each",
		podAffinity: &corev1.Affinity{NodeAffinity: userNodeAffinity(diskTerm("ssd"), diskTerm("nvme"))},
		isolation:   selection.IsolationRequired,
		topology:    zoneKey,
		pinnedNode:  "node-2",
		want: &corev1.Affinity{
			NodeAffinity: userNodeAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: append(diskTerm("ssd").MatchExpressions, inTopology(zoneKey)), MatchFields: []corev1.NodeSelectorRequirement{pinField("node-2")}},
				corev1.NodeSelectorTerm{MatchExpressions: append(diskTerm("nvme").MatchExpressions, inTopology(zoneKey)), MatchFields: []corev1.NodeSelectorRequirement{pinField("node-2")}},
			),
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{withTopology(repelTerm(&metav1.LabelSelector{}), zoneKey)}},
		},
	}, {
		name:       "zone, not isolated, pinned",
		topology:   zoneKey,
		pinnedNode: "node-1",
		want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{inTopology(zoneKey)}, MatchFields: []corev1.NodeSelectorRequirement{pinField("node-1")}}},
		}}},
	}, {
		name:        "required isolation appended to the user's anti-affinity",
		podAffinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{userTerm()}}},
		isolation:   selection.IsolationRequired,
		want:        &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{userTerm(), repelTerm(&metav1.LabelSelector{})}}},
	}, {
		name:       "pinned without node affinity",
		pinnedNode: "node-1",
		want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pinField("node-1")}}},
		}}},
	}, {
		name:        "pinned with only preferred node affinity",
		podAffinity: &corev1.Affinity{NodeAffinity: preferredNodeAffinity.DeepCopy()},
		pinnedNode:  "node-1",
		want: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pinField("node-1")}}},
			},
			PreferredDuringSchedulingIgnoredDuringExecution: preferredNodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		}},
	}, {
		name:        "pin is ANDed with each of the user's required terms",
		podAffinity: &corev1.Affinity{NodeAffinity: userNodeAffinity(diskTerm("ssd"), diskTerm("nvme"))},
		isolation:   selection.IsolationRequired,
		pinnedNode:  "node-2",
		want: &corev1.Affinity{
			NodeAffinity: userNodeAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: diskTerm("ssd").MatchExpressions, MatchFields: []corev1.NodeSelectorRequirement{pinField("node-2")}},
				corev1.NodeSelectorTerm{MatchExpressions: diskTerm("nvme").MatchExpressions, MatchFields: []corev1.NodeSelectorRequirement{pinField("node-2")}},
			),
			PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{repelTerm(&metav1.LabelSelector{})}},
		},
	}, {
		name:        "user's pod affinity is kept",
		podAffinity: &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{userTerm()}}},
		isolation:   selection.IsolationPreferred,
		want: &corev1.Affinity{
			PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{userTerm()}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
				{Weight: 100, PodAffinityTerm: repelTerm(&metav1.LabelSelector{})},
			}},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a"}}
			if tc.podAffinity != nil {
				run.Spec.TaskRunTemplate.PodTemplate = &pod.Template{Affinity: tc.podAffinity}
			}
			s := Spec{
				Name: testName, Run: run, Isolation: tc.isolation, NamespaceScoped: tc.namespaceScoped,
				TenantLabel: tc.tenantLabel, Tenant: tc.tenant, PinnedNode: tc.pinnedNode, Topology: tc.topology,
			}
			got := Affinity(s)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Affinity() (-want +got):\n%s", d)
			}
			// The StatefulSet carries the same affinity, and PinnedNode reads the pin back.
			spec := StatefulSet(s).Spec.Template.Spec
			if d := cmp.Diff(tc.want, spec.Affinity); d != "" {
				t.Errorf("StatefulSet() affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.pinnedNode, PinnedNode(&spec, run)); d != "" {
				t.Errorf("PinnedNode() (-want +got):\n%s", d)
			}
		})
	}
}

func TestPinnedNode(t *testing.T) {
	withRequired := func(terms ...corev1.NodeSelectorTerm) *corev1.PodSpec {
		return &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}}
	}
	fields := func(reqs ...corev1.NodeSelectorRequirement) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: reqs}
	}
	userRule := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-9"}}
	plainRun := &v1.PipelineRun{}
	userRun := &v1.PipelineRun{Spec: v1.PipelineRunSpec{TaskRunTemplate: v1.PipelineTaskRunTemplate{PodTemplate: &pod.Template{
		Affinity: &corev1.Affinity{NodeAffinity: userNodeAffinity(fields(userRule))},
	}}}}
	for _, tc := range []struct {
		name string
		spec *corev1.PodSpec
		run  *v1.PipelineRun
		want string
	}{
		{name: "no affinity", spec: &corev1.PodSpec{}, run: plainRun, want: ""},
		{name: "no node affinity", spec: &corev1.PodSpec{Affinity: &corev1.Affinity{}}, run: plainRun, want: ""},
		{name: "only preferred", spec: &corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{}}}, run: plainRun, want: ""},
		{name: "match expression on hostname is not a pin", spec: withRequired(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}}}), run: plainRun, want: ""},
		{name: "NotIn is not a pin", spec: withRequired(fields(corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"node-1"}})), run: plainRun, want: ""},
		{name: "several nodes is not a pin", spec: withRequired(fields(corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1", "node-2"}})), run: plainRun, want: ""},
		{name: "pin", spec: withRequired(fields(pinField("node-1"))), run: plainRun, want: "node-1"},
		{name: "pin after user's expressions", spec: withRequired(corev1.NodeSelectorTerm{MatchExpressions: diskTerm("ssd").MatchExpressions, MatchFields: []corev1.NodeSelectorRequirement{pinField("node-3")}}), run: plainRun, want: "node-3"},
		{name: "the user's own single-node rule is not a pin", spec: withRequired(fields(userRule)), run: userRun, want: ""},
		{name: "pin after the user's own single-node rule", spec: withRequired(fields(userRule, pinField("node-2"))), run: userRun, want: "node-2"},
		{name: "terms pinned to different nodes are no pin", spec: withRequired(fields(pinField("node-1")), fields(pinField("node-2"))), run: plainRun, want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, PinnedNode(tc.spec, tc.run)); d != "" {
				t.Errorf("PinnedNode() (-want +got):\n%s", d)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *corev1.PodSpec
		want corev1.ResourceList
	}{
		{name: "no containers", spec: &corev1.PodSpec{}, want: nil},
		{name: "no placeholder container", spec: &corev1.PodSpec{Containers: []corev1.Container{{Name: "step-build", Resources: corev1.ResourceRequirements{Requests: resources("1", "1Gi")}}}}, want: nil},
		{name: "placeholder container among others", spec: &corev1.PodSpec{Containers: []corev1.Container{
			{Name: "istio-proxy", Resources: corev1.ResourceRequirements{Requests: resources("100m", "128Mi")}},
			{Name: ContainerName, Resources: corev1.ResourceRequirements{Requests: resources("2", "4Gi")}},
		}}, want: resources("2", "4Gi")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, Requests(tc.spec)); d != "" {
				t.Errorf("Requests() (-want +got):\n%s", d)
			}
		})
	}
}
