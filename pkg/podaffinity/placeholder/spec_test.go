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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const testName = "placeholder-build-0123456789"

func userTerm() corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		TopologyKey:   HostnameTopologyKey,
	}
}

func diskTerm(value string) corev1.NodeSelectorTerm {
	return corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{value}}}}
}

func pinField(node string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}
}

// tenantTerm is the isolation term of the tenant scope: the placeholders
// labelled with the tenant, in every namespace.
func tenantTerm(tenant string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{LabelComponent: ComponentName, LabelTenant: tenant}},
		TopologyKey:       HostnameTopologyKey,
		NamespaceSelector: &metav1.LabelSelector{},
	}
}

// zoneKey is the topology key of the zone tests.
const zoneKey = "topology.kubernetes.io/zone"

// inTopology is the requirement of a placeholder whose run's pods share a
// topology wider than a node: its node has the topology label.
func inTopology(key string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpExists}
}

// withTopology returns term with its topology key set to key.
func withTopology(term corev1.PodAffinityTerm, key string) corev1.PodAffinityTerm {
	term.TopologyKey = key
	return term
}

// repelTerm is the isolation term; nsSelector is {} for cluster scope.
func repelTerm(nsSelector *metav1.LabelSelector) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{LabelComponent: ComponentName}},
		TopologyKey:       HostnameTopologyKey,
		NamespaceSelector: nsSelector,
	}
}

func resources(cpu, memory string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
}

// fullRun has every podTemplate field the placeholder reads.
func fullRun() *v1.PipelineRun {
	return &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a", UID: "run-uid"},
		Spec: v1.PipelineRunSpec{
			TaskRunTemplate: v1.PipelineTaskRunTemplate{
				ServiceAccountName: "builder",
				PodTemplate: &pod.Template{
					NodeSelector:      map[string]string{"pool": "ci"},
					Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ci", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](30)}},
					PriorityClassName: ptr.To("ci-high"),
					ImagePullSecrets:  []corev1.LocalObjectReference{{Name: "regcred"}},
					SecurityContext:   &corev1.PodSecurityContext{FSGroup: ptr.To[int64](1000), RunAsUser: ptr.To[int64](0)},
					Affinity: &corev1.Affinity{
						NodeAffinity:    &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{diskTerm("ssd")}}},
						PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: userTerm()}}},
					},
				},
			},
		},
	}
}

func defaultTemplate() *pod.AffinityAssistantTemplate {
	return &pod.AffinityAssistantTemplate{
		NodeSelector:       map[string]string{"pool": "default"},
		Tolerations:        []corev1.Toleration{{Key: "aa", Operator: corev1.TolerationOpExists}},
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "default-cred"}},
		PriorityClassName:  ptr.To("default-priority"),
		ServiceAccountName: "aa-sa",
	}
}

