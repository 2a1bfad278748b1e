//go:build e2e

package e2e

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
	c := succeeded(pr)
	if c == nil {
		return "<no Succeeded condition>"
	}
	return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
}

// waitRunDone waits until the run is done; ok=false on timeout.
func waitRunDone(ns, name string, timeout time.Duration) (*v1.PipelineRun, bool) {
	var last *v1.PipelineRun
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = pr
		return pr.IsDone(), nil
	})
	return last, err == nil
}

// waitRunSucceeded fails the test unless the run succeeds within timeout.
func waitRunSucceeded(t *testing.T, ns, name string, timeout time.Duration) *v1.PipelineRun {
	t.Helper()
	pr, ok := waitRunDone(ns, name, timeout)
	if !ok {
		cond := "<not found>"
		if pr != nil {
			cond = describeCondition(pr)
		}
		t.Fatalf("PipelineRun %s/%s not done after %s: %s", ns, name, timeout, cond)
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
	var last *v1.PipelineRun
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = pr
		c := succeeded(pr)
		if c == nil || c.Reason != reason {
			return false, nil
		}
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		cond := "<not found>"
		if last != nil {
			cond = describeCondition(last)
		}
		t.Fatalf("PipelineRun %s/%s: no condition %s mentioning %q after %s; last: %s", ns, name, reason, parts, timeout, cond)
	}
	return last
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
