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
	"fmt"
	"strings"

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
	return ScopeOf(s.NamespaceScoped, s.TenantLabel, s.Tenant).term(s.Topology)
}

// Scope is the reach of a placeholder's isolation: the placeholders it
// repels (see isolationTerm).
type Scope struct {
	// Tenant, when set, is the tenant whose placeholders are repelled, in
	// every namespace.
	Tenant *string
	// Namespace limits it, without a Tenant, to the run's namespace.
	Namespace bool
}

// ScopeOf returns the scope of a placeholder's isolation: its tenant's when
// tenantLabel is set and its namespace has it, its namespace's when the
// namespace has no such label (a tenant of its own) or namespaceScoped,
// the cluster's otherwise.
func ScopeOf(namespaceScoped bool, tenantLabel string, tenant *string) Scope {
	switch {
	case tenantLabel != "" && tenant != nil:
		return Scope{Tenant: tenant}
	case tenantLabel != "":
		return Scope{Namespace: true}
	}
	return Scope{Namespace: namespaceScoped}
}

const tenantScopePrefix = "tenant="

// String returns the scope as IsolationAnnotationKey carries it:
// "cluster", "namespace" or "tenant=" and the tenant.
func (s Scope) String() string {
	switch {
	case s.Tenant != nil:
		return tenantScopePrefix + *s.Tenant
	case s.Namespace:
		return "namespace"
	}
	return "cluster"
}

// ParseScope reads a scope written by Scope.String.
func ParseScope(v string) (Scope, error) {
	switch {
	case v == "cluster":
		return Scope{}, nil
	case v == "namespace":
		return Scope{Namespace: true}, nil
	case strings.HasPrefix(v, tenantScopePrefix):
		tenant := strings.TrimPrefix(v, tenantScopePrefix)
		return Scope{Tenant: &tenant}, nil
	}
	return Scope{}, fmt.Errorf("isolation scope %q is none of \"cluster\", \"namespace\" and \"%s<tenant>\"", v, tenantScopePrefix)
}

// term returns the term that selects the placeholders of the scope in
// topology.
func (s Scope) term(topology string) corev1.PodAffinityTerm {
	repel := corev1.PodAffinityTerm{
		LabelSelector: AllPlaceholdersSelector(),
		TopologyKey:   TopologyKey(topology),
	}
	switch {
	case s.Tenant != nil:
		repel.LabelSelector.MatchLabels[LabelTenant] = *s.Tenant
		repel.NamespaceSelector = &metav1.LabelSelector{}
	case !s.Namespace:
		// An empty selector matches every namespace.
		repel.NamespaceSelector = &metav1.LabelSelector{}
	}
	return repel
}

// MemberRepelTerm is the required anti-affinity term of the pods of an
// isolated run whose placeholder is called name: the placeholders of other
// runs of its scope, in its topology. The scheduler enforces a pod's
// required anti-affinity both ways, so while such a pod runs on a node no
// other run's placeholder is bound there, even when the run's own
// placeholder pod is being replaced (a hand-over) and the node holds none
// for a moment. The placeholder's own term (isolationTerm) stays as it
// is: see TestIsolationRetriedWhenAPlaceholderEnds.
func MemberRepelTerm(name, topology string, scope Scope) corev1.PodAffinityTerm {
	repel := scope.term(topology)
	repel.LabelSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{
		Key: LabelInstance, Operator: metav1.LabelSelectorOpNotIn, Values: []string{name},
	}}
	return repel
}