func TestStatefulSet(t *testing.T) {
	run := fullRun()
	got := StatefulSet(Spec{
		Name:       testName,
		Run:        run,
		Isolation:  selection.IsolationRequired,
		Image:      "images.invalid/tektoncd/nop:v1",
		Requests:   resources("2", "1Gi"),
		PinnedNode: "node-1",
		ClaimNames: []string{"src-pvc", "cache"},
	})

	labels := map[string]string{
		"app.kubernetes.io/component":  "pipelinerun-placeholder",
		"app.kubernetes.io/instance":   testName,
		"app.kubernetes.io/managed-by": "tekton-pipelines",
		"tekton.dev/pipelineRun":       "build",
	}
	want := &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{Kind: "StatefulSet", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      testName,
			Namespace: "team-a",
			Labels:    labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion:         "tekton.dev/v1",
				Kind:               "PipelineRun",
				Name:               "build",
				UID:                "run-uid",
				Controller:         ptr.To(true),
				BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"app.kubernetes.io/component": "pipelinerun-placeholder",
				"app.kubernetes.io/instance":  testName,
			}},
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"karpenter.sh/do-not-disrupt":                    "true",
					"cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
				}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "placeholder",
						Image: "images.invalid/tektoncd/nop:v1",
						Args:  []string{"tekton_run_indefinitely"},
						Resources: corev1.ResourceRequirements{
							Requests: resources("2", "1Gi"),
							Limits:   resources("2", "1Gi"),
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: ptr.To(false),
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							ReadOnlyRootFilesystem:   ptr.To(true),
							RunAsNonRoot:             ptr.To(true),
						},
					}},
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					ServiceAccountName:            "builder",
					SecurityContext: &corev1.PodSecurityContext{
						FSGroup:        ptr.To[int64](1000),
						RunAsUser:      ptr.To[int64](65532),
						RunAsNonRoot:   ptr.To(true),
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					NodeSelector:      map[string]string{"pool": "ci"},
					Tolerations:       []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ci", Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: ptr.To[int64](30)}},
					ImagePullSecrets:  []corev1.LocalObjectReference{{Name: "regcred"}},
					PriorityClassName: "ci-high",
					Affinity: &corev1.Affinity{
						NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
							MatchExpressions: diskTerm("ssd").MatchExpressions,
							MatchFields:      []corev1.NodeSelectorRequirement{pinField("node-1")},
						}}}},
						PodAntiAffinity: &corev1.PodAntiAffinity{
							RequiredDuringSchedulingIgnoredDuringExecution:  []corev1.PodAffinityTerm{repelTerm(&metav1.LabelSelector{})},
							PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: userTerm()}},
						},
					},
					Volumes: []corev1.Volume{{
						Name:         "workspace-0",
						VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "src-pvc", ReadOnly: true}},
					}, {
						Name:         "workspace-1",
						VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "cache", ReadOnly: true}},
					}},
				},
			},
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("StatefulSet() (-want +got):\n%s", d)
	}
	if !metav1.IsControlledBy(got, run) {
		t.Errorf("StatefulSet() is not controlled by the run: %v", got.OwnerReferences)
	}
	if d := cmp.Diff("node-1", PinnedNode(&got.Spec.Template.Spec, run)); d != "" {
		t.Errorf("PinnedNode() (-want +got):\n%s", d)
	}
	if d := cmp.Diff(resources("2", "1Gi"), Requests(&got.Spec.Template.Spec)); d != "" {
		t.Errorf("Requests() (-want +got):\n%s", d)
	}
}

func TestStatefulSetRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		requests corev1.ResourceList
		want     corev1.ResourceList
	}{
		{name: "nil means token", requests: nil, want: TokenRequests()},
		{name: "empty means token", requests: corev1.ResourceList{}, want: TokenRequests()},
		{name: "reservation", requests: resources("3500m", "6Gi"), want: resources("3500m", "6Gi")},
		{name: "extended resource", requests: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}, want: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sts := StatefulSet(Spec{Name: testName, Run: &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "ns"}}, Requests: tc.requests})
			c := sts.Spec.Template.Spec.Containers
			if len(c) != 1 {
				t.Fatalf("StatefulSet() has %d containers, want 1", len(c))
			}
			want := corev1.ResourceRequirements{Requests: tc.want, Limits: tc.want}
			if d := cmp.Diff(want, c[0].Resources); d != "" {
				t.Errorf("container resources (-want +got):\n%s", d)
			}
		})
	}
}

func TestTokenRequests(t *testing.T) {
	want := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}
	if d := cmp.Diff(want, TokenRequests()); d != "" {
		t.Errorf("TokenRequests() (-want +got):\n%s", d)
	}
	// Each call returns a fresh list.
	TokenRequests()[corev1.ResourceCPU] = resource.MustParse("5")
	if d := cmp.Diff(want, TokenRequests()); d != "" {
		t.Errorf("TokenRequests() after modifying an earlier result (-want +got):\n%s", d)
	}
}

