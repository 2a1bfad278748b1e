//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// withFinally adds to spec the finally task name.
func withFinally(spec *v1.PipelineSpec, name string) *v1.PipelineSpec {
	spec.Finally = append(spec.Finally, v1.PipelineTask{Name: name, TaskSpec: embeddedTask(taskDef{name: name})})
	return spec
}

// taskRunNames names the TaskRuns with their pipeline task.
func taskRunNames(l []v1.TaskRun) []string {
	names := make([]string, 0, len(l))
	for _, tr := range l {
		names = append(names, tr.Name+" ("+tr.Labels[labelPipelineTask]+")")
	}
	return names
}

// setRunSpecStatus sets the run's spec.status, as a user (or
// Pipelines-as-Code's cancel-in-progress) cancels or stops it.
func setRunSpecStatus(t *testing.T, ns, run string, status v1.PipelineRunSpecStatus) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"status":%q}}`, status)
	if _, err := cluster.tekton.TektonV1().PipelineRuns(ns).Patch(bg(), run, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("setting spec.status of PipelineRun %s/%s to %s: %v", ns, run, status, err)
	}
}

// A run that waits for its first node (WaitingForNode, no TaskRun: every
// node is held by an isolated run) is cancelled (spec.status Cancelled), or
// cancelled or stopped gracefully (CancelledRunFinally, StoppedRunFinally).
// Without finally tasks it ends at once, Cancelled, with a start time (the
// moment it ended) and no TaskRun, its placeholder released; it stays so
// once nodes are free. With a finally task it keeps waiting for its node
// (the regular task is never created) and, once two nodes are freed, runs
// its finally task there and ends Cancelled. All runs wait and end side by
// side: the test takes about the blockers' 75 s.
func TestReliabilityCancelWhileWaitingForNode(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "cancel-wait")
	durations := make([]string, len(cluster.nodes))
	for i := range durations {
		durations[i] = "600s"
	}
	// Two nodes are freed after 75 s, one for each run with a finally task.
	durations[0], durations[1] = "75s", "75s"
	blockers := occupyAllNodes(t, ns, durations)

	type tc struct {
		run     string
		status  v1.PipelineRunSpecStatus
		finally bool
	}
	atOnce := []tc{
		{run: "cancelled", status: v1.PipelineRunSpecStatusCancelled},
		{run: "cancelled-run-finally", status: v1.PipelineRunSpecStatusCancelledRunFinally},
		{run: "stopped-run-finally", status: v1.PipelineRunSpecStatusStoppedRunFinally},
	}
	withFinallyTask := []tc{
		{run: "cancelled-with-finally", status: v1.PipelineRunSpecStatusCancelledRunFinally, finally: true},
		{run: "stopped-with-finally", status: v1.PipelineRunSpecStatusStoppedRunFinally, finally: true},
	}
	all := append(append([]tc{}, atOnce...), withFinallyTask...)
	for _, c := range all {
		spec := oneTask()
		if c.finally {
			spec = withFinally(spec, "fin")
		}
		createRun(t, newRun(ns, c.run, spec, runOpts{}))
	}
	for _, c := range all {
		waitRunReason(t, ns, c.run, reasonWaiting, 60*time.Second)
		waitPlaceholder(t, ns, c.run, 10*time.Second)
	}
	cancelledAt := map[string]time.Time{}
	for _, c := range all {
		setRunSpecStatus(t, ns, c.run, c.status)
		cancelledAt[c.run] = time.Now()
	}

	for _, c := range atOnce {
		t.Run(string(c.status)+" without finally tasks ends at once", func(t *testing.T) {
			pr := waitRunReason(t, ns, c.run, v1.PipelineRunReasonCancelled.String(), 60*time.Second)
			// Measured on the run, not when this subtest sees it: the
			// subtests before it may have taken their time.
			if took := completionTime(pr).Sub(cancelledAt[c.run]); took > 20*time.Second {
				t.Errorf("%s ended %s after spec.status %s, want at once (it must not wait for a node)", c.run, took.Round(time.Second), c.status)
			}
			if cond := succeeded(pr); !cond.IsFalse() {
				t.Errorf("%s: %s, want Succeeded=False", c.run, describeCondition(pr))
			}
			waitNoPlaceholder(t, ns, c.run, 30*time.Second)
			// Its start time is the moment it ended, written by the
			// reconcile after the one that ended it.
			waitFor(t, fmt.Sprintf("%s to have a start time", c.run), 30*time.Second, func(ctx context.Context) error {
				pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, c.run, metav1.GetOptions{})
				if err != nil {
					return err
				}
				switch {
				case pr.Status.CompletionTime == nil:
					return fmt.Errorf("no completion time: %s", describeCondition(pr))
				case pr.Status.StartTime == nil:
					return fmt.Errorf("no start time, completion time %s", pr.Status.CompletionTime.UTC().Format(time.RFC3339))
				case !pr.Status.StartTime.Equal(pr.Status.CompletionTime):
					t.Errorf("%s: start time %s, want its completion time %s", c.run, pr.Status.StartTime.UTC().Format(time.RFC3339), pr.Status.CompletionTime.UTC().Format(time.RFC3339))
				}
				return nil
			})
			if trs, err := taskRuns(bg(), ns, c.run); err != nil || len(trs) != 0 {
				t.Errorf("%s: TaskRuns %v (%v), want none", c.run, taskRunNames(trs), err)
			}
		})
	}

	t.Run("with a finally task it keeps waiting for its node", func(t *testing.T) {
		// Looked at every second for 15 s after its spec.status was set,
		// while every node is still held.
		for until := cancelledAt[withFinallyTask[len(withFinallyTask)-1].run].Add(15 * time.Second); ; time.Sleep(time.Second) {
			last := time.Now().After(until)
			for _, b := range blockers[:2] {
				if pr := getRun(t, ns, b); pr.IsDone() {
					t.Fatalf("test premise broken: blocker %s is done already (%s): the runs may have had a node", b, describeCondition(pr))
				}
			}
			for _, c := range withFinallyTask {
				pr := getRun(t, ns, c.run)
				if pr.IsDone() {
					t.Fatalf("%s ended %s after spec.status %s before it had a node: %s", c.run, time.Since(cancelledAt[c.run]).Round(time.Second), c.status, describeCondition(pr))
				}
				if trs, err := taskRuns(bg(), ns, c.run); err != nil || len(trs) != 0 {
					t.Fatalf("%s: TaskRuns %v (%v) while every node is held, want none", c.run, taskRunNames(trs), err)
				}
				if pods, err := placeholderPods(bg(), ns, c.run); err != nil || len(pods) != 1 {
					t.Fatalf("%s: placeholder pods %v (%v) while it waits, want its pod kept", c.run, podNames(pods), err)
				}
				if last {
					t.Logf("%s, %s after spec.status %s: %s", c.run, time.Since(cancelledAt[c.run]).Round(time.Second), c.status, describeCondition(pr))
				}
			}
			if last {
				return
			}
		}
	})

	t.Run("with a finally task it runs it once it has a node", func(t *testing.T) {
		for _, c := range withFinallyTask {
			pr := waitRunReason(t, ns, c.run, v1.PipelineRunReasonCancelled.String(), 150*time.Second)
			if cond := succeeded(pr); !cond.IsFalse() {
				t.Errorf("%s: %s, want Succeeded=False", c.run, describeCondition(pr))
			}
			trs, err := taskRuns(bg(), ns, c.run)
			if err != nil {
				t.Fatalf("listing TaskRuns of %s: %v", c.run, err)
			}
			if len(trs) != 1 || trs[0].Labels[labelPipelineTask] != "fin" {
				t.Errorf("%s: TaskRuns %v, want one, of its finally task fin", c.run, taskRunNames(trs))
				continue
			}
			if cond := trs[0].Status.GetCondition(apis.ConditionSucceeded); !cond.IsTrue() {
				t.Errorf("%s: its finally TaskRun %s: %s, want it succeeded", c.run, trs[0].Name, conditionString(cond))
			}
			t.Logf("%s ended %s after spec.status %s: %s", c.run, time.Since(cancelledAt[c.run]).Round(time.Second), c.status, describeCondition(pr))
		}
		waitNoPlaceholder(t, ns, withFinallyTask[0].run, 30*time.Second)
		waitNoPlaceholder(t, ns, withFinallyTask[1].run, 30*time.Second)
		// Nodes were free meanwhile: the runs that ended at once stayed so.
		for _, c := range atOnce {
			if trs, err := taskRuns(bg(), ns, c.run); err != nil || len(trs) != 0 {
				t.Errorf("%s: TaskRuns %v (%v) once nodes were free, want none", c.run, taskRunNames(trs), err)
			}
			if pr := getRun(t, ns, c.run); succeeded(pr).Reason != v1.PipelineRunReasonCancelled.String() {
				t.Errorf("%s did not stay cancelled: %s", c.run, describeCondition(pr))
			}
		}
	})
}

// completionTime is pr's completion time, or now if it has none yet.
func completionTime(pr *v1.PipelineRun) time.Time {
	if pr.Status.CompletionTime == nil {
		return time.Now()
	}
	return pr.Status.CompletionTime.Time
}
