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

// Package engine is the part of the pod affinity engine that talks to the
// API server: it creates, pins, hands over, moves and deletes the placeholder
// of each handled PipelineRun, and tells the PipelineRun reconciler whether
// the run may start TaskRuns now.
//
// Every call is level-triggered: it reads the world through listers,
// compares it with what the run needs and takes at most one step towards it.
// Any step may fail or crash and be retried.
package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/volumeclaim"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/controller"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/logging"
)

// Condition reasons and event reasons set on handled PipelineRuns.
const (
	// ReasonWaitingForNode: the run's placeholder is not on a node yet; no
	// TaskRun is created until it is.
	ReasonWaitingForNode = "WaitingForNode"
	// ReasonWaitingToMove: the run's node became unusable while some of its
	// pods still run there; the run moves once they finish.
	ReasonWaitingToMove = "WaitingToMove"
	// ReasonHandingOver: the placeholder shrinks to make room for tasks that
	// start now; they are created once the node has applied it.
	ReasonHandingOver = "HandingOverReservation"
	// ReasonNodeWaitTimeout: the run failed because it waited longer than
	// the configured bound for a node.
	ReasonNodeWaitTimeout = "NodeWaitTimeout"
	// ReasonPlaceholderConflict: an object with the placeholder's name exists
	// and belongs to someone else.
	ReasonPlaceholderConflict = "PlaceholderConflict"
	// ReasonConflictingNodeConstraints: the pod templates of the run's tasks
	// ask for nodes that no single node can be.
	ReasonConflictingNodeConstraints = "ConflictingNodeConstraints"
	// ReasonPlaceholderRejected: the API server rejects the placeholder for
	// good (invalid, or forbidden by a LimitRange, Pod Security or an
	// admission policy); the run fails with its message.
	ReasonPlaceholderRejected = "PlaceholderRejected"

	// EventPlaceholderCreated is recorded when a placeholder is created.
	EventPlaceholderCreated = "PlaceholderCreated"
	// EventPlaced is recorded when a run gets its node.
	EventPlaced = "Placed"
	// EventReservationHandedOver is recorded when the placeholder shrinks to
	// make room for the run's TaskRun pods.
	EventReservationHandedOver = "ReservationHandedOver"
	// EventReservationRestored is recorded when the placeholder grows back,
	// after tasks finished, to what later tasks need.
	EventReservationRestored = "ReservationRestored"
	// EventMoving is recorded when a run leaves an unusable node.
	EventMoving = "Moving"
	// EventInvalidLabel is recorded when a run's opt-in label is invalid.
	EventInvalidLabel = "InvalidPodAffinityLabel"
)

// Settings are the engine's inputs from Tekton's configuration.
type Settings struct {
	// Config is the pod affinity section of the feature flags.
	Config paconfig.Config
	// Coschedule is Tekton's "coschedule" feature flag.
	Coschedule string
	// Image is the placeholder's image (Tekton's nop image).
	Image string
	// DefaultTemplate is Tekton's default-affinity-assistant-pod-template.
	DefaultTemplate *pod.AffinityAssistantTemplate
}

// Engine places PipelineRuns. Its listers must be backed by informers that
// see placeholder StatefulSets, placeholder and TaskRun pods, and nodes.
type Engine struct {
	KubeClient   kubernetes.Interface
	StatefulSets appslisters.StatefulSetLister
	Pods         corelisters.PodLister
	Nodes        corelisters.NodeLister
	// LimitRanges, when set, lets the demand include the defaults Tekton
	// applies to steps from the namespace's LimitRanges.
	LimitRanges corelisters.LimitRangeLister
	Clock       clock.PassiveClock
	Metrics     *metrics.Recorder
}