func TestSchedulingFieldsMergeWithDefaultTemplate(t *testing.T) {
	type fields struct {
		NodeSelector       map[string]string
		Tolerations        []corev1.Toleration
		ImagePullSecrets   []corev1.LocalObjectReference
		PriorityClassName  string
		ServiceAccountName string
	}
	defaults := fields{
		NodeSelector:       map[string]string{"pool": "default"},
		Tolerations:        []corev1.Toleration{{Key: "aa", Operator: corev1.TolerationOpExists}},
		ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "default-cred"}},
		PriorityClassName:  "default-priority",
		ServiceAccountName: "aa-sa",
	}
	for _, tc := range []struct {
		name        string
		podTemplate *pod.Template
		runSA       string
		defaults    *pod.AffinityAssistantTemplate
		// priorityClass is pipelinerun-pod-affinity-priority-class.
		priorityClass string
		want          fields
	}{{
		name: "nothing configured",
		want: fields{},
	}, {
		name:  "run's service account only",
		runSA: "builder",
		want:  fields{ServiceAccountName: "builder"},
	}, {
		name:     "defaults only",
		runSA:    "builder",
		defaults: defaultTemplate(),
		want:     defaults,
	}, {
		name:        "run's podTemplate only",
		podTemplate: fullRun().Spec.TaskRunTemplate.PodTemplate,
		runSA:       "builder",
		want: fields{
			NodeSelector:       map[string]string{"pool": "ci"},
			Tolerations:        fullRun().Spec.TaskRunTemplate.PodTemplate.Tolerations,
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "regcred"}},
			PriorityClassName:  "ci-high",
			ServiceAccountName: "builder",
		},
	}, {
		name:        "run's podTemplate wins field by field",
		podTemplate: &pod.Template{NodeSelector: map[string]string{"pool": "ci"}, PriorityClassName: ptr.To("ci-high")},
		defaults:    defaultTemplate(),
		want: fields{
			NodeSelector:       map[string]string{"pool": "ci"},
			Tolerations:        defaults.Tolerations,
			ImagePullSecrets:   defaults.ImagePullSecrets,
			PriorityClassName:  "ci-high",
			ServiceAccountName: "aa-sa",
		},
	}, {
		name:          "the configured priority class wins over the run's podTemplate and the defaults",
		podTemplate:   &pod.Template{PriorityClassName: ptr.To("ci-high")},
		defaults:      defaultTemplate(),
		priorityClass: "placeholders-low",
		want: fields{
			NodeSelector:       defaults.NodeSelector,
			Tolerations:        defaults.Tolerations,
			ImagePullSecrets:   defaults.ImagePullSecrets,
			PriorityClassName:  "placeholders-low",
			ServiceAccountName: "aa-sa",
		},
	}, {
		name:          "the configured priority class without any template",
		priorityClass: "placeholders-low",
		want:          fields{PriorityClassName: "placeholders-low"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a"}}
			run.Spec.TaskRunTemplate = v1.PipelineTaskRunTemplate{PodTemplate: tc.podTemplate, ServiceAccountName: tc.runSA}
			spec := StatefulSet(Spec{Name: testName, Run: run, DefaultTemplate: tc.defaults, PriorityClassName: tc.priorityClass}).Spec.Template.Spec
			got := fields{
				NodeSelector:       spec.NodeSelector,
				Tolerations:        spec.Tolerations,
				ImagePullSecrets:   spec.ImagePullSecrets,
				PriorityClassName:  spec.PriorityClassName,
				ServiceAccountName: spec.ServiceAccountName,
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("scheduling fields (-want +got):\n%s", d)
			}
		})
	}
}

func TestPodSecurityContext(t *testing.T) {
	restricted := func(sc corev1.PodSecurityContext) *corev1.PodSecurityContext {
		sc.RunAsNonRoot = ptr.To(true)
		return &sc
	}
	runtimeDefault := &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	for _, tc := range []struct {
		name string
		in   *corev1.PodSecurityContext
		want *corev1.PodSecurityContext
	}{{
		name: "none configured",
		want: restricted(corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65532), SeccompProfile: runtimeDefault}),
	}, {
		name: "root user replaced, runAsNonRoot false overridden",
		in:   &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](0), RunAsNonRoot: ptr.To(false)},
		want: restricted(corev1.PodSecurityContext{RunAsUser: ptr.To[int64](65532), SeccompProfile: runtimeDefault}),
	}, {
		name: "operator settings kept",
		in: &corev1.PodSecurityContext{
			RunAsUser:      ptr.To[int64](1001),
			RunAsGroup:     ptr.To[int64](1001),
			FSGroup:        ptr.To[int64](2000),
			SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c123,c456"},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/nop.json")},
		},
		want: restricted(corev1.PodSecurityContext{
			RunAsUser:      ptr.To[int64](1001),
			RunAsGroup:     ptr.To[int64](1001),
			FSGroup:        ptr.To[int64](2000),
			SELinuxOptions: &corev1.SELinuxOptions{Level: "s0:c123,c456"},
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/nop.json")},
		}),
	}, {
		name: "unconfined seccomp replaced",
		in:   &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1001), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}},
		want: restricted(corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1001), SeccompProfile: runtimeDefault}),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a"}}
			if tc.in != nil {
				run.Spec.TaskRunTemplate.PodTemplate = &pod.Template{SecurityContext: tc.in}
			}
			before := run.DeepCopy()
			got := StatefulSet(Spec{Name: testName, Run: run}).Spec.Template.Spec.SecurityContext
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("pod security context (-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, run); d != "" {
				t.Errorf("StatefulSet() modified the run's security context (-before +after):\n%s", d)
			}
		})
	}
}

