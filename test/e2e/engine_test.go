//go:build e2e

package e2e

// Tests of the engine's contract against the patched controller.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Test 1: a four-task pipeline (two parallel middle tasks) under
// isolate-pipelinerun runs every TaskRun pod on its placeholder's node.
func TestFourTaskPipelineOnPlaceholderNode(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "four")
	rec := watchPods(t, nil, ns)
	// CPU requests make the placeholder reserve the peak concurrent demand
	// (left + right = 1 CPU) and hand it over before the first TaskRun.
	createPipeline(t, ns, "diamond", pipelineSpec(
		taskDef{name: "first", cpu: "100m"},
		taskDef{name: "left", cpu: "500m", after: []string{"first"}},
		taskDef{name: "right", cpu: "500m", after: []string{"first"}},
		taskDef{name: "last", cpu: "100m", after: []string{"left", "right"}},
	))
	const run = "diamond"
	createRun(t, newRun(ns, run, nil, runOpts{pipelineRef: "diamond"}))
	holder := waitPlaceholder(t, ns, run, 30*time.Second)

	// While running: TaskRuns and pods carry the placeholder label and the
	// required pod affinity to the placeholder pod.
	waitFor(t, "a TaskRun pod", 60*time.Second, func(ctx context.Context) error {
		pods, err := taskRunPods(ctx, ns, run)
		if err == nil && len(pods) == 0 {
			return fmt.Errorf("no TaskRun pod")
		}
		return err
	})
	for _, p := range mustTaskRunPods(t, ns, run) {
		if p.Labels[labelMember] != holder {
			t.Errorf("pod %s: label %s=%q, want %q", p.Name, labelMember, p.Labels[labelMember], holder)
		}
		if !hasRequiredAffinityTo(&p, holder) {
			t.Errorf("pod %s has no required podAffinity term (hostname) to placeholder %s: %s", p.Name, holder, prettyJSON(p.Spec.Affinity))
		}
	}

	waitRunSucceeded(t, ns, run, 90*time.Second)
	node := placedNode(ns, run)
	if node == "" {
		t.Fatalf("no %s event naming the node on PipelineRun %s", eventPlaced, run)
	}
	// The placeholder's first creation records no event of its own: the
	// Placed event says what it requests.
	if evs := findEvents(ns, run, eventPlaced, ""); len(evs) != 1 || !strings.Contains(evs[0].Message, "requesting ") {
		t.Errorf("PipelineRun %s: want one %s event saying what the placeholder requests, got %v", run, eventPlaced, eventMessages(evs))
	}
	if evs := findEvents(ns, run, eventRecreated, ""); len(evs) > 0 {
		t.Errorf("PipelineRun %s has %s events, nothing deleted its placeholder: %v", run, eventRecreated, eventMessages(evs))
	}
	// The node resizes the placeholder in place: its hand-overs are
	// counted (metrics), not recorded as events.
	if evs := findEvents(ns, run, eventHandedOver, ""); len(evs) > 0 {
		t.Errorf("PipelineRun %s has %s events for shrinks in place: %v", run, eventHandedOver, eventMessages(evs))
	}
	holderNodes := nodesOf(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}))
	if len(holderNodes) != 1 || holderNodes[0] != node {
		t.Errorf("placeholder pods ran on %v, want only %s", holderNodes, node)
	}
	pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
	if len(pods) != 4 {
		t.Errorf("saw %d TaskRun pods, want 4", len(pods))
	}
	for _, p := range pods {
		if p.Node != node {
			t.Errorf("TaskRun pod %s ran on %s, want the placeholder's node %s", p.Name, p.Node, node)
		}
	}
	trs, err := taskRuns(bg(), ns, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range trs {
		if tr.Labels[labelMember] != holder {
			t.Errorf("TaskRun %s: label %s=%q, want %q", tr.Name, labelMember, tr.Labels[labelMember], holder)
		}
	}
	if ev := findEvents(ns, run, eventPlaced, ""); len(ev) == 0 || !strings.Contains(ev[0].Message, "cpu=1,") {
		t.Errorf("the placeholder did not reserve the peak demand cpu=1: %v", eventMessages(ev))
	}
	waitNoPlaceholder(t, ns, run, 30*time.Second)
	assertNoRecreation(t, ns, run)
	if !t.Failed() {
		t.Logf("all %d TaskRun pods ran on %s with placeholder %s", len(pods), node, holder)
	}
}

