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
	"strings"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/volumeclaim"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/kmeta"
	"knative.dev/pkg/logging"
)

// Place takes one step towards the run being on a usable node with its
// placeholder holding it, and reports whether the run may start tasks.
// tasks are the run's unfinished tasks (Tasks): while it looks
// for a node, the placeholder reserves the peak demand of those that have
// not started; once bound, it holds what they need beyond what running and
// starting tasks hold themselves.
func (e *Engine) Place(ctx context.Context, s Settings, run *v1.PipelineRun, t Target, tasks []demand.Task) (placement Placement, err error) {
	if err := e.synced(ctx); err != nil {
		return Placement{}, fmt.Errorf("placing PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
	}
	if t.Joined {
		return e.placeJoined(run, t)
	}
	logger := logging.FromContext(ctx)
	spec := placeholder.Spec{
		Name:              t.Placeholder,
		Run:               run,
		Isolation:         t.Isolation,
		NamespaceScoped:   t.NamespaceScoped,
		TenantLabel:       t.TenantLabel,
		Topology:          t.Topology,
		PriorityClassName: s.Config.PriorityClassName(),
		Image:             s.Image,
		DefaultTemplate:   s.DefaultTemplate,
		ClaimNames:        placeholder.MountedClaimNames(run, claimNameForTemplate(run)),
	}
	if t.TenantLabel != "" {
		if spec.Tenant, err = e.tenant(ctx, run.Namespace, t.TenantLabel); err != nil {
			return Placement{}, fmt.Errorf("placing PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
		}
	}
	// What the placeholder asks for while it looks for a node. Computed only
	// when needed: most reconciles find the run placed.
	limitRanges, err := e.LimitRangesIn(run.Namespace)
	if err != nil {
		return Placement{}, err
	}
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
		members, err := e.members(run.Namespace, t.Placeholder)
		if err != nil {
			return Placement{}, err
		}
		if demand.AllStarted(tasks) && members.started && !members.unbound {
			// Every task has started and every pod is on its node: nothing
			// is left to place. This is also what a reconcile sees when it
			// reads a finishing run from a stale cache after the placeholder
			// was released; recreating it then would only churn.
			return Placement{Ready: true}, nil
		}
		stored, err := e.afresh(ctx, run)
		if err != nil {
			return Placement{}, err
		}
		if changedSince(stored, run) {
			return Placement{Current: stored}, nil
		}
		classes, err := e.runtimeClasses(ctx, run)
		if err != nil {
			return Placement{}, err
		}
		if failed, done, err := e.checkConstraints(run, classes); done || err != nil {
			return failed, err
		}
		spec.RuntimeClasses = classes
		// Creating the placeholder starts the run's wait for a node: the time
		// a run spent Pending, or before the engine saw it, never counts.
		return e.create(ctx, s, run, stored.Status.StartTime, spec, reservation(), token())
	}
	if err != nil {
		return Placement{}, fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, t.Placeholder, err)
	}
	sts = e.own.statefulSet(sts, e.Clock.Now())
	if !metav1.IsControlledBy(sts, run) {
		return conflict(run.Namespace, t.Placeholder), nil
	}
	defer func() {
		if err == nil && !placement.Ready && !placement.Failed && placement.Since.IsZero() {
			placement.Since = waitBegan(sts)
		}
	}()
	if sts.DeletionTimestamp != nil {
		return e.awaitStatefulSetGone(s, sts)
	}

	pinned := placeholder.PinnedNode(&sts.Spec.Template.Spec, run)
	tolerations := sts.Spec.Template.Spec.Tolerations
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(sts.Name))
	if err != nil && !apierrors.IsNotFound(err) {
		return Placement{}, fmt.Errorf("getting placeholder pod: %w", err)
	}
	p = e.own.pod(p, e.Clock.Now())
	var terminating *corev1.Pod
	if p != nil && going(p) {
		// Being deleted, preempted, evicted or done: it holds the node no more.
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
			active, err := e.activeMemberPods(run.Namespace, t.Placeholder, target, t.Topology, why == nodeGone)
			if err != nil {
				return Placement{}, err
			}
			keep, err := e.volumesKeep(ctx, run.Namespace, placeholder.ClaimNames(run, claimNameForTemplate(run)), target, tolerations)
			if err != nil {
				return Placement{}, err
			}
			if len(active) > 0 {
				msg := fmt.Sprintf("Node %s is %s; waiting for %s to finish %s before the PipelineRun moves to another node",
					target, why, strings.Join(active, ", "), there(t.Topology))
				if keep != "" {
					msg = fmt.Sprintf("Node %s is %s and the PipelineRun cannot move to another node: %s. Waiting for %s to finish %s, then for the node to be usable again",
						target, why, keep, strings.Join(active, ", "), there(t.Topology))
				}
				return Placement{Node: target, Reason: ReasonWaitingToMove, Message: msg}, nil
			}
			if keep != "" {
				return e.cannotMove(ctx, s, sts, target, fmt.Sprintf(
					"Node %s is %s and the PipelineRun cannot move to another node: %s. Waiting for node %s to be usable again", target, why, keep, target))
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
		if placeholder.AwaitsAdmission(p) {
			return e.awaitAdmission(ctx, run, sts, spec, p, pinned, reservation())
		}
		if sts, err = e.admitted(ctx, sts); err != nil {
			return Placement{}, err
		}
		if _, reclaiming := sts.Annotations[placeholder.ReclaimingAnnotation]; reclaiming && pinned != "" {
			return e.awaitReclaim(ctx, s, run, sts, spec, p, pinned, reservation())
		}
		if pinned != "" && unschedulable(p) {
			active, err := e.activeMemberPods(run.Namespace, t.Placeholder, pinned, t.Topology, false)
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
		return e.unscheduled(s, p, since)
	}

	// Bound to a usable node. Pin the StatefulSet there (a pod it recreates
	// comes back token-sized on the same node) and size the pod to what the
	// run's later tasks still need.
	spec.PinnedNode = current
	spec.Requests = token()
	_, reclaimed := sts.Annotations[placeholder.ReclaimingAnnotation]
	if _, waited := sts.Annotations[placeholder.WaitingSinceAnnotation]; waited || reclaimed || pinned != current || !sameRequests(placeholder.Requests(&sts.Spec.Template.Spec), spec.Requests) {
		if err := e.updateTemplate(ctx, sts, spec, nil); err != nil {
			return Placement{}, err
		}
		if reclaimed && pinned == current {
			e.reclaimed(ctx, run, sts, p)
		}
		if pinned != current {
			wait := e.Clock.Since(p.CreationTimestamp.Time)
			e.Metrics.NodeWait(ctx, wait)
			e.Metrics.Placement(ctx, metrics.OutcomePlaced)
			event(ctx, run, corev1.EventTypeNormal, EventPlaced, e.placedMessage(current, t.Topology, sts.Name, wait))
		}
	}
	if placement, replaced, err := e.reclaim(ctx, s, run, sts, spec, p, tasks, limitRanges); replaced || err != nil {
		return placement, err
	}
	return e.follow(ctx, s, run, sts, spec, p, tasks, limitRanges)
}

// placedMessage says where the run's pods go once its placeholder is bound
// to node: on it, or where nodes share its value of a wider topology.
func (e *Engine) placedMessage(node, topology, name string, wait time.Duration) string {
	waited := wait.Round(time.Millisecond)
	if !wide(topology) {
		return fmt.Sprintf("All pods of this PipelineRun run on node %s (placeholder %s waited %s for it)", node, name, waited)
	}
	where := topology + " of node " + node
	if n, err := e.Nodes.Get(node); err == nil {
		where = topology + "=" + n.Labels[topology]
	}
	return fmt.Sprintf("All pods of this PipelineRun run in %s; placeholder %s holds the reservation on node %s (it waited %s for it)", where, name, node, waited)
}

// afresh returns the run as the API server has it now, or run itself
// when the engine has no reader of runs.
func (e *Engine) afresh(ctx context.Context, run *v1.PipelineRun) (*v1.PipelineRun, error) {
	if e.PipelineRuns == nil {
		return run, nil
	}
	current, err := e.PipelineRuns(ctx, run.Namespace, run.Name)
	if err != nil {
		return nil, fmt.Errorf("reading PipelineRun %s/%s before creating its placeholder: %w", run.Namespace, run.Name, err)
	}
	return current, nil
}

// changedSince reports whether current, the run as the API server has it
// now, is not the run read from the cache any more: done, being deleted,
// or another run of the same name.
func changedSince(current, run *v1.PipelineRun) bool {
	return current.UID != run.UID || current.IsDone() || current.DeletionTimestamp != nil
}

// placeJoined checks the parent's placeholder for a child PipelineRun.
func (e *Engine) placeJoined(run *v1.PipelineRun, t Target) (Placement, error) {
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(t.Placeholder))
	if err != nil && !apierrors.IsNotFound(err) {
		return Placement{}, fmt.Errorf("getting parent placeholder pod: %w", err)
	}
	p = e.own.pod(p, e.Clock.Now())
	// The parent counts the child pipeline's peak as held by the child
	// while it runs; the child starts once the parent's placeholder has
	// made room for it on the node.
	if p == nil || going(p) || p.Spec.NodeName == "" || shrinking(p) {
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

func claimNameForTemplate(run *v1.PipelineRun) func(v1.WorkspaceBinding) string {
	owner := *kmeta.NewControllerRef(run)
	return func(w v1.WorkspaceBinding) string {
		return volumeclaim.GeneratePVCNameFromWorkspaceBinding(w.VolumeClaimTemplate.Name, w, owner)
	}
}
