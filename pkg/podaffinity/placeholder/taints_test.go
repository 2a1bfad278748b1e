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
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCheckTaints(t *testing.T) {
	kataToleration := corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: "kata", Effect: corev1.TaintEffectNoSchedule}
	classes := map[string]*nodev1.RuntimeClass{"kata": {
		ObjectMeta: metav1.ObjectMeta{Name: "kata"},
		Handler:    "kata",
		Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "kata"}, Tolerations: []corev1.Toleration{kataToleration}},
	}}
	node := func(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	kataTaint := corev1.Taint{Key: "sandbox", Value: "kata", Effect: corev1.TaintEffectNoSchedule}
	kataLabels := map[string]string{"sandbox": "kata"}
	plain := node("node-1", nil)
	kata4, kata5 := node("node-4", kataLabels, kataTaint), node("node-5", kataLabels, kataTaint)
	run := func(own *pod.PodTemplate, specs ...v1.PipelineTaskRunSpec) *v1.PipelineRun {
		r := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: "ns"}}
		r.Spec.TaskRunTemplate.PodTemplate = own
		r.Spec.TaskRunSpecs = specs
		return r
	}
	task := func(name string, tpl *pod.PodTemplate) v1.PipelineTaskRunSpec {
		return v1.PipelineTaskRunSpec{PipelineTaskName: name, PodTemplate: tpl}
	}
	kata := &pod.PodTemplate{RuntimeClassName: ptr.To("kata")}
	for _, tc := range []struct {
		name    string
		run     *v1.PipelineRun
		nodes   []*corev1.Node
		wantErr string
	}{{
		name:  "one task's class, its nodes all tainted for it",
		run:   run(nil, task("b", kata)),
		nodes: []*corev1.Node{plain, kata5, kata4},
		wantErr: "no node can run every task of this PipelineRun: every node with sandbox=kata (node-4, node-5) has taint sandbox=kata:NoSchedule, " +
			"which taskRunSpecs[b].podTemplate's RuntimeClass kata tolerates and the run's podTemplate does not; " +
			"tolerate it in every pod template (the run's podTemplate counts for every task), or select other nodes",
	}, {
		name:  "two tasks' class, the run's template and a third task's without it: both named",
		run:   run(nil, task("a", kata), task("b", kata), task("c", &pod.PodTemplate{NodeSelector: map[string]string{"disk": "ssd"}})),
		nodes: []*corev1.Node{node("node-4", map[string]string{"sandbox": "kata", "disk": "ssd"}, kataTaint)},
		wantErr: "no node can run every task of this PipelineRun: every node with disk=ssd, sandbox=kata (node-4) has taint sandbox=kata:NoSchedule, " +
			"which taskRunSpecs[a].podTemplate's RuntimeClass kata, taskRunSpecs[b].podTemplate's RuntimeClass kata tolerate and the run's podTemplate, taskRunSpecs[c].podTemplate do not; " +
			"tolerate it in every pod template (the run's podTemplate counts for every task), or select other nodes",
	}, {
		name:  "a task's own toleration, not its class's, is named as the task's",
		run:   run(nil, task("b", &pod.PodTemplate{NodeSelector: kataLabels, Tolerations: []corev1.Toleration{kataToleration}})),
		nodes: []*corev1.Node{kata4},
		wantErr: "no node can run every task of this PipelineRun: every node with sandbox=kata (node-4) has taint sandbox=kata:NoSchedule, " +
			"which taskRunSpecs[b].podTemplate tolerates and the run's podTemplate does not; " +
			"tolerate it in every pod template (the run's podTemplate counts for every task), or select other nodes",
	}, {
		name:  "one of the class's nodes is not tainted: left to the scheduler",
		run:   run(nil, task("b", kata)),
		nodes: []*corev1.Node{kata4, node("node-5", kataLabels)},
	}, {
		name:  "no node of the class exists yet (an autoscaler may add one): left to wait",
		run:   run(nil, task("b", kata)),
		nodes: []*corev1.Node{plain},
	}, {
		name:  "every pod tolerates the taint: no conflict",
		run:   run(&pod.PodTemplate{Tolerations: []corev1.Toleration{{Key: "sandbox", Operator: corev1.TolerationOpExists}}}, task("b", kata)),
		nodes: []*corev1.Node{kata4},
	}, {
		name:  "a taint no pod tolerates (a cordon): not the run's conflict",
		run:   run(nil, task("b", kata)),
		nodes: []*corev1.Node{node("node-4", kataLabels, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})},
	}, {
		name:  "a PreferNoSchedule taint keeps no pod off: no conflict",
		run:   run(nil, task("b", kata)),
		nodes: []*corev1.Node{node("node-4", kataLabels, corev1.Taint{Key: "sandbox", Value: "kata", Effect: corev1.TaintEffectPreferNoSchedule})},
	}, {
		name:  "the run's own class: every pod tolerates it",
		run:   run(kata),
		nodes: []*corev1.Node{kata4},
	}, {
		name:    "classes that select different nodes: CheckConstraints' error",
		run:     run(nil, task("a", kata), task("b", &pod.PodTemplate{NodeSelector: map[string]string{"sandbox": "runsc"}})),
		nodes:   []*corev1.Node{kata4},
		wantErr: "no node can run every task of this PipelineRun: taskRunSpecs[a].podTemplate's RuntimeClass kata selects nodes with sandbox=kata, taskRunSpecs[b].podTemplate selects sandbox=runsc",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTaints(tc.run, classes, tc.nodes)
			got := ""
			if err != nil {
				var ce *ConstraintsError
				if !errors.As(err, &ce) {
					t.Fatalf("CheckTaints() = %v, want a *ConstraintsError", err)
				}
				got = err.Error()
			}
			if d := cmp.Diff(tc.wantErr, got); d != "" {
				t.Errorf("CheckTaints() error (-want +got):\n%s", d)
			}
		})
	}
}

func TestTolerates(t *testing.T) {
	taint := &corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		name string
		tol  corev1.Toleration
		want bool
	}{
		{"equal", corev1.Toleration{Key: "k", Value: "v", Effect: corev1.TaintEffectNoSchedule}, true},
		{"empty operator is equal", corev1.Toleration{Key: "k", Value: "v"}, true},
		{"other value", corev1.Toleration{Key: "k", Value: "w"}, false},
		{"exists", corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists}, true},
		{"exists, other key", corev1.Toleration{Key: "j", Operator: corev1.TolerationOpExists}, false},
		{"exists, empty key: everything", corev1.Toleration{Operator: corev1.TolerationOpExists}, true},
		{"other effect", corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tolerates([]corev1.Toleration{tc.tol}, taint); got != tc.want {
				t.Errorf("tolerates(%+v) = %t, want %t", tc.tol, got, tc.want)
			}
		})
	}
}
