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
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const (
	// ContainerName is the name of the placeholder's only container.
	ContainerName = "placeholder"
	// runIndefinitelyArg makes Tekton's nop image sleep forever.
	runIndefinitelyArg = "tekton_run_indefinitely"
	// nonRootUID is the "nonroot" user of distroless images such as nop.
	nonRootUID = 65532
)

// TokenRequests is what a placeholder asks for when it reserves nothing
// beyond its own footprint: after the reservation is handed over, or when
// the reservation policy is "none".
func TokenRequests() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("10m"),
		corev1.ResourceMemory: resource.MustParse("16Mi"),
	}
}

// Spec is everything the placeholder StatefulSet is built from.
type Spec struct {
	// Name is the StatefulSet name (see Name).
	Name string
	// Run is the PipelineRun the placeholder belongs to. It is never modified,
	// and nothing of it is aliased into the result.
	Run *v1.PipelineRun
	// Isolation says how strongly the placeholder repels other placeholders.
	Isolation selection.Isolation
	// NamespaceScoped limits isolation to the run's namespace.
	NamespaceScoped bool
	// TenantLabel, when set, limits isolation to the runs of the namespaces
	// that have the value Tenant of this namespace label (see isolationTerm).
	TenantLabel string
	// Tenant is the value of TenantLabel on the run's namespace; nil when
	// the namespace does not have the label.
	Tenant *string
	// Topology is the node label whose value all pods of the run share
	// (pipelinerun-pod-affinity-topology-key); "" or HostnameTopologyKey is
	// one node. With a wider topology the placeholders repel each other in
	// it, and the placeholder only goes to a node that has the label.
	Topology string
	// PriorityClassName, when set, is the placeholder pod's priority class
	// (pipelinerun-pod-affinity-priority-class); otherwise the run's
	// podTemplate (or Tekton's default template) gives it, if any.
	PriorityClassName string
	// Image is the container image, normally Tekton's nop image.
	Image string
	// DefaultTemplate is Tekton's default-affinity-assistant-pod-template, if any.
	DefaultTemplate *pod.AffinityAssistantTemplate
	// Requests is what the placeholder container requests (and limits).
	// Empty means TokenRequests.
	Requests corev1.ResourceList
	// PinnedNode, when set, restricts the placeholder to that node.
	PinnedNode string
	// ClaimNames are the PersistentVolumeClaims the run's workspaces use; the
	// placeholder mounts them so that every volume binds where it runs.
	ClaimNames []string
	// RuntimeClasses are the RuntimeClasses the run's pod templates name
	// (RuntimeClassNames), by name: their scheduling joins the
	// placeholder's. The placeholder itself runs with none.
	RuntimeClasses map[string]*nodev1.RuntimeClass
	// Queue is the Kueue LocalQueue of a run without a KueueQueueLabel of
	// its own (pipelinerun-pod-affinity-kueue-queue-name, as recorded on
	// the run); "" for none. See KueueQueue.
	Queue string
	// ReclaimingSince, when set, is recorded on the StatefulSet as
	// ReclaimingAnnotation: its pod asks again for the room its run needs.
	ReclaimingSince *time.Time
}

// StatefulSet builds the placeholder StatefulSet.
func StatefulSet(s Spec) *appsv1.StatefulSet {
	tpl := schedulingTemplate(s.Run, s.DefaultTemplate)
	// Conflicts are reported by CheckConstraints before a placeholder is
	// made; here the constraints are folded in as far as they go.
	nodes, _ := runConstraints(s.Run, tpl, s.RuntimeClasses)
	requests := s.Requests
	if len(requests) == 0 {
		requests = TokenRequests()
	}
	labels := Labels(s.Name, s.Run.Name)
	if s.TenantLabel != "" && s.Tenant != nil {
		labels[LabelTenant] = *s.Tenant
	}
	var annotations map[string]string
	if s.ReclaimingSince != nil {
		annotations = map[string]string{ReclaimingAnnotation: s.ReclaimingSince.UTC().Format(time.RFC3339)}
	}

	sts := &appsv1.StatefulSet{
		TypeMeta: metav1.TypeMeta{Kind: "StatefulSet", APIVersion: "apps/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            s.Name,
			Namespace:       s.Run.Namespace,
			Labels:          Labels(s.Name, s.Run.Name),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s.Run, v1.SchemeGroupVersion.WithKind("PipelineRun"))},
		},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](1),
			Selector: Selector(s.Name),
			// The engine changes the template (pinning, hand-over of the
			// reservation) and decides itself when the pod is replaced.
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: autoscalerAnnotations()},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  ContainerName,
						Image: s.Image,
						Args:  []string{runIndefinitelyArg},
						// requests == limits: QoS Guaranteed, so the reservation
						// is neither evicted first nor overcommitted.
						Resources: corev1.ResourceRequirements{
							Requests: requests.DeepCopy(),
							Limits:   requests.DeepCopy(),
						},
						SecurityContext: restrictedContainerSecurityContext(),
					}},
					AutomountServiceAccountToken:  ptr.To(false),
					EnableServiceLinks:            ptr.To(false),
					TerminationGracePeriodSeconds: ptr.To[int64](1),
					ServiceAccountName:            serviceAccountName(tpl, s.Run),
					SecurityContext:               restrictedPodSecurityContext(tpl.SecurityContext),
					NodeSelector:                  nodes.selector,
					Tolerations:                   nodes.tolerations,
					ImagePullSecrets:              tpl.ImagePullSecrets,
					PriorityClassName:             priorityClassName(s, tpl),
					Affinity:                      Affinity(s),
					Volumes:                       claimVolumes(s.ClaimNames),
				},
			},
		},
	}
	kueueTemplate(s, &sts.Spec.Template)
	return sts
}

