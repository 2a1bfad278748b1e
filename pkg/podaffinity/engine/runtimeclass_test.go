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
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/ptr"
)

// fakeRuntimeClasses answers Get from a map, or err.
type fakeRuntimeClasses struct {
	classes map[string]*nodev1.RuntimeClass
	err     error
}

func (f fakeRuntimeClasses) Get(_ context.Context, name string) (*nodev1.RuntimeClass, error) {
	if f.err != nil {
		return nil, f.err
	}
	rc, ok := f.classes[name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}, name)
	}
	return rc, nil
}

var sandboxClasses = fakeRuntimeClasses{classes: map[string]*nodev1.RuntimeClass{
	"gvisor": sandboxClass("gvisor", "runsc", "100m"),
	"kata":   sandboxClass("kata", "kata", "250m"),
}}

// withRuntimeClasses sets the run's runtimeClassName and those of its tasks.
func withRuntimeClasses(run *v1.PipelineRun, own string, tasks map[string]string) *v1.PipelineRun {
	if own != "" {
		run.Spec.TaskRunTemplate.PodTemplate = &pod.PodTemplate{RuntimeClassName: ptr.To(own)}
	}
	for _, task := range []string{"a", "b", "c"} {
		if name, ok := tasks[task]; ok {
			run.Spec.TaskRunSpecs = append(run.Spec.TaskRunSpecs, v1.PipelineTaskRunSpec{PipelineTaskName: task, PodTemplate: &pod.PodTemplate{RuntimeClassName: ptr.To(name)}})
		}
	}
	return run
}

