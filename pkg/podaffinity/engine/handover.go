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
	"sort"
	"strings"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
)

// The sizes a hand-over works with, pure functions of the placeholder pod
// and the run's tasks: what a replacement holds, what the node gives the
// pod and whether it still applies a shrink. decideHandOver decides with
// them.

// replacement is what a placeholder pod replaced during a hand-over holds:
// CPU and memory as want has them (they grow back in place later); of every
// other resource, which can never grow back, the peak of the tasks that
// have not started, as far as the room the old pod leaves beside the tasks
// that start allows, so that the new pod fits where the old one was.
func replacement(have, want corev1.ResourceList, tasks []demand.Task) corev1.ResourceList {
	var waiting, starting []demand.Task
	for _, t := range tasks {
		switch t.State {
		case demand.Waiting:
			waiting = append(waiting, t)
		case demand.Starting:
			starting = append(starting, t)
		}
	}
	later, now := demand.Peak(waiting), demand.Peak(starting)
	out := atMost(want, have)
	for name, held := range have {
		if inPlace(name) {
			continue
		}
		room := held.DeepCopy()
		room.Sub(now[name])
		q := later[name].DeepCopy()
		if q.Cmp(room) > 0 {
			q = room
		}
		if floor, ok := want[name]; ok && q.Cmp(floor) < 0 {
			q = floor
		}
		if q.Sign() > 0 {
			out[name] = q
		} else {
			delete(out, name)
		}
	}
	return out
}

// shrinking reports whether the node still gives the placeholder container
// more than its spec asks for: a shrink it has not applied yet, during which
// the scheduler still counts the larger size. A grow the node has deferred
// is not shrinking: nothing needs it. A node that reports no container
// resources for a running container (no in-place resize support) has
// nothing to apply. But a kubelet reports a container's resources only once
// it has started, and holds the pod at the size it admitted it with until
// then: a pod resized since it was created (its generation counts spec
// changes) whose container has not started yet is shrinking. (An API server
// that does not count pods' generations leaves it 0: nothing is waited for
// there.)
func shrinking(p *corev1.Pod) bool {
	if r := reportedResources(p); r == nil || r.Requests == nil {
		return p.Generation > 1 && !containerStarted(p)
	}
	return exceeds(allocated(p), placeholder.Requests(&p.Spec))
}

// containerStarted reports whether the node has started the placeholder
// container (it runs, or ran and stopped).
func containerStarted(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == placeholder.ContainerName {
			return cs.State.Running != nil || cs.State.Terminated != nil
		}
	}
	return false
}

// reportedResources returns the placeholder container's resources as the
// node reports them, as kubelets that resize pods in place do, or nil.
func reportedResources(p *corev1.Pod) *corev1.ResourceRequirements {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == placeholder.ContainerName {
			return cs.Resources
		}
	}
	return nil
}

// allocated returns what the node has given the placeholder container: the
// requests it reports, or the spec's requests when it reports none.
func allocated(p *corev1.Pod) corev1.ResourceList {
	if r := reportedResources(p); r != nil && r.Requests != nil {
		return r.Requests
	}
	return placeholder.Requests(&p.Spec)
}

// atMost returns a with every resource capped at b's amount, where b has it.
func atMost(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		if limit, ok := b[name]; ok && limit.Cmp(q) < 0 {
			q = limit
		}
		out[name] = q.DeepCopy()
	}
	return out
}

// exceeds reports whether a asks more than b of some resource; a resource
// b lacks counts as zero.
func exceeds(a, b corev1.ResourceList) bool {
	for name, q := range a {
		if q.Cmp(b[name]) > 0 {
			return true
		}
	}
	return false
}

// subtract returns what a has beyond b, per resource.
func subtract(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		d := q.DeepCopy()
		if other, ok := b[name]; ok {
			d.Sub(other)
		}
		if d.Sign() > 0 {
			out[name] = d
		}
	}
	return out
}

// startingNames lists the tasks that start now, or says "running tasks".
func startingNames(tasks []demand.Task) string {
	var names []string
	for _, t := range tasks {
		if t.State == demand.Starting {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return "running tasks"
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
