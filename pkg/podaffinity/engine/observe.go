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
	"github.com/tektoncd/pipeline/pkg/reconciler/volumeclaim"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"knative.dev/pkg/kmeta"
)

// world is what one call of Place knows of the cluster: read once, by
// observe, then decided on by decide without another read. A field that
// the run's situation does not need is not read (left zero); each says
// when it is.
type world struct {
	run   *v1.PipelineRun
	t     Target
	tasks []demand.Task
	// spec is the run's placeholder without its pin and requests.
	spec        placeholder.Spec
	limitRanges []*corev1.LimitRange

	// sts is the placeholder StatefulSet as the engine last wrote it, nil
	// when there is none.
	sts *appsv1.StatefulSet

	// Without a StatefulSet, when the run still needs one: the run as the
	// API server has it now, the RuntimeClasses its pods name, and the
	// usable node of its most recent bound pod ("": none).
	stored   *v1.PipelineRun
	classes  map[string]*nodev1.RuntimeClass
	lastNode string

	// With a StatefulSet: its placeholder pod as the cache has it
	// (cached), and as the engine last wrote it, split into the pod that
	// holds or looks for a node (pod) and one that is going (terminating).
	cached, pod, terminating *corev1.Pod
	// pinned is the node the StatefulSet's template is pinned to, or "".
	pinned string
	// node is the run's node: the pod's, or else the pinned one ("": none);
	// nodeObj is that node (nil when gone), unusable why no new pod can
	// start there ("" when it can), keep why the run's volumes keep it
	// there (read only when it is unusable).
	node     string
	nodeObj  *corev1.Node
	unusable string
	keep     string
	// members are the run's pods, listed once, when a decision needs them
	// (without a StatefulSet, or needsMembers).
	members []*corev1.Pod
	// oldNodeDown: the node of the terminating pod is gone or not ready.
	oldNodeDown bool
	// nodes are the cluster's nodes, read when the unbound pod has a
	// scheduler's message (to say when no node is large enough), and on
	// the create path (a taint some of the run's pod templates tolerate
	// and others do not fails the run at once: placeholder.CheckTaints).
	nodes []*corev1.Node
	// workload is Kueue's state of the pod's Workload, read while the pod
	// awaits admission and the run waits for it ("" when unknown).
	workload string
	// dryRun is the API server's answer to a dry run of the placeholder
	// pod (nil: it admits it), asked when the StatefulSet has had no pod
	// for longer than createGrace (diagnosing; diagnosed says it was).
	dryRun    error
	diagnosed bool
}

// observe reads what Place decides on at now. A read that fails is an
// error, never taken for an answer.
func (e *Engine) observe(ctx context.Context, s Settings, run *v1.PipelineRun, t Target, tasks []demand.Task, now time.Time) (world, error) {
	if t.Joined {
		return e.observeJoined(run, t, tasks)
	}
	w := world{run: run, t: t, tasks: tasks, spec: placeholder.Spec{
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

// observeAbsent reads what a run without a placeholder StatefulSet
// decides on: its pods, and, unless they show it needs no placeholder any
// more, the run afresh, its RuntimeClasses and the node of its last pod.
func (e *Engine) observeAbsent(ctx context.Context, w *world) error {
	if err := e.listMembers(w); err != nil {
		return err
	}
	if placedAll(w) {
		return nil
	}
	var err error
	if w.stored, err = e.afresh(ctx, w.run); err != nil {
		return err
	}
	if changedSince(w.stored, w.run) {
		return nil
	}
	if w.classes, err = e.runtimeClasses(ctx, w.run); err != nil {
		return err
	}
	if w.nodes, err = e.Nodes.List(labels.Everything()); err != nil {
		return fmt.Errorf("placing PipelineRun %s/%s: listing nodes: %w", w.run.Namespace, w.run.Name, err)
	}
	latest := latestBound(w.members)
	if latest == nil {
		return nil
	}
	spec := w.spec
	spec.RuntimeClasses = w.classes
	why, err := e.unusable(latest.Spec.NodeName, placeholder.StatefulSet(spec).Spec.Template.Spec.Tolerations)
	if err != nil {
		return err
	}
	if why == "" {
		w.lastNode = latest.Spec.NodeName
	}
	return nil
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
		w.dryRun, w.diagnosed = e.dryRunPod(ctx, w.sts), true
	}
	if p := w.pod; p != nil && p.Spec.NodeName == "" && w.unusable == "" {
		if placeholder.AwaitsAdmission(p) {
			if !requeues(*w) {
				w.workload = e.workloadState(ctx, run.Namespace, placeholder.KueueWorkloadName(w.sts.Name))
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

// see puts into w the placeholder pod p, as the engine last wrote it (nil:
// none), and what follows from it and the StatefulSet: the pin, the pod
// that holds or looks for a node or the one that is going, the run's node.
func (w *world) see(p *corev1.Pod) {
	w.pinned = placeholder.PinnedNode(&w.sts.Spec.Template.Spec, w.run)
	w.pod, w.terminating, w.node = p, nil, ""
	if p != nil && going(p) {
		// Being deleted, preempted, evicted or done: it holds the node no more.
		w.terminating, w.pod = p, nil
	}
	if w.pod != nil {
		w.node = w.pod.Spec.NodeName
	}
	if w.node == "" {
		w.node = w.pinned
	}
}

// needsMembers reports whether decide needs the run's pods: to leave or
// re-choose a node, or to come back to one. A placeholder bound to a usable
// node, what most reconciles find, never does.
func needsMembers(w *world) bool {
	return w.unusable != "" || (w.pod != nil && w.pod.Spec.NodeName == "" && w.pinned != "")
}

// listMembers lists the run's pods into w: once per call of Place.
func (e *Engine) listMembers(w *world) error {
	pods, err := e.memberPods(w.run.Namespace, w.t.Placeholder)
	if err != nil {
		return fmt.Errorf("listing the pods of placeholder %s/%s: %w", w.run.Namespace, w.t.Placeholder, err)
	}
	w.members = pods
	return nil
}

// placedAll reports whether a run without a placeholder has nothing left
// to place: every task has started and every pod of it is on its node.
func placedAll(w *world) bool {
	state := memberStateOf(w.members)
	return demand.AllStarted(w.tasks) && state.started && !state.unbound
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

func claimNameForTemplate(run *v1.PipelineRun) func(v1.WorkspaceBinding) string {
	owner := *kmeta.NewControllerRef(run)
	return func(w v1.WorkspaceBinding) string {
		return volumeclaim.GeneratePVCNameFromWorkspaceBinding(w.VolumeClaimTemplate.Name, w, owner)
	}
}