// TestStatefulSetAliasesNothing checks the key property of the package: the
// result shares no memory with the run, the default template or the
// requests. Upstream Tekton assigns podTemplate.affinity by pointer; adding
// the isolation term to such an alias would leak anti-affinity into every
// TaskRun pod of the run.
func TestStatefulSetAliasesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		run      *v1.PipelineRun
		defaults *pod.AffinityAssistantTemplate
	}{
		{name: "run's podTemplate, no defaults", run: fullRun()},
		{name: "run's podTemplate and defaults", run: fullRun(), defaults: defaultTemplate()},
		{name: "defaults only", run: &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "team-a", UID: "run-uid"}}, defaults: defaultTemplate()},
		{name: "run's podTemplate with nil fields, defaults fill them", run: func() *v1.PipelineRun {
			r := fullRun()
			r.Spec.TaskRunTemplate.PodTemplate.NodeSelector = nil
			r.Spec.TaskRunTemplate.PodTemplate.Tolerations = nil
			r.Spec.TaskRunTemplate.PodTemplate.ImagePullSecrets = nil
			r.Spec.TaskRunTemplate.PodTemplate.SecurityContext = nil
			return r
		}(), defaults: &pod.AffinityAssistantTemplate{
			NodeSelector:     map[string]string{"pool": "default"},
			Tolerations:      []corev1.Toleration{{Key: "aa", Operator: corev1.TolerationOpExists, TolerationSeconds: ptr.To[int64](5)}},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "default-cred"}},
			SecurityContext:  &corev1.PodSecurityContext{FSGroup: ptr.To[int64](3000), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		}},
	} {
		for _, isolation := range []selection.Isolation{selection.IsolationRequired, selection.IsolationPreferred} {
			t.Run(tc.name+"/"+string(isolation), func(t *testing.T) {
				requests := resources("2", "1Gi")
				runBefore, defaultsBefore, requestsBefore := tc.run.DeepCopy(), tc.defaults.DeepCopy(), requests.DeepCopy()

				sts := StatefulSet(Spec{
					Name:            testName,
					Run:             tc.run,
					Isolation:       isolation,
					DefaultTemplate: tc.defaults,
					Requests:        requests,
					PinnedNode:      "node-1",
				})
				built := sts.DeepCopy()
				mutate(&sts.Spec.Template.Spec)

				if d := cmp.Diff(runBefore, tc.run); d != "" {
					t.Errorf("mutating the StatefulSet changed the PipelineRun (-before +after):\n%s", d)
				}
				if d := cmp.Diff(defaultsBefore, tc.defaults); d != "" {
					t.Errorf("mutating the StatefulSet changed the default template (-before +after):\n%s", d)
				}
				if d := cmp.Diff(requestsBefore, requests); d != "" {
					t.Errorf("mutating the StatefulSet changed Spec.Requests (-before +after):\n%s", d)
				}

				// And the other way round: the run changing later does not
				// change a StatefulSet already built.
				again := StatefulSet(Spec{Name: testName, Run: tc.run, Isolation: isolation, DefaultTemplate: tc.defaults, Requests: requests, PinnedNode: "node-1"})
				if tpl := tc.run.Spec.TaskRunTemplate.PodTemplate; tpl != nil {
					mutateTemplate(tpl)
				}
				if tc.defaults != nil {
					mutateDefaults(tc.defaults)
				}
				requests[corev1.ResourceCPU] = resource.MustParse("99")
				if d := cmp.Diff(built, again); d != "" {
					t.Errorf("mutating the run, defaults or requests changed a built StatefulSet (-want +got):\n%s", d)
				}
			})
		}
	}
}

