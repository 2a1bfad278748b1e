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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/logging"
)

// Target says whether and how the engine places a run.
type Target struct {
	// Placeholder is the name of the run's placeholder; "" when not handled.
	Placeholder string
	// Isolation is how the placeholder repels others (top-level runs only).
	Isolation selection.Isolation
	// NamespaceScoped limits isolation to the run's namespace.
	NamespaceScoped bool
	// TenantLabel, when set, limits isolation to the runs of namespaces
	// with the same value of this namespace label (the run's tenant).
	TenantLabel string
	// Tenant is the value of TenantLabel on the run's namespace, read for a
	// run that requires isolation; nil when the namespace has no such label.
	Tenant *string
	// Topology is the node label whose value all pods of the run share
	// ("" is one node, kubernetes.io/hostname): the topology of its pods'
	// affinity to the placeholder and of the placeholders' isolation.
	Topology string
	// Queue is the Kueue LocalQueue that pipelinerun-pod-affinity-kueue-
	// queue-name gave the run, which had no queue label, when it was
	// decided ("": none). The run's own label wins over it
	// (placeholder.Spec.KueueQueue).
	Queue string
	// Joined is true for a child PipelineRun that shares its parent's placeholder.
	Joined bool
	// FirstReconcile is true when the copy of the run that the reconcile
	// read shows no earlier reconcile (reconciledBefore: no start time and
	// no Succeeded condition of a run waiting for its first node): no
	// reconcile can have finished the run from that copy and released its
	// placeholder, since the cache never goes back to an older copy than
	// one a reconcile read, so Place creates the placeholder without
	// reading the run afresh.
	FirstReconcile bool
}

// Handled reports whether the engine places the run.
func (t Target) Handled() bool { return t.Placeholder != "" }

