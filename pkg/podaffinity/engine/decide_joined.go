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

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// A child PipelineRun (Target.Joined) runs in its parent's reservation: it
// has no placeholder of its own and writes nothing. The parent counts the
// child pipeline's peak as held by the child while it runs; the child
// starts once the parent's placeholder has made room for it on the node.

// observeJoined reads what a child run decides on: its parent's
// placeholder pod, as the engine last wrote it (w.pod, nil when there is
// none), and, once it is bound and holds still, whether its node is usable
// (w.node, w.unusable). A read that fails is an error.
func (e *Engine) observeJoined(run *v1.PipelineRun, t Target, tasks []demand.Task) (world, error) {
	w := world{run: run, t: t, tasks: tasks}
	p, err := e.Pods.Pods(run.Namespace).Get(placeholder.PodName(t.Placeholder))
	switch {
	case apierrors.IsNotFound(err):
		p = nil
	case err != nil:
		return world{}, fmt.Errorf("getting parent placeholder pod: %w", err)
	}
	w.cached = p
	w.pod = e.own.pod(p, e.Clock.Now())
	if parentWaits(w.pod) {
		return w, nil
	}
	w.node = w.pod.Spec.NodeName
	if w.unusable, err = e.unusable(w.node, w.pod.Spec.Tolerations); err != nil {
		return world{}, err
	}
	return w, nil
}

// parentWaits reports whether the parent's placeholder pod p (nil: none)
// holds no room for a child yet: there is none, it is going, it is not
// bound, or the node has not applied its shrink.
func parentWaits(p *corev1.Pod) bool {
	return p == nil || going(p) || p.Spec.NodeName == "" || shrinking(p)
}

// decideJoined decides for a child run: it waits for its parent's
// placeholder, or for the parent to move off a node that became unusable,
// or it may start tasks on the parent's node. It writes nothing.
func decideJoined(w world) step {
	if parentWaits(w.pod) {
		return done(waiting(ReasonWaitingForNode, fmt.Sprintf("Waiting for the parent PipelineRun's placeholder %s to be placed", w.t.Placeholder), 0))
	}
	if w.unusable != "" {
		return done(Placement{Node: w.node, Reason: ReasonWaitingToMove, Message: fmt.Sprintf(
			"Node %s is %s; waiting for the parent PipelineRun to move", w.node, w.unusable)})
	}
	return done(Placement{Node: w.node, Ready: true})
}
