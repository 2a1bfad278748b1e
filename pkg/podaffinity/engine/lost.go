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
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// A placeholder pod can lose its node's room without the engine: the
// scheduler preempts it for a pod of higher priority, the kubelet evicts it
// under node pressure, a drain or a user evicts or deletes it. The
// StatefulSet controller then makes it again from the pinned template: on
// the same node, token-sized. That pod is not trusted to hold the node: the
// room the run's later tasks need may have gone to whatever took it.
//
// So, while no task starts, a pinned pod that the StatefulSet made on its
// own (its spec carries the pin: the pod the engine placed never does) and
// that holds the token while later tasks need more is replaced by a pod
// that asks the scheduler for that room on the node (lostRoom, decidePin), with
// placeholder.ReclaimingAnnotation on the StatefulSet: the template asks
// for it first (withReclaim), and the pod is deleted once the StatefulSet
// controller has seen that template (replaceUnreclaimed). The scheduler,
// which counts the preemptor's nomination, decides: bound, the run goes on
// there (reclaimed); refused, the run moves between tasks (decideReclaim).
// A pod bound while the template asks for the room that does not hold it
// (made from the template before, or the one the engine was to delete
// when it stopped) restores nothing: it is replaced too, while tasks start
// as well, as long as the tasks not started need more (reclaimNeeded).
//
// Growing the pod in place would not do: the kubelet may accept a grow
// before a nominated preemptor is bound, and the engine does not wait for a
// grow the kubelet defers. While tasks start, and on a node that does not
// resize pods in place (where the engine replaces the pod at every
// hand-over, and never grows it back), such a pod is taken as the engine's
// own replacement, which looks the same.

// lostToken is how the run's messages name the cause when the engine did
// not see it: the old pod is gone, and with it its DisruptionTarget.
const lostToken = "its pod was preempted, evicted or deleted"

// lostRoom reports whether p, bound to its pinned node, is to be replaced
// by a pod that asks for the room the run's later tasks need there, want:
// the StatefulSet controller made it on its own (its spec carries the pin)
// holding the token (have) while no task starts and later tasks need more,
// on a node that resizes pods in place. See decideReclaim for what follows.
func lostRoom(s Settings, run *v1.PipelineRun, p *corev1.Pod, tasks []demand.Task, limitRanges []*corev1.LimitRange) (have, want corev1.ResourceList, lost bool) {
	if s.Config.Reservation() != paconfig.ReservationReserve || demand.AnyStarting(tasks) ||
		placeholder.PinnedNode(&p.Spec, run) == "" || reportedResources(p) == nil {
		return nil, nil, false
	}
	token := placeholder.WithinLimitRanges(placeholder.TokenRequests(), limitRanges)
	have = placeholder.Requests(&p.Spec)
	want = reclaimRoom(tasks, token, limitRanges)
	return have, want, sameRequests(have, token) && exceeds(want, have)
}

// reclaimRoom is the room a pod that lost it asks for again on its node
// (lostRoom, reclaimNeeded): what the run's tasks that have not started
// need beyond what its running ones hold (demand.Held), at least token
// (the token within the LimitRanges), within the namespace's LimitRanges.
func reclaimRoom(tasks []demand.Task, token corev1.ResourceList, limitRanges []*corev1.LimitRange) corev1.ResourceList {
	return placeholder.WithinLimitRanges(demand.WithFloor(demand.Held(tasks), token), limitRanges)
}

// reclaimed says that the pod asking for the lost room got it on its node.
func (e *Engine) reclaimed(ctx context.Context, run *v1.PipelineRun, sts *appsv1.StatefulSet, p *corev1.Pod) {
	e.Metrics.Restore(ctx)
	event(ctx, run, corev1.EventTypeNormal, EventReservationRestored, fmt.Sprintf(
		"Placeholder %s holds %s on node %s again, after %s", sts.Name, formatResources(placeholder.Requests(&p.Spec)), p.Spec.NodeName, lostToken))
}