// assertNoRecreation fails when the engine recreated the placeholder of a
// run whose placeholder nobody deleted (e.g. after the run was done).
func assertNoRecreation(t *testing.T, ns, run string) {
	t.Helper()
	time.Sleep(time.Second) // let late reconciles of the finished run happen
	if ev := findEvents(ns, run, eventRecreated, ""); len(ev) > 0 {
		t.Errorf("the placeholder of %s was recreated although nothing deleted it: %v", run, eventMessages(ev))
	}
	assertNoPlaceholder(t, ns, run)
}

func hasRequiredAffinityTo(p *corev1.Pod, holder string) bool {
	if p.Spec.Affinity == nil || p.Spec.Affinity.PodAffinity == nil {
		return false
	}
	for _, term := range p.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		if term.TopologyKey == "kubernetes.io/hostname" && term.LabelSelector != nil && term.LabelSelector.MatchLabels[labelInstance] == holder {
			return true
		}
	}
	return false
}

// Tests 2 and 3: N long runs take N distinct nodes; run N+1 waits for a node
// (placeholder Pending on anti-affinity, WaitingForNode, no TaskRun) and
// completes on the node freed by the first run that finishes.
func TestIsolation(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "iso")
	rec := watchPods(t, sharedHolderNodes, ns)
	n := len(cluster.nodes)
	nodeOf := map[string]string{}
	long := func(i int) string { return fmt.Sprintf("long-%d", i) }

	if !t.Run("N runs on N distinct nodes", func(t *testing.T) {
		for i := 0; i < n; i++ {
			// long-0 finishes first and frees its node for run N+1.
			d := "25s"
			if i == 0 {
				d = "12s"
			}
			createRun(t, newRun(ns, long(i), oneTask(), runOpts{duration: d}))
		}
		seen := map[string]string{}
		for i := 0; i < n; i++ {
			node := waitPlaced(t, ns, long(i), 60*time.Second)
			nodeOf[long(i)] = node
			if other, dup := seen[node]; dup {
				t.Errorf("%s and %s both run on %s", other, long(i), node)
			}
			seen[node] = long(i)
		}
		if len(seen) != n {
			t.Errorf("%d runs used %d distinct nodes: %v", n, len(seen), nodeOf)
		}
		t.Logf("nodes: %v", nodeOf)
	}) {
		return
	}

	t.Run("run N+1 waits for a node", func(t *testing.T) {
		const extra = "extra"
		createRun(t, newRun(ns, extra, oneTask(), runOpts{duration: "1s"}))
		holder := waitPlaceholder(t, ns, extra, 30*time.Second)
		podName := holder + "-0"
		var schedMsg string
		waitFor(t, "the placeholder pod to be unschedulable on anti-affinity", 30*time.Second, func(ctx context.Context) error {
			p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			msg, ok := podScheduledFalse(p)
			schedMsg = msg
			if !ok || p.Spec.NodeName != "" || !strings.Contains(msg, "anti-affinity") {
				return fmt.Errorf("pod %s is %s on %q: %q", podName, podStatus(p), p.Spec.NodeName, msg)
			}
			return nil
		})
		ev := waitEvent(t, ns, "Pod", podName, "FailedScheduling", 30*time.Second)
		if !strings.Contains(ev.Message, "anti-affinity") {
			t.Errorf("FailedScheduling event does not name anti-affinity: %s", ev.Message)
		}
		waitRunReason(t, ns, extra, reasonWaiting, 30*time.Second)
		// The WaitingForNode message carries the scheduler's message.
		pr := waitRunMessage(t, ns, extra, reasonWaiting, 20*time.Second, "anti-affinity")
		t.Logf("waiting: pod %s %q; run %s", podName, schedMsg, describeCondition(pr))
		// Tekton records the condition's changes as events on the run: one
		// of them says why it waits.
		waitFor(t, "a WaitingForNode event with the scheduler's message", 20*time.Second, func(ctx context.Context) error {
			return hasRunEvent(ctx, ns, extra, eventWaitingForNode, "anti-affinity")
		})
		if trs, err := taskRuns(bg(), ns, extra); err != nil || len(trs) != 0 {
			t.Errorf("run %s has %d TaskRuns while waiting for a node (err %v)", extra, len(trs), err)
		}
		if first := getRun(t, ns, long(0)); first.IsDone() {
			t.Fatalf("test premise broken: %s finished before the waiting checks were done; lengthen its duration", long(0))
		}

		done := waitRunSucceeded(t, ns, extra, 60*time.Second)
		node := placedNode(ns, extra)
		if node != nodeOf[long(0)] {
			t.Errorf("%s ran on %q, want %s freed by %s", extra, node, nodeOf[long(0)], long(0))
		}
		for _, p := range rec.matching(map[string]string{labelPipelineRun: extra, labelTaskRun: "*"}) {
			if p.Node != node {
				t.Errorf("TaskRun pod %s on %s, want %s", p.Name, p.Node, node)
			}
		}
		first := getRun(t, ns, long(0))
		if !first.IsDone() || first.Status.CompletionTime == nil {
			t.Errorf("%s is not done but %s ran on its node", long(0), extra)
		} else if bound := holderBoundAt(rec, extra); !bound.IsZero() && bound.Before(first.Status.CompletionTime.Time.Add(-time.Second)) {
			t.Errorf("%s's placeholder was bound at %s, before %s completed at %s", extra, bound, long(0), first.Status.CompletionTime.Time)
		}
		if other := getRun(t, ns, long(1)); other.IsDone() {
			t.Logf("note: %s was already done when %s completed at %s", long(1), extra, done.Status.CompletionTime)
		}
		if v := rec.getViolations(); len(v) > 0 {
			t.Errorf("isolation violated: %v", v)
		}
	})
}

