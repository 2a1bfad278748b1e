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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestResizeStuck(t *testing.T) {
	now := time.Now()
	condition := func(typ corev1.PodConditionType, reason string, since time.Duration) corev1.PodCondition {
		return corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-since))}
	}
	running := &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want string
		// wantRecheck is how soon a run waiting for this pod's shrink is
		// reconciled again without an event (resizeRecheck): when
		// resizeStuck would turn true; 0 when nothing is timed.
		wantRecheck time.Duration
	}{{
		name:        "in progress for a moment: checked again when the limit runs out",
		pod:         reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizeInProgress, "", time.Second))),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "infeasible",
		pod:  reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, podReasonInfeasible, time.Second))),
		want: "PodResizePending (Infeasible)",
	}, {
		name: "pending longer than the limit",
		pod:  reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 2*time.Minute))),
		want: "PodResizePending (Deferred), for 2m0s",
	}, {
		name:        "pending for a while: checked again when the limit runs out",
		pod:         reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 58*time.Second))),
		wantRecheck: 2 * time.Second,
	}, {
		name:        "container not started, pod created a moment ago: checked again when the limit runs out",
		pod:         generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Second))), 2, nil),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "container not started within the limit",
		pod:  generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-90*time.Second))), 2, nil),
		want: "its container has not started in 1m30s",
	}, {
		// A pod that waited for a node (another run's node to free up)
		// could not be started by any node before it was bound: the node
		// has had it for a second.
		name:        "container not started, pod created 3 min ago and bound a second ago: counted from the binding",
		pod:         placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-3*time.Minute)), condition(corev1.PodScheduled, "", time.Second)),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "container not started, pod created 3 min ago and bound 90 s ago: stuck, for as long as the node had it",
		pod:  placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-3*time.Minute)), condition(corev1.PodScheduled, "", 90*time.Second)),
		want: "its container has not started in 1m30s",
	}, {
		name: "shrink asked 90 s ago, neither applied nor marked by the node: stuck, counted from the resize",
		pod:  resizedAt(shrunk(now.Add(-time.Hour)), now.Add(-90*time.Second)),
		want: "its shrink, asked 1m30s ago, is neither applied nor marked pending or in progress by the node",
	}, {
		name:        "shrink asked 10 s ago, nothing marked: checked again when the limit runs out",
		pod:         resizedAt(shrunk(now.Add(-time.Hour)), now.Add(-10*time.Second)),
		wantRecheck: resizeLimit - 10*time.Second,
	}, {
		name:        "shrink asked long ago, in progress for a moment: the condition counts, not the request",
		pod:         resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizeInProgress, "", time.Second)), now.Add(-2*time.Minute)),
		wantRecheck: resizeLimit - time.Second,
	}, {
		name: "shrink asked long ago, condition without a time: counted from the request",
		pod: resizedAt(withCondition(shrunk(now.Add(-time.Hour)), corev1.PodCondition{Type: podResizeInProgress, Status: corev1.ConditionTrue}),
			now.Add(-2*time.Minute)),
		want: "its shrink, asked 2m0s ago, is neither applied nor marked pending or in progress by the node",
	}, {
		name:        "resized by someone else an hour ago, by the engine 30 s ago: the latest resize counts",
		pod:         resizedBy(resizedAt(shrunk(now.Add(-time.Hour)), now.Add(-30*time.Second)), "kubectl", now.Add(-time.Hour)),
		wantRecheck: resizeLimit - 30*time.Second,
	}, {
		// A grow the node deferred long ago, then a shrink: the condition's
		// time is the grow's, and the node has had 10 s for the shrink.
		name:        "pending since long ago, shrink asked 10 s ago: counted from the shrink",
		pod:         resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 10*time.Minute)), now.Add(-10*time.Second)),
		wantRecheck: resizeLimit - 10*time.Second,
	}, {
		name: "pending since long ago, shrink asked 2 min ago: stuck, for as long as the shrink waited",
		pod:  resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizePending, "Deferred", 10*time.Minute)), now.Add(-2*time.Minute)),
		want: "PodResizePending (Deferred), for 2m0s",
	}, {
		// An Infeasible left from an earlier resize (a grow the node
		// could not give, say) says nothing of the shrink asked since:
		// the node has had 10 s for it.
		name:        "Infeasible since before the shrink was asked: stale, counted from the shrink",
		pod:         resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizePending, podReasonInfeasible, 5*time.Minute)), now.Add(-10*time.Second)),
		wantRecheck: resizeLimit - 10*time.Second,
	}, {
		name: "Infeasible since before the shrink was asked, shrink asked 2 min ago: stuck, for as long as the shrink waited",
		pod:  resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizePending, podReasonInfeasible, 5*time.Minute)), now.Add(-2*time.Minute)),
		want: "PodResizePending (Infeasible), for 2m0s",
	}, {
		name: "Infeasible since the shrink was asked: stuck at once",
		pod:  resizedAt(withCondition(shrunk(now.Add(-time.Hour)), condition(podResizePending, podReasonInfeasible, 5*time.Second)), now.Add(-10*time.Second)),
		want: "PodResizePending (Infeasible)",
	}, {
		name: "shrink not applied, no record of when it was asked (no managed fields): nothing timed",
		pod:  shrunk(now.Add(-time.Hour)),
	}, {
		name: "resize asked long ago and applied: nothing pending, nothing timed",
		pod:  resizedAt(reporting(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour)))), now.Add(-2*time.Minute)),
	}, {
		name: "container running, nothing reported, long ago: nothing pending, nothing timed",
		pod:  generation(placeholderPod("node-1", peak(), metav1.NewTime(now.Add(-time.Hour))), 2, running),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := resizeStuck(tc.pod, now); got != tc.want {
				t.Errorf("resizeStuck() = %q, want %q", got, tc.want)
			}
			if got := resizeRecheck(tc.pod, now); got != tc.wantRecheck {
				t.Errorf("resizeRecheck() = %s, want %s", got, tc.wantRecheck)
			}
		})
	}
}

