//go:build e2e

package e2e

// The side-by-side harness: a scenario runs against the patched
// controller (its checks are assertions) and, with E2E_COMPARE_UPSTREAM=1,
// against upstream (its checks are observations).

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// compareUpstream is true when the side-by-side tests also run against the
// unpatched controller.
func compareUpstream() bool { return os.Getenv("E2E_COMPARE_UPSTREAM") == "1" }

// scenario runs a side-by-side proof: against the patched controller its
// checks are assertions; against upstream they are observations logged
// with t.Log ("UPSTREAM: ...") and never fail the test.
type scenario struct {
	t        *testing.T
	upstream bool
	// recordOnly makes the checks of a patched variant observations, as on
	// upstream (a setting shown for comparison, not a contract).
	recordOnly bool
	defects    []string
}

// compare runs fn against the patched controller, then (E2E_COMPARE_UPSTREAM=1)
// against upstream, and switches back.
func compare(t *testing.T, fn func(s *scenario)) {
	t.Run("patched", func(t *testing.T) {
		switchController(t, "patched")
		fn(&scenario{t: t})
	})
	if !compareUpstream() {
		return
	}
	t.Run("upstream", func(t *testing.T) {
		switchController(t, "upstream")
		t.Cleanup(func() { switchController(t, "patched") })
		s := &scenario{t: t, upstream: true}
		fn(s)
		if len(s.defects) == 0 {
			t.Logf("UPSTREAM SUMMARY: the defect was NOT observed")
		} else {
			t.Logf("UPSTREAM SUMMARY: defect observed: %s", strings.Join(s.defects, "; "))
		}
	})
}

// check asserts cond on patched; on upstream it records the failing
// expectation as an observed defect.
func (s *scenario) check(cond bool, format string, args ...interface{}) bool {
	s.t.Helper()
	if cond {
		return true
	}
	msg := fmt.Sprintf(format, args...)
	if s.upstream || s.recordOnly {
		s.defects = append(s.defects, msg)
		prefix := "UPSTREAM"
		if !s.upstream {
			prefix = "OBSERVED"
		}
		s.t.Logf("%s: %s", prefix, msg)
		return false
	}
	s.t.Error(msg)
	return false
}

// require is check that stops the patched test on failure; on upstream it
// records the defect and returns false so the caller can stop observing.
func (s *scenario) require(cond bool, format string, args ...interface{}) bool {
	s.t.Helper()
	if s.check(cond, format, args...) {
		return true
	}
	if !s.upstream && !s.recordOnly {
		s.t.FailNow()
	}
	return false
}

// flags returns the feature flags of a scenario: patched flags, which the
// upstream controller ignores except for coschedule.
func scenarioFlags(overrides map[string]string) map[string]string { return patchedFlags(overrides) }

// holderComponent is the label value of the run-level placeholder of the
// flavor under test: the engine's placeholder or upstream's assistant.
func (s *scenario) holderComponent() string {
	if s.upstream {
		return componentAssistant
	}
	return componentHolder
}

// upstreamWindow bounds how long an upstream run is observed before it is
// recorded as hanging.
const upstreamWindow = 40 * time.Second

// finish waits for the run to end: on patched it must succeed within
// timeout; on upstream (or a recorded-only variant) a run that is not done
// (or failed) is recorded.
func (s *scenario) finish(ns, run string, timeout time.Duration) (*v1.PipelineRun, bool) {
	s.t.Helper()
	if !s.upstream && !s.recordOnly {
		return waitRunSucceeded(s.t, ns, run, timeout), true
	}
	if timeout > upstreamWindow {
		timeout = upstreamWindow
	}
	pr, err := waitRunDone(ns, run, timeout)
	if err != nil {
		s.check(false, "PipelineRun %s hangs: %v", run, err)
		return pr, false
	}
	c := succeeded(pr)
	return pr, s.check(c != nil && c.IsTrue(), "PipelineRun %s did not succeed: %s", run, describeCondition(pr))
}

// waitBound waits until the run has a bound TaskRun pod; false on upstream timeout.
func (s *scenario) waitBound(ns, run string, timeout time.Duration) (string, bool) {
	s.t.Helper()
	var node string
	err := poll(fmt.Sprintf("PipelineRun %s/%s to have a bound TaskRun pod", ns, run), timeout, func(ctx context.Context) error {
		var err error
		node, err = boundTaskRunPod(ctx, ns, run)
		return err
	})
	return node, s.require(err == nil, "%v", err)
}
