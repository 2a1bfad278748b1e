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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// placeCase is a case of the table tests of Place (TestPlace,
// TestPlaceHandOver, TestPlaceWaves, TestPlaceMove): the world before, and
// what Place returns and leaves behind.
type placeCase struct {
	name      string
	config    map[string]string
	objects   []runtime.Object
	remaining []demand.Task
	// resizeErr, when set, is what the pods/resize subresource answers.
	resizeErr error
	// dryRunErr, when set, is what a dry-run create answers.
	dryRunErr error
	// createErr, when set, is what creating a StatefulSet answers.
	createErr error
	// runCreated, when set, is the run's creation time.
	runCreated *metav1.Time
	// topology is the run's recorded topology key ("": one node).
	topology string
	want     Placement
	wantErr  bool
	// wantMessage lists substrings of Placement.Message.
	wantMessage []string
	wantActions []string
	// wantTemplate is the placeholder's template afterwards; nil: no StatefulSet.
	wantTemplate *template
	// wantPod is what the placeholder pod requests afterwards; nil: no pod.
	wantPod    corev1.ResourceList
	wantEvents []string
}

// runPlace runs Place once per case, each against a fake API server
// holding the case's objects, and checks the outcome.
func runPlace(t *testing.T, cases []placeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.resizeErr != nil {
				h.failResize(tc.resizeErr)
			}
			h.dryRunErr = tc.dryRunErr
			if tc.createErr != nil {
				h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			run := testRun()
			if tc.runCreated != nil {
				run.CreationTimestamp = *tc.runCreated
			}
			runBefore := run.DeepCopy()
			rem := remaining()
			if tc.remaining != nil {
				rem = tc.remaining
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: tc.topology}

			got, err := h.engine(t).Place(h.ctx, settings(t, tc.config), run, target, rem)
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, wantErr: tc.wantErr, message: tc.wantMessage, actions: tc.wantActions,
				events: tc.wantEvents, template: tc.wantTemplate, pod: tc.wantPod,
			})
			if d := cmp.Diff(runBefore, run); d != "" {
				t.Errorf("Place() modified the PipelineRun (-before +after):\n%s", d)
			}
		})
	}
}
