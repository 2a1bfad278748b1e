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
)

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
