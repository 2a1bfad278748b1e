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
	"errors"
	"fmt"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A placeholder StatefulSet that has had no pod for longer than
// createGrace is diagnosed: observe asks the API server, with a dry run of
// the pod, why it cannot be created (world.dryRun), and decideDiagnosis
// says so on the run. A rejection no retry can cure (the pod is invalid, or
// forbidden by admission other than a quota) fails the run at once;
// anything else is a wait, bounded like every wait for a node; a pod the
// API server admits now has the StatefulSet controller nudged (nudgeDue).
// Only once the StatefulSet controller has processed the StatefulSet
// (processed): until then it has not tried to make the pod, and neither a
// dry run nor a nudge tells anything or speeds it up.

// diagnosing reports whether decide asks why the run's StatefulSet, which
// the run controls and which is not being deleted, has no pod: its node,
// if any, is usable, it has no pod, not even one that is going, the
// StatefulSet controller has processed it, and its wait for one began
// (since) createGrace or longer before now.
func diagnosing(w *world, now time.Time) (since time.Time, ok bool) {
	if w.unusable != "" || w.pod != nil || w.terminating != nil || !processed(w.sts) {
		return time.Time{}, false
	}
	since, ok = waitStart(w.sts, w.pinned, nil)
	return since, ok && now.Sub(since) >= createGrace
}

// decideDiagnosis decides, on the API server's answer to a dry run of the
// placeholder pod (w.dryRun), for a run whose StatefulSet has had no pod
// in a wait that began at since.
func decideDiagnosis(w world, now time.Time, s Settings, since time.Time) step {
	podName := placeholder.PodName(w.sts.Name)
	err := w.dryRun
	switch {
	case err == nil:
		// The API server admits the pod now: the StatefulSet controller
		// may be waiting out the back-off of earlier refusals.
		msg := createMessage(w.sts)
		due, after := nudgeDue(w.sts, now)
		if !due {
			return done(boundedWait(s, now, since, msg, after))
		}
		msg += " (the API server admits it now: asked the StatefulSet controller to try again at once)"
		p := boundedWait(s, now, since, msg, after)
		if p.Failed {
			return done(p)
		}
		return step{kind: stepAnnotate, placement: p, annotation: placeholder.NudgedAnnotation, since: now}
	case rejection(err) == rejectedForGood:
		return done(Placement{Failed: true, Reason: ReasonPlaceholderRejected, Message: fmt.Sprintf(
			"The API server rejects placeholder pod %s: %v", podName, err)})
	}
	return done(boundedWait(s, now, since, fmt.Sprintf("Placeholder pod %s cannot be created yet: %v", podName, err), diagnoseEvery))
}

// dryRunPod asks the API server to admit the pod sts would create, without
// creating it: its answer carries the quota, LimitRange or admission
// message that the StatefulSet controller only records as an event. The
// answer is what observe reads: refusal, nil when the API server admits
// the pod. A request that got no answer about the pod (admissionAnswer)
// is err: the next reconcile asks again, and the run shows no cause.
func (e *Engine) dryRunPod(ctx context.Context, sts *appsv1.StatefulSet) (refusal, err error) {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      placeholder.PodName(sts.Name),
			Namespace: sts.Namespace,
			Labels:    sts.Spec.Template.Labels,
		},
		Spec: *sts.Spec.Template.Spec.DeepCopy(),
	}
	_, err = e.KubeClient.CoreV1().Pods(sts.Namespace).Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		// Created since the cache was read: the informer will say so.
		return nil, nil
	case admissionAnswer(err):
		return err, nil
	}
	return nil, fmt.Errorf("asking the API server with a dry run why placeholder pod %s/%s is not created: %w", p.Namespace, p.Name, err)
}

// admissionAnswer reports whether err, from a dry-run create of a pod, is
// the API server's refusal to admit that pod, as the StatefulSet
// controller's create gets it: an API status (a quota, a policy, an
// invalid pod, a webhook that failed), but none about the request itself
// (throttled, the API server unavailable or out of time), and no error of
// the connection.
func admissionAnswer(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	return !apierrors.IsTooManyRequests(err) && !apierrors.IsServiceUnavailable(err) &&
		!apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err)
}
