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
	"sort"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

// maxNodeTerms bounds the required node selector terms of a placeholder:
// ANDing the terms of several pod templates multiplies their counts.
const maxNodeTerms = 64

// nodeConstraints is what every TaskRun pod of a run requires of its node,
// as far as the placeholder can require it too: the node must satisfy all
// of it for the run's pods to follow the placeholder there.
type nodeConstraints struct {
	// selector is the union of the pods' node selectors.
	selector map[string]string
	// tolerations are those that every pod has.
	tolerations []corev1.Toleration
	// terms are the pods' required node affinity, ANDed: a node must match
	// one term, and each term carries every pod's requirements.
	terms []corev1.NodeSelectorTerm
	// pods are the scheduling of each pod template folded in (the run's
	// first), with their RuntimeClasses': who tolerates what.
	pods []podScheduling
}

// ConstraintsError says that the pod templates of a run's tasks ask for
// nodes that no single node can be.
type ConstraintsError struct{ Reason string }

func (e *ConstraintsError) Error() string { return e.Reason }

// CheckConstraints reports whether a single node can satisfy the node
// constraints of every pod template of the run (its taskRunTemplate and
// its taskRunSpecs), with the scheduling of the RuntimeClasses they name.
// classes are those RuntimeClasses, by name (see RuntimeClassNames); one
// that a template names and classes lack does not exist. The error names
// the tasks and the constraints in conflict.
func CheckConstraints(run *v1.PipelineRun, classes map[string]*nodev1.RuntimeClass) error {
	if classes == nil {
		classes = map[string]*nodev1.RuntimeClass{}
	}
	_, err := runConstraints(run, nil, classes)
	return err
}

// runConstraints folds the run's pod template and the template each
// taskRunSpecs entry gives its task (merged over the run's, as Tekton's
// GetTaskRunSpec does) into what every one of those pods requires. The
// scheduling of the RuntimeClass a template names joins it, as the API
// server's RuntimeClass admission adds it to the pod; classes nil leaves
// RuntimeClasses out (the node affinity terms do not depend on them).
//
// The run's own template counts even when every task has its own entry:
// the placeholder may then be stricter than needed, never laxer. base, when
// set, is the placeholder's own template (the run's merged with Tekton's
// default affinity assistant template): its node selector and tolerations
// are the starting point instead of the run's.
func runConstraints(run *v1.PipelineRun, base *pod.AffinityAssistantTemplate, classes map[string]*nodev1.RuntimeClass) (nodeConstraints, error) {
	var c nodeConstraints
	own := run.Spec.TaskRunTemplate.PodTemplate
	first := podScheduling{who: "the run's podTemplate"}
	if own != nil {
		first.selector, first.tolerations = own.NodeSelector, own.Tolerations
		c.terms = requiredTerms(own.Affinity)
	}
	if base != nil {
		first.selector, first.tolerations = base.NodeSelector, base.Tolerations
	}
	first, err := first.withRuntimeClass(own, classes)
	if err != nil {
		return nodeConstraints{}, err
	}
	c.selector, c.tolerations = first.selector, first.tolerations
	c.pods = append(c.pods, first)
	origin := first.origin // node label key -> who asked for it
	for _, spec := range run.Spec.TaskRunSpecs {
		if spec.PodTemplate == nil {
			continue
		}
		// MergePodTemplateWithDefault writes into its first argument.
		tpl := pod.MergePodTemplateWithDefault(spec.PodTemplate.DeepCopy(), run.Spec.TaskRunTemplate.PodTemplate.DeepCopy())
		who := fmt.Sprintf("taskRunSpecs[%s].podTemplate", spec.PipelineTaskName)
		task, err := podScheduling{who: who, selector: tpl.NodeSelector, tolerations: tpl.Tolerations}.withRuntimeClass(tpl, classes)
		if err != nil {
			return nodeConstraints{}, err
		}
		c.pods = append(c.pods, task)
		for _, k := range sortedKeys(task.selector) {
			v := task.selector[k]
			if have, ok := c.selector[k]; ok && have != v {
				return nodeConstraints{}, &ConstraintsError{Reason: fmt.Sprintf(
					"no node can run every task of this PipelineRun: %s selects nodes with %s=%s, %s selects %s=%s", origin[k], k, have, task.origin[k], k, v)}
			}
			if c.selector == nil {
				c.selector = map[string]string{}
			}
			if _, ok := c.selector[k]; !ok {
				c.selector[k], origin[k] = v, task.origin[k]
			}
		}
		c.tolerations = commonTolerations(c.tolerations, task.tolerations)
		terms, err := andTerms(c.terms, requiredTerms(tpl.Affinity), who)
		if err != nil {
			return nodeConstraints{}, err
		}
		c.terms = terms
	}
	return c, nil
}

func requiredTerms(a *corev1.Affinity) []corev1.NodeSelectorTerm {
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
}

// commonTolerations returns the tolerations of a that b has too.
func commonTolerations(a, b []corev1.Toleration) []corev1.Toleration {
	var out []corev1.Toleration
	for _, x := range a {
		for _, y := range b {
			if equality.Semantic.DeepEqual(x, y) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// andTerms returns terms that a node matches exactly when it matches a
// term of a and a term of b. Equal term lists are not multiplied.
func andTerms(a, b []corev1.NodeSelectorTerm, who string) ([]corev1.NodeSelectorTerm, error) {
	switch {
	case len(b) == 0 || equality.Semantic.DeepEqual(a, b):
		return a, nil
	case len(a) == 0:
		return b, nil
	case len(a)*len(b) > maxNodeTerms:
		return nil, &ConstraintsError{Reason: fmt.Sprintf(
			"the required node affinity of %s and of the other pod templates of this PipelineRun combine into more than %d node selector terms", who, maxNodeTerms)}
	}
	var out []corev1.NodeSelectorTerm
	for _, x := range a {
		for _, y := range b {
			t := *x.DeepCopy()
			t.MatchExpressions = append(t.MatchExpressions, y.DeepCopy().MatchExpressions...)
			t.MatchFields = append(t.MatchFields, y.DeepCopy().MatchFields...)
			out = append(out, t)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func copyLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
