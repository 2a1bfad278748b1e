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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeUnusable(t *testing.T) {
	tolerateAll := []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	for _, tc := range []struct {
		name        string
		node        *corev1.Node
		tolerations []corev1.Toleration
		want        string // substring; "" means usable
	}{
		{name: "ready", node: readyNode("n")},
		{name: "cordoned", node: cordonedNode("n"), want: "cordoned"},
		{name: "cordoned, whatever the pods tolerate", node: cordonedNode("n"), tolerations: tolerateAll, want: "cordoned"},
		{name: "unreachable, whatever the pods tolerate", node: notReadyNode("n"), tolerations: tolerateAll, want: "not ready (node.kubernetes.io/unreachable)"},
		{name: "memory pressure", node: taintedNode("n", "node.kubernetes.io/memory-pressure", corev1.TaintEffectNoSchedule), want: "tainted node.kubernetes.io/memory-pressure:NoSchedule"},
		{name: "disk pressure", node: taintedNode("n", "node.kubernetes.io/disk-pressure", corev1.TaintEffectNoSchedule), want: "tainted node.kubernetes.io/disk-pressure:NoSchedule"},
		{name: "PID pressure", node: taintedNode("n", "node.kubernetes.io/pid-pressure", corev1.TaintEffectNoSchedule), want: "tainted node.kubernetes.io/pid-pressure:NoSchedule"},
		{name: "Karpenter disrupting the node", node: taintedNode("n", "karpenter.sh/disrupted", corev1.TaintEffectNoSchedule), want: "tainted karpenter.sh/disrupted:NoSchedule"},
		{name: "cluster autoscaler scale-down", node: taintedNode("n", "ToBeDeletedByClusterAutoscaler", corev1.TaintEffectNoSchedule), want: "ToBeDeletedByClusterAutoscaler"},
		{name: "out of service", node: taintedNode("n", "node.kubernetes.io/out-of-service", corev1.TaintEffectNoExecute), want: "out-of-service"},
		{name: "tolerated taint", node: taintedNode("n", "dedicated", corev1.TaintEffectNoSchedule), tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}},
		{name: "toleration of another key", node: taintedNode("n", "dedicated", corev1.TaintEffectNoSchedule), tolerations: []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists}}, want: "dedicated"},
		{name: "PreferNoSchedule", node: taintedNode("n", "dedicated", corev1.TaintEffectPreferNoSchedule)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nodeUnusable(tc.node, tc.tolerations)
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("nodeUnusable() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTolerates(t *testing.T) {
	taint := &corev1.Taint{Key: "dedicated", Value: "ci", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name       string
		toleration corev1.Toleration
		want       bool
	}{
		{name: "exists, any key and effect", toleration: corev1.Toleration{Operator: corev1.TolerationOpExists}, want: true},
		{name: "exists, the key", toleration: corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpExists}, want: true},
		{name: "exists, another key", toleration: corev1.Toleration{Key: "gpu", Operator: corev1.TolerationOpExists}},
		{name: "equal, the value", toleration: corev1.Toleration{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "ci"}, want: true},
		{name: "no operator means equal", toleration: corev1.Toleration{Key: "dedicated", Value: "ci"}, want: true},
		{name: "equal, another value", toleration: corev1.Toleration{Key: "dedicated", Value: "prod"}},
		{name: "the effect", toleration: corev1.Toleration{Key: "dedicated", Value: "ci", Effect: corev1.TaintEffectNoSchedule}, want: true},
		{name: "another effect", toleration: corev1.Toleration{Key: "dedicated", Value: "ci", Effect: corev1.TaintEffectNoExecute}},
		{name: "a comparison operator (alpha, off by default)", toleration: corev1.Toleration{Key: "dedicated", Operator: "Gt", Value: "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tolerates(&tc.toleration, taint); got != tc.want {
				t.Errorf("tolerates(%+v, %v) = %t, want %t", tc.toleration, taint.ToString(), got, tc.want)
			}
		})
	}
}

func notReadyNode(name string) *corev1.Node {
	n := readyNode(name)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}}
	return n
}

func readyNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Allocatable: rl("4", "16Gi"),
		},
	}
}

func cordonedNode(name string) *corev1.Node {
	n := readyNode(name)
	n.Spec.Unschedulable = true
	return n
}

func taintedNode(name, key string, effect corev1.TaintEffect) *corev1.Node {
	n := readyNode(name)
	n.Spec.Taints = []corev1.Taint{{Key: key, Effect: effect}}
	return n
}

// inZone puts a node in a zone.
func inZone(n *corev1.Node, zone string) *corev1.Node {
	n.Labels = map[string]string{zoneLabel: zone, corev1.LabelHostname: n.Name}
	return n
}

const zoneLabel = corev1.LabelTopologyZone