// schedulingTemplate merges the run's podTemplate with Tekton's default
// affinity assistant template. Both inputs are deep-copied first: the result
// may be modified freely without touching the run or the configuration.
func schedulingTemplate(run *v1.PipelineRun, defaults *pod.AffinityAssistantTemplate) *pod.AffinityAssistantTemplate {
	var fromRun *pod.AffinityAssistantTemplate
	if pt := run.Spec.TaskRunTemplate.PodTemplate; pt != nil {
		fromRun = pt.DeepCopy().ToAffinityAssistantTemplate()
	}
	merged := pod.MergeAAPodTemplateWithDefault(fromRun, defaults.DeepCopy())
	if merged == nil {
		return &pod.AffinityAssistantTemplate{}
	}
	return merged
}

// Affinity returns the placeholder's affinity: the run's podTemplate
// affinity (deep-copied), the isolation term and the pin to a node.
func Affinity(s Spec) *corev1.Affinity {
	affinity := &corev1.Affinity{}
	if pt := s.Run.Spec.TaskRunTemplate.PodTemplate; pt != nil && pt.Affinity != nil {
		affinity = pt.Affinity.DeepCopy()
	}
	// The required node affinity of every pod template of the run's tasks.
	if terms := requiredNodeTerms(s.Run); len(terms) > 0 {
		if affinity.NodeAffinity == nil {
			affinity.NodeAffinity = &corev1.NodeAffinity{}
		}
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: terms}
	}

	// With a topology wider than a node, the run's pods go where a node
	// has the placeholder's node's value of the label: a placeholder on a
	// node without it would leave them nowhere to go.
	if key := TopologyKey(s.Topology); key != HostnameTopologyKey {
		requireLabel(affinity, key)
	}

	repel := isolationTerm(s)
	switch s.Isolation {
	case selection.IsolationRequired:
		if affinity.PodAntiAffinity == nil {
			affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(
			affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, repel)
	case selection.IsolationPreferred:
		if affinity.PodAntiAffinity == nil {
			affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
		}
		affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(
			affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.WeightedPodAffinityTerm{Weight: 100, PodAffinityTerm: repel})
	}

	if s.PinnedNode != "" {
		pinToNode(affinity, s.PinnedNode)
	}
	return affinity
}

// requireLabel requires a node that has the label key, ANDed with each
// existing required node selector term.
func requireLabel(affinity *corev1.Affinity, key string) {
	has := corev1.NodeSelectorRequirement{Key: key, Operator: corev1.NodeSelectorOpExists}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	required := affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if required == nil || len(required.NodeSelectorTerms) == 0 {
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{has}}},
		}
		return
	}
	for i := range required.NodeSelectorTerms {
		required.NodeSelectorTerms[i].MatchExpressions = append(required.NodeSelectorTerms[i].MatchExpressions, has)
	}
}

// pinToNode requires the node called nodeName, by field (node names and
// hostname labels differ on some clouds). Each existing required node
// selector term is ANDed with the pin, so the user's node affinity still holds.
func pinToNode(affinity *corev1.Affinity, nodeName string) {
	pin := corev1.NodeSelectorRequirement{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	required := affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if required == nil || len(required.NodeSelectorTerms) == 0 {
		affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{pin}}},
		}
		return
	}
	for i := range required.NodeSelectorTerms {
		required.NodeSelectorTerms[i].MatchFields = append(required.NodeSelectorTerms[i].MatchFields, pin)
	}
}

// PinnedNode returns the node that the placeholder pod spec of run is
// pinned to, or "". The pin is the requirement that pinToNode appends to
// every required node selector term after those of the run's pod template,
// so a user's own "metadata.name In (one node)" rule is never read as a pin.
func PinnedNode(spec *corev1.PodSpec, run *v1.PipelineRun) string {
	if spec.Affinity == nil || spec.Affinity.NodeAffinity == nil || spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	terms := spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	userTerms := requiredNodeTerms(run)
	switch {
	case len(userTerms) == 0 && len(terms) != 1:
		return ""
	case len(userTerms) > 0 && len(terms) != len(userTerms):
		return ""
	}
	node := ""
	for i, term := range terms {
		own := 0
		if i < len(userTerms) {
			own = len(userTerms[i].MatchFields)
		}
		if len(term.MatchFields) != own+1 {
			return ""
		}
		pin := term.MatchFields[own]
		if pin.Key != "metadata.name" || pin.Operator != corev1.NodeSelectorOpIn || len(pin.Values) != 1 {
			return ""
		}
		if node != "" && pin.Values[0] != node {
			return ""
		}
		node = pin.Values[0]
	}
	return node
}

