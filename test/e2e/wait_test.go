//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// poll is wait.PollUntilContextTimeout with a 500 ms interval; errors from
// cond are retried (the API server may be briefly busy on 2 cores).
func poll(timeout time.Duration, cond func(ctx context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(bg(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			return false, nil
		}
		return ok, nil
	})
}

// waitFor polls cond and fails the test with what when it times out.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	start := time.Now()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s", time.Since(start).Round(time.Second), what)
	}
}