// LimitRangesIn lists the LimitRanges of namespace; none without a lister.
func (e *Engine) LimitRangesIn(namespace string) []*corev1.LimitRange {
	if e.LimitRanges == nil {
		return nil
	}
	list, err := e.LimitRanges.LimitRanges(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return list
}

// Placement is what Place tells the PipelineRun reconciler.
type Placement struct {
	// Node is the run's node, when known.
	Node string
	// Ready is true when TaskRuns, CustomRuns and child PipelineRuns may be created.
	Ready bool
	// Reason and Message explain why the run is not Ready (or why it failed).
	Reason, Message string
	// Failed is true when the run must fail with Reason and Message.
	Failed bool
	// RequeueAfter, when positive, asks for another reconcile after it.
	RequeueAfter time.Duration
}

// Place takes one step towards the run being on a usable node with its
// placeholder holding it, and reports whether the run may start tasks.
// tasks are the run's unfinished tasks (demand.FromFacts): while it looks
// for a node, the placeholder reserves the peak demand of those that have
// not started; once bound, it holds what they need beyond what running and
// starting tasks hold themselves.
func (e *Engine) Place(ctx context.Context, s Settings, run *v1.PipelineRun, t Target, tasks []demand.Task) (Placement, error) {
	if t.Joined {
		return e.placeJoined(run, t)
	}
	logger := logging.FromContext(ctx)
	spec := placeholder.Spec{
		Name:            t.Placeholder,
		Run:             run,
		Isolation:       t.Isolation,
		NamespaceScoped: t.NamespaceScoped,
		Image:           s.Image,
		DefaultTemplate: s.DefaultTemplate,
		ClaimNames:      placeholder.ClaimNames(run, claimNameForTemplate(run)),
	}
	// What the placeholder asks for while it looks for a node. Computed only
	// when needed: most reconciles find the run placed.
	limitRanges := e.LimitRangesIn(run.Namespace)
	reservation := func() corev1.ResourceList {
		if s.Config.Reservation() != paconfig.ReservationReserve {
			return placeholder.WithinLimitRanges(placeholder.TokenRequests(), limitRanges)
		}
		return placeholder.WithinLimitRanges(demand.WithFloor(demand.ToPlace(tasks), placeholder.TokenRequests()), limitRanges)
	}
	token := func() corev1.ResourceList {
		return placeholder.WithinLimitRanges(placeholder.TokenRequests(), limitRanges)
	}

	sts, err := e.StatefulSets.StatefulSets(run.Namespace).Get(t.Placeholder)
	if apierrors.IsNotFound(err) {
		members := e.members(run.Namespace, t.Placeholder)
		if demand.AllStarted(tasks) && members.started && !members.unbound {
			// Every task has started and every pod is on its node: nothing
			// is left to place. This is also what a reconcile sees when it
			// reads a finishing run from a stale cache after the placeholder
			// was released; recreating it then would only churn.
			return Placement{Ready: true}, nil
		}
		if err := placeholder.CheckConstraints(run); err != nil {
			return Placement{Failed: true, Reason: ReasonConflictingNodeConstraints, Message: err.Error()}, nil
		}
		// Creating the placeholder starts the run's wait for a node: the time
		// a run spent Pending, or before the engine saw it, never counts.
		return e.create(ctx, run, spec, reservation(), token())
	}
	if err != nil {
		return Placement{}, fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, t.Placeholder, err)
	}
	if !metav1.IsControlledBy(sts, run) {
		return Placement{Failed: true, Reason: ReasonPlaceholderConflict, Message: fmt.Sprintf(
			"StatefulSet %s/%s exists and is not controlled by this PipelineRun; delete or rename it", run.Namespace, t.Placeholder)}, nil
	}
	if sts.DeletionTimestamp != nil {
		return waiting(ReasonWaitingForNode, fmt.Sprintf("placeholder StatefulSet %s is being deleted; it is recreated once gone", sts.Name), time.Second), nil
	}

	pinned := placeholder.PinnedNode(&sts.Spec.Template.Spec, run)
	tolerations := sts.Spec.Template.Spec.Tolerations
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(sts.Name))
	if err != nil && !apierrors.IsNotFound(err) {
		return Placement{}, fmt.Errorf("getting placeholder pod: %w", err)
	}
	var terminating *corev1.Pod
	if p != nil && p.DeletionTimestamp != nil {
		terminating, p = p, nil
	}
	current := ""
	if p != nil {
		current = p.Spec.NodeName
	}
	target := current
	if target == "" {
		target = pinned
	}

	// The run's node is unusable: move, unless some of its pods still run there.
	if target != "" {
		why, err := e.unusable(target, tolerations)
		if err != nil {
			return Placement{}, err
		}
		if why != "" {
			active, err := e.activeMemberPods(run.Namespace, t.Placeholder, target)
			if err != nil {
				return Placement{}, err
			}
			if len(active) > 0 && why != nodeGone {
				msg := fmt.Sprintf("Node %s is %s; waiting for %s to finish there before the PipelineRun moves to another node",
					target, why, strings.Join(active, ", "))
				return Placement{Node: target, Reason: ReasonWaitingToMove, Message: msg}, nil
			}
			spec.PinnedNode = ""
			spec.Requests = reservation()
			if err := e.updateTemplate(ctx, sts, spec, ptr.To(e.Clock.Now())); err != nil {
				return Placement{}, err
			}
			if p != nil {
				// At once: a pod on a node that stopped working may never
				// finish terminating, and the StatefulSet recreates it only
				// once it is gone. The placeholder holds no state.
				if err := e.deletePod(ctx, p, true); err != nil {
					return Placement{}, err
				}
			}
			msg := fmt.Sprintf("Node %s is %s; moving the PipelineRun to another node", target, why)
			logger.Infof("PipelineRun %s/%s: %s", run.Namespace, run.Name, msg)
			event(ctx, run, corev1.EventTypeWarning, EventMoving, msg)
			e.Metrics.Placement(ctx, metrics.OutcomeMoved)
			return waiting(ReasonWaitingForNode, msg, 0), nil
		}
	}

	if p == nil {
		if terminating != nil {
			return e.awaitTermination(ctx, s, sts, pinned, terminating)
		}
		return e.noPod(ctx, s, sts, pinned)
	}
	if current == "" {
		if pinned != "" && unschedulable(p) {
			active, err := e.activeMemberPods(run.Namespace, t.Placeholder, pinned)
			if err != nil {
				return Placement{}, err
			}
			if len(active) == 0 {
				// Pinned to a node that no longer fits it (another run took the
				// node during a hand-over, say) and none of the run's pods hold
				// it there: choose again rather than wait forever.
				spec.PinnedNode = ""
				spec.Requests = reservation()
				if err := e.updateTemplate(ctx, sts, spec, ptr.To(e.Clock.Now())); err != nil {
					return Placement{}, err
				}
				if err := e.deletePod(ctx, p, false); err != nil {
					return Placement{}, err
				}
				msg := fmt.Sprintf("Placeholder pod %s cannot return to node %s (%s); choosing another node", p.Name, pinned, schedulingMessage(p))
				event(ctx, run, corev1.EventTypeWarning, EventMoving, msg)
				e.Metrics.Placement(ctx, metrics.OutcomeMoved)
				return waiting(ReasonWaitingForNode, msg, 0), nil
			}
		}
		since, _ := waitStart(sts, pinned, p)
		return e.unscheduled(s, p, since), nil
	}

	// Bound to a usable node. Pin the StatefulSet there (a pod it recreates
	// comes back token-sized on the same node) and size the pod to what the
	// run's later tasks still need.
	spec.PinnedNode = current
	spec.Requests = token()
	if _, waited := sts.Annotations[placeholder.WaitingSinceAnnotation]; waited || pinned != current || !sameRequests(placeholder.Requests(&sts.Spec.Template.Spec), spec.Requests) {
		if err := e.updateTemplate(ctx, sts, spec, nil); err != nil {
			return Placement{}, err
		}
		if pinned != current {
			wait := e.Clock.Since(p.CreationTimestamp.Time)
			e.Metrics.NodeWait(ctx, wait)
			e.Metrics.Placement(ctx, metrics.OutcomePlaced)
			event(ctx, run, corev1.EventTypeNormal, EventPlaced, fmt.Sprintf(
				"All pods of this PipelineRun run on node %s (placeholder %s waited %s for it)", current, sts.Name, wait.Round(time.Millisecond)))
		}
	}
	return e.follow(ctx, s, run, sts.Name, p, tasks, limitRanges)
}