// requiredNodeTerms returns the required node selector terms that every
// pod template of the run's tasks asks for (runConstraints), deep-copied.
func requiredNodeTerms(run *v1.PipelineRun) []corev1.NodeSelectorTerm {
	if run == nil {
		return nil
	}
	c, _ := runConstraints(run, nil, nil)
	out := make([]corev1.NodeSelectorTerm, 0, len(c.terms))
	for i := range c.terms {
		out = append(out, *c.terms[i].DeepCopy())
	}
	return out
}

// Requests returns what a placeholder pod spec requests.
func Requests(spec *corev1.PodSpec) corev1.ResourceList {
	for _, c := range spec.Containers {
		if c.Name == ContainerName {
			return c.Resources.Requests
		}
	}
	return nil
}

// priorityClassName is the configured class, else the template's.
func priorityClassName(s Spec, tpl *pod.AffinityAssistantTemplate) string {
	if s.PriorityClassName != "" {
		return s.PriorityClassName
	}
	return ptr.Deref(tpl.PriorityClassName, "")
}

func serviceAccountName(tpl *pod.AffinityAssistantTemplate, run *v1.PipelineRun) string {
	// Same precedence as Tekton's affinity assistant: the template, then the
	// run's TaskRun service account. The token is never mounted.
	if tpl.ServiceAccountName != "" {
		return tpl.ServiceAccountName
	}
	return run.Spec.TaskRunTemplate.ServiceAccountName
}

// restrictedPodSecurityContext keeps what an operator configured (fsGroup,
// SELinux options...) and enforces what Pod Security "restricted" requires.
func restrictedPodSecurityContext(from *corev1.PodSecurityContext) *corev1.PodSecurityContext {
	sc := &corev1.PodSecurityContext{}
	if from != nil {
		sc = from.DeepCopy()
	}
	sc.RunAsNonRoot = ptr.To(true)
	if sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		sc.RunAsUser = ptr.To[int64](nonRootUID)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type == corev1.SeccompProfileTypeUnconfined {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	return sc
}

func restrictedContainerSecurityContext() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
	}
}

// autoscalerAnnotations keep cluster autoscalers from draining the node
// under a running PipelineRun: its placeholder holds the node for the whole
// run, also between tasks when nothing else of the run runs there, and
// Karpenter's consolidation and the cluster autoscaler's scale-down would
// otherwise take an emptied-looking node away. Both leave a node with such
// a pod alone; once the run is done the placeholder goes and the node may
// be reclaimed.
func autoscalerAnnotations() map[string]string {
	return map[string]string{
		"karpenter.sh/do-not-disrupt":                    "true",
		"cluster-autoscaler.kubernetes.io/safe-to-evict": "false",
	}
}

// ClaimNames lists the PersistentVolumeClaims a run's workspaces use:
// persistentVolumeClaim bindings, and the claims Tekton creates from
// volumeClaimTemplate bindings (named by claimNameForTemplate).
func ClaimNames(run *v1.PipelineRun, claimNameForTemplate func(v1.WorkspaceBinding) string) []string {
	return claimNames(run, claimNameForTemplate, true)
}

// MountedClaimNames lists the claims of ClaimNames that the placeholder
// mounts, so that their volumes bind where it runs: all but those made from
// a ReadWriteOncePod template, which only one pod may use at a time (the
// run's pods then bind it, on the placeholder's node).
func MountedClaimNames(run *v1.PipelineRun, claimNameForTemplate func(v1.WorkspaceBinding) string) []string {
	return claimNames(run, claimNameForTemplate, false)
}

func claimNames(run *v1.PipelineRun, claimNameForTemplate func(v1.WorkspaceBinding) string, exclusive bool) []string {
	seen := map[string]bool{}
	var names []string
	for _, w := range run.Spec.Workspaces {
		var name string
		switch {
		case w.PersistentVolumeClaim != nil:
			name = w.PersistentVolumeClaim.ClaimName
		case w.VolumeClaimTemplate != nil:
			if !exclusive && slices.Contains(w.VolumeClaimTemplate.Spec.AccessModes, corev1.ReadWriteOncePod) {
				continue
			}
			name = claimNameForTemplate(w)
		}
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func claimVolumes(claimNames []string) []corev1.Volume {
	var volumes []corev1.Volume
	for i, name := range claimNames {
		volumes = append(volumes, corev1.Volume{
			Name: "workspace-" + strconv.Itoa(i),
			VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: true},
			},
		})
	}
	return volumes
}
