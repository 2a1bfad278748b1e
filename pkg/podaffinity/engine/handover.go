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
	"fmt"
	"sort"
	"strings"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// follow sizes a bound placeholder pod to what the run's unfinished tasks
// still need beyond what its running and starting tasks hold (demand.Held).
// Before tasks start it shrinks, and they start only once the node reports
// the smaller size; as tasks finish it grows back, where the node resizes
// pods in place. It never grows while tasks start, nor past what the node
// has allocated to it then, so a grow the node defers cannot hold up the
// run's own pods.
//
// sts and spec are the run's placeholder StatefulSet and its spec, pinned to
// the node.
func (e *Engine) follow(ctx context.Context, s Settings, run *v1.PipelineRun, sts *appsv1.StatefulSet, spec placeholder.Spec, p *corev1.Pod, tasks []demand.Task, limitRanges []*corev1.LimitRange) (Placement, error) {
	name := sts.Name
	node := p.Spec.NodeName
	starting := demand.AnyStarting(tasks)
	have := placeholder.Requests(&p.Spec)
	want := placeholder.WithinLimitRanges(placeholder.TokenRequests(), limitRanges)
	if s.Config.Reservation() == paconfig.ReservationReserve {
		want = placeholder.WithinLimitRanges(demand.WithFloor(demand.Held(tasks), want), limitRanges)
	}
	if fixed := fixedExcess(have, want); starting && len(fixed) > 0 {
		// Tasks that start need some of what the placeholder holds of a
		// resource no node resizes in place (ephemeral storage, extended
		// resources): hand it over by replacing the pod with one pinned to
		// the node that holds what later tasks still need (see
		// replacement). Once that pod is bound, the template goes back to
		// the token size.
		spec.Requests = replacement(have, want, tasks)
		if err := e.updateTemplate(ctx, sts, spec, nil); err != nil {
			return Placement{}, err
		}
		if err := e.deletePod(ctx, p, false); err != nil {
			return Placement{}, err
		}
		e.Metrics.Handover(ctx)
		event(ctx, run, corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
			"Placeholder %s handed %s of its reservation on node %s over to the PipelineRun's pods (%s) by replacing its pod with one that holds %s: %s cannot be resized in place",
			name, formatResources(subtract(have, spec.Requests)), node, startingNames(tasks), formatResources(spec.Requests), strings.Join(fixed, ", ")))
		return Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods: replacing placeholder pod %s (%s cannot be resized in place)", node, p.Name, strings.Join(fixed, ", "))}, nil
	}
	// Only CPU and memory are resized in place; the rest stays as it is.
	want = resizable(want, have)
	if starting {
		want = atMost(want, allocated(p))
	}

	if !sameRequests(want, have) {
		grows := exceeds(want, have)
		if !containerStarted(p) && reportedResources(p) == nil {
			// A kubelet admits a pod at its spec's size and reports its
			// container's resources once it has started it, and a
			// ResourceQuota recounts a pod only when those reported
			// resources change: a pod resized before its container starts
			// can stay charged at its old size until the quota's next full
			// resync (minutes), refusing the very TaskRun pods the shrink
			// makes room for. Resize a started container only.
			return e.awaitStart(ctx, run, name, p, node, tasks)
		}
		if grows && reportedResources(p) == nil {
			// The node does not resize pods in place: growing would mean a new,
			// larger pod that might not fit any more. Keep what is held.
			return Placement{Node: node, Ready: true}, nil
		}
		inPlace, err := e.resize(ctx, p, want, !grows)
		if err != nil {
			return Placement{}, err
		}
		switch {
		case grows && inPlace:
			e.Metrics.Restore(ctx)
			event(ctx, run, corev1.EventTypeNormal, EventReservationRestored, fmt.Sprintf(
				"Placeholder %s holds %s on node %s again for the PipelineRun's later tasks (was %s)", name, formatResources(want), node, formatResources(have)))
		case !grows:
			e.Metrics.Handover(ctx)
			how := "in place"
			if !inPlace {
				how = "by replacing its pod with a token pod pinned to the node"
			}
			event(ctx, run, corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
				"Placeholder %s handed %s of its reservation on node %s over to the PipelineRun's pods (%s), %s",
				name, formatResources(subtract(have, want)), node, startingNames(tasks), how))
		}
		if !starting {
			return Placement{Node: node, Ready: true}, nil
		}
		// Tasks start once the node has applied the new size.
		return Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods", node)}, nil
	}
	if starting && shrinking(p) {
		p, err := e.withResizeRecord(ctx, p)
		if err != nil {
			return Placement{}, err
		}
		now := e.Clock.Now()
		if why := resizeStuck(p, now); why != "" {
			// The node will never apply it (a static CPU or memory manager
			// keeps Guaranteed pods at their size, say), or not in time.
			return e.replaceStuck(ctx, run, name, p, node, tasks, why)
		}
		// The kubelet has not applied the shrink yet: until it has, the
		// scheduler still counts the reservation on the node. The pod's
		// update brings the run back once it has; the run is also checked
		// again when the shrink would count as stuck, a moment no event
		// marks.
		return Placement{Node: node, Reason: ReasonHandingOver, RequeueAfter: resizeRecheck(p, now), Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods: waiting for the node to apply it", node)}, nil
	}
	return Placement{Node: node, Ready: true}, nil
}

