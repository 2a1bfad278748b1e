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
// Every call is level-triggered and takes at most one step towards what
// the run needs. Place observes, decides, acts: observe reads once what the
// placement depends on (the placeholder StatefulSet and pod as the engine
// last wrote them, the run's node, its pods listed at most once, a dry
// run's answer for a pod not created in time, when a shrink in flight was
// asked; for a child run, its parent's pod and node); decide, a pure
// function of that world and the time, returns the one step to take
// (create, record when a wait began, nudge the StatefulSet controller,
// move, delete a pod that does not terminate, pin and hand over by a
// resize or a replacement; or nothing: ready, a bounded wait with its
// reason, a failure); act writes it. A step may take more than one write
// (a move unpins the template and replaces the pod), never a second
// decision on what it wrote. One outcome remains decided on the API
// server's answer to a write: a create that is refused (a quota: a bounded
// wait; the name taken: act reads that object to tell the run's own from
// someone else's); a resize the cluster will not do in place picks the
// outcome decide gave for that. Any step may fail or crash and be retried.
package engine

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"knative.dev/pkg/controller"
)

// Condition reasons and event reasons set on handled PipelineRuns.
const (
	// ReasonWaitingForNode: the run's placeholder is not on a node yet; no
	// TaskRun is created until it is.
	ReasonWaitingForNode = "WaitingForNode"
	// ReasonWaitingToMove: the run's node became unusable while some of its
	// pods still run there; the run moves once they finish.
	ReasonWaitingToMove = "WaitingToMove"
	// ReasonHandingOver: the placeholder makes room for tasks that start
	// now in a way they wait for: the node is to start its container, so
	// that it can shrink, or to apply a shrink the node has no room for the
	// tasks beside, or the pod is replaced; the tasks are created once it
	// has made room.
	ReasonHandingOver = "HandingOverReservation"
	// ReasonWaitingForAdmission: the run is labelled for a Kueue LocalQueue
	// and its placeholder pod, the run's workload, waits for Kueue to admit
	// it; no TaskRun is created until it is admitted and on a node.
	ReasonWaitingForAdmission = "WaitingForAdmission"
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
	// ReasonPlaceholderStuckDeleting: finalizers held the run's placeholder
	// StatefulSet or pod in deletion beyond max-node-wait; the run fails.
	ReasonPlaceholderStuckDeleting = "PlaceholderStuckDeleting"
	// ReasonParentReleased: a joined child finds its parent's placeholder
	// released for good (the parent done or gone); the child fails.
	ReasonParentReleased = "ParentPlaceholderReleased"

	// EventPlaceholderRecreated is recorded when a run's placeholder is
	// created again: mid-run (pinned to the node of its pods, or anew
	// when that node is lost) or after a move. Its first creation records
	// no event: the Placed event that follows says what it requests.
	EventPlaceholderRecreated = "PlaceholderRecreated"
	// EventPlaced is recorded when a run gets its node, with what its
	// placeholder requests there.
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
	// EventRequeued is recorded when a run labelled for a Kueue LocalQueue
	// lost its admission (and its node) before its pods ran there, and is
	// queued again as a whole.
	EventRequeued = "RequeuedForAdmission"
	// EventPlaceholderLost is recorded when the placeholder pod came back
	// holding less than the run needs (its pod was preempted, evicted or
	// deleted) and is replaced by one that asks for that room again.
	EventPlaceholderLost = "PlaceholderLost"
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
	// Synced, when set, is called before the engine reads StatefulSets,
	// Pods or Nodes for a run that needs them, and fails when their
	// informers have not synced (Caches.Synced: they start on the first
	// call). The engine then returns its error rather than decide from an
	// empty cache. Runs the engine has nothing to do with never call it.
	Synced func(ctx context.Context) error
	// LimitRanges, when set, lets the demand include the defaults Tekton
	// applies to steps from the namespace's LimitRanges.
	LimitRanges corelisters.LimitRangeLister
	// RuntimeClasses reads the RuntimeClasses that runs' pod templates
	// name (RuntimeClassCache): their scheduling joins the placeholder's,
	// their overhead the demand. Needed only by runs that name one.
	RuntimeClasses RuntimeClassReader
	// PipelineRuns, when set, reads a PipelineRun from the API server. The
	// engine reads a run afresh before it creates its placeholder: a
	// reconcile of a copy read from a stale cache (the run done, its
	// placeholder released a moment ago) must not make a new one.
	PipelineRuns func(ctx context.Context, namespace, name string) (*v1.PipelineRun, error)
	// Namespaces, when set, reads a namespace from a cache (Namespaces.Get).
	// It is called only to place a run isolated per tenant, whose isolation
	// term needs its namespace's labels.
	Namespaces func(ctx context.Context, name string) (*corev1.Namespace, error)
	// Workloads, when set, reads a Kueue Workload as JSON (see
	// workloadState); otherwise the engine GETs it through KubeClient.
	Workloads func(ctx context.Context, namespace, name string) ([]byte, error)
	// LocalQueues, when set, reads a Kueue LocalQueue as JSON (see
	// workloadState); otherwise the engine GETs it through KubeClient.
	LocalQueues func(ctx context.Context, namespace, name string) ([]byte, error)
	// PendingWorkloads, when set, reads the pending workloads of a Kueue
	// LocalQueue from Kueue's visibility API as JSON (see queueText);
	// otherwise the engine GETs them through KubeClient.
	PendingWorkloads func(ctx context.Context, namespace, queue string) ([]byte, error)
	Clock            clock.PassiveClock
	Metrics          *metrics.Recorder
	// Enqueue, when set, brings a run back to the reconciler. A wait that
	// an event of the placeholder pod ends (a shrink in flight) is then
	// bounded by a timer of the engine's, which the run's next decision
	// replaces (rechecks), not by RequeueAfter: a workqueue cannot take
	// back a requeue that such an event made moot. The timers run on Clock
	// when it can (clock.WithDelayedExecution), in real time otherwise.
	Enqueue func(types.NamespacedName)

	// own holds the engine's writes to placeholders that its caches may
	// not show yet.
	own ownWrites
	// refused holds since when placeholders of runs in flight are refused.
	refused refusals
	// visibility remembers whether Kueue's visibility API is served.
	visibility kueueVisibility
	// released holds the UIDs of the placeholder StatefulSets Release
	// deleted, for releasedTTL: the events of those deletions re-queue
	// nothing (ReleasedPlaceholder). A failed deletion drops its UID.
	released expiring[types.UID, struct{}]
	// ownEvents holds the placeholder StatefulSets as the engine's writes
	// left them, whose watch events re-queue nothing (OwnStatefulSetWrite).
	ownEvents ownEvents
	// changed: when the engine last changed each placeholder template
	// (templateChanged).
	changed expiring[types.UID, time.Time]
	// resized: when the engine last resized each placeholder pod
	// (podResized).
	resized expiring[types.UID, time.Time]
	// warned holds the Warnings sent about runs, for warnedTTL
	// (FirstWarning).
	warned expiring[warnedKey, struct{}]
	// rechecks: the timer armed for each run (armRecheck).
	rechecks struct {
		sync.Mutex
		timers map[types.NamespacedName]clock.Timer
	}
}

