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

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

const (
	ns    = "team-a"
	image = "images.invalid/tektoncd/nop:v1"
	// schedulerMessage is what the scheduler says when isolation keeps the
	// placeholder off every node.
	schedulerMessage = "0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules"
)

var now = time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)

func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func rl(cpu, memory string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memory)}
}

// remaining is the demand of a run that has not started: a and b start now
// and run at once, so the peak is cpu=3, memory=3Gi, and all of it goes to
// them when they start.
func remaining() []demand.Task {
	return []demand.Task{
		{Name: "a", Pod: rl("2", "1Gi"), State: demand.Starting},
		{Name: "b", Pod: rl("1", "2Gi"), State: demand.Starting},
		{Name: "c", After: []string{"a", "b"}, Pod: rl("1", "1Gi")},
	}
}

func peak() corev1.ResourceList { return rl("3", "3Gi") }

func testRun() *v1.PipelineRun {
	return &v1.PipelineRun{
		TypeMeta:   metav1.TypeMeta{APIVersion: "tekton.dev/v1", Kind: "PipelineRun"},
		ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: ns, UID: "run-uid", Labels: map[string]string{selection.LabelKey: "true"}},
	}
}

// zoneKey is the topology key of the zone tests.
const zoneKey = "topology.kubernetes.io/zone"

func phName() string { return placeholder.Name(&testRun().ObjectMeta) }

// ownSTS is the run's placeholder StatefulSet as the engine creates it.
func ownSTS(pinned string, requests corev1.ResourceList) *appsv1.StatefulSet {
	sts := placeholder.StatefulSet(placeholder.Spec{
		Name:       phName(),
		Run:        testRun(),
		Isolation:  selection.IsolationRequired,
		Image:      image,
		Requests:   requests,
		PinnedNode: pinned,
	})
	sts.UID = "sts-uid"
	sts.CreationTimestamp = ago(time.Minute)
	return sts
}

// createdAgo sets when sts was created.
func createdAgo(sts *appsv1.StatefulSet, d time.Duration) *appsv1.StatefulSet {
	sts.CreationTimestamp = ago(d)
	return sts
}

// waitingSince records on sts that the run's wait for a node began d ago.
func waitingSince(sts *appsv1.StatefulSet, d time.Duration) *appsv1.StatefulSet {
	sts.Annotations = map[string]string{placeholder.WaitingSinceAnnotation: now.Add(-d).Format(time.RFC3339)}
	return sts
}

// tolerating adds to sts a toleration of the taint key, as the run's
// podTemplate would.
func tolerating(sts *appsv1.StatefulSet, key string) *appsv1.StatefulSet {
	sts.Spec.Template.Spec.Tolerations = append(sts.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	return sts
}

func terminating(p *corev1.Pod, since time.Duration) *corev1.Pod {
	p.DeletionTimestamp = ptr.To(ago(since))
	p.Finalizers = []string{"test"}
	return p
}

func beingDeleted(sts *appsv1.StatefulSet) *appsv1.StatefulSet {
	sts.DeletionTimestamp = ptr.To(ago(time.Second))
	sts.Finalizers = []string{"orphan"}
	return sts
}

// placeholderPod is the placeholder's pod with the given requests, bound to
// node unless node is "".
func placeholderPod(node string, requests corev1.ResourceList, created metav1.Time, conditions ...corev1.PodCondition) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              placeholder.PodName(phName()),
			Namespace:         ns,
			UID:               "placeholder-pod-uid",
			Labels:            placeholder.Labels(phName(), "build"),
			CreationTimestamp: created,
		},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name:      placeholder.ContainerName,
				Image:     image,
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests},
			}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: conditions},
	}
}

// reporting makes the node report the placeholder container with the
// resources its spec asks for, as a kubelet with in-place resize does.
func reporting(p *corev1.Pod) *corev1.Pod {
	return reportingRequests(p, placeholder.Requests(&p.Spec))
}

