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
	"strings"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
)

// CheckTaints reports, as a *ConstraintsError, a run whose pod templates
// (with their RuntimeClasses, see CheckConstraints) disagree about the
// taints of the only nodes they can share: some node carries every node
// label that some pod template selects, and every such node has a taint
// that one of the run's pod templates tolerates and another does not.
// That is what a RuntimeClass whose nodes are tainted for it, named by one
// task only, amounts to: its pods must run on those nodes, the other
// tasks' pods never can, and the placeholder, which tolerates only what
// every pod tolerates, would wait for a node until max-node-wait.
//
// It asserts only what the run's own pod templates decide. Taints no pod
// template tolerates (a cordon, a node not ready, an autoscaler's) may go,
// and nodes may come: a run none of whose candidate nodes exists yet, or
// one of whose candidates has no such taint, is left to wait. nodes are
// those of the cluster; the node affinity of the templates is not
// evaluated, which can only leave more nodes as candidates.
func CheckTaints(run *v1.PipelineRun, classes map[string]*nodev1.RuntimeClass, nodes []*corev1.Node) error {
	if classes == nil {
		classes = map[string]*nodev1.RuntimeClass{}
	}
	c, err := runConstraints(run, nil, classes)
	if err != nil {
		return err
	}
	if len(c.pods) < 2 {
		return nil
	}
	var candidates []*corev1.Node
	var split *corev1.Taint
	for _, n := range nodes {
		if !hasLabels(n.Labels, c.selector) {
			continue
		}
		t := splitTaint(n, c.pods)
		if t == nil {
			return nil
		}
		if split == nil {
			split = t
		}
		candidates = append(candidates, n)
	}
	if len(candidates) == 0 {
		return nil
	}
	names := make([]string, 0, len(candidates))
	for _, n := range candidates {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	var yes, no []string
	for _, p := range c.pods {
		who := p.who
		if p.class != "" && !tolerates(p.tolerationsWithout(classes), split) && tolerates(p.tolerations, split) {
			who = fmt.Sprintf("%s's RuntimeClass %s", p.who, p.class)
		}
		if tolerates(p.tolerations, split) {
			yes = append(yes, who)
		} else {
			no = append(no, p.who)
		}
	}
	return &ConstraintsError{Reason: fmt.Sprintf(
		"no node can run every task of this PipelineRun: every node with %s (%s) has taint %s, which %s %s and %s %s; tolerate it in every pod template (the run's podTemplate counts for every task), or select other nodes",
		formatLabels(c.selector), strings.Join(names, ", "), formatTaint(split),
		strings.Join(yes, ", "), verb(yes, "tolerates", "tolerate"), strings.Join(no, ", "), verb(no, "does not", "do not"))}
}

// tolerationsWithout returns p's tolerations less those its RuntimeClass
// added.
func (p podScheduling) tolerationsWithout(classes map[string]*nodev1.RuntimeClass) []corev1.Toleration {
	rc, ok := classes[p.class]
	if !ok || rc.Scheduling == nil {
		return p.tolerations
	}
	var out []corev1.Toleration
	for _, t := range p.tolerations {
		if !containsToleration(rc.Scheduling.Tolerations, t) {
			out = append(out, t)
		}
	}
	return out
}

// splitTaint returns the first taint of n that keeps pods off it
// (NoSchedule, NoExecute) and that some of pods tolerate and others do
// not, or nil.
func splitTaint(n *corev1.Node, pods []podScheduling) *corev1.Taint {
	for i := range n.Spec.Taints {
		t := &n.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		some, all := false, true
		for _, p := range pods {
			if tolerates(p.tolerations, t) {
				some = true
			} else {
				all = false
			}
		}
		if some && !all {
			return t
		}
	}
	return nil
}

// tolerates reports whether one of ts tolerates taint, by the rules of the
// scheduler's TaintToleration plugin (operators Equal and Exists; an empty
// key with Exists tolerates every taint; an empty effect every effect).
// Written out because k8s.io/api's Toleration.ToleratesTaint changed its
// signature between the releases the series is kept for.
func tolerates(ts []corev1.Toleration, taint *corev1.Taint) bool {
	for _, t := range ts {
		if t.Effect != "" && t.Effect != taint.Effect {
			continue
		}
		switch t.Operator {
		case corev1.TolerationOpExists:
			if t.Key == "" || t.Key == taint.Key {
				return true
			}
		case "", corev1.TolerationOpEqual:
			if t.Key == taint.Key && t.Value == taint.Value {
				return true
			}
		}
	}
	return false
}

func containsToleration(ts []corev1.Toleration, t corev1.Toleration) bool {
	for _, x := range ts {
		if x.MatchToleration(&t) {
			return true
		}
	}
	return false
}

func hasLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if have, ok := labels[k]; !ok || have != v {
			return false
		}
	}
	return true
}

func formatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "any labels"
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}

func formatTaint(t *corev1.Taint) string {
	if t.Value == "" {
		return fmt.Sprintf("%s:%s", t.Key, t.Effect)
	}
	return fmt.Sprintf("%s=%s:%s", t.Key, t.Value, t.Effect)
}

func verb(who []string, one, many string) string {
	if len(who) == 1 {
		return one
	}
	return many
}
