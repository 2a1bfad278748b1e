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
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/logging"
)

// kueueQueue is the LocalQueue the runs of the Kueue tests are labelled for.
const kueueQueue = "team-a-queue"

// pendingWorkloadsJSON is what Kueue's visibility API answers for a
// LocalQueue whose pending workloads are, in Kueue's order, names; the
// positions in the ClusterQueue are those in the LocalQueue plus
// clusterAhead (workloads of other LocalQueues ahead of them all).
func pendingWorkloadsJSON(clusterAhead int, names ...string) []byte {
	raw := `{"kind":"PendingWorkloadsSummary","apiVersion":"visibility.kueue.x-k8s.io/v1beta2","metadata":{},"items":[`
	for i, n := range names {
		if i > 0 {
			raw += ","
		}
		raw += `{"metadata":{"name":"` + n + `","namespace":"team-a"},"priority":0,"localQueueName":"team-a-queue",` +
			`"positionInClusterQueue":` + strconv.Itoa(i+clusterAhead) + `,"positionInLocalQueue":` + strconv.Itoa(i) + `}`
	}
	return []byte(raw + `]}`)
}

var (
	// visibilityGone is the API server's answer when no APIService
	// serves visibility.kueue.x-k8s.io.
	visibilityGone = apierrors.NewGenericServerResponse(404, "get", schema.GroupResource{}, "", "the server could not find the requested resource", 0, true)
	// visibilityDown is the aggregator's answer when the APIService's
	// backend does not answer.
	visibilityDown = apierrors.NewServiceUnavailable("service unavailable")
	// visibilityForbidden: the controller may not get pendingworkloads.
	visibilityForbidden = apierrors.NewForbidden(schema.GroupResource{Group: kueueVisibilityGroup, Resource: "localqueues"}, kueueQueue, errors.New("no RBAC"))
	// queueUnknown is the visibility server's answer for a LocalQueue
	// Kueue does not know (it is served: the queue is missing).
	queueUnknown = apierrors.NewNotFound(schema.GroupResource{Group: kueueVisibilityGroup, Resource: "localqueue"}, kueueQueue)
	// visibilityBroken is any other failure.
	visibilityBroken = apierrors.NewInternalError(errors.New("etcd is sad"))
)

func TestPositionText(t *testing.T) {
	for _, tc := range []struct {
		name string
		pos  queuePosition
		want string
	}{{
		name: "head of both queues",
		pos:  queuePosition{Local: 1, Cluster: 1, Pending: 1},
		want: "; position 1 of 1 pending in LocalQueue runs, 1 in its ClusterQueue",
	}, {
		name: "behind others",
		pos:  queuePosition{Local: 2, Cluster: 5, Pending: 3},
		want: "; position 2 of 3 pending in LocalQueue runs, 5 in its ClusterQueue",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, positionText(tc.pos, "runs")); d != "" {
				t.Errorf("positionText() (-want +got):\n%s", d)
			}
		})
	}
}

func TestDecodePosition(t *testing.T) {
	for _, tc := range []struct {
		name      string
		raw       []byte
		want      queuePosition
		wantFound bool
		wantErr   bool
	}{{
		name:      "second of three, two of other queues ahead: counted from 1",
		raw:       pendingWorkloadsJSON(2, "other-1", phName(), "other-2"),
		want:      queuePosition{Local: 2, Cluster: 4, Pending: 3},
		wantFound: true,
	}, {
		name:      "the only one",
		raw:       pendingWorkloadsJSON(0, phName()),
		want:      queuePosition{Local: 1, Cluster: 1, Pending: 1},
		wantFound: true,
	}, {
		name: "not listed (admitted meanwhile, or past the list's limit)",
		raw:  pendingWorkloadsJSON(0, "other-1"),
	}, {
		name: "none pending",
		raw:  []byte(`{"items":[]}`),
	}, {
		name:    "not JSON",
		raw:     []byte(`<html>`),
		wantErr: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := decodePosition(tc.raw, phName())
			if (err != nil) != tc.wantErr {
				t.Fatalf("decodePosition() error = %v, want error %v", err, tc.wantErr)
			}
			if found != tc.wantFound {
				t.Errorf("decodePosition() found = %v, want %v", found, tc.wantFound)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("decodePosition() (-want +got):\n%s", d)
			}
		})
	}
}

