//go:build e2e

package e2e

// PipelineRuns and TaskRuns: their conditions, the waits for them, and
// their pods.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
)

func succeeded(pr *v1.PipelineRun) *apis.Condition {
	return pr.Status.GetCondition(apis.ConditionSucceeded)
}

func describeCondition(pr *v1.PipelineRun) string {
	if pr == nil {
		return "<PipelineRun not read>"
	}
	return conditionString(succeeded(pr))
}

// conditionString is "Status/Reason: Message" of a Succeeded condition.
func conditionString(c *apis.Condition) string {
	if c == nil {
		return "<no Succeeded condition>"
	}
	return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
}

// taskSucceeded is a probe: nil once the TaskRun of pipeline task task of
// run succeeded, which done (when not nil) is then given.
func taskSucceeded(ns, run, task string, done func(*v1.TaskRun)) probe {
	return func(ctx context.Context) error {
		trs, err := taskRuns(ctx, ns, run)
		if err != nil {
			return err
		}
		for i := range trs {
			tr := &trs[i]
			if tr.Labels[labelPipelineTask] != task {
				continue
			}
			if c := tr.Status.GetCondition(apis.ConditionSucceeded); c == nil || !c.IsTrue() {
				return fmt.Errorf("TaskRun %s: %s", tr.Name, conditionString(c))
			}
			if done != nil {
				done(tr)
			}
			return nil
		}
		return fmt.Errorf("no TaskRun of task %s", task)
	}
}

// waitRunDone waits until the run is done and returns it as last seen (nil
// if never read); the error, on timeout, names its last condition.
func waitRunDone(ns, name string, timeout time.Duration) (*v1.PipelineRun, error) {
	var last *v1.PipelineRun
	err := poll(fmt.Sprintf("PipelineRun %s/%s to be done", ns, name), timeout, func(ctx context.Context) error {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = pr
		if !pr.IsDone() {
			return fmt.Errorf("condition %s", describeCondition(pr))
		}
		return nil
	})
	return last, err
}

// waitRunSucceeded fails the test unless the run succeeds within timeout.
func waitRunSucceeded(t *testing.T, ns, name string, timeout time.Duration) *v1.PipelineRun {
	t.Helper()
	pr, err := waitRunDone(ns, name, timeout)
	if err != nil {
		t.Fatal(err)
	}
	if c := succeeded(pr); c == nil || !c.IsTrue() {
		t.Fatalf("PipelineRun %s/%s did not succeed: %s", ns, name, describeCondition(pr))
	}
	return pr
}

// waitRunReason waits until the run's Succeeded condition has reason.
func waitRunReason(t *testing.T, ns, name, reason string, timeout time.Duration) *v1.PipelineRun {
	t.Helper()
	return waitRunMessage(t, ns, name, reason, timeout)
}

// waitRunMessage waits until the run's condition has reason and a message
// containing every part.
func waitRunMessage(t *testing.T, ns, name, reason string, timeout time.Duration, parts ...string) *v1.PipelineRun {
	t.Helper()
	what := fmt.Sprintf("PipelineRun %s/%s to have condition reason %s", ns, name, reason)
	if len(parts) > 0 {
		what += fmt.Sprintf(" with a message mentioning %q", parts)
	}
	var last *v1.PipelineRun
	waitFor(t, what, timeout, func(ctx context.Context) error {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = pr
		if !conditionMentions(succeeded(pr), reason, parts...) {
			return fmt.Errorf("condition %s", describeCondition(pr))
		}
		return nil
	})
	return last
}

// conditionMentions is true when c has reason and its message contains
// every part.
func conditionMentions(c *apis.Condition, reason string, parts ...string) bool {
	if c == nil || c.Reason != reason {
		return false
	}
	for _, p := range parts {
		if !strings.Contains(c.Message, p) {
			return false
		}
	}
	return true
}

// taskRunPods lists the TaskRun pods of a PipelineRun (not of its children).
func taskRunPods(ctx context.Context, ns, run string) ([]corev1.Pod, error) {
	l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run + "," + labelTaskRun})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func taskRuns(ctx context.Context, ns, run string) ([]v1.TaskRun, error) {
	l, err := cluster.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// boundTaskRunPod returns the node of a bound TaskRun pod of the run, or
// an error saying what its TaskRun pods are (or why they could not be read).
func boundTaskRunPod(ctx context.Context, ns, run string) (string, error) {
	pods, err := taskRunPods(ctx, ns, run)
	if err != nil {
		return "", err
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			return p.Spec.NodeName, nil
		}
	}
	if len(pods) == 0 {
		return "", fmt.Errorf("no TaskRun pod")
	}
	var states []string
	for _, p := range pods {
		states = append(states, p.Name+" "+podStatus(&p))
	}
	return "", fmt.Errorf("no TaskRun pod bound: %s", strings.Join(states, ", "))
}

// podBoundTo is a probe: nil once pod ns/name is bound to node.
func podBoundTo(ns, name, node string) probe {
	return func(ctx context.Context) error {
		p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != node {
			return fmt.Errorf("pod %s is %s on %q", name, podStatus(p), p.Spec.NodeName)
		}
		return nil
	}
}

func mustTaskRunPods(t *testing.T, ns, run string) []corev1.Pod {
	t.Helper()
	pods, err := taskRunPods(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing TaskRun pods of %s/%s: %v", ns, run, err)
	}
	return pods
}

func podNodes(pods []corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Spec.NodeName
	}
	return out
}

// podScheduledFalse returns the message of a PodScheduled=False condition.
func podScheduledFalse(p *corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Reason + ": " + c.Message, true
		}
	}
	return "", false
}