// follow sizes a bound placeholder pod to what the run's unfinished tasks
// still need beyond what its running and starting tasks hold (demand.Held).
// Before tasks start it shrinks, and they start only once the node reports
// the smaller size; as tasks finish it grows back, where the node resizes
// pods in place. It never grows while tasks start, nor past what the node
// has allocated to it then, so a grow the node defers cannot hold up the
// run's own pods.
func (e *Engine) follow(ctx context.Context, s Settings, run *v1.PipelineRun, name string, p *corev1.Pod, tasks []demand.Task, limitRanges []*corev1.LimitRange) (Placement, error) {
	node := p.Spec.NodeName
	starting := demand.AnyStarting(tasks)
	have := placeholder.Requests(&p.Spec)
	want := placeholder.WithinLimitRanges(placeholder.TokenRequests(), limitRanges)
	if s.Config.Reservation() == paconfig.ReservationReserve {
		want = placeholder.WithinLimitRanges(demand.WithFloor(demand.Held(tasks), want), limitRanges)
	}
	// Only CPU and memory are resized in place; the rest stays as it is.
	want = resizable(want, have)
	if starting {
		want = atMost(want, allocated(p))
	}
	// The reason a run gives while it waits for the node to apply a shrink:
	// before its first pod that is part of waiting for a node. Only read on
	// the waiting paths, not on every reconcile of a placed run.
	handingOver := func() string {
		if e.started(run.Namespace, name) {
			return ReasonHandingOver
		}
		return ReasonWaitingForNode
	}

	if !sameRequests(want, have) {
		grows := exceeds(want, have)
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
		return Placement{Node: node, Reason: handingOver(), Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods", node)}, nil
	}
	if starting && shrinking(p) {
		if why := resizeInfeasible(p); why != "" {
			// The node will never apply it (a static CPU or memory manager
			// keeps Guaranteed pods at their size, say): hand over by
			// replacing the pod with a token pod pinned to the node.
			if err := e.deletePod(ctx, p, false); err != nil {
				return Placement{}, err
			}
			return Placement{Node: node, Reason: handingOver(), Message: fmt.Sprintf(
				"Handing the reservation on node %s over to the PipelineRun's pods: the node cannot resize placeholder pod %s in place (%s); replacing it with a token pod", node, p.Name, why)}, nil
		}
		// The kubelet has not applied the shrink yet: until it has, the
		// scheduler still counts the reservation on the node.
		return Placement{Node: node, Reason: handingOver(), Message: fmt.Sprintf(
			"Handing the reservation on node %s over to the PipelineRun's pods: waiting for the node to apply it", node)}, nil
	}
	return Placement{Node: node, Ready: true}, nil
}

// shrinking reports whether the node still gives the placeholder container
// more than its spec asks for: a shrink it has not applied yet, during which
// the scheduler still counts the larger size. A grow the node has deferred
// is not shrinking: nothing waits for it. A node that reports no container
// resources (no in-place resize support) has nothing to apply.
func shrinking(p *corev1.Pod) bool {
	return exceeds(allocated(p), placeholder.Requests(&p.Spec))
}

// Release deletes the run's own placeholder, if it has one. It is called
// when the run is done (succeeded, failed, cancelled or timed out) whatever
// the current configuration, so that turning the feature off never strands a
// placeholder; owner references cover the deletion of the run itself. A
// child PipelineRun never deletes the placeholder it shares: it does not
// control it.
func (e *Engine) Release(ctx context.Context, run *v1.PipelineRun) error {
	name := placeholder.Name(&run.ObjectMeta)
	sts, err := e.StatefulSets.StatefulSets(run.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, name, err)
	}
	if !metav1.IsControlledBy(sts, run) || sts.DeletionTimestamp != nil {
		return nil
	}
	policy := metav1.DeletePropagationBackground
	err = e.KubeClient.AppsV1().StatefulSets(run.Namespace).Delete(ctx, sts.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &sts.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting placeholder StatefulSet %s/%s: %w", run.Namespace, sts.Name, err)
	}
	logging.FromContext(ctx).Infof("Deleted placeholder StatefulSet %s/%s of PipelineRun %s", run.Namespace, sts.Name, run.Name)
	return nil
}

