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
	"fmt"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"github.com/tektoncd/pipeline/pkg/reconciler/volumeclaim"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
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
	// API server has it now (nil on the run's first reconcile, which needs
	// no such read: Target.FirstReconcile), the RuntimeClasses its pods name, and the
	// usable node of its most recent bound pod ("": none).
	stored   *v1.PipelineRun
	classes  map[string]*nodev1.RuntimeClass
	lastNode string

	// With a StatefulSet: its placeholder pod as the cache has it
	// (cached), and as the engine last wrote it, split into the pod that
	// holds or looks for a node (pod) and one that is going (terminating).
	// For a child run (Target.Joined): its parent's placeholder pod as the
	// cache has it (cached) and as the engine last wrote it (pod), and
	// node and unusable as below (see observeJoined).
	cached, pod, terminating *corev1.Pod
	// For a child run whose parent's placeholder pod is missing: sts is
	// the parent's placeholder StatefulSet (nil: none), and, when it is
	// gone or being deleted, parent is the parent run as the API server
	// has it now (nil: gone), read when the engine has a reader of runs
	// (parentRead). See observeParent.
	parent     *v1.PipelineRun
	parentRead bool
	// changed is when this engine last changed the StatefulSet, zero when
	// it has not in the last minute (or not since it started).
	changed time.Time
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

// reservation is what the placeholder asks for while it looks for a node:
// the peak demand of the tasks that have not started, or the token.
func reservation(w world, s Settings) corev1.ResourceList {
	if s.Config.Reservation() != paconfig.ReservationReserve {
		return token(w)
	}
	return placeholder.WithinLimitRanges(demand.WithFloor(demand.ToPlace(w.tasks), placeholder.TokenRequests()), w.limitRanges)
}

// token is what a placeholder pinned to its node asks for.
func token(w world) corev1.ResourceList {
	return placeholder.WithinLimitRanges(placeholder.TokenRequests(), w.limitRanges)
}

func claimNameForTemplate(run *v1.PipelineRun) func(v1.WorkspaceBinding) string {
	owner := *kmeta.NewControllerRef(run)
	return func(w v1.WorkspaceBinding) string {
		return volumeclaim.GeneratePVCNameFromWorkspaceBinding(w.VolumeClaimTemplate.Name, w, owner)
	}
}

// processed reports whether the StatefulSet controller has processed sts
// as it is: its status.observedGeneration has caught up with the
// generation of sts's spec. A StatefulSet it has not processed yet has no
// pod because the controller lags, not because the pod is refused: in a
// burst (make bench, 400 PipelineRuns on 200 nodes) a quarter of the
// placeholders waited that way for most of a minute, and a dry run and a
// nudge for each cost two API requests and gave the lagging controller one
// more StatefulSet update to process. A StatefulSet without a generation
// (not from an API server) counts as processed.
func processed(sts *appsv1.StatefulSet) bool {
	return sts.Generation <= 0 || sts.Status.ObservedGeneration >= sts.Generation
}

// controllerRecheck is how soon a run looks again whether the StatefulSet
// controller has seen a template the engine wrote (a pod to be replaced
// from it; a pod made from an older one): its status updates bring no run
// back.
const controllerRecheck = time.Second

// notProcessedYet ends the message of a run that waits for the
// StatefulSet controller to process its StatefulSet (processed).
const notProcessedYet = " (the StatefulSet controller has not processed the StatefulSet yet)"

// lagRecheck is how soon a run that has waited for waited on a lagging
// StatefulSet controller looks again: the controller's status updates
// bring no run back, so after as long as the run has waited, from
// controllerRecheck up to diagnoseEvery. In a burst the lag lasts tens of
// seconds, and the pod's update brings the run back as soon as it comes.
func lagRecheck(waited time.Duration) time.Duration {
	return min(max(waited, controllerRecheck), diagnoseEvery)
}
