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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/ptr"
)

// errCacheRead is what a cache that cannot answer returns.
var errCacheRead = errors.New("cache not ready")

// failingStatefulSets is a StatefulSet lister whose every read fails.
type failingStatefulSets struct{ appslisters.StatefulSetLister }

func (failingStatefulSets) StatefulSets(string) appslisters.StatefulSetNamespaceLister {
	return failingStatefulSetsInNamespace{}
}

type failingStatefulSetsInNamespace struct {
	appslisters.StatefulSetNamespaceLister
}

func (failingStatefulSetsInNamespace) Get(string) (*appsv1.StatefulSet, error) {
	return nil, errCacheRead
}

func (failingStatefulSetsInNamespace) List(labels.Selector) ([]*appsv1.StatefulSet, error) {
	return nil, errCacheRead
}

// TestStatefulSetReadError checks that a placeholder StatefulSet that
// cannot be read is an error wherever the engine reads one, never taken
// for "no placeholder": for a run reconciled before without a record and
// with children, that would decide it began without the engine.
func TestStatefulSetReadError(t *testing.T) {
	midRunWithoutRecord := func() *v1.PipelineRun {
		run := testRun()
		run.Labels = nil
		run.Status.StartTime = ptr.To(ago(time.Minute))
		run.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
		return run
	}
	for _, tc := range []struct {
		name string
		call func(*harness, *Engine, Settings) error
	}{{
		name: "Target of a run reconciled without a record, with children",
		call: func(h *harness, e *Engine, s Settings) error {
			_, err := e.Target(h.ctx, s, midRunWithoutRecord())
			return err
		},
	}, {
		name: "Place",
		call: func(h *harness, e *Engine, s Settings) error {
			_, err := e.Place(h.ctx, s, testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			return err
		},
	}, {
		name: "Release",
		call: func(h *harness, e *Engine, s Settings) error {
			return e.Release(h.ctx, s, testRun())
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), ownSTS("node-1", placeholder.TokenRequests()))
			e := h.engine(t)
			e.StatefulSets = failingStatefulSets{}
			s := settings(t, nil)
			s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
			err := tc.call(h, e, s)
			if !errors.Is(err, errCacheRead) || !strings.Contains(err.Error(), "StatefulSet") {
				t.Errorf("error = %v, want the StatefulSet read error", err)
			}
			if got := h.actions(); len(got) != 0 {
				t.Errorf("API writes %v, want none", got)
			}
		})
	}
}

// TestNodeReadError checks that a node that cannot be read is an error
// wherever the engine reads one for a run, never taken for a verdict: not
// for a usable node (the run would start tasks on a node that may be
// gone), nor for an unusable one (it would move a run that need not).
func TestNodeReadError(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
	}{{
		name:    "placed run on its node",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour)))},
	}, {
		name:    "placeholder pod terminating on its node",
		objects: []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)},
	}, {
		name:    "placeholder StatefulSet gone mid-run, a task pod on its node",
		objects: []runtime.Object{readyNode("node-1"), memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute))},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			e := h.engine(t)
			e.Nodes = failingNodeReads{e.Nodes}
			_, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if !errors.Is(err, errCacheRead) || !strings.Contains(err.Error(), "node") {
				t.Errorf("Place() error = %v, want the node read error", err)
			}
			if got := h.actions(); len(got) != 0 {
				t.Errorf("API writes %v, want none", got)
			}
		})
	}
}

// failingNodeReads is a node lister whose every read fails.
type failingNodeReads struct{ corelisters.NodeLister }

func (failingNodeReads) Get(string) (*corev1.Node, error)             { return nil, errCacheRead }
func (failingNodeReads) List(labels.Selector) ([]*corev1.Node, error) { return nil, errCacheRead }