func (e *Engine) create(ctx context.Context, run *v1.PipelineRun, spec placeholder.Spec, reservation, token corev1.ResourceList) (Placement, error) {
	// A placeholder that disappeared mid-run comes back on the node where the
	// run's pods are, if that node is still usable.
	node, err := e.lastMemberNode(run.Namespace, spec.Name, spec)
	if err != nil {
		return Placement{}, err
	}
	spec.PinnedNode = node
	spec.Requests = reservation
	if spec.PinnedNode != "" {
		spec.Requests = token
	}
	sts := placeholder.StatefulSet(spec)
	_, err = e.KubeClient.AppsV1().StatefulSets(run.Namespace).Create(ctx, sts, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
	case rejection(err) == rejectedForGood:
		return Placement{Failed: true, Reason: ReasonPlaceholderRejected, Message: fmt.Sprintf(
			"The API server rejects placeholder StatefulSet %s: %v", spec.Name, err)}, nil
	case quotaExceeded(err):
		return waiting(ReasonWaitingForNode, fmt.Sprintf("Placeholder StatefulSet %s cannot be created yet: %v", spec.Name, err), diagnoseEvery), nil
	default:
		return Placement{}, fmt.Errorf("creating placeholder StatefulSet %s/%s: %w", run.Namespace, spec.Name, err)
	}
	msg := fmt.Sprintf("Created placeholder StatefulSet %s requesting %s", spec.Name, formatResources(spec.Requests))
	if spec.PinnedNode != "" {
		msg = fmt.Sprintf("Recreated placeholder StatefulSet %s on node %s, where the PipelineRun's pods are", spec.Name, spec.PinnedNode)
		e.Metrics.Placement(ctx, metrics.OutcomeRecreated)
	}
	logging.FromContext(ctx).Infof("PipelineRun %s/%s: %s", run.Namespace, run.Name, msg)
	event(ctx, run, corev1.EventTypeNormal, EventPlaceholderCreated, msg)
	return waiting(ReasonWaitingForNode, msg+"; waiting for the scheduler to bind it to a node", 0), nil
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

// placeJoined checks the parent's placeholder for a child PipelineRun.
func (e *Engine) placeJoined(run *v1.PipelineRun, t Target) (Placement, error) {
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(t.Placeholder))
	if err != nil && !apierrors.IsNotFound(err) {
		return Placement{}, fmt.Errorf("getting parent placeholder pod: %w", err)
	}
	// The parent counts the child pipeline's peak as held by the child
	// while it runs; the child starts once the parent's placeholder has
	// made room for it on the node.
	if p == nil || p.DeletionTimestamp != nil || p.Spec.NodeName == "" || shrinking(p) {
		return waiting(ReasonWaitingForNode, fmt.Sprintf("Waiting for the parent PipelineRun's placeholder %s to be placed", t.Placeholder), 0), nil
	}
	why, err := e.unusable(p.Spec.NodeName, p.Spec.Tolerations)
	if err != nil {
		return Placement{}, err
	}
	if why != "" {
		return Placement{Node: p.Spec.NodeName, Reason: ReasonWaitingToMove, Message: fmt.Sprintf(
			"Node %s is %s; waiting for the parent PipelineRun to move", p.Spec.NodeName, why)}, nil
	}
	return Placement{Node: p.Spec.NodeName, Ready: true}, nil
}

