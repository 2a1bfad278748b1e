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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// placed is what Place returned.
type placed struct {
	got Placement
	err error
}

// placeExpectation is what a Place test expects: the placement, its
// message's parts, the API writes and events, and the placeholder
// StatefulSet's template and pod requests afterwards (nil: none).
type placeExpectation struct {
	want     Placement
	wantErr  bool
	message  []string
	actions  []string
	events   []string
	template *template
	pod      corev1.ResourceList
}

// check compares what Place returned and left behind with e.
func (h *harness) check(t *testing.T, p placed, e placeExpectation) {
	t.Helper()
	if (p.err != nil) != e.wantErr {
		t.Fatalf("Place() error = %v, want error: %t", p.err, e.wantErr)
	}
	if d := cmp.Diff(e.want, p.got, ignoreMessage); d != "" {
		t.Errorf("Place() (-want +got):\n%s", d)
	}
	for _, want := range e.message {
		if !strings.Contains(p.got.Message, want) {
			t.Errorf("Place().Message = %q, want it to contain %q", p.got.Message, want)
		}
	}
	if !e.wantErr && !p.got.Ready && p.got.Message == "" {
		t.Errorf("Place() = %+v: a run that is not ready needs a message", p.got)
	}
	if d := cmp.Diff(e.actions, h.actions()); d != "" {
		t.Errorf("API writes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(e.events, h.events()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	sts := h.placeholderSTS(t, phName())
	switch {
	case e.template == nil && sts != nil:
		t.Errorf("placeholder StatefulSet exists, want none")
	case e.template != nil && sts == nil:
		t.Errorf("placeholder StatefulSet missing")
	case sts != nil:
		if d := cmp.Diff(*e.template, templateOf(sts), quantityEqual); d != "" {
			t.Errorf("placeholder template (-want +got):\n%s", d)
		}
	}
	if d := cmp.Diff(e.pod, h.podRequests(t), quantityEqual); d != "" {
		t.Errorf("placeholder pod requests, nil when deleted (-want +got):\n%s", d)
	}
}

// template is what the engine controls in the placeholder's pod template.
type template struct {
	Pinned   string
	Requests corev1.ResourceList
	// WaitingSince is the StatefulSet's record of when the wait for a node began.
	WaitingSince string
}

func templateOf(sts *appsv1.StatefulSet) template {
	return template{
		Pinned:       placeholder.PinnedNode(&sts.Spec.Template.Spec, testRun()),
		Requests:     placeholder.Requests(&sts.Spec.Template.Spec),
		WaitingSince: sts.Annotations[placeholder.WaitingSinceAnnotation],
	}
}

var (
	ignoreMessage = cmpopts.IgnoreFields(Placement{}, "Message", "Since")
	waitForNode   = Placement{Reason: ReasonWaitingForNode}
	// waitAfterCreate: the placeholder was just created; the run is
	// checked again after createGrace (its creation's event re-queues
	// nothing).
	waitAfterCreate = Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace}
	tokenTemplate   = func(node string) *template { return &template{Pinned: node, Requests: placeholder.TokenRequests()} }
	reservationFor  = func() *template { return &template{Requests: peak()} }
	// waitingToken is the template of a placeholder pinned to node whose
	// pod is gone since d ago.
	waitingToken = func(node string, d time.Duration) *template {
		return &template{Pinned: node, Requests: placeholder.TokenRequests(), WaitingSince: now.Add(-d).Format(time.RFC3339)}
	}
	// waitingReservation is the template of a placeholder looking for a
	// node since d ago, after a move.
	waitingReservation = func(d time.Duration) *template {
		return &template{Requests: peak(), WaitingSince: now.Add(-d).Format(time.RFC3339)}
	}
)
