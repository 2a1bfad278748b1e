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
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// boundVolume is a claim of the run and the node affinity of the
// PersistentVolume bound to it.
type boundVolume struct {
	claim, volume string
	affinity      *corev1.NodeSelector
}

// volumesKeep returns why the run's volumes keep it on node, or "": some
// of its claims are bound to PersistentVolumes that no usable node other
// than node can mount (a local volume on node, a zonal disk whose zone has
// no other usable node). A placeholder moved elsewhere would never be
// scheduled. Claims that do not exist yet or are not bound restrict
// nothing. Only read when the run's node became unusable.
func (e *Engine) volumesKeep(ctx context.Context, namespace string, claims []string, node string, tolerations []corev1.Toleration) (string, error) {
	var volumes []boundVolume
	for _, name := range claims {
		pvc, err := e.KubeClient.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("getting PersistentVolumeClaim %s/%s: %w", namespace, name, err)
		}
		if pvc.Spec.VolumeName == "" {
			continue
		}
		pv, err := e.KubeClient.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("getting PersistentVolume %s of claim %s/%s: %w", pvc.Spec.VolumeName, namespace, name, err)
		}
		if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
			continue
		}
		volumes = append(volumes, boundVolume{claim: name, volume: pv.Name, affinity: pv.Spec.NodeAffinity.Required})
	}
	if len(volumes) == 0 {
		return "", nil
	}
	nodes, err := e.Nodes.List(labels.Everything())
	if err != nil {
		return "", fmt.Errorf("listing nodes: %w", err)
	}
	for _, n := range nodes {
		if n.Name != node && nodeUnusable(n, tolerations) == "" && mountsAll(n, volumes) {
			return "", nil
		}
	}
	parts := make([]string, 0, len(volumes))
	for _, v := range volumes {
		parts = append(parts, fmt.Sprintf("claim %s is bound to PersistentVolume %s (%s)", v.claim, v.volume, describeSelector(v.affinity)))
	}
	return "no other usable node can mount its volumes: " + strings.Join(parts, "; "), nil
}

// mountsAll reports whether node satisfies the node affinity of every volume.
func mountsAll(node *corev1.Node, volumes []boundVolume) bool {
	for _, v := range volumes {
		if !matchesNodeSelector(node, v.affinity) {
			return false
		}
	}
	return true
}

// matchesNodeSelector evaluates a required node selector as the scheduler
// does: its terms are ORed, a term's requirements ANDed, and a term with
// no requirement matches no node.
func matchesNodeSelector(node *corev1.Node, sel *corev1.NodeSelector) bool {
	for _, term := range sel.NodeSelectorTerms {
		if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
			continue
		}
		if matchesRequirements(node.Labels, term.MatchExpressions) &&
			matchesRequirements(map[string]string{"metadata.name": node.Name}, term.MatchFields) {
			return true
		}
	}
	return false
}

// nodeSelectorOperators maps node selector operators to label selection ones.
var nodeSelectorOperators = map[corev1.NodeSelectorOperator]selection.Operator{
	corev1.NodeSelectorOpIn:           selection.In,
	corev1.NodeSelectorOpNotIn:        selection.NotIn,
	corev1.NodeSelectorOpExists:       selection.Exists,
	corev1.NodeSelectorOpDoesNotExist: selection.DoesNotExist,
	corev1.NodeSelectorOpGt:           selection.GreaterThan,
	corev1.NodeSelectorOpLt:           selection.LessThan,
}

// matchesRequirements reports whether set satisfies every requirement; an
// invalid one matches nothing.
func matchesRequirements(set map[string]string, reqs []corev1.NodeSelectorRequirement) bool {
	for _, r := range reqs {
		op, ok := nodeSelectorOperators[r.Operator]
		if !ok {
			return false
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil || !req.Matches(labels.Set(set)) {
			return false
		}
	}
	return true
}

// describeSelector renders a node selector for a message:
// "kubernetes.io/hostname in [node-1]", terms joined by " or ".
func describeSelector(sel *corev1.NodeSelector) string {
	var terms []string
	for _, term := range sel.NodeSelectorTerms {
		var reqs []string
		for _, r := range append(append([]corev1.NodeSelectorRequirement{}, term.MatchExpressions...), term.MatchFields...) {
			switch r.Operator {
			case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
				reqs = append(reqs, fmt.Sprintf("%s %s", r.Key, strings.ToLower(string(r.Operator))))
			default:
				reqs = append(reqs, fmt.Sprintf("%s %s [%s]", r.Key, strings.ToLower(string(r.Operator)), strings.Join(r.Values, ", ")))
			}
		}
		terms = append(terms, strings.Join(reqs, ", "))
	}
	return strings.Join(terms, " or ")
}
