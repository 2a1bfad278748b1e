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
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// decideWorld is the world of testRun with placeholder StatefulSet sts
// (nil: none) and pod p (nil: none), its node ready, as mods change it.
func decideWorld(sts *appsv1.StatefulSet, p *corev1.Pod, mods ...func(*world)) world {
	run := testRun()
	w := world{
		run:   run,
		t:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
		tasks: remaining(),
		spec:  placeholder.Spec{Name: phName(), Run: run, Isolation: selection.IsolationRequired, Image: image},
	}
	if sts == nil {
		w.stored = run
	} else {
		w.sts = sts
		w.see(p)
		if w.node != "" {
			w.nodeObj = readyNode(w.node)
		}
	}
	for _, m := range mods {
		m(&w)
	}
	return w
}

// unusableAs makes the run's node unusable for why.
func unusableAs(why string) func(*world) {
	return func(w *world) {
		w.unusable = why
		if why == nodeGone {
			w.nodeObj = nil
		}
	}
}

// withMembers gives the run its pods.
func withMembers(pods ...*corev1.Pod) func(*world) {
	return func(w *world) { w.members = pods }
}

// queued labels the run for a Kueue LocalQueue.
func queued(w *world) { w.run.Labels[placeholder.KueueQueueLabel] = kueueQueue }

// containerLimits is a LimitRange with a container min and max.
func containerLimits(min, max corev1.ResourceList) func(*world) {
	return func(w *world) {
		w.limitRanges = []*corev1.LimitRange{{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer, Min: min, Max: max}}}}}
	}
}

// wait is the placement of a wait for reason, called again after after.
func wait(reason string, after time.Duration) Placement {
	return Placement{Reason: reason, RequeueAfter: after}
}

// running is a TaskRun pod of the run that runs on node.
func running(node string) *corev1.Pod {
	return memberPod("build-compile-pod", node, corev1.PodRunning, ago(time.Minute))
}

// unschedulablePod is a placeholder pod with requests that the scheduler
// found no node for.
func unschedulablePod(requests corev1.ResourceList) *corev1.Pod {
	return placeholderPod("", requests, ago(time.Minute), unschedulableCondition(schedulerMessage))
}

// stepView is what a test compares of a step.
type stepView struct {
	Kind       stepKind
	Placement  Placement
	Admit      bool
	Pinned     string
	Requests   corev1.ResourceList
	Write      bool
	Annotation string
	Since      time.Time
	Pod        string
	AtOnce     bool
	Events     []string
	Outcome    metrics.Outcome
	NodeWait   time.Duration
	Restored   bool
	// Reclaim: the pod lost its room and is to be replaced by one that
	// asks for it again (Replace: now); ReclaimSince is since when the
	// pin's template asks for it.
	Reclaim      *reclaimView
	ReclaimSince time.Time
	// HandOver is the resize or replacement of the pod that follows a pin.
	HandOver *handOverView
	// Recheck bounds a wait that an event of the pod ends (armRecheck).
	Recheck time.Duration
}

// handOverView is what a test compares of a hand-over: that the pod is
// replaced (from the template the pin writes), or the size it is resized
// to in place;
// the reasons of the events said when it is resized in place (Event, or
// replaced: then also the count), and when a shrink is refused (Refused).
type handOverView struct {
	Replace bool
	Resize  corev1.ResourceList
	Grows   bool
	Event   string
	Refused string
	// RefusedWait is the run's placement if the cluster refuses the resize.
	RefusedWait *Placement
}

// reclaimView is what a test compares of a reclaim: whether the pod is
// replaced now.
type reclaimView struct {
	Replace bool
}

func viewOf(st step) stepView {
	v := stepView{Kind: st.kind, Placement: st.placement, Admit: st.admit, Write: st.write, Annotation: st.annotation,
		Since: st.since, AtOnce: st.atOnce, Outcome: st.outcome, NodeWait: st.nodeWait, Restored: st.restored, Recheck: st.recheck}
	switch st.kind {
	case stepCreate, stepMove, stepPin:
		v.Pinned, v.Requests = st.spec.PinnedNode, st.spec.Requests
	}
	if st.pod != nil {
		v.Pod = st.pod.Name
	}
	if r := st.reclaim; r != nil {
		v.Reclaim = &reclaimView{Replace: r.replace}
	}
	if st.kind == stepPin && st.spec.ReclaimingSince != nil {
		v.ReclaimSince = *st.spec.ReclaimingSince
	}
	for _, e := range st.events {
		v.Events = append(v.Events, e.kind+" "+e.reason)
	}
	if h := st.handOver; h != nil {
		v.HandOver = &handOverView{Replace: h.replace, Resize: h.resize, Grows: h.grows}
		if h.event != nil {
			v.HandOver.Event = h.event.reason
		}
		if h.refused != nil {
			v.HandOver.Refused = h.refused.reason
		}
		v.HandOver.RefusedWait = h.refusedWait
	}
	return v
}

// decideCase is a world, and the step decide takes in it.
type decideCase struct {
	name   string
	config map[string]string
	world  world
	want   stepView
	// message lists substrings of the placement's message, or of the
	// step's event's when it has one.
	message []string
}

// runDecide checks the step decide takes in each case's world.
func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.world.run.DeepCopy()
			got := decide(tc.world, now, settings(t, tc.config))
			if d := cmp.Diff(tc.want, viewOf(got), quantityEqual, cmpopts.IgnoreFields(Placement{}, "Message"), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("decide() (-want +got):\n%s", d)
			}
			said := got.placement.Message
			for _, e := range got.events {
				said += "\n" + e.message
			}
			if h := got.handOver; h != nil {
				for _, e := range []*stepEvent{h.event, h.refused} {
					if e != nil {
						said += "\n" + e.message
					}
				}
				if h.refusedWait != nil {
					said += "\n" + h.refusedWait.Message
				}
			}
			for _, want := range tc.message {
				if !strings.Contains(said, want) {
					t.Errorf("decide() says %q, want it to contain %q", said, want)
				}
			}
			if got.kind == stepNone && !got.placement.Ready && got.placement.Current == nil && got.placement.Message == "" {
				t.Errorf("decide() = %+v: a run that is not ready needs a message", got.placement)
			}
			if d := cmp.Diff(before, tc.world.run); d != "" {
				t.Errorf("decide() modified the PipelineRun (-before +after):\n%s", d)
			}
		})
	}
}
