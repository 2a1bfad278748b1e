//go:build e2e

package e2e

// The suite's one wait primitive. Every wait of the suite (for a run's
// condition, a pod, an event, a node, the controller) is a probe run by
// eventually, so that a wait that times out says what it waited for, how
// long, and what it saw last.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// A probe looks once. It returns nil when what the wait waits for holds,
// and otherwise an error saying what it saw instead (or the API error that
// kept it from looking); a wait that times out reports the last state seen
// and, apart, the last error that kept a look from seeing (failedLook).
type probe func(ctx context.Context) error

// pollInterval is how often the waits of the tests look: often enough for
// kwok's second-long tasks, rarely enough for an API server that shares two
// cores with the rest of the cluster.
const pollInterval = 500 * time.Millisecond

// eventually runs p at once and then every interval until p returns nil
// (eventually returns nil) or until timeout passes or ctx ends (an error
// naming what, the time waited, the state p saw last and the last error
// that kept it from looking). An error of p is retried, never final: the
// API server may be briefly busy.
func eventually(ctx context.Context, what string, interval, timeout time.Duration, p probe) error {
	start := time.Now()
	var seen, failed error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		err := p(ctx)
		switch {
		case err == nil:
			return true, nil
		case ctx.Err() != nil:
			// The deadline cut this look short: it saw nothing.
		case failedLook(err):
			failed = err
		default:
			seen = err
		}
		return false, nil
	})
	if err == nil {
		return nil
	}
	return waitError(what, time.Since(start).Round(100*time.Millisecond), seen, failed, err)
}

// waitError is the error of a wait for what that timed out (cause) after
// waited: the last state seen, and the last error that kept a look from
// seeing one, when there are.
func waitError(what string, waited time.Duration, seen, failed, cause error) error {
	switch {
	case seen != nil && failed != nil:
		return fmt.Errorf("waited %s for %s; last seen: %w; last error: %w", waited, what, seen, failed)
	case seen != nil:
		return fmt.Errorf("waited %s for %s; last seen: %w", waited, what, seen)
	case failed != nil:
		return fmt.Errorf("waited %s for %s: %w (nothing seen); last error: %w", waited, what, cause, failed)
	}
	return fmt.Errorf("waited %s for %s: %w (nothing seen)", waited, what, cause)
}

// failedLook reports whether a probe's error kept it from looking (the
// client or the API server failed the request) rather than saying what it
// saw: a context's end, client-go's rate limiter refusing to wait past the
// deadline, a request that never got an answer, or an API server that
// was busy, timed out or failed. An answer about the object (NotFound,
// say) is a state.
func failedLook(err error) bool {
	var urlErr *url.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		strings.Contains(err.Error(), "client rate limiter Wait") || errors.As(err, &urlErr) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) || apierrors.IsUnexpectedServerError(err)
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
