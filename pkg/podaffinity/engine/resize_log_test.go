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

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/pkg/logging"
)

// TestPlaceGrowRefusedByQuota checks that a grow-back a ResourceQuota
// refuses keeps the placeholder as it is and is logged as the quota's
// refusal, not as a missing permission on pods/resize.
func TestPlaceGrowRefusedByQuota(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name      string
		resizeErr error
		wantLog   string
		notLog    string
	}{{
		name: "refused by a ResourceQuota",
		resizeErr: apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, placeholder.PodName(phName()),
			errors.New("exceeded quota: compute, requested: requests.cpu=1990m, used: requests.cpu=3, limited: requests.cpu=4")),
		wantLog: "refused by a ResourceQuota",
		notLog:  "grant the controller",
	}, {
		name:      "forbidden by RBAC",
		resizeErr: apierrors.NewForbidden(schema.GroupResource{Resource: "pods/resize"}, placeholder.PodName(phName()), errors.New("RBAC: access denied")),
		wantLog:   "grant the controller patch on pods/resize",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Minute))))
			h.failResize(tc.resizeErr)
			core, logs := observer.New(zap.InfoLevel)
			ctx := logging.WithLogger(h.ctx, zap.New(core).Sugar())
			got, err := h.engine(t).Place(ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, growBack(demand.Running, demand.Waiting))
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(Placement{Node: "node-1", Ready: true}, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{"patch pods/resize"}, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			var all []string
			for _, e := range logs.All() {
				all = append(all, e.Message)
			}
			text := strings.Join(all, "\n")
			if !strings.Contains(text, tc.wantLog) {
				t.Errorf("logs %q, want %q", text, tc.wantLog)
			}
			if tc.notLog != "" && strings.Contains(text, tc.notLog) {
				t.Errorf("logs %q, want no %q", text, tc.notLog)
			}
		})
	}
}
