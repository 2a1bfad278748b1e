//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// A placeholder shrink the node does not apply. The kwok stage
// pod-resize-refused answers a resize of a placeholder pod annotated
// annotationResize as kubelet v1.35 does: condition PodResizePending with
// reason Infeasible or Deferred and the kubelet's message, the old size
// still reported; any other value leaves the resize unanswered, as a
// kubelet that never saw it. The docs promise (the reservation follows the
// run): a shrink reported Infeasible is handed over at once by replacing
// the placeholder pod with a token pod pinned to the node; one left pending
// (or in progress) for a minute, or neither applied nor marked a minute
// after the engine asked it, the same way; every such shrink is looked at
// again when its bound runs out, even if the node never updates the pod.
// The task starts with the shrink, and its pod, which does not fit beside
// the placeholder's old size, is bound only once the replacement has
// freed the room.

// annotationResize selects how the kwok node answers a resize of the
// placeholder pod that carries it (hack/kwok/stages.yaml).
const annotationResize = "pipelinerun-affinity.test/resize"

// resizeLimit is the engine's bound on a shrink the node has not applied
// (engine.resizeLimit).
const resizeLimit = time.Minute

func TestReliabilityResizeInfeasible(t *testing.T) {
	r := refusedShrink(t, "Infeasible")
	since := r.condition(t, "Infeasible").LastTransitionTime.Time
	r.checkEvent(t, `PodResizePending (Infeasible): Resize is infeasible for Guaranteed Pods alongside CPU Manager policy "static"`)
	// At once: nothing is waited for.
	if gone := r.deletedAt(t); gone.Sub(since) >= resizeLimit {
		t.Errorf("the placeholder pod the node cannot shrink was deleted at %s, %s after Infeasible: want at once", gone.Format(time.RFC3339), gone.Sub(since))
	}
	r.checkOutcome(t)
}

func TestReliabilityResizeDeferred(t *testing.T) {
	r := refusedShrink(t, "Deferred")
	since := r.condition(t, "Deferred").LastTransitionTime.Time
	r.checkEvent(t, "PodResizePending (Deferred): Node didn't have enough resource: cpu", ", for 1m")
	if gone := r.deletedAt(t); gone.Before(since.Add(resizeLimit)) {
		t.Errorf("the placeholder pod whose shrink is Deferred since %s was deleted at %s: want no sooner than %s later", since.Format(time.RFC3339), gone.Format(time.RFC3339), resizeLimit)
	}
	r.checkOutcome(t)
}

// The node neither applies the shrink nor marks it: only the pod's managed
// fields, which the API server stamps when the engine writes pods/resize,
// say since when the tasks wait. No later event of the pod comes.
func TestReliabilityResizeUnanswered(t *testing.T) {
	r := refusedShrink(t, "Ignored")
	old := r.last(r.old)
	for _, c := range old.Status.Conditions {
		if c.Type == "PodResizePending" || c.Type == "PodResizeInProgress" {
			t.Errorf("the kwok node marked the resize it should ignore: %s=%s (%s)", c.Type, c.Status, c.Reason)
		}
	}
	var since time.Time
	for _, f := range old.ManagedFields {
		if f.Subresource == "resize" && f.Time != nil && f.Time.After(since) {
			since = f.Time.Time
		}
	}
	if since.IsZero() {
		t.Fatalf("placeholder pod %s has no managed fields entry of the resize subresource: %+v", old.Name, old.ManagedFields)
	}
	r.checkEvent(t, "its shrink, asked 1m", "is neither applied nor marked pending or in progress by the node")
	if gone := r.deletedAt(t); gone.Before(since.Add(resizeLimit)) {
		t.Errorf("the placeholder pod whose shrink was asked at %s was deleted at %s: want no sooner than %s later", since.Format(time.RFC3339), gone.Format(time.RFC3339), resizeLimit)
	}
	r.checkOutcome(t)
}

// refused is a run whose placeholder pod's first shrink the node answers
// by mode, and what was seen of its placeholder pods.
type refused struct {
	ns, run, node string
	old           types.UID
	pods          *podHistory
}

