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
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/logging"
)

// create makes the run's placeholder StatefulSet from spec (decide sizes
// and pins it: with the reservation, or token-sized and pinned to the node
// of the run's pods when it comes back mid-run). An invalid or forbidden
// StatefulSet fails the run at once; a quota that refuses it is a wait with
// the quota's message, bounded like every wait for a node (see
// refusals.refusedSince). again says that the run had pods or TaskRuns
// before: the placeholder is created again, which an event records (the
// first creation records none: the Placed event that follows says what it
// requests).
func (e *Engine) create(ctx context.Context, s Settings, run *v1.PipelineRun, spec placeholder.Spec, again bool) (Placement, error) {
	sts := placeholder.StatefulSet(spec)
	created, err := e.KubeClient.AppsV1().StatefulSets(run.Namespace).Create(ctx, sts, metav1.CreateOptions{})
	switch {
	case err == nil:
	case apierrors.IsAlreadyExists(err):
		return e.alreadyExists(ctx, s, run, spec.Name)
	case rejection(err) == rejectedForGood:
		return Placement{Failed: true, Reason: ReasonPlaceholderRejected, Message: fmt.Sprintf(
			"The API server rejects placeholder StatefulSet %s: %v", spec.Name, err)}, nil
	case quotaExceeded(err):
		since := e.refused.refusedSince(run, e.Clock.Now())
		wait := e.waitBounded(s, since, fmt.Sprintf("Placeholder StatefulSet %s cannot be created yet: %v", spec.Name, err), diagnoseEvery)
		if !wait.Failed {
			wait.Since = since
		}
		return wait, nil
	default:
		return Placement{}, fmt.Errorf("creating placeholder StatefulSet %s/%s: %w", run.Namespace, spec.Name, err)
	}
	e.refused.forget(run.UID)
	msg := fmt.Sprintf("Created placeholder StatefulSet %s requesting %s", spec.Name, formatResources(spec.Requests))
	if spec.PinnedNode != "" {
		msg = fmt.Sprintf("Recreated placeholder StatefulSet %s on node %s, where the PipelineRun's pods are", spec.Name, spec.PinnedNode)
		e.Metrics.Placement(ctx, metrics.OutcomeRecreated)
	}
	logging.FromContext(ctx).Infof("PipelineRun %s/%s: %s", run.Namespace, run.Name, msg)
	if again {
		event(ctx, run, corev1.EventTypeNormal, EventPlaceholderRecreated, msg)
	}
	// Checked again after createGrace, as a StatefulSet without its pod
	// is (decideNoPod): the creation's own event re-queues nothing, and the
	// pod's events bring the run back as soon as there is one.
	wait := waiting(ReasonWaitingForNode, msg+"; waiting for the scheduler to bind it to a node", createGrace)
	wait.Since = e.Clock.Now()
	if created != nil {
		e.ownEvents.wrote(created)
		e.ownEvents.settle(created.UID, true, e.Clock.Now())
	}
	return wait, nil
}

// alreadyExists reports on a StatefulSet at the placeholder's name that the
// engine's cache does not hold: its own, created by an earlier reconcile
// the cache has not caught up with, or someone else's, which the cache
// (placeholders only) never holds. The API server says which.
//
// Its own is waited for, checked again after createGrace as a fresh
// creation is: the reconcile that created it may have lost its requeue
// (its status update failed), and its creation's event, settled as the
// engine's own write (ownEvents), re-queues nothing; the pod's events come
// only once there is a pod. The wait is bounded from its start when the
// StatefulSet tells it (waitStart); a pinned one without a recorded start
// is not, until the engine sees it and records one (decideNoPod).
func (e *Engine) alreadyExists(ctx context.Context, s Settings, run *v1.PipelineRun, name string) (Placement, error) {
	sts, err := e.KubeClient.AppsV1().StatefulSets(run.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return Placement{}, fmt.Errorf("getting StatefulSet %s/%s, which exists: %w", run.Namespace, name, err)
	}
	if !metav1.IsControlledBy(sts, run) {
		return conflict(run.Namespace, name), nil
	}
	msg := fmt.Sprintf("Placeholder StatefulSet %s exists; waiting for the scheduler to bind it to a node", name)
	wait := waiting(ReasonWaitingForNode, msg, createGrace)
	if since, ok := waitStart(sts, placeholder.PinnedNode(&sts.Spec.Template.Spec, run), nil); ok {
		if wait = e.waitBounded(s, since, msg, createGrace); wait.Failed {
			return wait, nil
		}
	}
	wait.Since = waitBegan(sts)
	return wait, nil
}