func TestVisibilityNotServed(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no APIService: 404", visibilityGone, true},
		{"backend down: 503", visibilityDown, true},
		{"no RBAC: 403", visibilityForbidden, true},
		{"the LocalQueue unknown to Kueue: served", queueUnknown, false},
		{"internal error", visibilityBroken, false},
		{"timeout", context.DeadlineExceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := visibilityNotServed(tc.err); got != tc.want {
				t.Errorf("visibilityNotServed(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// Reconciles of waiting runs, one after the other: the visibility API is
// read once per reconcile while it is served, and not again for
// visibilityRecheck once it is found not served; meanwhile the count of the
// LocalQueue is said.
func TestQueueTextReads(t *testing.T) {
	count := []byte(`{"status":{"pendingWorkloads":3}}`)
	const countText = "; Kueue counts 3 workloads pending in LocalQueue " + kueueQueue + ", this one included"
	type reconcile struct {
		// after is how long after the previous reconcile this one is.
		after time.Duration
		// answer, err are what the visibility API answers, if asked.
		answer []byte
		err    error
		// wantRead: the visibility API is asked.
		wantRead bool
		want     string
	}
	for _, tc := range []struct {
		name       string
		reconciles []reconcile
	}{{
		name: "served: the position, each reconcile, as it changes",
		reconciles: []reconcile{
			{answer: pendingWorkloadsJSON(1, "a", "b", phName()), wantRead: true, want: "; position 3 of 3 pending in LocalQueue " + kueueQueue + ", 4 in its ClusterQueue"},
			{after: diagnoseEvery, answer: pendingWorkloadsJSON(0, "b", phName()), wantRead: true, want: "; position 2 of 2 pending in LocalQueue " + kueueQueue + ", 2 in its ClusterQueue"},
		},
	}, {
		name: "not served (404): the count, and not asked again until visibilityRecheck has passed",
		reconciles: []reconcile{
			{err: visibilityGone, wantRead: true, want: countText},
			{after: diagnoseEvery, want: countText},
			{after: visibilityRecheck - diagnoseEvery - time.Second, want: countText},
			{after: time.Second, answer: pendingWorkloadsJSON(0, phName()), wantRead: true, want: "; position 1 of 1 pending in LocalQueue " + kueueQueue + ", 1 in its ClusterQueue"},
		},
	}, {
		name: "backend down (503), then forbidden (403): each time the count, and a pause",
		reconciles: []reconcile{
			{err: visibilityDown, wantRead: true, want: countText},
			{after: visibilityRecheck, err: visibilityForbidden, wantRead: true, want: countText},
			{after: diagnoseEvery, want: countText},
		},
	}, {
		name: "the LocalQueue unknown to Kueue: no position, the count, asked again next time",
		reconciles: []reconcile{
			{err: queueUnknown, wantRead: true, want: countText},
			{after: diagnoseEvery, err: queueUnknown, wantRead: true, want: countText},
		},
	}, {
		name: "not listed: the count",
		reconciles: []reconcile{
			{answer: pendingWorkloadsJSON(0, "a"), wantRead: true, want: countText},
		},
	}, {
		name: "another error: said as such, no count, asked again next time",
		reconciles: []reconcile{
			{err: visibilityBroken, wantRead: true, want: "; its position in LocalQueue " + kueueQueue + " is unknown: reading the pending workloads of LocalQueue team-a/" + kueueQueue +
				" from Kueue's visibility API: Internal error occurred: etcd is sad"},
			{after: diagnoseEvery, answer: pendingWorkloadsJSON(0, phName()), wantRead: true, want: "; position 1 of 1 pending in LocalQueue " + kueueQueue + ", 1 in its ClusterQueue"},
		},
	}, {
		name: "an answer that is not JSON: an error too",
		reconciles: []reconcile{
			{answer: []byte(`<html>`), wantRead: true, want: "; its position in LocalQueue " + kueueQueue + " is unknown: decoding the pending workloads of LocalQueue team-a/" + kueueQueue +
				" from Kueue's visibility API: invalid character '<' looking for beginning of value"},
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			clock := clocktesting.NewFakePassiveClock(now)
			var current reconcile
			reads := 0
			e := &Engine{
				Clock: clock,
				PendingWorkloads: func(_ context.Context, namespace, queue string) ([]byte, error) {
					if namespace != ns || queue != kueueQueue {
						t.Errorf("read the pending workloads of %s/%s, want %s/%s", namespace, queue, ns, kueueQueue)
					}
					reads++
					return current.answer, current.err
				},
				LocalQueues: func(context.Context, string, string) ([]byte, error) { return count, nil },
			}
			ctx := logging.WithLogger(context.Background(), logging.FromContext(context.Background()))
			for i, r := range tc.reconciles {
				clock.SetTime(clock.Now().Add(r.after))
				current, reads = r, 0
				got := e.queueText(ctx, ns, kueueQueue, phName())
				if d := cmp.Diff(r.want, got); d != "" {
					t.Errorf("reconcile %d: queueText() (-want +got):\n%s", i, d)
				}
				if want := map[bool]int{true: 1, false: 0}[r.wantRead]; reads != want {
					t.Errorf("reconcile %d: the visibility API was read %d times, want %d", i, reads, want)
				}
			}
		})
	}
}
