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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// isolationTerm is the pod (anti-)affinity term by which a placeholder repels
// the placeholders of other runs on its node (or in its zone, or whatever
// topology the run's pods share: s.Topology): every pod labelled
// LabelComponent=ComponentName (a label config/placeholder-label-policy.yaml
// reserves to Tekton's controller and the StatefulSet controller) in
//
//   - every namespace (cluster scope): an empty namespace selector;
//   - the run's own namespace (namespace scope): no selector;
//   - the placeholders of its tenant (tenant scope): those that carry the
//     run's namespace's value of TenantLabel as LabelTenant, in every
//     namespace. A namespace without the label is a tenant of its own: no
//     selector.
//
// The tenant is the namespace's label, copied by the engine onto the
// placeholder pod it creates: only who may update Namespace objects decides
// which runs repel each other (tenants cannot make a pod with
// LabelComponent). It is a label of the placeholder rather than a namespace
// selector because the scheduler, when a pod is deleted, decides whether
// the pods it kept off a node may fit now without the namespaces' labels
// (its queueing hint matches a namespace selector against none): with a
// namespace selector a waiting run of the tenant would be tried again only
// at the scheduler's periodic flush of unschedulable pods, minutes later.
// Required anti-affinity is symmetric in the scheduler, so two runs of one
// tenant never share a node whatever the other run's term says.
func isolationTerm(s Spec) corev1.PodAffinityTerm {
	repel := corev1.PodAffinityTerm{
		LabelSelector: AllPlaceholdersSelector(),
		TopologyKey:   TopologyKey(s.Topology),
	}
	switch {
	case s.TenantLabel != "" && s.Tenant != nil:
		repel.LabelSelector.MatchLabels[LabelTenant] = *s.Tenant
		repel.NamespaceSelector = &metav1.LabelSelector{}
	case s.TenantLabel != "":
	case !s.NamespaceScoped:
		// An empty selector matches every namespace.
		repel.NamespaceSelector = &metav1.LabelSelector{}
	}
	return repel
}
