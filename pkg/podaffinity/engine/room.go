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

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// The room beside the placeholder. Tasks that start wait for the node to
// apply the placeholder's shrink because, until it has, the scheduler
// still counts the pod at its old size. When the node has room for them
// beside that size anyway, they need not wait: the run is ready in the
// step that asks the shrink (or, before the node has started the pod's
// container, in the step that pins it), a reconcile and the node's answer
// earlier, in a burst of runs that share one rate-limited client. The
// shrink is asked all the same; the reservation for later tasks is the
// placeholder's either way.
//
// What the engine knows of that room without asking the API server: the
// node's allocatable (its node cache), the placeholder pod's size as the
// scheduler counts it (the larger of its spec and what the node reports),
// and the pods of Tekton's pod cache on the node. It does not see pods
// that are not Tekton's (DaemonSets, say). Should they hold the room, the
// run's pods are unschedulable until the node has applied the shrink,
// asked at once, and the scheduler tries them again then (from Kubernetes
// 1.32 on, NodeResourcesFit re-queues a pod it rejected when a pod on the
// node scales down), as it does for any pod: a wait as long as the one
// the run would have had, never a wrong placement. Only a run alone on
// its node reads it (readsRoom): other runs' pods beside it could start
// at any moment.

// readsRoom reports whether the hand-over of w's bound pod, by plan pl,
// would start tasks beside the pod if its node had room for them: the run
// is alone on its node (isolation required, across namespaces, its pods on
// the placeholder's node), the reservation is kept (otherwise nothing
// shrinks), tasks start, and the pod is to shrink in place or still
// shrinking.
func readsRoom(w *world, pl handOverPlan, s Settings) bool {
	t := w.t
	alone := t.Isolation == selection.IsolationRequired && !t.NamespaceScoped && t.TenantLabel == "" && !wide(t.Topology) && !t.Joined
	return alone && s.Config.Reservation() == paconfig.ReservationReserve && pl.starting && len(pl.fixed) == 0 &&
		(exceeds(pl.have, pl.want) || shrinking(w.pod))
}

// fitsBeside reports whether w's node has room, beside the placeholder pod
// at the size the scheduler still counts (world.room), for every pod of
// the run's running and starting tasks. An unknown room has none.
func fitsBeside(w *world) bool {
	if w.room == nil {
		return false
	}
	for name, q := range inUse(w.tasks) {
		if room, ok := w.room[name]; q.Sign() > 0 && (!ok || room.Cmp(q) < 0) {
			return false
		}
	}
	return true
}

// inUse is what the pods of the running and starting tasks request, all
// at once.
func inUse(tasks []demand.Task) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, t := range tasks {
		if t.State == demand.Waiting {
			continue
		}
		count := t.Count
		if count < 1 {
			count = 1
		}
		for i := 0; i < count; i++ {
			addTo(out, t.Pod)
		}
	}
	return out
}

// readRoom puts into w the room of its bound pod's node beside it
// (roomBeside), from the caches: no request.
func (e *Engine) readRoom(w *world) error {
	if w.nodeObj == nil {
		return nil
	}
	pods, err := e.Pods.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing the cached pods on node %s: %w", w.pod.Spec.NodeName, err)
	}
	w.room = roomBeside(w.nodeObj, w.pod, w.t.Placeholder, pods)
	return nil
}

// roomBeside is what node n has left beside placeholder pod p, at the size
// the scheduler counts it (the larger of its spec and what the node
// reports, and its overhead), and beside the pods of pods on n that have
// not finished, other than p and the pods of the run of placeholder name
// (its running tasks, counted by inUse). A node that reports no
// allocatable (its kubelet has not said yet) has an unknown room: nil.
func roomBeside(n *corev1.Node, p *corev1.Pod, name string, pods []*corev1.Pod) corev1.ResourceList {
	if len(n.Status.Allocatable) == 0 {
		return nil
	}
	room := corev1.ResourceList{}
	for name, q := range n.Status.Allocatable {
		room[name] = q.DeepCopy()
	}
	counted := maxOf(placeholder.Requests(&p.Spec), allocated(p))
	addTo(counted, p.Spec.Overhead)
	takeFrom(room, counted)
	for _, o := range pods {
		if o.Spec.NodeName != n.Name || o.UID == p.UID || o.Status.Phase == corev1.PodSucceeded || o.Status.Phase == corev1.PodFailed {
			continue
		}
		if o.Namespace == p.Namespace && o.Labels[placeholder.MemberLabelKey] == name {
			continue
		}
		takeFrom(room, podRequests(o))
	}
	return room
}

// podRequests is what pod p asks of its node, as the scheduler counts it:
// its containers and restartable init containers (sidecars) together, at
// least each init container, and its overhead.
func podRequests(p *corev1.Pod) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, c := range p.Spec.Containers {
		addTo(out, c.Resources.Requests)
	}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addTo(out, c.Resources.Requests)
		}
	}
	for _, c := range p.Spec.InitContainers {
		out = maxOf(out, c.Resources.Requests)
	}
	addTo(out, p.Spec.Overhead)
	return out
}

// addTo adds more to total, per resource.
func addTo(total, more corev1.ResourceList) {
	for name, q := range more {
		sum := total[name]
		sum.Add(q)
		total[name] = sum
	}
}

// takeFrom takes less from room, per resource room has.
func takeFrom(room, less corev1.ResourceList) {
	for name, q := range less {
		if left, ok := room[name]; ok {
			left.Sub(q)
			room[name] = left
		}
	}
}

// maxOf returns, per resource, the larger of a and b.
func maxOf(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		out[name] = q.DeepCopy()
	}
	for name, q := range b {
		if have, ok := out[name]; !ok || q.Cmp(have) > 0 {
			out[name] = q.DeepCopy()
		}
	}
	return out
}
