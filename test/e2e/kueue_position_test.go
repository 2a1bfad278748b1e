//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// oneTaskRun is a run of one task of 3 CPU that takes duration.
func oneTaskRun(ns, name, queue, duration string) *v1.PipelineRun {
	return newRun(ns, name, pipelineSpec(taskDef{name: "t", cpu: "3", duration: duration}),
		runOpts{labels: map[string]string{labelKueueQueue: queue}})
}

// TestKueueQueuePosition: a ClusterQueue of 3 CPU admits one run of 3 CPU
// at a time. While run-1 runs, run-2 and run-3 wait for admission and say
// their position from Kueue's visibility API (hack/cluster.sh up --kueue
// serves it through the API server): run-2 first, run-3 second; once run-1
// is done and run-2 admitted, run-3 is first. All three succeed.
func TestKueueQueuePosition(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "kueue-position")
	queue := kueueQueues(t, ns, "3")
	rec := watchPods(t, admissionInvariant(1), ns)

	// run-1 runs long enough for the others to be seen queued behind it
	// (a waiting run's message follows its Workload at least every 30 s).
	createRun(t, oneTaskRun(ns, "run-1", queue, "120s"))
	waitFor(t, "run-1 admitted, its TaskRun made", 90*time.Second, func(ctx context.Context) error {
		trs, err := taskRuns(ctx, ns, "run-1")
		if err != nil {
			return err
		}
		if len(trs) == 0 {
			return fmt.Errorf("no TaskRun of run-1 yet")
		}
		return nil
	})

	createRun(t, oneTaskRun(ns, "run-2", queue, "75s"))
	pr := waitRunMessage(t, ns, "run-2", reasonWaitingForAdmission, 90*time.Second,
		"; position 1 of 1 pending in LocalQueue "+queue+", 1 in its ClusterQueue")
	t.Logf("run-2: %s", describeCondition(pr))

	createRun(t, oneTaskRun(ns, "run-3", queue, "5s"))
	pr = waitRunMessage(t, ns, "run-3", reasonWaitingForAdmission, 90*time.Second,
		"; position 2 of 2 pending in LocalQueue "+queue+", 2 in its ClusterQueue")
	t.Logf("run-3 behind run-2: %s", describeCondition(pr))

	// run-1 done, run-2 admitted: run-3 is next.
	pr = waitRunMessage(t, ns, "run-3", reasonWaitingForAdmission, 4*time.Minute,
		"; position 1 of 1 pending in LocalQueue "+queue+", 1 in its ClusterQueue")
	t.Logf("run-3 next: %s", describeCondition(pr))

	for _, name := range []string{"run-1", "run-2", "run-3"} {
		waitRunSucceeded(t, ns, name, 4*time.Minute)
	}
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %v", v)
	}
}
