//go:build e2e

package e2e

// What a failed test logs: pods, conditions, events, nodes and the
// controller's log lines about its namespaces.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// dumpDiagnostics logs a "kubectl get pods -o wide"-style table of the test's
// namespaces (and of every placeholder and assistant pod), the conditions of
// their PipelineRuns and TaskRuns, their events, and the nodes.
func dumpDiagnostics(t *testing.T, namespaces ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== diagnostics for %v at %s ====\n", namespaces, time.Now().UTC().Format(time.RFC3339))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tSTATUS\tNODE\tPLACEHOLDER")
	seen := map[types.UID]bool{}
	addPods := func(pods []corev1.Pod) {
		for _, p := range pods {
			if seen[p.UID] {
				continue
			}
			seen[p.UID] = true
			node := p.Spec.NodeName
			if node == "" {
				node = "<none>"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name, podStatus(&p), node, p.Labels[labelMember])
		}
	}
	for _, ns := range namespaces {
		if l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			addPods(l.Items)
		}
	}
	for _, sel := range []string{placeholderSelector, labelComponent + "=" + componentAssistant} {
		if l, err := cluster.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: sel}); err == nil {
			addPods(l.Items)
		}
	}
	tw.Flush()

	for _, ns := range namespaces {
		if prs, err := cluster.tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, pr := range prs.Items {
				fmt.Fprintf(&b, "PipelineRun %s/%s: %s\n", ns, pr.Name, describeCondition(&pr))
				if evs, err := events(ctx, ns, "PipelineRun", pr.Name); err == nil {
					for _, e := range evs {
						fmt.Fprintf(&b, "    event %s %s %s: %s\n", eventTime(&e).UTC().Format("15:04:05"), e.Type, e.Reason, e.Message)
					}
				}
			}
		}
		if trs, err := cluster.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, tr := range trs.Items {
				c := tr.Status.GetCondition(apis.ConditionSucceeded)
				cs := "<none>"
				if c != nil {
					cs = fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
				}
				fmt.Fprintf(&b, "TaskRun %s/%s [%s=%s]: %s\n", ns, tr.Name, labelMember, tr.Labels[labelMember], cs)
			}
		}
		if sts, err := cluster.kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, s := range sts.Items {
				fmt.Fprintf(&b, "StatefulSet %s/%s component=%s run=%s\n", ns, s.Name, s.Labels[labelComponent], s.Labels[labelPipelineRun])
			}
		}
		if evs, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"}); err == nil {
			for _, e := range evs.Items {
				if e.Reason == "FailedScheduling" || strings.HasPrefix(e.InvolvedObject.Name, "placeholder-") {
					fmt.Fprintf(&b, "pod event %s %s %s: %s\n", e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
				}
			}
		}
	}
	if nodes, err := cluster.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			fmt.Fprintf(&b, "node %s ready=%t unschedulable=%t taints=%d\n", n.Name, nodeReady(&n), n.Spec.Unschedulable, len(n.Spec.Taints))
		}
	}
	logFile := controllerLog()
	fmt.Fprintf(&b, "controller log: %s; its last lines about %v:\n", logFile, namespaces)
	if data, err := os.ReadFile(logFile); err == nil {
		var lines []string
		for _, line := range strings.Split(string(data), "\n") {
			for _, ns := range namespaces {
				if strings.Contains(line, ns) {
					lines = append(lines, line)
					break
				}
			}
		}
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		for _, line := range lines {
			if len(line) > 400 {
				line = line[:400] + "..."
			}
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	t.Log(b.String())
}

// podStatus is roughly kubectl's STATUS column.
func podStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if msg, ok := podScheduledFalse(p); ok {
		reason, _, _ := strings.Cut(msg, ":")
		return string(p.Status.Phase) + "(" + reason + ")"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil && p.Status.Phase == corev1.PodRunning {
			return "Terminating:" + cs.State.Terminated.Reason
		}
	}
	return string(p.Status.Phase)
}

// prettyJSON is for logs.
func prettyJSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}
