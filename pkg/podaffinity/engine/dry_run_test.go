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
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestDryRunTransportError checks that a dry run of the placeholder pod
// that gets no answer from the API server about the pod (the connection
// refused, the client's or the API server's time out, the request
// throttled) is an error, retried, never shown on the run as why the pod
// cannot be created; the API server's refusal to admit the pod (a quota, a
// webhook that failed) is a diagnosis, shown as the cause.
func TestDryRunTransportError(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	refused := &url.Error{Op: "Post", URL: "https://10.96.0.1:443/api/v1/namespaces/team-a/pods?dryRun=All",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	timedOut := &url.Error{Op: "Post", URL: "https://10.96.0.1:443/api/v1/namespaces/team-a/pods?dryRun=All", Err: context.DeadlineExceeded}
	diagnosed := Placement{Reason: ReasonWaitingForNode, RequeueAfter: diagnoseEvery}
	for _, tc := range []struct {
		name    string
		dryRun  error
		want    Placement
		wantErr bool
		// message is part of the placement's message, or of the error.
		message string
	}{{
		name:    "connection refused: an error",
		dryRun:  refused,
		wantErr: true,
		message: "connection refused",
	}, {
		name:    "the client timed out: an error",
		dryRun:  timedOut,
		wantErr: true,
		message: "context deadline exceeded",
	}, {
		name:    "throttled by the API server: an error",
		dryRun:  apierrors.NewTooManyRequests("too many requests", 1),
		wantErr: true,
		message: "too many requests",
	}, {
		name:    "the API server timed out: an error",
		dryRun:  apierrors.NewServerTimeout(pods, "create", 1),
		wantErr: true,
		message: "create",
	}, {
		name:    "refused by a quota: the cause, shown",
		dryRun:  apierrors.NewForbidden(pods, phName()+"-0", errors.New("exceeded quota: compute")),
		want:    diagnosed,
		message: "exceeded quota: compute",
	}, {
		name:    "a webhook that could not be called: the cause, shown",
		dryRun:  apierrors.NewInternalError(errors.New(`failed calling webhook "check.example.com": context deadline exceeded`)),
		want:    diagnosed,
		message: `failed calling webhook "check.example.com"`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), ownSTS("", peak()))
			h.dryRunErr = tc.dryRun
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if (err != nil) != tc.wantErr {
				t.Fatalf("Place() = %+v, error %v, want error: %t", got, err, tc.wantErr)
			}
			said := got.Message
			if err != nil {
				said = err.Error()
				if !errors.Is(err, tc.dryRun) {
					t.Errorf("Place() error = %v, want it to wrap %v", err, tc.dryRun)
				}
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if !strings.Contains(said, tc.message) {
				t.Errorf("Place() says %q, want it to contain %q", said, tc.message)
			}
			if d := cmp.Diff([]string{"create pods (dry run)"}, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
		})
	}
}