// refusedShrink runs a one-task pipeline (3 CPU, on 4-CPU nodes: its pod
// does not fit beside the placeholder until the node has applied the
// shrink) whose placeholder pod's node answers its shrink by mode. The pod is annotated while it cannot be
// scheduled yet (the run's podTemplate selects a label no node has), then a
// node gets the label: no resize can come before the annotation. It waits
// until the placeholder pod is bound and the engine has asked the shrink.
func refusedShrink(t *testing.T, mode string) *refused {
	t.Helper()
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "resize-"+strings.ToLower(mode))
	r := &refused{ns: ns, run: "shrink", node: cluster.nodes[0], pods: watchPlaceholderPods(t, ns)}
	const label = "e2e.pipelinerun-affinity.dev/resize"
	createRun(t, newRun(ns, r.run, pipelineSpec(taskDef{name: "work", cpu: "3"}),
		runOpts{duration: "1s", podTemplate: &pod.PodTemplate{NodeSelector: map[string]string{label: ns}}}))

	var name string
	waitFor(t, "an unscheduled placeholder pod", 60*time.Second, func(ctx context.Context) error {
		l, err := placeholderPods(ctx, ns, r.run)
		if err != nil {
			return err
		}
		if len(l) != 1 {
			return fmt.Errorf("%d placeholder pods", len(l))
		}
		if l[0].Spec.NodeName != "" {
			return fmt.Errorf("placeholder pod %s bound to %s before any node has label %s", l[0].Name, l[0].Spec.NodeName, label)
		}
		name, r.old = l[0].Name, l[0].UID
		return nil
	})
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, annotationResize, mode)
	if _, err := cluster.kube.CoreV1().Pods(ns).Patch(bg(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating placeholder pod %s: %v", name, err)
	}
	labelNode(t, r.node, label, ns)
	waitFor(t, "the engine to ask the placeholder pod's shrink", 60*time.Second, func(context.Context) error {
		p := r.last(r.old)
		switch {
		case p == nil:
			return fmt.Errorf("no placeholder pod seen")
		case p.Spec.NodeName != r.node:
			return fmt.Errorf("placeholder pod %s on node %q, not %s", p.Name, p.Spec.NodeName, r.node)
		case !shrinkAsked(p):
			return fmt.Errorf("placeholder pod %s on %s: no shrink asked yet", p.Name, p.Spec.NodeName)
		}
		return nil
	})
	t.Logf("placeholder pod %s on %s: shrink asked (%s)", name, r.node, mode)
	return r
}

// shrinkAsked reports whether p's spec asks less CPU than its node reports.
func shrinkAsked(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Resources == nil || len(p.Spec.Containers) == 0 {
			continue
		}
		spec := p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		reported := cs.Resources.Requests[corev1.ResourceCPU]
		return spec.Cmp(reported) < 0
	}
	return false
}

// condition waits for the old placeholder pod's PodResizePending condition
// with reason and returns it.
func (r *refused) condition(t *testing.T, reason string) corev1.PodCondition {
	t.Helper()
	var found corev1.PodCondition
	waitFor(t, "PodResizePending ("+reason+") on the placeholder pod", 30*time.Second, func(context.Context) error {
		p := r.last(r.old)
		if p == nil {
			return fmt.Errorf("no placeholder pod seen")
		}
		for _, c := range p.Status.Conditions {
			if c.Type == "PodResizePending" && c.Status == corev1.ConditionTrue && c.Reason == reason {
				found = c
				return nil
			}
		}
		return fmt.Errorf("placeholder pod %s conditions: %v", p.Name, p.Status.Conditions)
	})
	t.Logf("node %s: PodResizePending (%s) since %s: %s", r.node, reason, found.LastTransitionTime.Format(time.RFC3339), found.Message)
	return found
}

// checkEvent waits for the run's ReservationHandedOver event of the
// replaced placeholder pod and checks that it names the pod, the node and
// every part of why.
func (r *refused) checkEvent(t *testing.T, why ...string) {
	t.Helper()
	var msg string
	waitFor(t, "the event of the placeholder pod's replacement", resizeLimit+90*time.Second, func(context.Context) error {
		evs := objectEvents(r.ns, "PipelineRun", r.run, "ReservationHandedOver", "cannot resize it in place")
		if len(evs) == 0 {
			return fmt.Errorf("no ReservationHandedOver event saying the node cannot resize it in place")
		}
		msg = evs[0].Message
		return nil
	})
	t.Logf("event: %s", msg)
	for _, part := range append([]string{"on node " + r.node, "with a token pod pinned to the node", r.last(r.old).Name}, why...) {
		if !strings.Contains(msg, part) {
			t.Errorf("ReservationHandedOver event %q does not mention %q", msg, part)
		}
	}
}