// memberPods lists the pods of the run whose placeholder is called name:
// its TaskRun pods and those of its child PipelineRuns.
func (e *Engine) memberPods(namespace, name string) ([]*corev1.Pod, error) {
	return e.Pods.Pods(namespace).List(labels.SelectorFromSet(labels.Set{placeholder.MemberLabelKey: name}))
}

// activeMemberPods lists the run's pods on node that have not finished.
func (e *Engine) activeMemberPods(namespace, name, node string) ([]string, error) {
	pods, err := e.memberPods(namespace, name)
	if err != nil {
		return nil, fmt.Errorf("listing the pods of placeholder %s/%s: %w", namespace, name, err)
	}
	var active []string
	for _, p := range pods {
		if p.Spec.NodeName == node && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			active = append(active, p.Name)
		}
	}
	sort.Strings(active)
	return active, nil
}

// started reports whether the run has created any pod under its placeholder.
func (e *Engine) started(namespace, name string) bool {
	return e.members(namespace, name).started
}

// memberState is what the engine needs to know of a run's pods at once.
type memberState struct {
	// started: the run has created some pod under its placeholder.
	started bool
	// unbound: some pod of the run waits for the scheduler, and so needs
	// the placeholder to land. Also true when the pods cannot be listed.
	unbound bool
}