// TestPlaceRuntimeClasses checks that the placeholder carries the
// scheduling of the RuntimeClasses its run's pods use, that classes no node
// can serve together (or one that does not exist) fail the run before any
// placeholder, and that a failed read of a RuntimeClass is an error.
func TestPlaceRuntimeClasses(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}, "kata", errors.New("RBAC: access denied"))
	for _, tc := range []struct {
		name string
		run  *v1.PipelineRun
		// nodes besides node-1, a plain ready node.
		nodes   []runtime.Object
		reader  RuntimeClassReader
		want    Placement
		wantErr string
		message []string
		// wantSelector and wantTolerations are the created placeholder's.
		wantSelector    map[string]string
		wantTolerations []string
		wantActions     []string
	}{{
		name:            "the run's class: its scheduling joins the placeholder's",
		run:             withRuntimeClasses(testRun(), "kata", nil),
		reader:          sandboxClasses,
		want:            waitAfterCreate,
		wantSelector:    map[string]string{"sandbox": "kata"},
		wantTolerations: []string{"sandbox=kata:NoSchedule"},
		wantActions:     []string{"create statefulsets"},
	}, {
		name:         "one task's class: its nodeSelector joins; its toleration is not every pod's",
		run:          withRuntimeClasses(testRun(), "", map[string]string{"b": "kata"}),
		reader:       sandboxClasses,
		want:         waitAfterCreate,
		wantSelector: map[string]string{"sandbox": "kata"},
		wantActions:  []string{"create statefulsets"},
	}, {
		// The class's nodes are tainted for it: only b's pods tolerate that,
		// yet every task's pod must run there. Before, the placeholder
		// (which tolerates only what every pod tolerates) waited for such a
		// node until max-node-wait.
		name:    "one task's class, whose every node is tainted for it, the other pods not tolerating it: failed at once, naming the tasks and the taint",
		run:     withRuntimeClasses(testRun(), "", map[string]string{"b": "kata"}),
		nodes:   []runtime.Object{sandboxNode("node-4", "kata", true), sandboxNode("node-5", "kata", true), sandboxNode("node-6", "runsc", false)},
		reader:  sandboxClasses,
		want:    Placement{Failed: true, Reason: ReasonConflictingNodeConstraints},
		message: []string{"sandbox=kata", "node-4, node-5", "taint sandbox=kata:NoSchedule", "taskRunSpecs[b].podTemplate's RuntimeClass kata tolerates", "the run's podTemplate does not"},
	}, {
		name:         "one task's class, one of its nodes untainted: the placeholder waits for a node",
		run:          withRuntimeClasses(testRun(), "", map[string]string{"b": "kata"}),
		nodes:        []runtime.Object{sandboxNode("node-4", "kata", true), sandboxNode("node-5", "kata", false)},
		reader:       sandboxClasses,
		want:         waitAfterCreate,
		wantSelector: map[string]string{"sandbox": "kata"},
		wantActions:  []string{"create statefulsets"},
	}, {
		name:            "one task's class whose nodes are tainted, every pod tolerating the taint: the placeholder waits for a node",
		run:             tolerateInRun(withRuntimeClasses(testRun(), "", map[string]string{"b": "kata"}), "kata"),
		nodes:           []runtime.Object{sandboxNode("node-4", "kata", true)},
		reader:          sandboxClasses,
		want:            waitAfterCreate,
		wantSelector:    map[string]string{"sandbox": "kata"},
		wantTolerations: []string{"sandbox=kata:NoSchedule"},
		wantActions:     []string{"create statefulsets"},
	}, {
		name:    "a node cannot be listed: an error, nothing created",
		run:     withRuntimeClasses(testRun(), "", map[string]string{"b": "kata"}),
		nodes:   []runtime.Object{sandboxNode("node-4", "kata", true)},
		reader:  sandboxClasses,
		wantErr: "listing nodes",
	}, {
		name:    "two tasks' classes select different nodes: failed at once, naming them",
		run:     withRuntimeClasses(testRun(), "", map[string]string{"a": "gvisor", "b": "kata"}),
		reader:  sandboxClasses,
		want:    Placement{Failed: true, Reason: ReasonConflictingNodeConstraints},
		message: []string{"taskRunSpecs[a].podTemplate's RuntimeClass gvisor selects nodes with sandbox=runsc", "taskRunSpecs[b].podTemplate's RuntimeClass kata selects sandbox=kata"},
	}, {
		name:    "a class that does not exist: failed at once, naming it",
		run:     withRuntimeClasses(testRun(), "", map[string]string{"c": "wasm"}),
		reader:  sandboxClasses,
		want:    Placement{Failed: true, Reason: ReasonConflictingNodeConstraints},
		message: []string{`taskRunSpecs[c].podTemplate names RuntimeClass "wasm", which does not exist`},
	}, {
		name:    "a RuntimeClass cannot be read: an error, nothing created",
		run:     withRuntimeClasses(testRun(), "kata", nil),
		reader:  fakeRuntimeClasses{err: forbidden},
		wantErr: "RBAC: access denied",
	}, {
		name:    "a run that names a class, and no reader: an error",
		run:     withRuntimeClasses(testRun(), "kata", nil),
		wantErr: "RuntimeClass",
	}, {
		name:        "no class named: nothing read",
		run:         testRun(),
		reader:      fakeRuntimeClasses{err: forbidden},
		want:        waitAfterCreate,
		wantActions: []string{"create statefulsets"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, append([]runtime.Object{readyNode("node-1")}, tc.nodes...)...)
			e := h.engine(t)
			e.RuntimeClasses = tc.reader
			if tc.wantErr == "listing nodes" {
				e.Nodes = failingNodes{e.Nodes}
			}
			got, err := e.Place(h.ctx, settings(t, nil), tc.run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Place() = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			for _, want := range tc.message {
				if !strings.Contains(got.Message, want) {
					t.Errorf("Place().Message = %q, want it to contain %q", got.Message, want)
				}
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				return
			}
			spec := sts.Spec.Template.Spec
			if d := cmp.Diff(tc.wantSelector, spec.NodeSelector); d != "" {
				t.Errorf("placeholder nodeSelector (-want +got):\n%s", d)
			}
			var tolerations []string
			for _, tol := range spec.Tolerations {
				tolerations = append(tolerations, tol.Key+"="+tol.Value+":"+string(tol.Effect))
			}
			if d := cmp.Diff(tc.wantTolerations, tolerations); d != "" {
				t.Errorf("placeholder tolerations (-want +got):\n%s", d)
			}
		})
	}
}

func sandboxNode(name, handler string, tainted bool) *corev1.Node {
	n := readyNode(name)
	n.Labels = map[string]string{"sandbox": handler}
	if tainted {
		n.Spec.Taints = []corev1.Taint{{Key: "sandbox", Value: handler, Effect: corev1.TaintEffectNoSchedule}}
	}
	return n
}

// tolerateInRun gives the run's podTemplate the toleration of
// sandboxClass(handler)'s taint.
func tolerateInRun(run *v1.PipelineRun, handler string) *v1.PipelineRun {
	if run.Spec.TaskRunTemplate.PodTemplate == nil {
		run.Spec.TaskRunTemplate.PodTemplate = &pod.PodTemplate{}
	}
	run.Spec.TaskRunTemplate.PodTemplate.Tolerations = append(run.Spec.TaskRunTemplate.PodTemplate.Tolerations,
		corev1.Toleration{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: handler, Effect: corev1.TaintEffectNoSchedule})
	return run
}

// failingNodes is a node lister whose List fails; Get reads through.
type failingNodes struct{ corelisters.NodeLister }

func (failingNodes) List(labels.Selector) ([]*corev1.Node, error) {
	return nil, errors.New("the node cache is broken")
}