// awaitStart is follow's step for a bound placeholder pod that should
// change size but whose container the node has not started yet: nothing
// to do while no task starts; otherwise the tasks that start wait for the
// node to start it (the pod's update brings the run back), for at most
// resizeLimit after the pod's creation, after which the pod is replaced
// with a token pod pinned to the node.
func (e *Engine) awaitStart(ctx context.Context, run *v1.PipelineRun, name string, p *corev1.Pod, node string, tasks []demand.Task) (Placement, error) {
	if !demand.AnyStarting(tasks) {
		return Placement{Node: node, Ready: true}, nil
	}
	now := e.Clock.Now()
	if why := resizeStuck(p, now); why != "" {
		return e.replaceStuck(ctx, run, name, p, node, tasks, why)
	}
	return Placement{Node: node, Reason: ReasonHandingOver, RequeueAfter: resizeRecheck(p, now), Message: fmt.Sprintf(
		"Handing the reservation on node %s over to the PipelineRun's pods: waiting for the node to start placeholder pod %s, to shrink it", node, p.Name)}, nil
}

// withResizeRecord returns p, waiting for the node to apply a shrink, with
// the managed fields that say when the shrink was asked (resizeAsked),
// read from the API server when the cached copy lacks them (Tekton's pod
// informer drops managed fields from v1.15 on): the shrink's bound counts
// from them. Only such a wait reads the pod; a read error is an error.
func (e *Engine) withResizeRecord(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	if _, ok := resizeAsked(p); ok {
		return p, nil
	}
	live, err := e.KubeClient.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("reading placeholder pod %s/%s for when its resize was asked: %w", p.Namespace, p.Name, err)
	case live.UID != p.UID:
		return p, nil
	}
	out := p.DeepCopy()
	out.ManagedFields = live.ManagedFields
	return out, nil
}

// replaceStuck hands the reservation over by replacing placeholder pod p
// (of StatefulSet name), which the node will not resize in time (why),
// with a token pod pinned to the node. The run's event says why: the wait
// for the node leaves no other trace on the run.
func (e *Engine) replaceStuck(ctx context.Context, run *v1.PipelineRun, name string, p *corev1.Pod, node string, tasks []demand.Task, why string) (Placement, error) {
	if err := e.deletePod(ctx, p, false); err != nil {
		return Placement{}, err
	}
	e.Metrics.Handover(ctx)
	event(ctx, run, corev1.EventTypeNormal, EventReservationHandedOver, fmt.Sprintf(
		"Placeholder %s handed its reservation on node %s over to the PipelineRun's pods (%s) by replacing its pod %s with a token pod pinned to the node: the node cannot resize it in place (%s)",
		name, node, startingNames(tasks), p.Name, why))
	return Placement{Node: node, Reason: ReasonHandingOver, HandOverBegun: true, Message: fmt.Sprintf(
		"Handing the reservation on node %s over to the PipelineRun's pods: the node cannot resize placeholder pod %s in place (%s); replacing it with a token pod", node, p.Name, why)}, nil
}