// Target decides whether the engine places run, and how.
//
// The decision sticks to the run (selection.Sticky): once the controller
// has reconciled a run, the decision recorded on it (see Record) holds
// whatever the configuration says now, so turning the feature off or on, or
// changing "coschedule", the isolation scope, the topology key or the
// Kueue queue, never strands or splits a run in flight. A child
// PipelineRun created by a handled parent carries
// placeholder.MemberLabelKey and joins the parent's placeholder, whatever
// the configuration. An invalid opt-in label is reported once, as a Warning
// event on the run's first reconcile; the run is then left to Tekton's usual
// scheduling.
//
// Target reads the engine's caches only for a run reconciled before without
// a record, with children, while the feature is on (does it own a
// placeholder?); its error is then Synced's. With the feature off that
// answer cannot change the decision, which is "not handled" either way.
func (e *Engine) Target(ctx context.Context, s Settings, run *v1.PipelineRun) (Target, error) {
	if run.IsDone() {
		return Target{}, nil
	}
	if name := run.Labels[placeholder.MemberLabelKey]; name != "" && ownedByPipelineRun(run) {
		// The parent labelled it (Label), with the topology it recorded.
		return Target{Placeholder: name, Joined: true, Topology: run.Annotations[placeholder.TopologyAnnotationKey]}, nil
	}
	value, hasRecord := run.Annotations[selection.RecordAnnotationKey]
	history := selection.History{
		Recorded:    value,
		HasRecord:   hasRecord,
		Reconciled:  reconciledBefore(run),
		HasChildren: len(run.Status.ChildReferences) > 0,
	}
	if history.Reconciled && history.HasChildren && !hasRecord && s.Config.Enabled {
		if err := e.synced(ctx); err != nil {
			return Target{}, fmt.Errorf("deciding whether the pod affinity engine places PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
		}
		owns, err := e.ownsPlaceholder(run)
		if err != nil {
			return Target{}, fmt.Errorf("deciding whether the pod affinity engine places PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
		}
		history.OwnsPlaceholder = owns
	}
	record, _, err := selection.Sticky(history, func() selection.Record { return e.fresh(ctx, s, run) })
	if err != nil {
		logging.FromContext(ctx).Warnf("PipelineRun %s/%s: %v; ignored", run.Namespace, run.Name, err)
	}
	if !record.Handled() {
		return Target{}, nil
	}
	t := Target{
		Placeholder: placeholder.Name(&run.ObjectMeta), Isolation: record.Isolation,
		NamespaceScoped: record.NamespaceScoped, TenantLabel: record.TenantLabel, Topology: record.Topology,
		Queue: record.Queue, FirstReconcile: !history.Reconciled,
	}
	if t.Isolation == selection.IsolationRequired && t.TenantLabel != "" {
		// Label gives the run's children the tenant their pods repel.
		if t.Tenant, err = e.tenant(ctx, run.Namespace, t.TenantLabel); err != nil {
			return Target{}, fmt.Errorf("deciding how the pod affinity engine places PipelineRun %s/%s: %w", run.Namespace, run.Name, err)
		}
	}
	return t, nil
}

// RecordedForAnnotationKey is the annotation, next to the decision
// (selection.RecordAnnotationKey), that names the UID of the run Record
// recorded it for. Its creator cannot write it: a run's UID is given by the
// API server when it is created. So a run that carries it with its own UID
// was reconciled before, even when that reconcile wrote no status (the
// PipelineRun reconciler writes none for a wait of a moment before the first
// task, see WaitsForFirstNode); one that carries another UID had its
// annotations copied from another run.
const RecordedForAnnotationKey = "tekton.dev/pod-affinity-run-uid"

// reconciledBefore reports whether the controller has reconciled run
// before: its status has a start time, or it waits for its first node
// (WaitsForFirstNode). Its creator can write neither: the API server keeps
// the status of a run out of its creation, and gives the run its UID.
func reconciledBefore(run *v1.PipelineRun) bool {
	return run.HasStarted() || WaitsForFirstNode(run)
}

// WaitsForFirstNode reports whether run, reconciled before, has no start
// time and no children: the PipelineRun reconciler leaves a run the engine
// places without a start time until it gets its first node, as it leaves a
// run held with spec.status: PipelineRunPending without one until it is
// released, so that waiting for a node does not consume its timeouts. Such
// a run has a Succeeded condition (Unknown) that is not a pending run's;
// or, while the reconciler has written no status for it (a wait of a
// moment), no condition and the decision recorded for it (recordedForItself).
func WaitsForFirstNode(run *v1.PipelineRun) bool {
	if run.HasStarted() || len(run.Status.ChildReferences) > 0 {
		return false
	}
	c := run.Status.GetCondition(apis.ConditionSucceeded)
	if c == nil {
		return !run.IsPending() && recordedForItself(run)
	}
	return c.IsUnknown() && c.Reason != v1.PipelineRunReasonPending.String()
}

// recordedForItself reports whether run carries a decision Record recorded
// for it (RecordedForAnnotationKey is its UID).
func recordedForItself(run *v1.PipelineRun) bool {
	_, recorded := run.Annotations[selection.RecordAnnotationKey]
	return recorded && run.UID != "" && run.Annotations[RecordedForAnnotationKey] == string(run.UID)
}

// Placed reports whether the engine placed run: the decision recorded on it
// says so, or it is a child PipelineRun that joined its parent's
// placeholder. Unlike Target, it answers for a run that is done too: what
// is cleaned up after a run depends on whether the engine placed it.
func Placed(run *v1.PipelineRun) bool {
	if run.Labels[placeholder.MemberLabelKey] != "" && ownedByPipelineRun(run) {
		return true
	}
	value, ok := run.Annotations[selection.RecordAnnotationKey]
	if !ok {
		return false
	}
	record, err := selection.ParseRecord(value)
	return err == nil && record.Handled()
}

// fresh decides from the current configuration.
func (e *Engine) fresh(ctx context.Context, s Settings, run *v1.PipelineRun) selection.Record {
	decision, err := selection.Select(s.Config.Enabled, s.Coschedule, &run.ObjectMeta)
	if err != nil {
		// Said once, when the run is first reconciled, not on every
		// reconcile: a run held pending has no start time until it is
		// released, and is told when it is (and only once, even by a
		// reconcile that reads the run from a stale cache: FirstWarning).
		if !run.HasStarted() && !run.IsPending() && e.FirstWarning(run.UID, EventInvalidLabel) {
			logging.FromContext(ctx).Warnf("PipelineRun %s/%s: %v", run.Namespace, run.Name, err)
			event(ctx, run, corev1.EventTypeWarning, EventInvalidLabel, err.Error())
		}
		return selection.Record{}
	}
	r := selection.Record{
		Isolation:       decision.Isolation,
		NamespaceScoped: s.Config.IsolationScope() == paconfig.IsolationScopeNamespace,
		TenantLabel:     s.Config.TenantLabel(),
		Topology:        s.Config.Topology,
	}
	// The default queue is for runs without one of their own: a labelled
	// run records none, its label says it.
	if decision.Handled() && placeholder.KueueQueue(run) == "" {
		r.Queue = s.Config.KueueQueueName()
	}
	return r
}

// ownsPlaceholder reports whether run controls a placeholder StatefulSet.
// A StatefulSet that cannot be read is an error, never taken for none:
// that would decide that a run the engine placed began without it, and
// strand its later pods, tied to a placeholder nobody keeps.
func (e *Engine) ownsPlaceholder(run *v1.PipelineRun) (bool, error) {
	name := placeholder.Name(&run.ObjectMeta)
	sts, err := e.StatefulSets.StatefulSets(run.Namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("getting placeholder StatefulSet %s/%s: %w", run.Namespace, name, err)
	}
	return metav1.IsControlledBy(sts, run), nil
}

// Record writes the decision t onto run, so that it sticks (see Target),
// and for a handled run without a Succeeded condition the run's UID
// (RecordedForAnnotationKey: once the run has one, its status says that it
// was reconciled, and a run in flight gets no write for it).
// Nothing is written for a run the engine does not handle, unless the run
// carries a record already (one its creator wrote, say): it is then
// overwritten with "none", and the UID it names, if any, removed. A pending
// run is not recorded: it has not started, and is decided again when it is
// released. A child PipelineRun needs no record: its member label is one.
func Record(run *v1.PipelineRun, t Target) {
	if run.IsPending() || run.IsDone() || t.Joined {
		return
	}
	r := selection.Record{Isolation: t.Isolation, NamespaceScoped: t.NamespaceScoped, TenantLabel: t.TenantLabel, Topology: t.Topology, Queue: t.Queue}
	if !t.Handled() {
		r = selection.Record{}
		if _, ok := run.Annotations[selection.RecordAnnotationKey]; !ok {
			return
		}
	}
	if run.Annotations == nil {
		run.Annotations = map[string]string{}
	}
	run.Annotations[selection.RecordAnnotationKey] = r.String()
	switch {
	case !t.Handled():
		delete(run.Annotations, RecordedForAnnotationKey)
	case run.Status.GetCondition(apis.ConditionSucceeded) == nil:
		run.Annotations[RecordedForAnnotationKey] = string(run.UID)
	}
}

// Label marks a TaskRun, CustomRun or child PipelineRun of a handled run as
// a member of its placeholder, so that its pods are tied to it, in the
// run's topology: the annotation placeholder.TopologyAnnotationKey when it
// is wider than a node; and, when the run requires isolation, in its scope
// (placeholder.IsolationAnnotationKey), so that its pods repel the
// placeholders of other runs as its placeholder does. Tekton copies a run's
// annotations onto its children, so ones the run's creator wrote are
// replaced: only what is recorded on the run counts.
func Label(obj *metav1.ObjectMeta, t Target) {
	if !t.Handled() {
		return
	}
	if obj.Labels == nil {
		obj.Labels = map[string]string{}
	}
	obj.Labels[placeholder.MemberLabelKey] = t.Placeholder
	// Tekton copies the run's annotations onto its children: whom the
	// run's record was made for says nothing of them.
	delete(obj.Annotations, RecordedForAnnotationKey)
	switch {
	case t.Joined:
		// Its annotations, copied from the child run its parent labelled,
		// carry the parent's scope.
	case t.Isolation == selection.IsolationRequired:
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[placeholder.IsolationAnnotationKey] = placeholder.ScopeOf(t.NamespaceScoped, t.TenantLabel, t.Tenant).String()
	default:
		delete(obj.Annotations, placeholder.IsolationAnnotationKey)
	}
	if wide(t.Topology) {
		if obj.Annotations == nil {
			obj.Annotations = map[string]string{}
		}
		obj.Annotations[placeholder.TopologyAnnotationKey] = t.Topology
		return
	}
	delete(obj.Annotations, placeholder.TopologyAnnotationKey)
}

// wide reports whether a recorded topology is wider than one node.
func wide(topology string) bool {
	return placeholder.TopologyKey(topology) != placeholder.HostnameTopologyKey
}

func ownedByPipelineRun(run *v1.PipelineRun) bool {
	ref := metav1.GetControllerOf(run)
	return ref != nil && ref.Kind == "PipelineRun"
}

// there says where a run's pods run that a move waits for: on its node,
// or anywhere in its wider topology.
func there(topology string) string {
	if !wide(topology) {
		return "there"
	}
	return "in the PipelineRun's " + topology
}