// deletedAt returns when the old placeholder pod's deletion was asked
// (its deletionTimestamp is that time plus its grace period), to the
// second.
func (r *refused) deletedAt(t *testing.T) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, "the old placeholder pod to be deleted", 30*time.Second, func(context.Context) error {
		p := r.last(r.old)
		if p == nil || p.DeletionTimestamp == nil {
			return fmt.Errorf("the old placeholder pod is not being deleted")
		}
		at = p.DeletionTimestamp.Time
		if p.DeletionGracePeriodSeconds != nil {
			at = at.Add(-time.Duration(*p.DeletionGracePeriodSeconds) * time.Second)
		}
		return nil
	})
	return at
}

// checkOutcome checks that the run succeeds on the node, on a new
// placeholder pod there, and that its TaskRun pod was bound only once the
// old placeholder pod was deleted: the scheduler never counted the task
// and the room the node still gave the placeholder together.
func (r *refused) checkOutcome(t *testing.T) {
	t.Helper()
	gone := r.deletedAt(t)
	waitRunSucceeded(t, r.ns, r.run, 2*time.Minute)
	pods := mustTaskRunPods(t, r.ns, r.run)
	for _, p := range pods {
		if p.Spec.NodeName != r.node {
			t.Errorf("TaskRun pod %s ran on %s, want %s", p.Name, p.Spec.NodeName, r.node)
		}
		if bound := scheduledAt(p); bound.IsZero() || bound.Before(gone) {
			t.Errorf("TaskRun pod %s bound at %s, before the placeholder pod that held its room was deleted (%s)",
				p.Name, bound.Format(time.RFC3339), gone.Format(time.RFC3339))
		}
	}
	if len(pods) != 1 {
		t.Errorf("%d TaskRun pods, want 1", len(pods))
	}
	replaced := false
	for _, p := range r.pods.all() {
		if p.UID != r.old && p.Spec.NodeName == r.node {
			replaced = true
		}
		if p.UID != r.old && p.Spec.NodeName != "" && p.Spec.NodeName != r.node {
			t.Errorf("new placeholder pod %s on %s, want %s", p.Name, p.Spec.NodeName, r.node)
		}
	}
	if !replaced {
		t.Errorf("no new placeholder pod on %s after the old one was deleted", r.node)
	}
}

func (r *refused) last(uid types.UID) *corev1.Pod { return r.pods.get(uid) }

// scheduledAt is when p was bound to its node (its PodScheduled condition
// turned true, to the second), or zero.
func scheduledAt(p corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}

// podHistory keeps the last state seen of every placeholder pod of a
// namespace, deleted ones included.
type podHistory struct {
	mu    sync.Mutex
	last  map[types.UID]*corev1.Pod
	order []types.UID
}

// watchPlaceholderPods starts a podHistory of ns; it stops at test cleanup.
func watchPlaceholderPods(t *testing.T, ns string) *podHistory {
	t.Helper()
	h := &podHistory{last: map[types.UID]*corev1.Pod{}}
	stop := make(chan struct{})
	factory := informers.NewSharedInformerFactoryWithOptions(cluster.kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = placeholderSelector }))
	inf := factory.Core().V1().Pods().Informer()
	observe := func(obj interface{}) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		p, ok := obj.(*corev1.Pod)
		if !ok {
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, seen := h.last[p.UID]; !seen {
			h.order = append(h.order, p.UID)
		}
		h.last[p.UID] = p.DeepCopy()
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj interface{}) { observe(obj) },
		DeleteFunc: observe,
	}); err != nil {
		t.Fatalf("placeholder pod informer: %v", err)
	}
	factory.Start(stop)
	t.Cleanup(func() { close(stop) })
	for _, ok := range factory.WaitForCacheSync(stop) {
		if !ok {
			t.Fatalf("placeholder pod informer did not sync")
		}
	}
	return h
}

func (h *podHistory) get(uid types.UID) *corev1.Pod {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last[uid]
}

// all returns the last state of every pod seen, in order of first sight.
func (h *podHistory) all() []*corev1.Pod {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(h.order))
	for _, uid := range h.order {
		out = append(out, h.last[uid])
	}
	return out
}