// mutate changes every field of a placeholder pod spec that is built from the run.
func mutate(spec *corev1.PodSpec) {
	a := spec.Affinity
	if a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for i := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			term := &a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[i]
			for j := range term.MatchExpressions {
				term.MatchExpressions[j].Values[0] = "mutated"
			}
			term.MatchFields = append(term.MatchFields, pinField("mutated"))
		}
	}
	if a.PodAntiAffinity != nil {
		for i := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].Weight = 1
			a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm.LabelSelector.MatchLabels["mutated"] = "true"
		}
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, userTerm())
	}
	a.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{userTerm()}}
	if spec.NodeSelector != nil {
		spec.NodeSelector["pool"] = "mutated"
		spec.NodeSelector["added"] = "mutated"
	}
	for i := range spec.Tolerations {
		spec.Tolerations[i].Value = "mutated"
		if spec.Tolerations[i].TolerationSeconds != nil {
			*spec.Tolerations[i].TolerationSeconds = 12345
		}
	}
	for i := range spec.ImagePullSecrets {
		spec.ImagePullSecrets[i].Name = "mutated"
	}
	if spec.SecurityContext.FSGroup != nil {
		*spec.SecurityContext.FSGroup = 12345
	}
	if spec.SecurityContext.SeccompProfile != nil {
		spec.SecurityContext.SeccompProfile.Type = corev1.SeccompProfileTypeUnconfined
	}
	spec.SecurityContext.RunAsUser = ptr.To[int64](0)
	for i := range spec.Containers {
		spec.Containers[i].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("99")
		spec.Containers[i].Resources.Limits[corev1.ResourceMemory] = resource.MustParse("99Gi")
	}
}

func mutateTemplate(tpl *pod.Template) {
	if tpl.NodeSelector != nil {
		tpl.NodeSelector["pool"] = "later"
	}
	for i := range tpl.Tolerations {
		tpl.Tolerations[i].Value = "later"
	}
	if tpl.SecurityContext != nil && tpl.SecurityContext.FSGroup != nil {
		*tpl.SecurityContext.FSGroup = 54321
	}
	if tpl.Affinity != nil && tpl.Affinity.NodeAffinity != nil {
		tpl.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[0] = "later"
	}
}

func mutateDefaults(tpl *pod.AffinityAssistantTemplate) {
	tpl.NodeSelector["pool"] = "later"
	tpl.Tolerations[0].Key = "later"
	tpl.ImagePullSecrets[0].Name = "later"
	if tpl.SecurityContext != nil {
		*tpl.SecurityContext.FSGroup = 54321
	}
}

func TestClaimNames(t *testing.T) {
	fromTemplate := func(w v1.WorkspaceBinding) string { return "pvc-" + w.Name }
	for _, tc := range []struct {
		name        string
		workspaces  []v1.WorkspaceBinding
		want        []string
		wantMounted []string
	}{{
		name: "no workspaces",
		want: nil,
	}, {
		name: "non-PVC workspaces are ignored",
		workspaces: []v1.WorkspaceBinding{
			{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
			{Name: "cfg", ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
		},
		want: nil,
	}, {
		name: "claims and templates, sorted and deduplicated",
		workspaces: []v1.WorkspaceBinding{
			{Name: "src", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "source"}},
			{Name: "cache", VolumeClaimTemplate: &corev1.PersistentVolumeClaim{}},
			{Name: "src-again", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "source"}},
			{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
			{Name: "artifacts", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "artifacts"}},
		},
		want: []string{"artifacts", "pvc-cache", "source"},
	}, {
		name: "a ReadWriteOncePod template is used, not mounted by the placeholder",
		workspaces: []v1.WorkspaceBinding{
			{Name: "src", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "source"}},
			{Name: "own", VolumeClaimTemplate: &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod},
			}}},
			{Name: "cache", VolumeClaimTemplate: &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			}}},
		},
		want:        []string{"pvc-cache", "pvc-own", "source"},
		wantMounted: []string{"pvc-cache", "source"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			run := &v1.PipelineRun{Spec: v1.PipelineRunSpec{Workspaces: tc.workspaces}}
			if d := cmp.Diff(tc.want, ClaimNames(run, fromTemplate)); d != "" {
				t.Errorf("ClaimNames() (-want +got):\n%s", d)
			}
			wantMounted := tc.want
			if tc.wantMounted != nil {
				wantMounted = tc.wantMounted
			}
			if d := cmp.Diff(wantMounted, MountedClaimNames(run, fromTemplate)); d != "" {
				t.Errorf("MountedClaimNames() (-want +got):\n%s", d)
			}
		})
	}
}