// reportingRequests makes the node report the placeholder container with
// requests; a kubelet reports them once it has started the container, so
// the container runs.
func reportingRequests(p *corev1.Pod, requests corev1.ResourceList) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:      placeholder.ContainerName,
		State:     corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		Resources: &corev1.ResourceRequirements{Requests: requests.DeepCopy(), Limits: requests.DeepCopy()},
	}}
	return p
}

// growBack is a run in which a finished, b (1 CPU) runs or has finished
// (state -1), and c needs 3 CPU after b: once a has finished, the
// placeholder holds 2 CPU for c beside b.
func growBack(b, c demand.TaskState) []demand.Task {
	tasks := []demand.Task{{Name: "c", After: []string{"a", "b"}, Pod: rl("3", "1Mi"), State: c}}
	if b >= 0 {
		tasks = append(tasks, demand.Task{Name: "b", Pod: rl("1", "1Mi"), State: b})
	}
	return tasks
}

func unschedulableCondition(message string) corev1.PodCondition {
	return corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: message}
}

// memberPod is a TaskRun pod of the run.
func memberPod(name, node string, phase corev1.PodPhase, created metav1.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			Namespace:         ns,
			UID:               types.UID(name + "-uid"),
			Labels:            map[string]string{placeholder.MemberLabelKey: phName(), "tekton.dev/pipelineRun": "build"},
			CreationTimestamp: created,
		},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: phase},
	}
}

// generation gives p the metadata.generation the API server counts its
// spec changes by, and, when state is set, a status of its placeholder
// container in that state without resources.
func generation(p *corev1.Pod, gen int64, state *corev1.ContainerState) *corev1.Pod {
	p.Generation = gen
	if state != nil {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: placeholder.ContainerName, State: *state}}
	}
	return p
}

// recorded gives run the engine's record value.
func recorded(r *v1.PipelineRun, value string) *v1.PipelineRun {
	r.Annotations = map[string]string{selection.RecordAnnotationKey: value}
	return r
}

// reconciled is run as the controller left it: started, and with a TaskRun
// when withChildren.
func reconciled(r *v1.PipelineRun, withChildren bool) *v1.PipelineRun {
	r.Status.StartTime = ptr.To(ago(time.Minute))
	if withChildren {
		r.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	}
	return r
}

// waitingForFirstNode is run as the controller leaves it while it waits for
// its first node: a Succeeded condition with reason, and no start time (it
// has none until it gets a node, as a pending run has none until it is
// released).
func waitingForFirstNode(r *v1.PipelineRun, reason string) *v1.PipelineRun {
	r.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionUnknown, Reason: reason})
	return r
}

var quantityEqual = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })

// nudgedAgo records on sts that the engine nudged the StatefulSet
// controller d ago.
func nudgedAgo(sts *appsv1.StatefulSet, d time.Duration) *appsv1.StatefulSet {
	if sts.Annotations == nil {
		sts.Annotations = map[string]string{}
	}
	sts.Annotations[placeholder.NudgedAnnotation] = now.Add(-d).Format(time.RFC3339)
	return sts
}

// generations sets how many specs of sts the API server has stored
// (generation) and which of them the StatefulSet controller has processed
// (status.observedGeneration): fake clientsets maintain neither.
func generations(sts *appsv1.StatefulSet, generation, observed int64) *appsv1.StatefulSet {
	sts.Generation, sts.Status.ObservedGeneration = generation, observed
	return sts
}

// runningUnreported makes the node run the placeholder container without
// reporting its resources, as a kubelet without in-place resize does.
func runningUnreported(p *corev1.Pod) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	return generation(p, p.Generation, &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
}

// withEphemeral adds ephemeral storage to r.
func withEphemeral(r corev1.ResourceList, q string) corev1.ResourceList {
	out := r.DeepCopy()
	out[corev1.ResourceEphemeralStorage] = resource.MustParse(q)
	return out
}

// extendedResource is an extended resource a node may advertise.
const extendedResource corev1.ResourceName = "example.com/gpu"

// withExtended is r with q of extendedResource.
func withExtended(r corev1.ResourceList, q string) corev1.ResourceList {
	out := r.DeepCopy()
	out[extendedResource] = resource.MustParse(q)
	return out
}
