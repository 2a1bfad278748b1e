//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// Isolation holds while a run's placeholder pod is gone for a moment
// (deleted or evicted mid-run, or replaced by a hand-over). The scheduler
// tries the runs that wait for a node again as soon as the pod is deleted,
// often before the StatefulSet controller has made the new one: the run's
// TaskRun pods must keep another run's placeholder off the node meanwhile
// (their required anti-affinity, placeholder.MemberRepelTerm, which the
// scheduler enforces both ways). Both runs can only use one node here, so
// the waiting run's placeholder is tried on it at every deletion.
func TestIsolationHeldWhileAPlaceholderPodIsRemade(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "iso-gap")
	rec := watchPods(t, runsSharingANode, ns)
	node := cluster.nodes[0]
	const label = "e2e.pipelinerun-affinity.dev/iso-gap"
	labelNode(t, node, label, ns)
	only := &pod.PodTemplate{NodeSelector: map[string]string{label: ns}}

	const first, second = "first", "second"
	createRun(t, newRun(ns, first, oneTask(), runOpts{duration: "20s", podTemplate: only}))
	if got := waitPlaced(t, ns, first, 60*time.Second); got != node {
		t.Fatalf("%s placed on %s, want %s, the only node with label %s", first, got, node, label)
	}
	checkRepelTerm(t, ns, first)
	createRun(t, newRun(ns, second, oneTask(), runOpts{duration: "1s", podTemplate: only}))
	waitRunMessage(t, ns, second, reasonWaiting, 30*time.Second, "anti-affinity")

	for i := 0; i < 3; i++ {
		l, err := placeholderPods(bg(), ns, first)
		if err != nil || len(l) != 1 || l[0].Spec.NodeName != node {
			t.Fatalf("placeholder pods of %s: %d (err %v), want one on %s", first, len(l), err, node)
		}
		old := l[0]
		if err := cluster.kube.CoreV1().Pods(ns).Delete(bg(), old.Name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatalf("deleting placeholder pod %s: %v", old.Name, err)
		}
		waitFor(t, fmt.Sprintf("a new placeholder pod of %s bound to %s", first, node), 30*time.Second, func(ctx context.Context) error {
			l, err := placeholderPods(ctx, ns, first)
			if err != nil {
				return err
			}
			for _, p := range l {
				if p.UID != old.UID && p.Spec.NodeName == node {
					return nil
				}
			}
			return fmt.Errorf("%d placeholder pods of %s, none new on %s", len(l), first, node)
		})
		t.Logf("deletion %d: %s's placeholder pod %s made again on %s", i+1, first, old.Name, node)
	}
	if getRun(t, ns, first).IsDone() {
		t.Fatalf("test premise broken: %s finished before its placeholder pod was deleted three times; lengthen its task", first)
	}
	if bound := holderBoundAt(rec, second); !bound.IsZero() {
		t.Errorf("%s's placeholder was bound at %s while %s still ran on %s", second, bound.Format(time.RFC3339Nano), first, node)
	}

	waitRunSucceeded(t, ns, first, 90*time.Second)
	waitRunSucceeded(t, ns, second, 60*time.Second)
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("isolation violated: %v", v)
	}
}

// checkRepelTerm checks that the run's TaskRun pods carry a required
// anti-affinity term that selects other runs' placeholders but not their
// own run's.
func checkRepelTerm(t *testing.T, ns, run string) {
	t.Helper()
	pods, err := taskRunPods(bg(), ns, run)
	if err != nil || len(pods) == 0 {
		t.Fatalf("TaskRun pods of %s: %d (err %v)", run, len(pods), err)
	}
	for _, p := range pods {
		own := map[string]string{labelComponent: componentHolder, labelInstance: p.Labels[labelMember]}
		other := map[string]string{labelComponent: componentHolder, labelInstance: "placeholder-other-0123456789"}
		var terms []corev1.PodAffinityTerm
		if a := p.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
			terms = a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		}
		found := false
		for _, term := range terms {
			sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
			if err != nil {
				t.Fatalf("pod %s: anti-affinity selector %v: %v", p.Name, term.LabelSelector, err)
			}
			found = found || sel.Matches(labels.Set(other)) && !sel.Matches(labels.Set(own))
		}
		if !found {
			t.Errorf("TaskRun pod %s has no required anti-affinity term to other runs' placeholders: %+v", p.Name, terms)
		}
	}
}

// runsSharingANode is an invariant: no node holds pods of two runs at
// once, counting each run's bound placeholder pods and its TaskRun pods
// still running.
func runsSharingANode(live []*corev1.Pod) string {
	return nodesOfTwoRuns(live, func(p *corev1.Pod) string {
		if key := holderKey(p); key != "" || p.Labels[labelMember] == "" {
			return key
		}
		return p.Namespace + "/" + p.Labels[labelMember]
	})
}
