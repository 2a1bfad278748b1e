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

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

func TestPlaceConflictingNodeConstraints(t *testing.T) {
	// Two tasks whose pod templates select different values of one node
	// label: no node can run both, so the run fails before any placeholder.
	run := testRun()
	run.Spec.TaskRunSpecs = []v1.PipelineTaskRunSpec{
		{PipelineTaskName: "a", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "x"}}},
		{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "y"}}},
	}
	h := newHarness(t, readyNode("node-1"))
	got, err := h.engine(t).Place(h.ctx, settings(t, nil), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
	if err != nil {
		t.Fatalf("Place() = %v", err)
	}
	if d := cmp.Diff(Placement{Failed: true, Reason: ReasonConflictingNodeConstraints}, got, ignoreMessage); d != "" {
		t.Errorf("Place() (-want +got):\n%s", d)
	}
	if !strings.Contains(got.Message, "taskRunSpecs[b].podTemplate selects pool=y") {
		t.Errorf("message %q does not name the tasks in conflict", got.Message)
	}
	if d := cmp.Diff([]string(nil), h.actions()); d != "" {
		t.Errorf("API writes (-want +got):\n%s", d)
	}
}

// failingLimitRanges is a LimitRange lister whose reads fail.
type failingLimitRanges struct{ corelisters.LimitRangeLister }

func (failingLimitRanges) LimitRanges(string) corelisters.LimitRangeNamespaceLister {
	return failingLimitRangesInNamespace{}
}

type failingLimitRangesInNamespace struct {
	corelisters.LimitRangeNamespaceLister
}

func (failingLimitRangesInNamespace) List(labels.Selector) ([]*corev1.LimitRange, error) {
	return nil, errors.New("cache not ready")
}

// TestPlaceLimitRangeReadError checks that a failed read of the namespace's
// LimitRanges is an error, not a reservation computed without them.
func TestPlaceLimitRangeReadError(t *testing.T) {
	h := newHarness(t, readyNode("node-1"))
	e := h.engine(t)
	e.LimitRanges = failingLimitRanges{}
	if _, err := e.LimitRangesIn(ns); err == nil || !strings.Contains(err.Error(), "cache not ready") {
		t.Errorf("LimitRangesIn() = %v, want the lister's error", err)
	}
	_, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
	if err == nil || !strings.Contains(err.Error(), "LimitRanges of namespace "+ns) {
		t.Errorf("Place() = %v, want the LimitRange read error", err)
	}
	if got := h.actions(); len(got) != 0 {
		t.Errorf("API writes %v, want none", got)
	}
}
