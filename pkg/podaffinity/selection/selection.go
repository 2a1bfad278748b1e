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

// Package selection decides whether the pod affinity engine handles a
// PipelineRun, and how strictly the run is isolated from other runs.
package selection

import (
	"fmt"
	"strings"

	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// LabelKey opts a PipelineRun in ("true") or out ("false").
	LabelKey = "tekton.dev/pipelinerun-pod-affinity"
	// LegacyLabelKey is the 2023 prototype's opt-in label; it is read like LabelKey.
	LegacyLabelKey = "tekton.dev/custom-pod-affinity"
)

// Isolation says how a handled run's placeholder repels other placeholders.
type Isolation string

const (
	// IsolationNone means the run is not handled.
	IsolationNone Isolation = ""
	// IsolationPreferred spreads runs over nodes when possible.
	IsolationPreferred Isolation = "preferred"
	// IsolationRequired allows one run per node.
	IsolationRequired Isolation = "required"
)

// Decision is the result of Select.
type Decision struct {
	// Isolation is IsolationNone when the run is not handled.
	Isolation Isolation
	// Why explains the decision in words, for logs.
	Why string
}

// Handled reports whether the engine places the run.
func (d Decision) Handled() bool { return d.Isolation != IsolationNone }

// InvalidLabelError reports a label value that is neither "true" nor "false".
// The run is left unhandled; the caller records a Warning event with Error().
type InvalidLabelError struct {
	Key, Value string
}

func (e *InvalidLabelError) Error() string {
	return fmt.Sprintf("label %s has invalid value %q: valid values are \"true\" and \"false\"; the PipelineRun is scheduled without pod affinity", e.Key, e.Value)
}

// Select decides whether a run whose metadata is meta is handled, given
// whether the feature is enabled and the "coschedule" feature flag.
//
//   - Disabled: never handled.
//   - coschedule "isolate-pipelinerun": handled, required isolation.
//   - coschedule "pipelineruns": handled, preferred isolation.
//   - otherwise: handled with required isolation when the run is labelled
//     LabelKey (or LegacyLabelKey) "true", as the prototype did.
//
// A label "false" opts a run out in every mode. An invalid label value leaves
// the run unhandled and returns an *InvalidLabelError.
func Select(enabled bool, coschedule string, meta *metav1.ObjectMeta) (Decision, error) {
	if !enabled {
		return Decision{Why: "feature flag disabled"}, nil
	}
	optIn, labelled, err := readLabel(meta.Labels)
	if err != nil {
		return Decision{Why: "invalid label"}, err
	}
	if labelled && !optIn {
		return Decision{Why: "opted out by label"}, nil
	}
	switch coschedule {
	case tektonconfig.CoscheduleIsolatePipelineRun:
		return Decision{Isolation: IsolationRequired, Why: "coschedule " + coschedule}, nil
	case tektonconfig.CoschedulePipelineRuns:
		if labelled {
			return Decision{Isolation: IsolationRequired, Why: "opted in by label"}, nil
		}
		return Decision{Isolation: IsolationPreferred, Why: "coschedule " + coschedule}, nil
	}
	if labelled {
		return Decision{Isolation: IsolationRequired, Why: "opted in by label"}, nil
	}
	return Decision{Why: "not selected by coschedule or label"}, nil
}

// readLabel returns (value, present, error) for the opt-in labels. LabelKey
// wins over LegacyLabelKey when both are set.
func readLabel(labels map[string]string) (bool, bool, error) {
	for _, key := range []string{LabelKey, LegacyLabelKey} {
		raw, ok := labels[key]
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(raw)) {
		case "true":
			return true, true, nil
		case "false":
			return false, true, nil
		default:
			return false, true, &InvalidLabelError{Key: key, Value: raw}
		}
	}
	return false, false, nil
}
