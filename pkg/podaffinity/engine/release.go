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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/logging"
)

// Release deletes the run's own placeholder, if it has one. It is called
// when the run is done (succeeded, failed, cancelled or timed out) whatever
// the current configuration, so that turning the feature off never strands a
// placeholder; owner references cover the deletion of the run itself. A
// child PipelineRun never deletes the placeholder it shares: it does not
// control it.
//
// It reads the placeholder from the engine's caches (Synced) while the
// feature is on, and for a run the engine placed (Placed). With the feature
// off, a run the engine never placed has no placeholder (unless a
// controller that did not record its decisions made one): its caches are
// not started for it. When they cannot sync (the controller may not list
// nodes, say), it reads the placeholder from the API server: a done run
// frees its node without them, and waits for nothing.
func (e *Engine) Release(ctx context.Context, s Settings, run *v1.PipelineRun) error {
	// A done run waits for nothing.
	e.stopRecheck(run)
	name := placeholder.Name(&run.ObjectMeta)
	get := func() (*appsv1.StatefulSet, error) { return e.StatefulSets.StatefulSets(run.Namespace).Get(name) }
	if s.Config.Enabled || Placed(run) {
		if err := e.synced(ctx); err != nil {
			logging.FromContext(ctx).Infof("Reading placeholder StatefulSet %s/%s of PipelineRun %s from the API server: %v", run.Namespace, name, run.Name, err)
			get = func() (*appsv1.StatefulSet, error) {
				return e.KubeClient.AppsV1().StatefulSets(run.Namespace).Get(ctx, name, metav1.GetOptions{})
			}
		}
	}
	sts, err := get()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, name, err)
	}
	if !metav1.IsControlledBy(sts, run) {
		return nil
	}
	// Recorded before the deletion, whose watch event may come before
	// the API server's answer: the events of the deletion re-queue
	// nothing (see ReleasedPlaceholder).
	e.released.set(sts.UID, struct{}{}, e.Clock.Now(), releasedTTL)
	if sts.DeletionTimestamp != nil {
		return e.releaseHeldPod(ctx, sts)
	}
	policy := metav1.DeletePropagationBackground
	err = e.KubeClient.AppsV1().StatefulSets(run.Namespace).Delete(ctx, sts.Name, metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &sts.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		e.released.delete(sts.UID)
		return fmt.Errorf("deleting placeholder StatefulSet %s/%s: %w", run.Namespace, sts.Name, err)
	}
	logging.FromContext(ctx).Infof("Deleted placeholder StatefulSet %s/%s of PipelineRun %s", run.Namespace, sts.Name, run.Name)
	return nil
}

// releaseHeldPod deletes the pod of the placeholder StatefulSet sts, which
// is being deleted, when the pod still runs: finalizers that hold the
// StatefulSet (someone else's: see deleting) hold its pods too when it is
// deleted in the background, and its pod would keep the room the run
// reserved on its node for as long as they do. The StatefulSet controller
// makes no pod for a StatefulSet that is being deleted.
func (e *Engine) releaseHeldPod(ctx context.Context, sts *appsv1.StatefulSet) error {
	name := placeholder.PodName(sts.Name)
	p, err := e.Pods.Pods(sts.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting placeholder pod %s/%s: %w", sts.Namespace, name, err)
	}
	if p.DeletionTimestamp != nil || !metav1.IsControlledBy(p, sts) {
		return nil
	}
	if err := e.deletePod(ctx, p, false); err != nil {
		return err
	}
	logging.FromContext(ctx).Infof("Deleted placeholder pod %s/%s: its StatefulSet is being deleted and %s", p.Namespace, p.Name, deletingObject("", sts).held())
	return nil
}