// warnedTTL is how long FirstWarning remembers a Warning: much longer than
// a cache takes to show a status write.
const warnedTTL = 10 * time.Minute

// warnedKey is a Warning of a reason about a run.
type warnedKey struct {
	run    types.UID
	reason string
}

// FirstWarning reports whether it was not asked about the run uid and
// reason in the last warnedTTL: the first ask sends the Warning, and the
// asks that follow it within warnedTTL of the one before do not. The
// engine and the reconciler send a Warning when a run enters a state its
// status shows, but a reconcile may read the run from a cache that does
// not show the last one's status write yet (its key queued again
// meanwhile): this keeps it from sending the Warning twice. Safe for
// concurrent use.
func (e *Engine) FirstWarning(uid types.UID, reason string) bool {
	first := false
	e.warned.update(warnedKey{run: uid, reason: reason}, e.Clock.Now(), warnedTTL, func(_ struct{}, found bool) struct{} {
		first = !found
		return struct{}{}
	})
	return first
}

// synced calls Synced, if set.
func (e *Engine) synced(ctx context.Context) error {
	if e.Synced == nil {
		return nil
	}
	return e.Synced(ctx)
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
	// Since is when the wait that Reason reports began, as far as the
	// engine can tell: when the run's placeholder was created, or last
	// moved (placeholder.WaitingSinceAnnotation); when the run was created
	// while it has no placeholder. Zero when Ready or Failed. A reconciler
	// may keep a wait of a moment out of the run's status.
	Since time.Time
	// HandOverBegun is true when this call began to make room for starting
	// tasks that wait for it (resized or replaced the placeholder pod;
	// Reason is ReasonHandingOver): the placeholder pod's update brings the
	// run back in a moment. A reconciler may leave the run's status as it
	// is until then, and write it once with the tasks that start.
	HandOverBegun bool
	// Current, when set, is the run as the API server has it now: the
	// reconcile read an older copy from its cache (the run is done and its
	// placeholder released since, say). Nothing was placed; the reconcile
	// should carry on with Current's status, so that nothing of the older
	// copy is written back.
	Current *v1.PipelineRun
}

func formatResources(r corev1.ResourceList) string {
	parts := make([]string, 0, len(r))
	for _, name := range sortedNames(r) {
		q := r[name]
		parts = append(parts, string(name)+"="+q.String())
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

func sortedNames(r corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(r))
	for name := range r {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// RuntimeClassReader reads RuntimeClasses.
type RuntimeClassReader interface {
	// Get returns the RuntimeClass called name, or an error for which
	// apierrors.IsNotFound is true when there is none.
	Get(ctx context.Context, name string) (*nodev1.RuntimeClass, error)
}