// replacement is what a placeholder pod replaced during a hand-over holds:
// CPU and memory as want has them (they grow back in place later); of every
// other resource, which can never grow back, the peak of the tasks that
// have not started, as far as the room the old pod leaves beside the tasks
// that start allows, so that the new pod fits where the old one was.
func replacement(have, want corev1.ResourceList, tasks []demand.Task) corev1.ResourceList {
	var waiting, starting []demand.Task
	for _, t := range tasks {
		switch t.State {
		case demand.Waiting:
			waiting = append(waiting, t)
		case demand.Starting:
			starting = append(starting, t)
		}
	}
	later, now := demand.Peak(waiting), demand.Peak(starting)
	out := atMost(want, have)
	for name, held := range have {
		if inPlace(name) {
			continue
		}
		room := held.DeepCopy()
		room.Sub(now[name])
		q := later[name].DeepCopy()
		if q.Cmp(room) > 0 {
			q = room
		}
		if floor, ok := want[name]; ok && q.Cmp(floor) < 0 {
			q = floor
		}
		if q.Sign() > 0 {
			out[name] = q
		} else {
			delete(out, name)
		}
	}
	return out
}

// shrinking reports whether the node still gives the placeholder container
// more than its spec asks for: a shrink it has not applied yet, during which
// the scheduler still counts the larger size. A grow the node has deferred
// is not shrinking: nothing waits for it. A node that reports no container
// resources for a running container (no in-place resize support) has
// nothing to apply. But a kubelet reports a container's resources only once
// it has started, and holds the pod at the size it admitted it with until
// then: a pod resized since it was created (its generation counts spec
// changes) whose container has not started yet is shrinking. (An API server
// that does not count pods' generations leaves it 0: nothing is waited for
// there.)
func shrinking(p *corev1.Pod) bool {
	if r := reportedResources(p); r == nil || r.Requests == nil {
		return p.Generation > 1 && !containerStarted(p)
	}
	return exceeds(allocated(p), placeholder.Requests(&p.Spec))
}

// containerStarted reports whether the node has started the placeholder
// container (it runs, or ran and stopped).
func containerStarted(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == placeholder.ContainerName {
			return cs.State.Running != nil || cs.State.Terminated != nil
		}
	}
	return false
}

// reportedResources returns the placeholder container's resources as the
// node reports them, as kubelets that resize pods in place do, or nil.
func reportedResources(p *corev1.Pod) *corev1.ResourceRequirements {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == placeholder.ContainerName {
			return cs.Resources
		}
	}
	return nil
}

// allocated returns what the node has given the placeholder container: the
// requests it reports, or the spec's requests when it reports none.
func allocated(p *corev1.Pod) corev1.ResourceList {
	if r := reportedResources(p); r != nil && r.Requests != nil {
		return r.Requests
	}
	return placeholder.Requests(&p.Spec)
}

// atMost returns a with every resource capped at b's amount, where b has it.
func atMost(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		if limit, ok := b[name]; ok && limit.Cmp(q) < 0 {
			q = limit
		}
		out[name] = q.DeepCopy()
	}
	return out
}

// exceeds reports whether a asks more than b of some resource; a resource
// b lacks counts as zero.
func exceeds(a, b corev1.ResourceList) bool {
	for name, q := range a {
		if q.Cmp(b[name]) > 0 {
			return true
		}
	}
	return false
}

// subtract returns what a has beyond b, per resource.
func subtract(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		d := q.DeepCopy()
		if other, ok := b[name]; ok {
			d.Sub(other)
		}
		if d.Sign() > 0 {
			out[name] = d
		}
	}
	return out
}

// startingNames lists the tasks that start now, or says "running tasks".
func startingNames(tasks []demand.Task) string {
	var names []string
	for _, t := range tasks {
		if t.State == demand.Starting {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return "running tasks"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
