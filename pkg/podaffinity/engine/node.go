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
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

const nodeGone = "gone"

// unusable returns why no new pod of a run whose pods tolerate tolerations
// can start on the node called nodeName, or "". A node that cannot be read
// is an error, not a verdict.
func (e *Engine) unusable(nodeName string, tolerations []corev1.Toleration) (string, error) {
	node, err := e.Nodes.Get(nodeName)
	if apierrors.IsNotFound(err) {
		return nodeGone, nil
	}
	if err != nil {
		return "", fmt.Errorf("getting node %s: %w", nodeName, err)
	}
	return nodeUnusable(node, tolerations), nil
}

// nodeUnusable returns why no new pod that tolerates tolerations can start
// on node, or "": it is cordoned, not ready or unreachable (whatever the
// pods tolerate: the run must leave a node that stopped working), or it
// has a NoSchedule or NoExecute taint the pods do not tolerate (pressure,
// a node being drained by an autoscaler, out of service...).
func nodeUnusable(node *corev1.Node, tolerations []corev1.Toleration) string {
	if node.Spec.Unschedulable {
		return "cordoned"
	}
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		switch taint.Key {
		case corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable:
			return "not ready (" + taint.Key + ")"
		}
	}
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect != corev1.TaintEffectNoSchedule && taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerated(taint, tolerations) {
			return "tainted " + taint.ToString() + ", which the PipelineRun's pods do not tolerate"
		}
	}
	return ""
}

func tolerated(taint *corev1.Taint, tolerations []corev1.Toleration) bool {
	for i := range tolerations {
		if tolerates(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// tolerates reports whether toleration t tolerates taint, as
// corev1.Toleration.ToleratesTaint does with the alpha comparison operators
// (Gt, Lt) off, which is the scheduler's default. It is spelled out because
// that method's signature depends on the k8s.io/api of the Tekton release
// (a logger and a feature switch from v0.35 on; Tekton v1.9 has v0.32), and
// the same code must build with every release the series is kept for.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	default:
		return false
	}
}

// nodeReady reports whether the node's kubelet says it is ready.
func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
