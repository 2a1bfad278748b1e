//go:build e2e

package e2e

// The placeholder of a run: listing, waiting for it and for its removal,
// and the isolation invariant over placeholders and Affinity Assistants.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// placeholderListOptions selects placeholders, those of run when run != "".
func placeholderListOptions(run string) metav1.ListOptions {
	sel := placeholderSelector
	if run != "" {
		sel += "," + labelPipelineRun + "=" + run
	}
	return metav1.ListOptions{LabelSelector: sel}
}

func placeholderStatefulSets(ctx context.Context, ns, run string) ([]appsv1.StatefulSet, error) {
	l, err := cluster.kube.AppsV1().StatefulSets(ns).List(ctx, placeholderListOptions(run))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func placeholderPods(ctx context.Context, ns, run string) ([]corev1.Pod, error) {
	l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, placeholderListOptions(run))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// waitPlaceholder waits for the run's placeholder StatefulSet and returns its name.
func waitPlaceholder(t *testing.T, ns, run string, timeout time.Duration) string {
	t.Helper()
	var name string
	waitFor(t, fmt.Sprintf("the placeholder StatefulSet of %s/%s", ns, run), timeout, func(ctx context.Context) error {
		l, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(l) == 0 {
			return fmt.Errorf("no placeholder StatefulSet")
		}
		name = l[0].Name
		return nil
	})
	return name
}

// waitPlaced waits until the run's placeholder pod is bound, its
// reservation handed over, and its first TaskRun pod bound; returns the node.
func waitPlaced(t *testing.T, ns, run string, timeout time.Duration) string {
	t.Helper()
	var node string
	waitFor(t, fmt.Sprintf("PipelineRun %s/%s to have a bound TaskRun pod", ns, run), timeout, func(ctx context.Context) error {
		var err error
		node, err = boundTaskRunPod(ctx, ns, run)
		return err
	})
	return node
}

func assertNoPlaceholder(t *testing.T, ns, run string) {
	t.Helper()
	sts, err := placeholderStatefulSets(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing placeholders: %v", err)
	}
	pods, err := placeholderPods(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing placeholder pods: %v", err)
	}
	if len(sts) > 0 || len(pods) > 0 {
		t.Errorf("PipelineRun %s/%s: expected no placeholder, found %d StatefulSets %v and %d pods", ns, run, len(sts), stsNames(sts), len(pods))
	}
}

// waitNoPlaceholder waits until the run's placeholder StatefulSet and pods are gone.
func waitNoPlaceholder(t *testing.T, ns, run string, timeout time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the placeholder of %s/%s to be deleted", ns, run), timeout, func(ctx context.Context) error {
		sts, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil {
			return err
		}
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(sts) > 0 || len(pods) > 0 {
			return fmt.Errorf("StatefulSets %v, pods %v", stsNames(sts), podNames(pods))
		}
		return nil
	})
}

func podNames(l []corev1.Pod) []string {
	var out []string
	for _, p := range l {
		out = append(out, p.Name)
	}
	return out
}

func stsNames(l []appsv1.StatefulSet) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Name)
	}
	return out
}

// runKey identifies the run a placeholder or assistant pod belongs to.
func holderKey(p *corev1.Pod) string {
	switch p.Labels[labelComponent] {
	case componentHolder, componentAssistant:
		return p.Namespace + "/" + p.Labels[labelInstance]
	}
	return ""
}

// sharedHolderNodes is an invariant: no node holds the placeholders (or
// upstream Affinity Assistants) of two different runs at the same time.
func sharedHolderNodes(live []*corev1.Pod) string {
	return nodesOfTwoRuns(live, holderKey)
}

// nodesOfTwoRuns says which nodes hold bound, unfinished pods of two runs
// or more at the same time, runKey telling a pod's run ("": none).
func nodesOfTwoRuns(live []*corev1.Pod, runKey func(*corev1.Pod) string) string {
	byNode := map[string]map[string]bool{}
	for _, p := range live {
		key := runKey(p)
		if key == "" || p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if byNode[p.Spec.NodeName] == nil {
			byNode[p.Spec.NodeName] = map[string]bool{}
		}
		byNode[p.Spec.NodeName][key] = true
	}
	var bad []string
	for node, keys := range byNode {
		if len(keys) > 1 {
			var ks []string
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			bad = append(bad, fmt.Sprintf("node %s holds %s", node, strings.Join(ks, " and ")))
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}
