//go:build e2e

package e2e

// The suite's one wait primitive. Every wait of the suite (for a run's
// condition, a pod, an event, a node, the controller) is a probe run by
// eventually, so that a wait that times out says what it waited for, how
// long, and what it saw last.

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// A probe looks once. It returns nil when what the wait waits for holds,
// and otherwise an error saying what it saw instead (or the API error that
// kept it from looking); a wait that times out reports the last one.
type probe func(ctx context.Context) error

// pollInterval is how often the waits of the tests look: often enough for
// kwok's second-long tasks, rarely enough for an API server that shares two
// cores with the rest of the cluster.
const pollInterval = 500 * time.Millisecond

// eventually runs p at once and then every interval until p returns nil
// (eventually returns nil) or until timeout passes or ctx ends (an error
// naming what, the time waited and what p saw last). An error of p is
// retried, never final: the API server may be briefly busy.
func eventually(ctx context.Context, what string, interval, timeout time.Duration, p probe) error {
	start := time.Now()
	var last error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		err := p(ctx)
		if err != nil && ctx.Err() != nil && last != nil {
			// The deadline cut this look short: the one before says more.
			return false, nil
		}
		last = err
		return err == nil, nil
	})
	if err == nil {
		return nil
	}
	waited := time.Since(start).Round(100 * time.Millisecond)
	if last == nil {
		return fmt.Errorf("waited %s for %s: %w (nothing seen)", waited, what, err)
	}
	return fmt.Errorf("waited %s for %s; last seen: %w", waited, what, last)
}

// poll is eventually with the tests' interval, not bound to a test.
func poll(what string, timeout time.Duration, p probe) error {
	return eventually(bg(), what, pollInterval, timeout, p)
}

// waitFor is poll that fails the test when the wait times out.
func waitFor(t testing.TB, what string, timeout time.Duration, p probe) {
	t.Helper()
	if err := poll(what, timeout, p); err != nil {
		t.Fatal(err)
	}
}
