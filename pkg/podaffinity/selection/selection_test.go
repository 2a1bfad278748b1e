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

package selection

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSelect(t *testing.T) {
	const (
		isolate   = tektonconfig.CoscheduleIsolatePipelineRun
		runs      = tektonconfig.CoschedulePipelineRuns
		workspace = tektonconfig.CoscheduleWorkspaces
		disabled  = tektonconfig.CoscheduleDisabled
	)
	for _, tc := range []struct {
		name       string
		enabled    bool
		coschedule string
		labels     map[string]string
		want       Isolation
		wantErr    *InvalidLabelError
	}{
		// Feature flag off: nothing is handled, not even invalid labels are read.
		{name: "disabled, isolate", coschedule: isolate, want: IsolationNone},
		{name: "disabled, label true", coschedule: workspace, labels: map[string]string{LabelKey: "true"}, want: IsolationNone},
		{name: "disabled, invalid label", coschedule: workspace, labels: map[string]string{LabelKey: "maybe"}, want: IsolationNone},

		// coschedule selects every run.
		{name: "isolate-pipelinerun", enabled: true, coschedule: isolate, want: IsolationRequired},
		{name: "isolate-pipelinerun, label true", enabled: true, coschedule: isolate, labels: map[string]string{LabelKey: "true"}, want: IsolationRequired},
		{name: "isolate-pipelinerun, label false", enabled: true, coschedule: isolate, labels: map[string]string{LabelKey: "false"}, want: IsolationNone},
		{name: "pipelineruns", enabled: true, coschedule: runs, want: IsolationPreferred},
		{name: "pipelineruns, label true", enabled: true, coschedule: runs, labels: map[string]string{LabelKey: "true"}, want: IsolationRequired},
		{name: "pipelineruns, label false", enabled: true, coschedule: runs, labels: map[string]string{LabelKey: "false"}, want: IsolationNone},
		{name: "pipelineruns, legacy label false", enabled: true, coschedule: runs, labels: map[string]string{LegacyLabelKey: "false"}, want: IsolationNone},

		// Other coschedule modes: only labelled runs.
		{name: "workspaces, no label", enabled: true, coschedule: workspace, want: IsolationNone},
		{name: "workspaces, unrelated label", enabled: true, coschedule: workspace, labels: map[string]string{"app": "x"}, want: IsolationNone},
		{name: "workspaces, label true", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "true"}, want: IsolationRequired},
		{name: "disabled coschedule, label true", enabled: true, coschedule: disabled, labels: map[string]string{LabelKey: "true"}, want: IsolationRequired},
		{name: "empty coschedule, label TRUE", enabled: true, labels: map[string]string{LabelKey: " TRUE "}, want: IsolationRequired},
		{name: "workspaces, label false", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "false"}, want: IsolationNone},
		{name: "workspaces, legacy label true", enabled: true, coschedule: workspace, labels: map[string]string{LegacyLabelKey: "true"}, want: IsolationRequired},
		{name: "new label wins over legacy (false over true)", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "false", LegacyLabelKey: "true"}, want: IsolationNone},
		{name: "new label wins over legacy (true over false)", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "true", LegacyLabelKey: "false"}, want: IsolationRequired},

		// Invalid values: unhandled, with an error naming the key and value.
		{name: "invalid label", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "yes"}, want: IsolationNone, wantErr: &InvalidLabelError{Key: LabelKey, Value: "yes"}},
		{name: "invalid label beats coschedule", enabled: true, coschedule: isolate, labels: map[string]string{LabelKey: ""}, want: IsolationNone, wantErr: &InvalidLabelError{Key: LabelKey, Value: ""}},
		{name: "invalid legacy label", enabled: true, coschedule: runs, labels: map[string]string{LegacyLabelKey: "1"}, want: IsolationNone, wantErr: &InvalidLabelError{Key: LegacyLabelKey, Value: "1"}},
		{name: "valid new label hides invalid legacy label", enabled: true, coschedule: workspace, labels: map[string]string{LabelKey: "true", LegacyLabelKey: "1"}, want: IsolationRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := &metav1.ObjectMeta{Name: "run", Namespace: "ns", Labels: tc.labels}
			got, err := Select(tc.enabled, tc.coschedule, meta)
			var gotErr *InvalidLabelError
			if err != nil && !errors.As(err, &gotErr) {
				t.Fatalf("Select() error = %v (%T), want nil or *InvalidLabelError", err, err)
			}
			if d := cmp.Diff(tc.wantErr, gotErr); d != "" {
				t.Errorf("Select() error (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want, got.Isolation); d != "" {
				t.Errorf("Select() isolation (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want != IsolationNone, got.Handled()); d != "" {
				t.Errorf("Decision.Handled() (-want +got):\n%s", d)
			}
			if got.Why == "" {
				t.Errorf("Select() = %+v, want a reason in Why", got)
			}
		})
	}
}

func TestInvalidLabelErrorMessage(t *testing.T) {
	err := &InvalidLabelError{Key: LabelKey, Value: "yes"}
	want := `label tekton.dev/pipelinerun-pod-affinity has invalid value "yes": valid values are "true" and "false"; the PipelineRun is scheduled without pod affinity`
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("Error() (-want +got):\n%s", d)
	}
}