// holderBoundAt is when the recorder first saw a placeholder pod of run bound.
func holderBoundAt(rec *podRecorder, run string) time.Time {
	var first time.Time
	for _, p := range rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}) {
		if !p.BoundAt.IsZero() && (first.IsZero() || p.BoundAt.Before(first)) {
			first = p.BoundAt
		}
	}
	return first
}

// occupyAllNodes starts one isolated long run per node and waits until each
// has a bound TaskRun pod. durations[i] is run i's kwok duration.
func occupyAllNodes(t *testing.T, ns string, durations []string) []string {
	t.Helper()
	var names []string
	for i, d := range durations {
		name := fmt.Sprintf("blocker-%d", i)
		createRun(t, newRun(ns, name, oneTask(), runOpts{duration: d}))
		names = append(names, name)
	}
	for _, name := range names {
		waitPlaced(t, ns, name, 60*time.Second)
	}
	return names
}

// Test 4: waiting for a node does not consume timeouts.pipeline; waiting is
// bounded by pipelinerun-pod-affinity-max-node-wait.
func TestNodeWait(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "wait")
	n := len(cluster.nodes)
	durations := make([]string, n)
	for i := range durations {
		durations[i] = "80s"
	}
	durations[0] = "40s" // frees its node for the patient run after > 30 s
	occupyAllNodes(t, ns, durations)

	const patient = "patient"
	if !t.Run("timeouts.pipeline does not run while waiting", func(t *testing.T) {
		created := createRun(t, newRun(ns, patient, oneTask(), runOpts{duration: "20s", timeout: 30 * time.Second}))
		waitRunReason(t, ns, patient, reasonWaiting, 30*time.Second)
		checkedAfterTimeout := false
		waitFor(t, "the patient run to get a TaskRun", 90*time.Second, func(ctx context.Context) error {
			pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, patient, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pr.IsDone() {
				t.Fatalf("%s finished while waiting for a node: %s", patient, describeCondition(pr))
			}
			if !checkedAfterTimeout && time.Since(created.CreationTimestamp.Time) > 32*time.Second {
				c := succeeded(pr)
				if c == nil || c.Reason != reasonWaiting {
					t.Errorf("after 32 s the run's condition is %s, want Unknown/%s", describeCondition(pr), reasonWaiting)
				}
				checkedAfterTimeout = true
			}
			trs, err := taskRuns(ctx, ns, patient)
			if err == nil && len(trs) == 0 {
				return fmt.Errorf("no TaskRun; condition %s", describeCondition(pr))
			}
			return err
		})
		waited := time.Since(created.CreationTimestamp.Time)
		if waited < 30*time.Second {
			t.Fatalf("test premise broken: the run waited only %s for a node (want > 30s)", waited.Round(time.Second))
		}
		t.Logf("%s waited %s for a node with timeouts.pipeline 30s", patient, waited.Round(time.Second))
	}) {
		return
	}

	t.Run("max-node-wait fails a waiting run", func(t *testing.T) {
		setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "8s"}))
		const hurried = "hurried"
		start := time.Now()
		createRun(t, newRun(ns, hurried, oneTask(), runOpts{duration: "1s"}))
		pr := waitRunReason(t, ns, hurried, reasonNodeWait, 40*time.Second)
		elapsed := time.Since(start)
		if c := succeeded(pr); !c.IsFalse() {
			t.Errorf("run %s: %s, want Succeeded=False", hurried, describeCondition(pr))
		}
		// The engine measures the wait from the placeholder pod's
		// creationTimestamp, which has a resolution of one second.
		if elapsed < 7*time.Second {
			t.Errorf("run failed after %s, well before max-node-wait 8s", elapsed)
		}
		if trs, _ := taskRuns(bg(), ns, hurried); len(trs) != 0 {
			t.Errorf("run %s created %d TaskRuns", hurried, len(trs))
		}
		t.Logf("%s failed after %s: %s", hurried, elapsed.Round(time.Second), describeCondition(pr))
		waitNoPlaceholder(t, ns, hurried, 30*time.Second)
		// The failure is final: no later reconcile brings the run back.
		time.Sleep(5 * time.Second)
		if pr := getRun(t, ns, hurried); succeeded(pr) == nil || succeeded(pr).Reason != reasonNodeWait {
			t.Errorf("run %s did not stay failed: %s", hurried, describeCondition(pr))
		}
		// Never placed: no Placed event; and no placeholder made again
		// after the run failed.
		if ev := append(findEvents(ns, hurried, eventPlaced, ""), findEvents(ns, hurried, eventRecreated, "")...); len(ev) > 0 {
			t.Errorf("run %s, never placed, has events %v", hurried, eventMessages(ev))
		}
		assertNoPlaceholder(t, ns, hurried)
		if trs, _ := taskRuns(bg(), ns, hurried); len(trs) != 0 {
			t.Errorf("run %s created %d TaskRuns after it failed", hurried, len(trs))
		}
		assertNoPlaceholder(t, ns, hurried)
	})

	// The patient run (placed before max-node-wait was lowered) completes.
	t.Run("the patient run completes", func(t *testing.T) {
		waitRunSucceeded(t, ns, patient, 60*time.Second)
	})
}