// updateTemplate writes the placement fields (pin and requests) of spec into
// the StatefulSet's pod template, leaving every other field as the API
// server stored it. It does nothing when they already match.
//
// waitingSince, when set, records on the StatefulSet that the run's wait
// for a node starts then (a move); when nil the record is removed (placed).
// The same goes for spec.ReclaimingSince (placeholder.ReclaimingAnnotation).
// Both go into the same patch as the pin, so that a crash between two
// writes never leaves a move without the start of its wait. It returns the
// StatefulSet as written (sts when nothing was).
func (e *Engine) updateTemplate(ctx context.Context, sts *appsv1.StatefulSet, spec placeholder.Spec, waitingSince *time.Time) (*appsv1.StatefulSet, error) {
	built := placeholder.StatefulSet(spec)
	desired := built.Spec.Template.Spec
	current := &sts.Spec.Template.Spec
	_, waiting := sts.Annotations[placeholder.WaitingSinceAnnotation]
	reclaiming := built.Annotations[placeholder.ReclaimingAnnotation]
	if placeholder.PinnedNode(current, spec.Run) == spec.PinnedNode && sameRequests(placeholder.Requests(current), placeholder.Requests(&desired)) &&
		waiting == (waitingSince != nil) && sts.Annotations[placeholder.ReclaimingAnnotation] == reclaiming {
		return sts, nil
	}
	annotations := map[string]string{}
	for k, v := range sts.Annotations {
		annotations[k] = v
	}
	delete(annotations, placeholder.WaitingSinceAnnotation)
	delete(annotations, placeholder.ReclaimingAnnotation)
	// Whatever the wait was, it is not for admission any more (placed or
	// requeued: a requeued pod records its wait again).
	delete(annotations, placeholder.AwaitingAdmissionAnnotation)
	if waitingSince != nil {
		annotations[placeholder.WaitingSinceAnnotation] = waitingSince.UTC().Format(time.RFC3339)
	}
	if reclaiming != "" {
		annotations[placeholder.ReclaimingAnnotation] = reclaiming
	}
	// A JSON patch of exactly these fields, without a resourceVersion: the
	// StatefulSet controller updates the object's status all the time, and an
	// Update of a cached copy would conflict with it. The "test" makes sure
	// the container index still names the placeholder container.
	i := containerIndex(current)
	if i < 0 {
		return nil, fmt.Errorf("placeholder StatefulSet %s/%s has no container %q", sts.Namespace, sts.Name, placeholder.ContainerName)
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
		return nil, fmt.Errorf("encoding placeholder StatefulSet patch: %w", err)
	}
	after, err := e.KubeClient.AppsV1().StatefulSets(sts.Namespace).Patch(ctx, sts.Name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating placeholder StatefulSet %s/%s: %w", sts.Namespace, sts.Name, err)
	}
	e.own.updated(sts, after, e.Clock.Now())
	e.ownEvents.wrote(after)
	e.templateChanged(sts.UID, e.Clock.Now())
	return after, nil
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
	after, err := e.KubeClient.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, patch, metav1.PatchOptions{}, "resize")
	next := "keeping its size"
	if replace {
		next = "replacing the pod"
	}
	switch {
	case err == nil:
		now := e.Clock.Now()
		e.own.resized(p, after, now)
		e.podResized(p.UID, now)
		return true, nil
	case apierrors.IsConflict(err):
		// Stale copy: the next reconcile sees the current pod.
		return false, fmt.Errorf("resizing placeholder pod %s/%s: %w", p.Namespace, p.Name, err)
	case quotaExceeded(err):
		// A grow beyond what the namespace's quota has left: the next
		// reconcile tries again, once other pods have finished.
		logging.FromContext(ctx).Infof("Resizing placeholder pod %s/%s is refused by a ResourceQuota (%v); %s", p.Namespace, p.Name, err, next)
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
	e.own.deleted(p, now, e.Clock.Now())
	return nil
}

// conflict fails a run whose placeholder's name is taken.
func conflict(namespace, name string) Placement {
	return Placement{Failed: true, Reason: ReasonPlaceholderConflict, Message: fmt.Sprintf(
		"StatefulSet %s/%s exists and is not controlled by this PipelineRun; delete or rename it", namespace, name)}
}

// sameRequests reports whether a and b request the same quantities.
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
