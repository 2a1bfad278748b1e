//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A run queued with Kueue is bounded by its timeouts.pipeline (README,
// reliability table): its start time is when it began to wait for
// admission, kept once Kueue admits it, so that past its timeout, still
// queued or admitted and waiting for a node, it fails at once with
// PipelineRunTimeout, as Tekton times a run out, without a TaskRun, and
// its placeholder (and with it its Workload) is released. A run waiting
// for a node without Kueue has no start time until it gets one (its wait
// is bounded by max-node-wait instead): a hook that treated a queued run
// the same way would leave it queued for ever.

// timeoutSlack bounds how late, after its timeout runs out, a run is seen
// timed out: Tekton's requeue at the timeout, a reconcile, one status
// write, and the start and completion times' one-second precision.
const timeoutSlack = 15 * time.Second

// kueueAdmitWait bounds how long, once the quota is free, a queued run
// takes to be seen admitted by Kueue (its placeholder ungated); a wait
// bounded by what is left of a run's timeout waits at least that long.
const kueueAdmitWait = 30 * time.Second

// timedRun is a run of one task of 3 CPU, queued in queue, whose
// timeouts.pipeline is timeout.
func timedRun(ns, name, queue string, timeout time.Duration, tpl *pod.PodTemplate) *v1.PipelineRun {
	return newRun(ns, name, pipelineSpec(taskDef{name: "t", cpu: "3", duration: "5s"}),
		runOpts{labels: map[string]string{labelKueueQueue: queue}, timeout: timeout, podTemplate: tpl})
}

// waitQueued waits until run says it waits for admission in queue, its
// placeholder pod gated and its Workload without quota; it returns the
// run's start time, which must be set (the start of its wait for
// admission: at the latest when it was seen waiting, not before its
// creation; without one, the test goes on from its creation time, to
// show that it does not time out), and the Workload's name.
func waitQueued(t *testing.T, ns, run, queue string) (metav1.Time, string) {
	t.Helper()
	pr := waitRunMessage(t, ns, run, reasonWaitingForAdmission, 60*time.Second, "LocalQueue "+queue)
	seen := time.Now()
	var workload string
	waitFor(t, run+"'s placeholder pod gated by Kueue, its Workload pending", 30*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(pods) != 1 || !gatedByKueue(&pods[0]) {
			return fmt.Errorf("placeholder pods %v, want one gated", podNames(pods))
		}
		workload = pods[0].Labels[labelKueuePodGroup]
		reserved, err := quotaReservedAt(ctx, ns, run)
		if err != nil {
			return err
		}
		if !reserved.IsZero() {
			return fmt.Errorf("Workload %s has quota since %s", workload, reserved)
		}
		return nil
	})
	t.Logf("%s queued: %s, start time %v, Workload %s", run, describeCondition(pr), pr.Status.StartTime, workload)
	start := pr.Status.StartTime
	switch {
	case start == nil:
		t.Errorf("%s waits for admission by Kueue without a start time: its timeouts.pipeline does not run", run)
		return pr.CreationTimestamp, workload
	case start.Time.Before(pr.CreationTimestamp.Time):
		t.Errorf("%s started at %s, before its creation at %s", run, start, pr.CreationTimestamp)
	case start.Time.After(seen.Add(time.Second)):
		t.Errorf("%s started at %s, after it was seen waiting for admission at %s", run, start, seen)
	}
	return *start, workload
}

// waitTimedOut waits until run, which started at start (waitQueued), fails
// with PipelineRunTimeout about when its timeout runs out, then checks
// that it kept that start time, had no TaskRun, and that its placeholder
// and its Workload are gone.
func waitTimedOut(t *testing.T, rec *podRecorder, ns, run, workload string, start metav1.Time, timeout time.Duration) {
	t.Helper()
	// Never near zero, even when the test reaches this late: one look needs time.
	bound := max(time.Until(start.Add(timeout+timeoutSlack)), 0) + 5*time.Second
	pr := waitRunReason(t, ns, run, v1.PipelineRunReasonTimedOut.String(), bound)
	t.Logf("%s: %s", run, describeCondition(pr))
	if pr.Status.StartTime == nil || !pr.Status.StartTime.Equal(&start) {
		t.Errorf("%s's start time is %v, want %s, the start of its wait for admission, kept", run, pr.Status.StartTime, start)
	}
	if done := pr.Status.CompletionTime; done == nil {
		t.Errorf("%s timed out without a completion time", run)
	} else if took := done.Sub(start.Time); took < timeout-time.Second || took > timeout+timeoutSlack {
		t.Errorf("%s timed out %s after its start, want its timeout %s (up to %s later)", run, took, timeout, timeoutSlack)
	}
	trs, err := taskRuns(bg(), ns, run)
	if err != nil {
		t.Fatal(err)
	}
	if pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"}); len(trs) > 0 || len(pods) > 0 {
		t.Errorf("%s has %d TaskRuns and had %d TaskRun pods, want none", run, len(trs), len(pods))
	}
	waitNoPlaceholder(t, ns, run, 30*time.Second)
	waitFor(t, fmt.Sprintf("Workload %s of %s to be gone", workload, run), 60*time.Second, func(ctx context.Context) error {
		_, err := cluster.dynamic.Resource(workloads).Namespace(ns).Get(ctx, workload, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return err
		}
		return fmt.Errorf("Workload %s exists", workload)
	})
}