// members reads the run's pods once from the cache.
func (e *Engine) members(namespace, name string) memberState {
	pods, err := e.memberPods(namespace, name)
	if err != nil {
		return memberState{unbound: true}
	}
	state := memberState{started: len(pods) > 0}
	for _, p := range pods {
		if p.Spec.NodeName == "" && p.DeletionTimestamp == nil {
			state.unbound = true
		}
	}
	return state
}

// lastMemberNode returns the usable node of the run's most recent pod, or "".
func (e *Engine) lastMemberNode(namespace, name string, spec placeholder.Spec) (string, error) {
	pods, err := e.memberPods(namespace, name)
	if err != nil {
		return "", fmt.Errorf("listing the pods of placeholder %s/%s: %w", namespace, name, err)
	}
	var latest *corev1.Pod
	for _, p := range pods {
		if p.Spec.NodeName == "" {
			continue
		}
		if latest == nil || p.CreationTimestamp.After(latest.CreationTimestamp.Time) {
			latest = p
		}
	}
	if latest == nil {
		return "", nil
	}
	why, err := e.unusable(latest.Spec.NodeName, placeholder.StatefulSet(spec).Spec.Template.Spec.Tolerations)
	if err != nil || why != "" {
		return "", err
	}
	return latest.Spec.NodeName, nil
}

// updateTemplate writes the placement fields (pin and requests) of spec into
// the StatefulSet's pod template, leaving every other field as the API
// server stored it. It does nothing when they already match.
//
// waitingSince, when set, records on the StatefulSet that the run's wait
// for a node starts then (a move); when nil the record is removed (placed).
// Both go into the same patch as the pin, so that a crash between two
// writes never leaves a move without the start of its wait.
func (e *Engine) updateTemplate(ctx context.Context, sts *appsv1.StatefulSet, spec placeholder.Spec, waitingSince *time.Time) error {
	desired := placeholder.StatefulSet(spec).Spec.Template.Spec
	current := &sts.Spec.Template.Spec
	_, waiting := sts.Annotations[placeholder.WaitingSinceAnnotation]
	if placeholder.PinnedNode(current, spec.Run) == spec.PinnedNode && sameRequests(placeholder.Requests(current), placeholder.Requests(&desired)) &&
		waiting == (waitingSince != nil) {
		return nil
	}
	annotations := map[string]string{}
	for k, v := range sts.Annotations {
		annotations[k] = v
	}
	delete(annotations, placeholder.WaitingSinceAnnotation)
	if waitingSince != nil {
		annotations[placeholder.WaitingSinceAnnotation] = waitingSince.UTC().Format(time.RFC3339)
	}
	// A JSON patch of exactly these fields, without a resourceVersion: the
	// StatefulSet controller updates the object's status all the time, and an
	// Update of a cached copy would conflict with it. The "test" makes sure
	// the container index still names the placeholder container.
	i := containerIndex(current)
	if i < 0 {
		return fmt.Errorf("placeholder StatefulSet %s/%s has no container %q", sts.Namespace, sts.Name, placeholder.ContainerName)
	}
	container := fmt.Sprintf("/spec/template/spec/containers/%d", i)
	ops := []jsonPatchOp{
		{Op: "test", Path: container + "/name", Value: placeholder.ContainerName},
		{Op: "add", Path: "/spec/template/spec/affinity", Value: desired.Affinity},
		{Op: "add", Path: container + "/resources", Value: desired.Containers[0].Resources},
		{Op: "add", Path: "/metadata/annotations", Value: annotations},
	}
	patch, err := json.Marshal(ops)
	if err != nil {
		return fmt.Errorf("encoding placeholder StatefulSet patch: %w", err)
	}
	if _, err := e.KubeClient.AppsV1().StatefulSets(sts.Namespace).Patch(ctx, sts.Name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("updating placeholder StatefulSet %s/%s: %w", sts.Namespace, sts.Name, err)
	}
	return nil
}

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// containerIndex returns the index of the placeholder container, or -1.
func containerIndex(spec *corev1.PodSpec) int {
	for i := range spec.Containers {
		if spec.Containers[i].Name == placeholder.ContainerName {
			return i
		}
	}
	return -1
}