// shrunk is a running placeholder pod created at created whose spec asks
// the token while its node still gives it 2 CPU, with no PodResize*
// condition: a shrink the node has neither applied nor marked.
func shrunk(created time.Time) *corev1.Pod {
	return reportingRequests(placeholderPod("node-1", placeholder.TokenRequests(), metav1.NewTime(created)), rl("2", "16Mi"))
}

// resizedAt records in p's managed fields, as the API server does, that
// its resources were last changed through the pods/resize subresource at
// at (by the engine's field manager), beside the StatefulSet controller's
// entry from the pod's creation.
func resizedAt(p *corev1.Pod, at time.Time) *corev1.Pod {
	if len(p.ManagedFields) == 0 {
		p.ManagedFields = append(p.ManagedFields, metav1.ManagedFieldsEntry{
			Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Time: ptr.To(p.CreationTimestamp),
		})
	}
	for i := range p.ManagedFields {
		if p.ManagedFields[i].Subresource == "resize" {
			p.ManagedFields[i].Time = ptr.To(metav1.NewTime(at))
			return p
		}
	}
	p.ManagedFields = append(p.ManagedFields, metav1.ManagedFieldsEntry{
		Manager: "controller", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "resize", Time: ptr.To(metav1.NewTime(at)),
	})
	return p
}

func withCondition(p *corev1.Pod, c corev1.PodCondition) *corev1.Pod {
	p.Status.Conditions = append(p.Status.Conditions, c)
	return p
}

// resizedBy adds a pods/resize managed fields entry of manager at at.
func resizedBy(p *corev1.Pod, manager string, at time.Time) *corev1.Pod {
	p.ManagedFields = append(p.ManagedFields, metav1.ManagedFieldsEntry{
		Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "resize", Time: ptr.To(metav1.NewTime(at)),
	})
	return p
}

// TestResizable checks what an in-place resize asks for: CPU and memory
// as wanted, every other resource (ephemeral storage, extended resources)
// as the pod has it, which the API server would refuse to change; and
// which of those the pod holds more of than wanted (the pod is then
// replaced instead).
func TestResizable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		want, have corev1.ResourceList
		resize     corev1.ResourceList
		excess     []string
	}{{
		name:   "CPU and memory only: as wanted",
		want:   rl("1", "1Gi"),
		have:   rl("3", "2Gi"),
		resize: rl("1", "1Gi"),
	}, {
		name:   "ephemeral storage later tasks need: kept as the pod has it",
		want:   withEphemeral(rl("1", "1Gi"), "1Gi"),
		have:   withEphemeral(rl("3", "2Gi"), "1Gi"),
		resize: withEphemeral(rl("1", "1Gi"), "1Gi"),
	}, {
		name:   "an extended resource nobody needs any more: kept, and named as held in excess",
		want:   rl("1", "1Gi"),
		have:   withExtended(rl("3", "2Gi"), "2"),
		resize: withExtended(rl("1", "1Gi"), "2"),
		excess: []string{string(extendedResource)},
	}, {
		name:   "an extended resource wanted in full: kept, not in excess",
		want:   withExtended(rl("1", "1Gi"), "2"),
		have:   withExtended(rl("3", "2Gi"), "2"),
		resize: withExtended(rl("1", "1Gi"), "2"),
	}, {
		name:   "an extended resource the pod does not hold is not added",
		want:   withExtended(rl("1", "1Gi"), "1"),
		have:   rl("3", "2Gi"),
		resize: rl("1", "1Gi"),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.resize, resizable(tc.want, tc.have), quantityEqual); d != "" {
				t.Errorf("resizable() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.excess, fixedExcess(tc.have, tc.want)); d != "" {
				t.Errorf("fixedExcess() (-want +got):\n%s", d)
			}
		})
	}
}

// TestResizeMemoryOutlivesItsBound checks that the engine remembers a
// resize longer than a shrink may stay in flight.
func TestResizeMemoryOutlivesItsBound(t *testing.T) {
	if resizeMemory <= resizeLimit {
		t.Errorf("resizeMemory = %s, want more than resizeLimit (%s)", resizeMemory, resizeLimit)
	}
}