// runningAlone checks that run, which holds the ClusterQueue's quota, is
// still running, with its one TaskRun.
func runningAlone(t *testing.T, ns, run string) {
	t.Helper()
	pr := getRun(t, ns, run)
	if pr.IsDone() {
		t.Errorf("%s is done (%s), want it running", run, describeCondition(pr))
	}
	trs, err := taskRuns(bg(), ns, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(trs) != 1 {
		t.Errorf("%s has %d TaskRuns, want its one task's", run, len(trs))
	}
}

// TestKueueQueuedRunTimesOut: a ClusterQueue of 3 CPU admits run a (3
// CPU, 90 s); run b, of 3 CPU and timeouts.pipeline 25 s, waits for
// admission behind it, its start time the start of that wait. When its
// timeout runs out, still queued, b fails with PipelineRunTimeout, without
// a TaskRun; its placeholder and its Workload are gone. a runs on and
// succeeds.
func TestKueueQueuedRunTimesOut(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "kueue-timeout")
	queue := kueueQueues(t, ns, "3")
	rec := watchPods(t, admissionInvariant(1), ns)

	createRun(t, oneTaskRun(ns, "a", queue, "90s"))
	waitFor(t, "a admitted, its TaskRun made", 90*time.Second, taskRunMade(ns, "a"))

	const timeout = 25 * time.Second
	createRun(t, timedRun(ns, "b", queue, timeout, nil))
	start, workload := waitQueued(t, ns, "b", queue)
	waitTimedOut(t, rec, ns, "b", workload, start, timeout)

	runningAlone(t, ns, "a")
	waitRunSucceeded(t, ns, "a", 3*time.Minute)
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %s", strings.Join(v, "\n  "))
	}
}

// TestKueueAdmittedRunTimesOutWaitingForNode: a ClusterQueue of 3 CPU
// admits run a (3 CPU, 15 s); run b, of 3 CPU and timeouts.pipeline 60 s,
// whose pods go only to a node with a label none has, waits for admission
// behind it. Once a is done Kueue admits b, which then waits for a node
// (max-node-wait 5 minutes) with the start time of its wait for admission
// kept; when its timeout runs out, b fails with PipelineRunTimeout,
// without a TaskRun; its placeholder and its Workload are gone.
func TestKueueAdmittedRunTimesOutWaitingForNode(t *testing.T) {
	requireKueue(t)
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "kueue-timeout-node")
	queue := kueueQueues(t, ns, "3")
	// b's placeholder, admitted, waits for a node on purpose.
	rec := watchPods(t, kueueInvariant(1, false), ns)

	createRun(t, oneTaskRun(ns, "a", queue, "15s"))
	waitFor(t, "a admitted, its TaskRun made", 90*time.Second, taskRunMade(ns, "a"))

	const timeout = 60 * time.Second
	const label = "e2e.pipelinerun-affinity.dev/kueue-timeout"
	createRun(t, timedRun(ns, "b", queue, timeout, &pod.PodTemplate{NodeSelector: map[string]string{label: ns}}))
	start, workload := waitQueued(t, ns, "b", queue)

	waitRunSucceeded(t, ns, "a", 2*time.Minute)
	// What is left of b's timeout is what a's run left of it: b must be
	// seen admitted before it runs out, but the wait is not bounded by it
	// (a slow a would leave it near zero, too short for one look). It
	// ends when b is seen admitted, or done: then the test fails saying so.
	left := time.Until(start.Add(timeout))
	var doneFirst *v1.PipelineRun
	waitFor(t, "b admitted by Kueue, waiting for a node, its start time kept (or done)", max(left+timeoutSlack, kueueAdmitWait), func(ctx context.Context) error {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, "b", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pr.IsDone() {
			doneFirst = pr
			return nil
		}
		pods, err := placeholderPods(ctx, ns, "b")
		if err != nil {
			return err
		}
		if len(pods) != 1 || gatedByKueue(&pods[0]) || pods[0].Spec.NodeName != "" {
			return fmt.Errorf("placeholder pods %v, want one admitted and unbound", podNames(pods))
		}
		if c := succeeded(pr); c == nil || c.Reason != reasonWaiting {
			return fmt.Errorf("condition %s", describeCondition(pr))
		}
		if pr.Status.StartTime == nil || !pr.Status.StartTime.Equal(&start) {
			return fmt.Errorf("start time %v, want %s", pr.Status.StartTime, start)
		}
		return nil
	})
	if doneFirst != nil {
		t.Fatalf("b ended (%s) before it was seen admitted by Kueue and waiting for a node: a succeeded %s before b's timeout of %s ran out, too little for Kueue to admit b (is the machine overloaded?)",
			describeCondition(doneFirst), left.Round(time.Second), timeout)
	}
	waitTimedOut(t, rec, ns, "b", workload, start, timeout)
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %s", strings.Join(v, "\n  "))
	}
}