// resize sets a placeholder pod's requests (and limits) in place through
// the pods/resize subresource and reports true. When the cluster refuses
// that, it reports false and, if replace is set, deletes the pod instead:
// the StatefulSet then recreates it from its template, already pinned and
// token-sized.
func (e *Engine) resize(ctx context.Context, p *corev1.Pod, requests corev1.ResourceList, replace bool) (bool, error) {
	i := containerIndex(&p.Spec)
	if i < 0 {
		return false, fmt.Errorf("placeholder pod %s/%s has no container %q", p.Namespace, p.Name, placeholder.ContainerName)
	}
	// A patch rather than an Update of the cached copy: the kubelet updates
	// the pod's status as it runs it, and an Update would conflict with that.
	container := fmt.Sprintf("/spec/containers/%d", i)
	patch, err := json.Marshal([]jsonPatchOp{
		{Op: "test", Path: container + "/name", Value: placeholder.ContainerName},
		{Op: "add", Path: container + "/resources", Value: corev1.ResourceRequirements{Requests: requests, Limits: requests}},
	})
	if err != nil {
		return false, fmt.Errorf("encoding placeholder pod resize: %w", err)
	}
	_, err = e.KubeClient.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{}, "resize")
	next := "keeping its size"
	if replace {
		next = "replacing the pod"
	}
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsConflict(err):
		// Stale copy: the next reconcile sees the current pod.
		return false, fmt.Errorf("resizing placeholder pod %s/%s: %w", p.Namespace, p.Name, err)
	case apierrors.IsForbidden(err):
		// Handled as on a cluster without in-place resize, but this is the
		// controller's configuration, not the cluster's: say so.
		logging.FromContext(ctx).Warnf("Resizing placeholder pod %s/%s is forbidden (%v): grant the controller patch on pods/resize (config/200-clusterrole.yaml); %s",
			p.Namespace, p.Name, err, next)
	default:
		logging.FromContext(ctx).Infof("In-place resize of placeholder pod %s/%s not possible (%v); %s", p.Namespace, p.Name, err, next)
	}
	if !replace {
		return false, nil
	}
	return false, e.deletePod(ctx, p, false)
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

// deletePod deletes a placeholder pod; at once, without waiting for the
// kubelet to confirm, when now is set.
func (e *Engine) deletePod(ctx context.Context, p *corev1.Pod, now bool) error {
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}}
	if now {
		opts.GracePeriodSeconds = ptr.To[int64](0)
	}
	err := e.KubeClient.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting placeholder pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}

func claimNameForTemplate(run *v1.PipelineRun) func(v1.WorkspaceBinding) string {
	owner := *kmeta.NewControllerRef(run)
	return func(w v1.WorkspaceBinding) string {
		return volumeclaim.GeneratePVCNameFromWorkspaceBinding(w.VolumeClaimTemplate.Name, w, owner)
	}
}

func sameRequests(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, q := range a {
		other, ok := b[name]
		if !ok || q.Cmp(other) != 0 {
			return false
		}
	}
	return true
}

func formatResources(r corev1.ResourceList) string {
	names := make([]string, 0, len(r))
	for name := range r {
		names = append(names, string(name))
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		q := r[corev1.ResourceName(name)]
		parts = append(parts, name+"="+q.String())
	}
	return strings.Join(parts, ", ")
}

func waiting(reason, message string, requeueAfter time.Duration) Placement {
	return Placement{Reason: reason, Message: message, RequeueAfter: requeueAfter}
}

func recorder(ctx context.Context) record.EventRecorder {
	return controller.GetEventRecorder(ctx)
}

func event(ctx context.Context, run *v1.PipelineRun, eventType, reason, message string) {
	if r := recorder(ctx); r != nil {
		r.Event(run, eventType, reason, message)
	}
}