// Test 5: the placeholder is deleted when the run completes, is cancelled or
// is deleted.
func TestPlaceholderCleanup(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "cleanup")
	createRun(t, newRun(ns, "completes", oneTask(), runOpts{duration: "2s"}))
	createRun(t, newRun(ns, "cancelled", oneTask(), runOpts{duration: "60s"}))
	createRun(t, newRun(ns, "deleted", oneTask(), runOpts{duration: "60s"}))
	for _, run := range []string{"completes", "cancelled", "deleted"} {
		waitPlaceholder(t, ns, run, 30*time.Second)
	}
	waitPlaced(t, ns, "cancelled", 60*time.Second)
	waitPlaced(t, ns, "deleted", 60*time.Second)

	t.Run("after completion", func(t *testing.T) {
		waitRunSucceeded(t, ns, "completes", 60*time.Second)
		waitNoPlaceholder(t, ns, "completes", 30*time.Second)
		assertNoRecreation(t, ns, "completes")
	})
	t.Run("after cancellation", func(t *testing.T) {
		setRunSpecStatus(t, ns, "cancelled", v1.PipelineRunSpecStatusCancelled)
		pr, err := waitRunDone(ns, "cancelled", 60*time.Second)
		if err != nil {
			t.Fatalf("cancelled run: %v", err)
		}
		if c := succeeded(pr); c.Reason != "Cancelled" {
			t.Errorf("cancelled run: %s, want reason Cancelled", describeCondition(pr))
		}
		waitNoPlaceholder(t, ns, "cancelled", 30*time.Second)
		assertNoRecreation(t, ns, "cancelled")
	})
	t.Run("after deletion of the run", func(t *testing.T) {
		policy := metav1.DeletePropagationBackground
		if err := cluster.tekton.TektonV1().PipelineRuns(ns).Delete(bg(), "deleted", metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatalf("deleting the run: %v", err)
		}
		waitNoPlaceholder(t, ns, "deleted", 60*time.Second)
	})
}

