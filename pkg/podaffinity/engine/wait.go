/*
Copyright 2026 The Tekton Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// createGrace is how long the engine lets the StatefulSet controller create
// the placeholder pod before it asks the API server why there is none.
const createGrace = 5 * time.Second

// diagnoseEvery is how often a run whose placeholder pod cannot be created
// asks the API server again, so that its condition follows the cause (a
// quota that frees up, say) between the events that re-queue it.
const diagnoseEvery = 30 * time.Second

// waitStart is when the run's current wait for a node began, so that the
// bound counts only that wait: never the time a run spent Pending or
// before the engine first saw it, nor the time it ran on a node it left.
//
//   - A move or a new choice of node records its time on the StatefulSet
//     (placeholder.WaitingSinceAnnotation), removed again once placed.
//   - Otherwise, an unpinned StatefulSet waits since it was created.
//   - A pinned one waits since its pod was created (the pod came back
//     after an eviction, say); ok is false when there is no pod either
//     (or only one that is going), and the caller records the start of
//     that wait (decideNoPod, decideTerminating).
func waitStart(sts *appsv1.StatefulSet, pinned string, p *corev1.Pod) (since time.Time, ok bool) {
	if t, found := annotatedTime(sts, placeholder.WaitingSinceAnnotation); found {
		return t, true
	}
	switch {
	case pinned == "":
		return sts.CreationTimestamp.Time, true
	case p != nil:
		return p.CreationTimestamp.Time, true
	}
	return time.Time{}, false
}

// waitBegan is when the run of sts began to wait as far as sts tells: the
// start waitStart gives an unpinned StatefulSet (the run's last move or
// new choice of node, or else the StatefulSet's creation).
func waitBegan(sts *appsv1.StatefulSet) time.Time {
	since, _ := waitStart(sts, "", nil)
	return since
}

// boundedWait reports, at now, a wait that began at since with msg, or
// the run's failure once it has waited longer than the bound
// (NodeWaitTimeout). It asks to be called again when the bound runs out,
// or after every, if that comes first.
func boundedWait(s Settings, now, since time.Time, msg string, every time.Duration) Placement {
	bound := s.Config.MaxNodeWait()
	waited := now.Sub(since)
	if bound > 0 && waited >= bound {
		return Placement{Failed: true, Reason: ReasonNodeWaitTimeout, Message: fmt.Sprintf(
			"PipelineRun waited %s for a node, longer than %s=%s. Last cause: %s",
			waited.Round(time.Second), paconfig.MaxNodeWaitKey, bound, msg)}
	}
	after := every
	if bound > 0 {
		after = sooner(after, bound-waited)
	}
	return waiting(ReasonWaitingForNode, msg, after)
}

// timedOut reports whether p is the failure of a run that waited too long.
func timedOut(p Placement) bool {
	return p.Failed && p.Reason == ReasonNodeWaitTimeout
}

// waitBounded is boundedWait now, counting a run that waited too long.
func (e *Engine) waitBounded(s Settings, since time.Time, msg string, every time.Duration) Placement {
	p := boundedWait(s, e.Clock.Now(), since, msg, every)
	if timedOut(p) {
		e.Metrics.Placement(context.Background(), metrics.OutcomeWaitTimeout)
	}
	return p
}

// unscheduledWait reports a placeholder pod that is not bound yet, with the
// scheduler's message, and fails the run once it has waited too long. When
// the pod asks more of a resource than any of nodes (the cluster's, read
// when the scheduler has a message) can allocate, the message says so
// first: no run finishing frees such a node.
func unscheduledWait(s Settings, now time.Time, p *corev1.Pod, since time.Time, nodes []*corev1.Node) Placement {
	return boundedWait(s, now, since, unscheduledMessage(p, nodes), 0)
}

// QuoteUnschedulable and QuoteScheduler end the engine's own words in the
// message of a run whose placeholder pod the scheduler found no node for:
// all that follows the first of them is the scheduler's message about the
// pod, which it rewrites on every attempt (its counts of nodes by reason
// come and go as other runs' pods start and end).
const (
	QuoteUnschedulable = " is unschedulable: "
	QuoteScheduler     = ". Scheduler: "
)

// unscheduledMessage is unscheduledWait's message.
func unscheduledMessage(p *corev1.Pod, nodes []*corev1.Node) string {
	msg := fmt.Sprintf("Waiting for a node: placeholder pod %s is not scheduled yet", p.Name)
	if m := schedulingMessage(p); m != "" {
		msg = "Waiting for a node: placeholder pod " + p.Name + QuoteUnschedulable + m
		if short := shortfall(placeholder.Requests(&p.Spec), nodes); short != "" {
			msg = fmt.Sprintf("Waiting for a node: placeholder pod %s asks for more than any node can hold (%s): only a larger node, added by a cluster autoscaler, can take the PipelineRun%s%s", p.Name, short, QuoteScheduler, m)
		}
	}
	return msg
}

// unschedulable reports whether the scheduler tried p and found no node.
func unschedulable(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// schedulingMessage returns the scheduler's last message about p, or "".
func schedulingMessage(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

// shortfall names each resource of requests that exceeds the allocatable
// of every node, with the largest allocatable, or returns "".
func shortfall(requests corev1.ResourceList, nodes []*corev1.Node) string {
	var parts []string
	for _, name := range sortedNames(requests) {
		want := requests[name]
		var most resource.Quantity
		for _, n := range nodes {
			if q, ok := n.Status.Allocatable[name]; ok && q.Cmp(most) > 0 {
				most = q
			}
		}
		if len(nodes) > 0 && want.Cmp(most) > 0 {
			parts = append(parts, fmt.Sprintf("%s=%s, the largest node allocates %s", name, want.String(), most.String()))
		}
	}
	return strings.Join(parts, "; ")
}

// createMessage is what a run says while its StatefulSet has no pod.
func createMessage(sts *appsv1.StatefulSet) string {
	return fmt.Sprintf("Waiting for StatefulSet %s to create placeholder pod %s", sts.Name, placeholder.PodName(sts.Name))
}

// annotate sets an annotation of the StatefulSet to a time, and returns
// the StatefulSet as written.
func (e *Engine) annotate(ctx context.Context, sts *appsv1.StatefulSet, key string, at time.Time) (*appsv1.StatefulSet, error) {
	return e.patchAnnotations(ctx, sts, map[string]any{key: at.UTC().Format(time.RFC3339)})
}

// patchAnnotations merge-patches the StatefulSet's annotations (a nil value
// removes one), records the write, and returns the StatefulSet as written.
func (e *Engine) patchAnnotations(ctx context.Context, sts *appsv1.StatefulSet, annotations map[string]any) (*appsv1.StatefulSet, error) {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return nil, fmt.Errorf("encoding placeholder StatefulSet annotations: %w", err)
	}
	after, err := e.KubeClient.AppsV1().StatefulSets(sts.Namespace).Patch(ctx, sts.Name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		keys := make([]string, 0, len(annotations))
		for k := range annotations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("annotating placeholder StatefulSet %s/%s (%s): %w", sts.Namespace, sts.Name, strings.Join(keys, ", "), err)
	}
	e.own.updated(sts, after, e.Clock.Now())
	e.ownEvents.wrote(after)
	return after, nil
}

// annotatedTime reads a time the engine recorded on the StatefulSet.
func annotatedTime(sts *appsv1.StatefulSet, key string) (time.Time, bool) {
	v, ok := sts.Annotations[key]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// terminationSlack is how long past its deletion deadline a placeholder
// pod may take to terminate before the engine deletes it at once.
const terminationSlack = 10 * time.Second

// terminationWait is the wait, at now, of a run whose placeholder pod
// old is terminating, which the StatefulSet replaces only once it is gone;
// deleteNow says to delete it at once first. On a node that stopped
// working (nodeDown: gone or not ready; cordoned is not enough: the
// kubelet still runs there) or well past its deadline it is deleted at
// once: the kubelet that should confirm it may never come back, and the
// placeholder holds no state. Otherwise the run waits for it, within the
// bound of its wait for a node, which began at since.
//
// A pod the node has finished (failed: evicted by the kubelet, say) holds
// nothing: it is deleted at once too. The message names what preempted or
// evicted the pod, when the pod says.
//
// A pod deleted at once that finalizers still hold is waited for within a
// bound of its own too, counted from its deletion, and the message names
// them (see deletionWait).
func terminationWait(s Settings, now, since time.Time, old *corev1.Pod, nodeDown bool) (placement Placement, deleteNow bool) {
	stuck := finished(old) || (old.DeletionTimestamp != nil && now.Sub(old.DeletionTimestamp.Time) > terminationSlack)
	if old.Spec.NodeName != "" && !stuck {
		stuck = nodeDown
	}
	msg := fmt.Sprintf("Waiting for placeholder pod %s to terminate on node %s", old.Name, old.Spec.NodeName)
	what, why := disruption(old)
	if what != "" {
		msg = fmt.Sprintf("Placeholder pod %s was %s on node %s (%s); waiting for it to go", old.Name, what, old.Spec.NodeName, why)
	}
	then := fmt.Sprintf("it was deleted at once on node %s", old.Spec.NodeName)
	if stuck {
		// Once is enough: a pod deleted at once that is still there is
		// held by finalizers, which another deletion does not remove.
		if !deletedAtOnce(old) {
			deleteNow = true
			then = fmt.Sprintf("it did not terminate on node %s and was deleted at once", old.Spec.NodeName)
		}
		msg = fmt.Sprintf("Placeholder pod %s did not terminate on node %s; deleted it at once", old.Name, old.Spec.NodeName)
		if what != "" {
			msg = fmt.Sprintf("Placeholder pod %s was %s on node %s (%s); deleted it", old.Name, what, old.Spec.NodeName, why)
		}
	}
	if what != "" {
		then = fmt.Sprintf("it was %s on node %s (%s)", what, old.Spec.NodeName, why)
	}
	if heldPod(old, stuck) {
		d := deletingObject("Placeholder pod "+old.Name, old)
		wait := deletionWait(s.Config.MaxNodeWait(), now, d, then+"; the StatefulSet creates it again once it is gone", terminationSlack)
		if wait.Failed {
			return wait, deleteNow
		}
		return boundedWait(s, now, since, wait.Message, wait.RequeueAfter), deleteNow
	}
	return boundedWait(s, now, since, msg, terminationSlack), deleteNow
}
