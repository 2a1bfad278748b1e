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

// RuntimeClassNames lists, sorted, the RuntimeClasses that the pods of the
// run's tasks run with: the runtimeClassName of the run's podTemplate and
// of each taskRunSpecs podTemplate (which wins over the run's, as Tekton's
// GetTaskRunSpec merges them).
func RuntimeClassNames(run *v1.PipelineRun) []string {
	seen := map[string]bool{}
	add := func(tpl *pod.PodTemplate) {
		if name := runtimeClassName(tpl); name != "" {
			seen[name] = true
		}
	}
	add(run.Spec.TaskRunTemplate.PodTemplate)
	for _, spec := range run.Spec.TaskRunSpecs {
		if spec.PodTemplate != nil && spec.PodTemplate.RuntimeClassName != nil {
			add(spec.PodTemplate)
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil
	}
	return names
}

func runtimeClassName(tpl *pod.PodTemplate) string {
	if tpl == nil || tpl.RuntimeClassName == nil {
		return ""
	}
	return *tpl.RuntimeClassName
}

// podScheduling is what the pods of one pod template require of their
// node, and who requires each node label.
type podScheduling struct {
	who         string
	selector    map[string]string
	origin      map[string]string
	tolerations []corev1.Toleration
	// class is the RuntimeClass whose scheduling joined, or "".
	class string
}

// withRuntimeClass adds to p the scheduling of the RuntimeClass that tpl
// names, as the API server's RuntimeClass admission adds it to a pod: its
// nodeSelector to the pod's, which must not select another value of a
// label, and its tolerations to the pod's. classes nil leaves it as it is.
// The selector is copied: p's inputs are never modified.
func (p podScheduling) withRuntimeClass(tpl *pod.PodTemplate, classes map[string]*nodev1.RuntimeClass) (podScheduling, error) {
	out := podScheduling{who: p.who, selector: copyLabels(p.selector), origin: map[string]string{}, tolerations: p.tolerations}
	for k := range out.selector {
		out.origin[k] = p.who
	}
	name := runtimeClassName(tpl)
	if classes == nil || name == "" {
		return out, nil
	}
	rc, ok := classes[name]
	if !ok {
		return podScheduling{}, &ConstraintsError{Reason: fmt.Sprintf(
			"no node can run every task of this PipelineRun: %s names RuntimeClass %q, which does not exist", p.who, name)}
	}
	if rc.Scheduling == nil {
		return out, nil
	}
	out.class = name
	who := fmt.Sprintf("%s's RuntimeClass %s", p.who, name)
	for _, k := range sortedKeys(rc.Scheduling.NodeSelector) {
		v := rc.Scheduling.NodeSelector[k]
		if have, ok := out.selector[k]; ok && have != v {
			return podScheduling{}, &ConstraintsError{Reason: fmt.Sprintf(
				"no node can run every task of this PipelineRun: %s selects nodes with %s=%s, its RuntimeClass %s selects %s=%s", p.who, k, have, name, k, v)}
		}
		if out.selector == nil {
			out.selector = map[string]string{}
		}
		out.selector[k], out.origin[k] = v, who
	}
	out.tolerations = addTolerations(p.tolerations, rc.Scheduling.Tolerations)
	return out, nil
}

// addTolerations returns a with those of b it lacks appended, in a new slice.
func addTolerations(a, b []corev1.Toleration) []corev1.Toleration {
	out := append([]corev1.Toleration(nil), a...)
	for _, y := range b {
		found := false
		for _, x := range a {
			if equality.Semantic.DeepEqual(x, y) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, y)
		}
	}
	return out
}