// Test 6: with the feature flag off nothing changes: no placeholder, the run
// succeeds as upstream (here with upstream's isolate-pipelinerun assistant).
func TestFeatureFlagOff(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagEnable: "false"}))
	ns := newNamespace(t, "off")
	rec := watchPods(t, nil, ns)
	const run = "plain"
	createRun(t, newRun(ns, run, chain(2), runOpts{duration: "1s"}))
	waitRunSucceeded(t, ns, run, 90*time.Second)
	if got := rec.matching(map[string]string{labelComponent: componentHolder}); len(got) > 0 {
		t.Errorf("placeholder pods were created with the flag off: %d", len(got))
	}
	assertNoPlaceholder(t, ns, run)
	if hasEvent(ns, "PipelineRun", run, eventPlaced) {
		t.Errorf("PipelineRun has a %s event with the flag off", eventPlaced)
	}
	for _, p := range rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"}) {
		if _, ok := p.Labels[labelMember]; ok {
			t.Errorf("TaskRun pod %s has label %s with the flag off", p.Name, labelMember)
		}
	}
	t.Logf("affinity-assistant pods (upstream behaviour): %d", len(rec.matching(map[string]string{labelComponent: componentAssistant})))
}

// Test 7: the opt-in label (and its legacy spelling), the opt-out, and an
// invalid value.
func TestOptInLabels(t *testing.T) {
	ns := newNamespace(t, "labels")
	rec := watchPods(t, nil, ns)
	handled := func(t *testing.T, run string) {
		t.Helper()
		// The runs of a subtest start together and may finish (and release
		// their placeholders) before this check: judge from the pods the
		// recorder saw, not from what exists now.
		waitRunSucceeded(t, ns, run, 60*time.Second)
		holders := rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run})
		if len(holders) == 0 {
			t.Fatalf("run %s: no placeholder pod was ever created", run)
		}
		node := holders[len(holders)-1].Node
		if !hasEvent(ns, "PipelineRun", run, eventPlaced) {
			t.Errorf("run %s has no %s event", run, eventPlaced)
		}
		for _, p := range rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"}) {
			if p.Node != node || p.Labels[labelMember] == "" {
				t.Errorf("pod %s on %s (placeholder label %q), want node %s", p.Name, p.Node, p.Labels[labelMember], node)
			}
		}
		waitNoPlaceholder(t, ns, run, 30*time.Second)
	}
	notHandled := func(t *testing.T, run string) {
		t.Helper()
		waitRunSucceeded(t, ns, run, 60*time.Second)
		if got := rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}); len(got) > 0 {
			t.Errorf("run %s got placeholder pods", run)
		}
		assertNoPlaceholder(t, ns, run)
		if hasEvent(ns, "PipelineRun", run, eventPlaced) {
			t.Errorf("run %s has a %s event", run, eventPlaced)
		}
	}

	t.Run("coschedule workspaces", func(t *testing.T) {
		setFeatureFlags(t, patchedFlags(map[string]string{flagCoschedule: "workspaces"}))
		createRun(t, newRun(ns, "opt-in", chain(2), runOpts{labels: map[string]string{labelOptIn: "true"}}))
		createRun(t, newRun(ns, "legacy", chain(2), runOpts{labels: map[string]string{labelLegacyOptIn: "true"}}))
		createRun(t, newRun(ns, "invalid", chain(2), runOpts{labels: map[string]string{labelOptIn: "yes"}}))
		createRun(t, newRun(ns, "unlabelled", chain(2), runOpts{}))
		t.Run("label true is handled", func(t *testing.T) { handled(t, "opt-in") })
		t.Run("legacy label true is handled", func(t *testing.T) { handled(t, "legacy") })
		t.Run("invalid label warns and is not handled", func(t *testing.T) {
			ev := waitEvent(t, ns, "PipelineRun", "invalid", eventInvalidLabel, 30*time.Second)
			if ev.Type != corev1.EventTypeWarning {
				t.Errorf("%s event has type %s, want Warning", eventInvalidLabel, ev.Type)
			}
			t.Logf("event: %s", ev.Message)
			notHandled(t, "invalid")
			// Said once, not at each of the run's many reconciles.
			if evs := objectEvents(ns, "PipelineRun", "invalid", eventInvalidLabel, ""); len(evs) != 1 || evs[0].Count > 1 {
				t.Errorf("%s events %v, want one, once", eventInvalidLabel, eventMessages(evs))
			}
		})
		t.Run("unlabelled is not handled", func(t *testing.T) { notHandled(t, "unlabelled") })
	})
	t.Run("isolate-pipelinerun with label false is not handled", func(t *testing.T) {
		setFeatureFlags(t, patchedFlags(nil))
		createRun(t, newRun(ns, "opt-out", chain(2), runOpts{labels: map[string]string{labelOptIn: "false"}}))
		notHandled(t, "opt-out")
	})
}
