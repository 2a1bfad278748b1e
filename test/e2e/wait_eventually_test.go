//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// rateLimited is what client-go answers when its rate limiter would make a
// request wait past its context's deadline.
var rateLimited = fmt.Errorf("client rate limiter Wait returned an error: %w", errors.New("rate: Wait(n=1) would exceed context deadline"))

// TestWaitEventually checks the wait primitive itself (no cluster object
// involved): it returns once the probe holds, and a wait that times out
// names what it waited for and what the probe saw last.
func TestWaitEventually(t *testing.T) {
	tests := []struct {
		name string
		// looks returns what the probe returns at its n-th look (from 1).
		looks func(ctx context.Context, n int) error
		// wantErr are the parts of the error; none: the wait succeeds.
		wantErr []string
		// notInErr must not appear in the error.
		notInErr string
		// wantLooks is the number of looks when the wait succeeds.
		wantLooks int
	}{{
		name: "holds at the third look",
		looks: func(_ context.Context, n int) error {
			if n < 3 {
				return fmt.Errorf("pod p is on %q", "")
			}
			return nil
		},
		wantLooks: 3,
	}, {
		name: "never holds: the last state is reported",
		looks: func(_ context.Context, n int) error {
			return fmt.Errorf("condition Unknown/WaitingForNode (look %d)", n)
		},
		wantErr: []string{"for the run to be placed", "last seen: condition Unknown/WaitingForNode (look"},
	}, {
		name: "an API error is retried and a later state replaces it",
		looks: func(_ context.Context, n int) error {
			if n == 1 {
				return errors.New("the server is currently unable to handle the request")
			}
			return errors.New("pod p is Pending")
		},
		wantErr:  []string{"last seen: pod p is Pending"},
		notInErr: "unable to handle",
	}, {
		name: "a look cut by the deadline keeps the state seen before",
		looks: func(ctx context.Context, n int) error {
			if n == 1 {
				return errors.New("node-2 is cordoned")
			}
			<-ctx.Done()
			return ctx.Err()
		},
		wantErr:  []string{"last seen: node-2 is cordoned"},
		notInErr: "deadline",
	}, {
		// client-go's rate limiter refuses a request whose wait would
		// outlast the context's deadline before the deadline has passed.
		name: "the client's rate limiter refuses the looks near the deadline: the last state and that error are both reported",
		looks: func(_ context.Context, n int) error {
			if n == 1 {
				return errors.New("pod p is Pending")
			}
			return fmt.Errorf("getting pod p: %w", rateLimited)
		},
		wantErr: []string{"last seen: pod p is Pending", "last error: getting pod p: client rate limiter Wait returned an error"},
	}, {
		name: "the API server times out after a state was seen: both are reported",
		looks: func(_ context.Context, n int) error {
			if n == 1 {
				return errors.New("condition Unknown/WaitingForNode")
			}
			return fmt.Errorf("getting run r: %w", apierrors.NewServerTimeout(schema.GroupResource{Resource: "pipelineruns"}, "get", 1))
		},
		wantErr: []string{"last seen: condition Unknown/WaitingForNode", "last error: getting run r: "},
	}, {
		name: "no look got an answer: nothing seen, and the last error",
		looks: func(_ context.Context, _ int) error {
			return fmt.Errorf("listing pods: %w", rateLimited)
		},
		wantErr:  []string{"(nothing seen); last error: listing pods: client rate limiter Wait"},
		notInErr: "last seen",
	}, {
		// A pod that does not exist is a state, not a failed look.
		name: "NotFound is a state",
		looks: func(_ context.Context, _ int) error {
			return fmt.Errorf("pod p: %w", apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p"))
		},
		wantErr:  []string{"last seen: pod p: pods \"p\" not found"},
		notInErr: "last error",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := eventually(bg(), "the run to be placed", 10*time.Millisecond, 200*time.Millisecond, func(ctx context.Context) error {
				n++
				return tc.looks(ctx, n)
			})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("eventually: %v", err)
				}
				if diff := cmp.Diff(tc.wantLooks, n); diff != "" {
					t.Errorf("looks (-want +got):\n%s", diff)
				}
				return
			}
			if err == nil {
				t.Fatalf("eventually returned nil after %d looks, want an error", n)
			}
			var missing []string
			for _, part := range tc.wantErr {
				if !strings.Contains(err.Error(), part) {
					missing = append(missing, part)
				}
			}
			if diff := cmp.Diff([]string(nil), missing); diff != "" {
				t.Errorf("error %q lacks parts (-want +got):\n%s", err, diff)
			}
			if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
				t.Errorf("error %q reports %q, an earlier or later look than the last state", err, tc.notInErr)
			}
		})
	}
}

// TestWaitError checks the message of a wait that timed out, for each
// combination of a state seen and an error that kept a look from seeing,
// and that both stay reachable with errors.Is.
func TestWaitError(t *testing.T) {
	state := errors.New("pod p is Pending")
	cause := context.DeadlineExceeded
	tests := []struct {
		name          string
		seen, failed  error
		want          string
		wantIs, notIs []error
	}{{
		name: "a state and, later, an error",
		seen: state, failed: rateLimited,
		want:   "waited 2s for pod p to run; last seen: pod p is Pending; last error: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline",
		wantIs: []error{state, rateLimited},
	}, {
		name: "a state only",
		seen: state,
		want: "waited 2s for pod p to run; last seen: pod p is Pending", wantIs: []error{state}, notIs: []error{cause},
	}, {
		name:   "an error only",
		failed: rateLimited,
		want:   "waited 2s for pod p to run: context deadline exceeded (nothing seen); last error: client rate limiter Wait returned an error: rate: Wait(n=1) would exceed context deadline",
		wantIs: []error{cause, rateLimited},
	}, {
		name: "nothing",
		want: "waited 2s for pod p to run: context deadline exceeded (nothing seen)", wantIs: []error{cause},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := waitError("pod p to run", 2*time.Second, tc.seen, tc.failed, cause)
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			for _, e := range tc.wantIs {
				if !errors.Is(err, e) {
					t.Errorf("errors.Is(%q, %q) = false, want true", err, e)
				}
			}
			for _, e := range tc.notIs {
				if errors.Is(err, e) {
					t.Errorf("errors.Is(%q, %q) = true, want false", err, e)
				}
			}
		})
	}
}
