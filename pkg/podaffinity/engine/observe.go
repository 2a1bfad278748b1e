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
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// observe reads what Place decides on at now. A read that fails is an
// error, never taken for an answer.
func (e *Engine) observe(ctx context.Context, s Settings, run *v1.PipelineRun, t Target, tasks []demand.Task, now time.Time) (world, error) {
	if t.Joined {
		return e.observeJoined(ctx, run, t, tasks)
	}
	w := world{run: run, t: t, tasks: tasks, spec: placeholder.Spec{
		Name:              t.Placeholder,
		Run:               run,
		Isolation:         t.Isolation,
		NamespaceScoped:   t.NamespaceScoped,
		TenantLabel:       t.TenantLabel,
		Topology:          t.Topology,
		Queue:             t.Queue,
		PriorityClassName: s.Config.PriorityClassName(),
		Image:             s.Image,
		DefaultTemplate:   s.DefaultTemplate,
		ClaimNames:        placeholder.MountedClaimNames(run, claimNameForTemplate(run)),
	}}
	var err error
	if t.TenantLabel != "" {
		if w.spec.Tenant, err = e.tenant(ctx, run.Namespace, t.TenantLabel); err != nil {
			return world{}, fmt.Errorf("placing PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
		}
	}
	if w.limitRanges, err = e.LimitRangesIn(run.Namespace); err != nil {
		return world{}, err
	}
	sts, err := e.StatefulSets.StatefulSets(run.Namespace).Get(t.Placeholder)
	switch {
	case apierrors.IsNotFound(err):
		err = e.observeAbsent(ctx, &w)
		return w, err
	case err != nil:
		return world{}, fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, t.Placeholder, err)
	}
	w.sts = e.own.statefulSet(sts, e.Clock.Now())
	w.changed = e.templateChangedAt(w.sts.UID, e.Clock.Now())
	if !metav1.IsControlledBy(w.sts, run) {
		return w, nil
	}
	if w.cached, err = e.Pods.Pods(run.Namespace).Get(placeholder.PodName(w.sts.Name)); err != nil {
		if !apierrors.IsNotFound(err) {
			return world{}, fmt.Errorf("getting placeholder pod: %w", err)
		}
		w.cached = nil
	}
	if w.sts.DeletionTimestamp != nil {
		return w, nil
	}
	if err = e.observePlaced(ctx, &w, now); err != nil {
		return world{}, err
	}
	err = e.observeHandOver(ctx, &w, s)
	return w, err
}

// observePlaced reads what a run whose placeholder StatefulSet exists
// decides on.
func (e *Engine) observePlaced(ctx context.Context, w *world, now time.Time) error {
	run := w.run
	tolerations := w.sts.Spec.Template.Spec.Tolerations
	w.see(e.own.pod(w.cached, e.Clock.Now()))
	if w.node != "" {
		n, err := e.Nodes.Get(w.node)
		switch {
		case apierrors.IsNotFound(err):
			w.unusable = nodeGone
		case err != nil:
			return fmt.Errorf("getting node %s: %w", w.node, err)
		default:
			w.nodeObj, w.unusable = n, nodeUnusable(n, tolerations)
		}
	}
	if w.unusable != "" {
		var err error
		if w.keep, err = e.volumesKeep(ctx, run.Namespace, placeholder.ClaimNames(run, claimNameForTemplate(run)), w.node, tolerations); err != nil {
			return err
		}
	}
	if needsMembers(w) {
		if err := e.listMembers(w); err != nil {
			return err
		}
	}
	if old := w.terminating; w.pod == nil && old != nil && old.Spec.NodeName != "" {
		n, err := e.Nodes.Get(old.Spec.NodeName)
		switch {
		case apierrors.IsNotFound(err):
			w.oldNodeDown = true
		case err != nil:
			return fmt.Errorf("getting node %s: %w", old.Spec.NodeName, err)
		default:
			w.oldNodeDown = !nodeReady(n)
		}
	}
	if _, ok := diagnosing(w, now); ok {
		refusal, err := e.dryRunPod(ctx, w.sts)
		if err != nil {
			return err
		}
		w.dryRun, w.diagnosed = refusal, true
	}
	if p := w.pod; p != nil && p.Spec.NodeName == "" && w.unusable == "" {
		if placeholder.AwaitsAdmission(p) {
			// Kueue's word counts only for a pod that stays and waits
			// (decideAdmission).
			if older, _ := olderPod(*w); !older && !requeues(*w) {
				w.workload = e.workloadState(ctx, run.Namespace, placeholder.KueueWorkloadName(w.sts.Name), w.spec.KueueQueue())
			}
		} else if schedulingMessage(p) != "" {
			nodes, err := e.Nodes.List(labels.Everything())
			if err != nil {
				return fmt.Errorf("listing nodes: %w", err)
			}
			w.nodes = nodes
		}
	}
	return nil
}
