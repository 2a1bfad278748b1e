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
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
)

// armRecheck arms run's recheck: Enqueue brings the run back after d,
// unless the run's next decision comes first and replaces the timer (or
// stops it: d is 0). The bound of a wait that an event ends (a shrink the
// node applies) thus costs no reconcile once the event has come. A
// controller that restarts loses its timers, and decides again for every
// run. Without Enqueue, a recheck is returned as p.RequeueAfter, if sooner.
func (e *Engine) armRecheck(run *v1.PipelineRun, p Placement, d time.Duration) Placement {
	if e.Enqueue == nil {
		p.RequeueAfter = sooner(p.RequeueAfter, d)
		return p
	}
	key := types.NamespacedName{Namespace: run.Namespace, Name: run.Name}
	r := &e.rechecks
	r.Lock()
	defer r.Unlock()
	if t, ok := r.timers[key]; ok {
		t.Stop()
		delete(r.timers, key)
	}
	if d <= 0 {
		return p
	}
	if r.timers == nil {
		r.timers = map[types.NamespacedName]clock.Timer{}
	}
	var t clock.Timer
	t = e.timers().AfterFunc(d, func() {
		// A timer replaced or stopped as it fired enqueues nothing.
		r.Lock()
		current := r.timers[key] == t
		if current {
			delete(r.timers, key)
		}
		r.Unlock()
		if current {
			e.Enqueue(key)
		}
	})
	r.timers[key] = t
	return p
}

// stopRecheck stops run's recheck, if one is armed: the run is done.
func (e *Engine) stopRecheck(run *v1.PipelineRun) {
	if e.Enqueue != nil {
		e.armRecheck(run, Placement{}, 0)
	}
}

// timers is what runs the engine's timers: Clock, if it can.
func (e *Engine) timers() clock.WithDelayedExecution {
	if c, ok := e.Clock.(clock.WithDelayedExecution); ok {
		return c
	}
	return clock.RealClock{}
}

// sooner is the sooner of two waits, a and b, where 0 (or less) is no wait
// at all: the other one, then.
func sooner(a, b time.Duration) time.Duration {
	if b <= 0 || (a > 0 && a <= b) {
		return a
	}
	return b
}
