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
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestRelease(t *testing.T) {
	parent := testRun()
	child := testRun()
	child.Name, child.UID = "build-child", "child-uid"
	for _, tc := range []struct {
		name        string
		run         *v1.PipelineRun
		objects     []runtime.Object
		wantActions []string
		wantExists  bool
	}{{
		name:        "own placeholder is deleted",
		run:         parent,
		objects:     []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		wantActions: []string{"delete statefulsets"},
		wantExists:  false,
	}, {
		name:    "no placeholder: nothing to do",
		run:     parent,
		objects: nil,
	}, {
		name: "placeholder of the same name not controlled by the run is kept",
		run:  parent,
		objects: []runtime.Object{func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", placeholder.TokenRequests())
			sts.OwnerReferences = nil
			return sts
		}()},
		wantExists: true,
	}, {
		name: "placeholder of a previous run with the same name is kept",
		run:  parent,
		objects: []runtime.Object{func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", placeholder.TokenRequests())
			sts.OwnerReferences[0].UID = "previous-run-uid"
			return sts
		}()},
		wantExists: true,
	}, {
		name:       "placeholder already being deleted",
		run:        parent,
		objects:    []runtime.Object{beingDeleted(ownSTS("node-1", placeholder.TokenRequests()))},
		wantExists: true,
	}, {
		name:       "a child run never deletes its parent's placeholder",
		run:        child,
		objects:    []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		wantExists: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if err := h.engine(t).Release(h.ctx, settings(t, nil), tc.run); err != nil {
				t.Fatalf("Release() = %v", err)
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantExists, h.placeholderSTS(t, phName()) != nil); d != "" {
				t.Errorf("parent placeholder exists (-want +got):\n%s", d)
			}
		})
	}
}
