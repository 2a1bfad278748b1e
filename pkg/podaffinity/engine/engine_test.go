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
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/demand"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
	"knative.dev/pkg/controller"
	logtesting "knative.dev/pkg/logging/testing"
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

func settings(t *testing.T, data map[string]string) Settings {
	t.Helper()
	all := map[string]string{paconfig.EnableKey: "true"}
	for k, v := range data {
		all[k] = v
	}
	cfg, err := paconfig.FromMap(all)
	if err != nil {
		t.Fatalf("config.FromMap(%v) = %v", all, err)
	}
	return Settings{Config: cfg, Coschedule: tektonconfig.CoscheduleWorkspaces, Image: image}
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

// nudgedAgo records on sts that the engine nudged the StatefulSet
// controller d ago.
func nudgedAgo(sts *appsv1.StatefulSet, d time.Duration) *appsv1.StatefulSet {
	if sts.Annotations == nil {
		sts.Annotations = map[string]string{}
	}
	sts.Annotations[placeholder.NudgedAnnotation] = now.Add(-d).Format(time.RFC3339)
	return sts
}

// tolerating adds to sts a toleration of the taint key, as the run's
// podTemplate would.
func tolerating(sts *appsv1.StatefulSet, key string) *appsv1.StatefulSet {
	sts.Spec.Template.Spec.Tolerations = append(sts.Spec.Template.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
	return sts
}

func notReadyNode(name string) *corev1.Node {
	n := readyNode(name)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	n.Spec.Taints = []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}}
	return n
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

// reportingRequests makes the node report the placeholder container with requests.
func reportingRequests(p *corev1.Pod, requests corev1.ResourceList) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:      placeholder.ContainerName,
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

func readyNode(name string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Allocatable: rl("4", "16Gi"),
		},
	}
}

func cordonedNode(name string) *corev1.Node {
	n := readyNode(name)
	n.Spec.Unschedulable = true
	return n
}

func taintedNode(name, key string, effect corev1.TaintEffect) *corev1.Node {
	n := readyNode(name)
	n.Spec.Taints = []corev1.Taint{{Key: key, Effect: effect}}
	return n
}

// harness is a fake API server plus listers that show its current state,
// as informers would once synced.
type harness struct {
	client   *fake.Clientset
	recorder *record.FakeRecorder
	ctx      context.Context
	// dryRunErr, when set, is what a dry-run create answers.
	dryRunErr error
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	recorder := record.NewFakeRecorder(100)
	h := &harness{
		client:   fake.NewClientset(objs...),
		recorder: recorder,
		ctx:      controller.WithEventRecorder(logtesting.TestContextWithLogger(t), recorder),
	}
	// As the API server does: a dry run stores nothing, and what is
	// created gets its creation time.
	h.client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		create, ok := a.(k8stesting.CreateActionImpl)
		if !ok {
			return false, nil, nil
		}
		if len(create.CreateOptions.DryRun) > 0 {
			return true, create.GetObject(), h.dryRunErr
		}
		if o, ok := create.GetObject().(metav1.Object); ok && o.GetCreationTimestamp().Time.IsZero() {
			o.SetCreationTimestamp(metav1.NewTime(now))
		}
		return false, nil, nil
	})
	return h
}

// engine returns an Engine whose listers hold what the fake API server holds
// now, and forgets the actions recorded so far.
func (h *harness) engine(t *testing.T) *Engine {
	t.Helper()
	newIndexer := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	stsIndexer, podIndexer, nodeIndexer := newIndexer(), newIndexer(), newIndexer()
	sts, err := h.client.AppsV1().StatefulSets("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range sts.Items {
		if err := stsIndexer.Add(&sts.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	pods, err := h.client.CoreV1().Pods("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if err := podIndexer.Add(&pods.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	nodes, err := h.client.CoreV1().Nodes().List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range nodes.Items {
		if err := nodeIndexer.Add(&nodes.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	limitRangeIndexer := newIndexer()
	limitRanges, err := h.client.CoreV1().LimitRanges("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range limitRanges.Items {
		if err := limitRangeIndexer.Add(&limitRanges.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	h.client.ClearActions()
	return &Engine{
		KubeClient:   h.client,
		StatefulSets: appslisters.NewStatefulSetLister(stsIndexer),
		Pods:         corelisters.NewPodLister(podIndexer),
		Nodes:        corelisters.NewNodeLister(nodeIndexer),
		LimitRanges:  corelisters.NewLimitRangeLister(limitRangeIndexer),
		Clock:        clocktesting.NewFakePassiveClock(now),
	}
}

// actions lists the writes sent to the API server, as "verb resource[/subresource]".
func (h *harness) actions() []string {
	var out []string
	for _, a := range h.client.Actions() {
		switch a.GetVerb() {
		case "get", "list", "watch":
			continue
		}
		what := a.GetVerb() + " " + a.GetResource().Resource
		if sub := a.GetSubresource(); sub != "" {
			what += "/" + sub
		}
		if c, ok := a.(k8stesting.CreateActionImpl); ok && len(c.CreateOptions.DryRun) > 0 {
			what += " (dry run)"
		}
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetDeleteOptions().GracePeriodSeconds != nil && *d.GetDeleteOptions().GracePeriodSeconds == 0 {
			what += " (at once)"
		}
		out = append(out, what)
	}
	return out
}

// failResize makes the pods/resize subresource answer err, as on a cluster
// without in-place pod resize.
func (h *harness) failResize(err error) {
	h.client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "resize" {
			return false, nil, nil
		}
		return true, nil, err
	})
}

// resizeUnsupported is what an API server without in-place resize answers.
var resizeUnsupported = apierrors.NewNotFound(schema.GroupResource{Resource: "pods/resize"}, "")

// podRequests returns the placeholder pod's requests, or nil when it is gone.
func (h *harness) podRequests(t *testing.T) corev1.ResourceList {
	t.Helper()
	p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, placeholder.PodName(phName()), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return placeholder.Requests(&p.Spec)
}

// events drains the recorded events, as "Type Reason".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			f := strings.SplitN(e, " ", 3)
			out = append(out, f[0]+" "+f[1])
		default:
			return out
		}
	}
}

// placeholderSTS returns the StatefulSet the fake API server holds, or nil.
func (h *harness) placeholderSTS(t *testing.T, name string) *appsv1.StatefulSet {
	t.Helper()
	sts, err := h.client.AppsV1().StatefulSets(ns).Get(h.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return sts
}

// placed is what Place returned.
type placed struct {
	got Placement
	err error
}

// placeExpectation is what a Place test expects: the placement, its
// message's parts, the API writes and events, and the placeholder
// StatefulSet's template and pod requests afterwards (nil: none).
type placeExpectation struct {
	want     Placement
	wantErr  bool
	message  []string
	actions  []string
	events   []string
	template *template
	pod      corev1.ResourceList
}

// check compares what Place returned and left behind with e.
func (h *harness) check(t *testing.T, p placed, e placeExpectation) {
	t.Helper()
	if (p.err != nil) != e.wantErr {
		t.Fatalf("Place() error = %v, want error: %t", p.err, e.wantErr)
	}
	if d := cmp.Diff(e.want, p.got, ignoreMessage); d != "" {
		t.Errorf("Place() (-want +got):\n%s", d)
	}
	for _, want := range e.message {
		if !strings.Contains(p.got.Message, want) {
			t.Errorf("Place().Message = %q, want it to contain %q", p.got.Message, want)
		}
	}
	if !e.wantErr && !p.got.Ready && p.got.Message == "" {
		t.Errorf("Place() = %+v: a run that is not ready needs a message", p.got)
	}
	if d := cmp.Diff(e.actions, h.actions()); d != "" {
		t.Errorf("API writes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(e.events, h.events()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	sts := h.placeholderSTS(t, phName())
	switch {
	case e.template == nil && sts != nil:
		t.Errorf("placeholder StatefulSet exists, want none")
	case e.template != nil && sts == nil:
		t.Errorf("placeholder StatefulSet missing")
	case sts != nil:
		if d := cmp.Diff(*e.template, templateOf(sts), quantityEqual); d != "" {
			t.Errorf("placeholder template (-want +got):\n%s", d)
		}
	}
	if d := cmp.Diff(e.pod, h.podRequests(t), quantityEqual); d != "" {
		t.Errorf("placeholder pod requests, nil when deleted (-want +got):\n%s", d)
	}
}

// template is what the engine controls in the placeholder's pod template.
type template struct {
	Pinned   string
	Requests corev1.ResourceList
	// WaitingSince is the StatefulSet's record of when the wait for a node began.
	WaitingSince string
}

func templateOf(sts *appsv1.StatefulSet) template {
	return template{
		Pinned:       placeholder.PinnedNode(&sts.Spec.Template.Spec, testRun()),
		Requests:     placeholder.Requests(&sts.Spec.Template.Spec),
		WaitingSince: sts.Annotations[placeholder.WaitingSinceAnnotation],
	}
}

var (
	quantityEqual  = cmp.Comparer(func(a, b resource.Quantity) bool { return a.Cmp(b) == 0 })
	ignoreMessage  = cmpopts.IgnoreFields(Placement{}, "Message", "Since")
	waitForNode    = Placement{Reason: ReasonWaitingForNode}
	tokenTemplate  = func(node string) *template { return &template{Pinned: node, Requests: placeholder.TokenRequests()} }
	reservationFor = func() *template { return &template{Requests: peak()} }
	// waitingToken is the template of a placeholder pinned to node whose
	// pod is gone since d ago.
	waitingToken = func(node string, d time.Duration) *template {
		return &template{Pinned: node, Requests: placeholder.TokenRequests(), WaitingSince: now.Add(-d).Format(time.RFC3339)}
	}
	// waitingReservation is the template of a placeholder looking for a
	// node since d ago, after a move.
	waitingReservation = func(d time.Duration) *template {
		return &template{Requests: peak(), WaitingSince: now.Add(-d).Format(time.RFC3339)}
	}
)

func TestPlace(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name      string
		config    map[string]string
		objects   []runtime.Object
		remaining []demand.Task
		// resizeErr, when set, is what the pods/resize subresource answers.
		resizeErr error
		// dryRunErr, when set, is what a dry-run create answers.
		dryRunErr error
		// createErr, when set, is what creating a StatefulSet answers.
		createErr error
		// runCreated, when set, is the run's creation time.
		runCreated *metav1.Time
		// topology is the run's recorded topology key ("": one node).
		topology string
		want     Placement
		wantErr  bool
		// wantMessage lists substrings of Placement.Message.
		wantMessage []string
		wantActions []string
		// wantTemplate is the placeholder's template afterwards; nil: no StatefulSet.
		wantTemplate *template
		// wantPod is what the placeholder pod requests afterwards; nil: no pod.
		wantPod    corev1.ResourceList
		wantEvents []string
	}{{
		name:         "(1) no StatefulSet: created with the peak demand",
		objects:      []runtime.Object{readyNode("node-1")},
		want:         waitForNode,
		wantMessage:  []string{"Created placeholder StatefulSet " + phName(), "cpu=3, memory=3Gi", "waiting for the scheduler"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name:         "(1) no StatefulSet, reservation none: created with token requests",
		config:       map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects:      []runtime.Object{readyNode("node-1")},
		want:         waitForNode,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate(""),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name:         "(1) no StatefulSet, nothing left to run: created with the token floor",
		objects:      []runtime.Object{readyNode("node-1")},
		remaining:    []demand.Task{},
		want:         waitForNode,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate(""),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name:         "StatefulSet without its pod yet: the StatefulSet controller is given a moment",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 2*time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 3 * time.Second},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod past the moment, the pod would be admitted: the StatefulSet controller is nudged (it may be backing off after refusals), asked again",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0", "asked the StatefulSet controller to try again"},
		wantActions:  []string{"create pods (dry run)", "patch statefulsets"},
		wantTemplate: reservationFor(),
	}, {
		name:         "StatefulSet without its pod, nudged a moment ago, the pod would be admitted: not nudged again yet",
		objects:      []runtime.Object{readyNode("node-1"), nudgedAgo(ownSTS("", peak()), 4*time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: nudgeEvery - 4*time.Second},
		wantMessage:  []string{"Waiting for StatefulSet " + phName() + " to create placeholder pod " + phName() + "-0"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod refused by a ResourceQuota: the quota's message, a bounded wait",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute, requested: requests.cpu=3, used: requests.cpu=0, limited: requests.cpu=500m")),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage:  []string{"cannot be created yet", "exceeded quota: compute", "limited: requests.cpu=500m"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod refused by a ResourceQuota for longer than max-node-wait: failed with the quota's message",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "30s"},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute")),
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 1m0s", "exceeded quota: compute"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod forbidden by admission (a policy no retry satisfies): failed at once with the API's message",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New(`admission webhook "deny.example" denied the request`)),
		want:         Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMessage:  []string{"rejects placeholder pod " + phName() + "-0", `denied the request`},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "placeholder pod invalid: failed at once",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak())},
		dryRunErr:    apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, phName()+"-0", nil),
		want:         Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: reservationFor(),
	}, {
		name:         "pinned StatefulSet whose pod is gone (evicted, say), first seen: the wait starts now",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), 3*time.Hour)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingToken("node-1", 0),
	}, {
		name:         "pinned StatefulSet whose pod cannot come back: the wait counts from when it was first seen gone",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(createdAgo(ownSTS("node-1", token), 3*time.Hour), 10*time.Minute)},
		dryRunErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, phName()+"-0", errors.New("exceeded quota: compute")),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage:  []string{"exceeded quota"},
		wantActions:  []string{"create pods (dry run)"},
		wantTemplate: waitingToken("node-1", 10*time.Minute),
	}, {
		name:         "placeholder pod terminating on a ready node: wait for it",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Second},
		wantMessage:  []string{"Waiting for placeholder pod " + phName() + "-0 to terminate on node node-1"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "placeholder pod terminating on a node that stopped working (it never finishes there): deleted at once",
		objects: []runtime.Object{
			notReadyNode("node-1"), readyNode("node-2"),
			waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Second),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantMessage:  []string{"did not terminate on node node-1"},
		wantActions:  []string{"delete pods (at once)"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name:         "placeholder pod terminating long past its deadline: deleted at once",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), time.Minute), terminating(placeholderPod("node-1", token, ago(time.Hour)), time.Minute)},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: terminationSlack},
		wantActions:  []string{"delete pods (at once)"},
		wantTemplate: waitingReservation(time.Minute),
	}, {
		name:         "StatefulSet being deleted: wait for it to go, within max-node-wait from its deletion (see TestPlaceStuckDeleting)",
		objects:      []runtime.Object{readyNode("node-1"), beingDeleted(ownSTS("", peak()))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Hour - time.Second},
		wantMessage:  []string{"is being deleted", "held by finalizer orphan"},
		wantTemplate: reservationFor(),
	}, {
		name:         "(2) unschedulable pod: scheduler message, requeue after the remaining wait",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 10*time.Minute), placeholderPod("", peak(), ago(10*time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(2) unschedulable pod that asks more than any node allocates: said first, still a bounded wait (an autoscaler may add a larger node)",
		objects:      []runtime.Object{readyNode("node-1"), readyNode("node-2"), createdAgo(ownSTS("", rl("6", "1Gi")), 10*time.Minute), placeholderPod("", rl("6", "1Gi"), ago(10*time.Minute), unschedulableCondition("0/2 nodes are available: 2 Insufficient cpu"))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{"asks for more than any node can hold (cpu=6, the largest node allocates 4)", "Insufficient cpu"},
		wantTemplate: &template{Requests: rl("6", "1Gi")},
		wantPod:      rl("6", "1Gi")}, {
		name:         "(2) pending pod without a scheduler verdict",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "15m"},
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 10*time.Minute), placeholderPod("", peak(), ago(10*time.Minute))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 5 * time.Minute},
		wantMessage:  []string{"is not scheduled yet"},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) waited longer than max-node-wait: failed",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "30m"},
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 31*time.Minute), placeholderPod("", peak(), ago(31*time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 31m0s", paconfig.MaxNodeWaitKey + "=30m0s", schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) waited exactly max-node-wait (default 1h): failed",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), time.Hour), placeholderPod("", peak(), ago(time.Hour), unschedulableCondition(schedulerMessage))},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) max-node-wait 0 never fails",
		config:       map[string]string{paconfig.MaxNodeWaitKey: "0"},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), placeholderPod("", peak(), ago(1000*time.Hour), unschedulableCondition(schedulerMessage))},
		want:         waitForNode,
		wantMessage:  []string{schedulerMessage},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(4) bound with the reservation: pinned, token requests, pod shrunk in place: wait for the node to apply it",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), reporting(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch statefulsets", "patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal Placed", "Normal ReservationHandedOver"},
	}, {
		// A ResourceQuota recounts a pod only when the resources its node
		// reports change: resized before its container starts, the pod could
		// stay charged at the reservation and the first TaskRun pods be
		// refused for minutes.
		name:         "(4) bound with the reservation, its container not started yet: pinned, not resized until the node starts it",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), placeholderPod("node-1", peak(), ago(10*time.Second))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
		wantMessage:  []string{"waiting for the node to start placeholder pod " + placeholder.PodName(phName())},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
		wantEvents:   []string{"Normal Placed"},
	}, {
		name:         "(4) bound with the reservation, its container not started a minute after the pod's creation: replaced by a token pod",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", peak(), ago(2*time.Minute))},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"its container has not started in 2m0s", "replacing it with a token pod"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
	}, {
		name: "(5) shrunk in place but the node still reports the reservation: wait",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), func() *corev1.Pod {
			p := placeholderPod("node-1", token, ago(2*time.Minute))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: placeholder.ContainerName, Resources: &corev1.ResourceRequirements{Requests: peak(), Limits: peak()}}}
			return p
		}()},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver},
		wantMessage:  []string{"waiting for the node to apply it"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(5) shrunk in place and applied by the node: ready",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), func() *corev1.Pod {
			p := placeholderPod("node-1", token, ago(2*time.Minute))
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: placeholder.ContainerName, Resources: &corev1.ResourceRequirements{Requests: token, Limits: token}}}
			return p
		}()},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:         "(4) bound with the reservation, no in-place resize: pinned, token requests, pod replaced",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", peak()), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch statefulsets", "patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal Placed", "Normal ReservationHandedOver"},
	}, {
		name:         "(4) resize forbidden by RBAC: handled as without in-place resize (and logged as a warning)",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    apierrors.NewForbidden(schema.GroupResource{Resource: "pods/resize"}, "p", errors.New("RBAC: access denied")),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name:         "(4) already pinned but the pod still holds the reservation: only the pod is handed over",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize", "delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      nil,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name:         "(4) resize conflict: error, pod kept for the next reconcile",
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), runningUnreported(placeholderPod("node-1", peak(), ago(2*time.Minute)))},
		resizeErr:    apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "p", nil),
		wantErr:      true,
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
	}, {
		name:         "(5) bound with token requests and pinned: ready",
		objects:      []runtime.Object{readyNode("node-1"), readyNode("node-2"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:         "(5) reservation none: pinned and ready in one step",
		config:       map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects:      []runtime.Object{readyNode("node-1"), ownSTS("", token), placeholderPod("node-1", token, ago(time.Minute))},
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal Placed"},
	}, {
		name: "(6) node cordoned with an active TaskRun pod: wait to move",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is cordoned", "build-compile-pod"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(6) node not ready (NoExecute taint) with an active TaskRun pod: wait to move",
		objects: []runtime.Object{
			taintedNode("node-1", corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodPending, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"not ready (node.kubernetes.io/not-ready)"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node cordoned, no active pod there: unpinned with the reservation, pod replaced",
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-lint-pod", "node-1", corev1.PodFailed, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name:     "(6) zone: node cordoned, a TaskRun pod runs on another node of the zone: wait to move, or the run would split",
		topology: zoneKey,
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is cordoned; waiting for build-other-pod to finish in the PipelineRun's topology.kubernetes.io/zone before the PipelineRun moves"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name:     "(7) zone: node cordoned, every pod of the run done (a Pending one follows): unpinned with the reservation",
		topology: zoneKey,
		objects: []runtime.Object{
			cordonedNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-other-pod", "node-2", corev1.PodFailed, ago(time.Hour)),
			memberPod("build-next-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is cordoned; moving the PipelineRun to another node"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name:     "(6) zone: node gone, a TaskRun pod runs on another node of the zone: wait to move; the gone node's pods do not count",
		topology: zoneKey,
		objects: []runtime.Object{
			readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			memberPod("build-other-pod", "node-2", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"Node node-1 is gone; waiting for build-other-pod to finish in the PipelineRun's topology.kubernetes.io/zone"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node gone: moves even with pods that were running there",
		objects: []runtime.Object{
			readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Node node-1 is gone"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name:         "(7) pinned node cordoned before the pod came back: unpinned",
		objects:      []runtime.Object{cordonedNode("node-1"), readyNode("node-2"), ownSTS("node-1", token)},
		want:         waitForNode,
		wantActions:  []string{"patch statefulsets"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) node tainted NoSchedule with a taint the run's pods do not tolerate (disk pressure): move",
		objects: []runtime.Object{
			taintedNode("node-1", "node.kubernetes.io/disk-pressure", corev1.TaintEffectNoSchedule), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"tainted node.kubernetes.io/disk-pressure:NoSchedule"},
		wantActions:  []string{"patch statefulsets", "delete pods (at once)"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) node being drained by an autoscaler while a task runs there: wait to move",
		objects: []runtime.Object{
			taintedNode("node-1", "karpenter.sh/disrupted", corev1.TaintEffectNoSchedule),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Node: "node-1", Reason: ReasonWaitingToMove},
		wantMessage:  []string{"tainted karpenter.sh/disrupted:NoSchedule", "build-compile-pod"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node tainted with a taint the run's pods tolerate: not a reason to move",
		objects: []runtime.Object{
			taintedNode("node-1", "dedicated", corev1.TaintEffectNoSchedule),
			tolerating(ownSTS("node-1", token), "dedicated"), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) node tainted PreferNoSchedule: not a reason to move",
		objects: []runtime.Object{
			taintedNode("node-1", "dedicated", corev1.TaintEffectPreferNoSchedule),
			ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
		},
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(7) pinned pod cannot return to its node, no active pod there: unpinned, pod replaced",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector")),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
		},
		want:         waitForNode,
		wantMessage:  []string{"cannot return to node node-1", "Insufficient cpu"},
		wantActions:  []string{"patch statefulsets", "delete pods"},
		wantTemplate: waitingReservation(0),
		wantEvents:   []string{"Warning Moving"},
	}, {
		name: "(7) pinned pod cannot return to its node while a TaskRun pod runs there: keep waiting",
		objects: []runtime.Object{
			readyNode("node-1"),
			ownSTS("node-1", token), placeholderPod("", token, ago(time.Minute), unschedulableCondition("0/1 nodes are available: 1 Insufficient cpu")),
			memberPod("build-compile-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 59 * time.Minute},
		wantMessage:  []string{"Insufficient cpu"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(8) StatefulSet gone mid-run: recreated on the node of the latest member pod",
		objects: []runtime.Object{
			readyNode("node-1"), readyNode("node-2"),
			memberPod("build-clone-pod", "node-1", corev1.PodSucceeded, ago(time.Hour)),
			memberPod("build-compile-pod", "node-2", corev1.PodRunning, ago(5*time.Minute)),
			memberPod("build-test-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Recreated placeholder StatefulSet " + phName() + " on node node-2"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate("node-2"),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name:         "(3) the wait counts from the StatefulSet's creation: a recreated placeholder pod does not reset it",
		objects:      []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 2*time.Hour), placeholderPod("", peak(), ago(time.Minute), unschedulableCondition("0/1 nodes are available"))},
		runCreated:   &metav1.Time{Time: now.Add(-3 * time.Hour)},
		want:         Placement{Failed: true, Reason: ReasonNodeWaitTimeout},
		wantMessage:  []string{"waited 2h0m0s", "0/1 nodes are available"},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name:         "(3) after a move the wait counts from the move, not from the StatefulSet's creation",
		objects:      []runtime.Object{readyNode("node-1"), waitingSince(createdAgo(ownSTS("", peak()), 3*time.Hour), 10*time.Minute), placeholderPod("", peak(), ago(time.Minute), unschedulableCondition(schedulerMessage))},
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: 50 * time.Minute},
		wantMessage:  []string{schedulerMessage},
		wantTemplate: waitingReservation(10 * time.Minute),
		wantPod:      peak(),
	}, {
		name:         "(1) no StatefulSet, run created two hours ago and held Pending until now: created, its wait starts now",
		objects:      []runtime.Object{readyNode("node-1")},
		runCreated:   &metav1.Time{Time: now.Add(-2 * time.Hour)},
		want:         waitForNode,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name:        "(1) no StatefulSet, the API server finds it invalid (a run name too long for a label): failed at once",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, phName(), nil),
		want:        Placement{Failed: true, Reason: ReasonPlaceholderRejected},
		wantMessage: []string{"rejects placeholder StatefulSet " + phName()},
		wantActions: []string{"create statefulsets"},
	}, {
		name:        "(1) no StatefulSet, a quota on StatefulSets refuses it: wait with the quota's message",
		objects:     []runtime.Object{readyNode("node-1")},
		createErr:   apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New("exceeded quota: objects, requested: count/statefulsets.apps=1")),
		want:        Placement{Reason: ReasonWaitingForNode, RequeueAfter: 30 * time.Second},
		wantMessage: []string{"exceeded quota: objects"},
		wantActions: []string{"create statefulsets"},
	}, {
		name:         "(1) no StatefulSet, run created a minute ago: created",
		objects:      []runtime.Object{readyNode("node-1")},
		runCreated:   &metav1.Time{Time: now.Add(-time.Minute)},
		want:         waitForNode,
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name: "(8) StatefulSet gone, every task started and every pod placed: nothing to recreate",
		objects: []runtime.Object{
			readyNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
		},
		remaining: []demand.Task{},
		want:      Placement{Ready: true},
	}, {
		name: "(8) StatefulSet gone, every task started but a pod waits for the scheduler: recreated",
		objects: []runtime.Object{
			readyNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
			memberPod("build-test-pod", "", corev1.PodPending, ago(time.Minute)),
		},
		remaining:    []demand.Task{},
		want:         waitForNode,
		wantMessage:  []string{"Recreated placeholder StatefulSet " + phName() + " on node node-2"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: tokenTemplate("node-2"),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name: "(8) StatefulSet gone mid-run, member pods' node cordoned: created anew with the reservation",
		objects: []runtime.Object{
			cordonedNode("node-2"),
			memberPod("build-compile-pod", "node-2", corev1.PodSucceeded, ago(5*time.Minute)),
		},
		want:         waitForNode,
		wantMessage:  []string{"Created placeholder StatefulSet"},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: reservationFor(),
		wantEvents:   []string{"Normal PlaceholderCreated"},
	}, {
		name: "(9) StatefulSet of the same name not controlled by the run: conflict",
		objects: []runtime.Object{readyNode("node-1"), func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", token)
			sts.OwnerReferences = nil
			return sts
		}(), placeholderPod("node-1", peak(), ago(time.Minute))},
		want:         Placement{Failed: true, Reason: ReasonPlaceholderConflict},
		wantMessage:  []string{"StatefulSet " + ns + "/" + phName() + " exists and is not controlled by this PipelineRun"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      peak(),
	}, {
		name: "(9) StatefulSet of a previous run with the same name: conflict",
		objects: []runtime.Object{readyNode("node-1"), func() *appsv1.StatefulSet {
			sts := ownSTS("", peak())
			sts.OwnerReferences[0].UID = "previous-run-uid"
			return sts
		}(), placeholderPod("node-1", peak(), ago(time.Minute))},
		want:         Placement{Failed: true, Reason: ReasonPlaceholderConflict},
		wantTemplate: reservationFor(),
		wantPod:      peak(),
	}, {
		name: "(9) a task finished: the placeholder grows back in place to what the next task needs",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("2", "16Mi"),
		wantEvents:   []string{"Normal ReservationRestored"},
	}, {
		name: "(9) grown back already: nothing to do",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("2", "16Mi"),
	}, {
		name: "(9) the node does not resize in place: never grows by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), placeholderPod("node-1", token, ago(time.Hour)),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(9) the API refuses the grow: the pod is kept, no event",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		resizeErr:    resizeUnsupported,
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(9) the next task starts: the placeholder hands its share over and the task waits for the node",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"Handing the reservation on node node-1 over"},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) the node reports the shrink Infeasible (static CPU manager): hand over by replacing the pod, not wait forever",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizePending, Status: corev1.ConditionTrue, Reason: podReasonInfeasible,
				Message: "Resize is infeasible for Guaranteed Pods alongside CPU Manager static policy",
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"cannot resize placeholder pod", "PodResizePending (Infeasible): Resize is infeasible"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
	}, {
		name: "(9) the node has kept the shrink in progress for longer than the limit: hand over by replacing the pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: ago(2 * time.Minute),
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"PodResizeInProgress, for 2m0s"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
	}, {
		name: "(9) a shrink in progress for a moment: the tasks wait for it, checked again when it would count as stuck (no event marks that moment)",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			shrinkNotApplied(corev1.PodCondition{
				Type: podResizeInProgress, Status: corev1.ConditionTrue, LastTransitionTime: ago(5 * time.Second),
			}),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining:    growBack(-1, demand.Starting),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, RequeueAfter: resizeLimit - 5*time.Second},
		wantMessage:  []string{"waiting for the node to apply it"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}, {
		name: "(9) resources that cannot be resized in place (ephemeral storage) stay as they are while later tasks need them: CPU and memory are handed over",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "1Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining: []demand.Task{
			{Name: "c", After: []string{"a", "b"}, Pod: rl("3", "1Mi"), State: demand.Starting},
			{Name: "d", After: []string{"c"}, Pod: withEphemeral(rl("1", "1Mi"), "1Gi")},
		},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      withEphemeral(token, "1Gi"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) tasks that start need ephemeral storage the placeholder holds, later tasks need none: handed over by replacing the pod with a token pod",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "1Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining: []demand.Task{
			{Name: "c", After: []string{"a", "b"}, Pod: withEphemeral(rl("3", "1Mi"), "2Gi"), State: demand.Starting},
		},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place"},
		wantActions:  []string{"delete pods"},
		wantTemplate: tokenTemplate("node-1"),
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) tasks that start need ephemeral storage the placeholder holds, later tasks need some too: the pod is replaced by one that holds what they need",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token),
			reporting(placeholderPod("node-1", withEphemeral(rl("2", "16Mi"), "3Gi"), ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodSucceeded, ago(time.Minute)),
		},
		remaining: []demand.Task{
			{Name: "c", After: []string{"a", "b"}, Pod: withEphemeral(rl("1", "1Mi"), "1Gi"), State: demand.Starting},
			{Name: "d", After: []string{"c"}, Pod: withEphemeral(rl("1", "1Mi"), "2Gi")},
		},
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantMessage:  []string{"replacing placeholder pod", "ephemeral-storage cannot be resized in place"},
		wantActions:  []string{"patch statefulsets", "delete pods"},
		wantTemplate: &template{Pinned: "node-1", Requests: withEphemeral(token, "2Gi")},
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name: "(9) a LimitRange's max caps the reservation the placeholder grows back to",
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
			&corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: ns}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
				Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")},
			}}}},
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      rl("1500m", "16Mi"),
		wantEvents:   []string{"Normal ReservationRestored"},
	}, {
		name: "(9) a grow the node deferred is not waited for when tasks start: shrink below what the node allocated",
		objects: []runtime.Object{
			// The spec asks 2 CPU, the node still gives the token amount.
			readyNode("node-1"), ownSTS("node-1", token), reportingRequests(placeholderPod("node-1", rl("2", "16Mi"), ago(time.Hour)), token),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining: append(growBack(demand.Running, demand.Waiting),
			demand.Task{Name: "d", Pod: rl("100m", "1Mi"), State: demand.Starting}),
		want:         Placement{Node: "node-1", Reason: ReasonHandingOver, HandOverBegun: true},
		wantActions:  []string{"patch pods/resize"},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
		wantEvents:   []string{"Normal ReservationHandedOver"},
	}, {
		name:   "(9) reservation none: the placeholder keeps token requests while tasks finish",
		config: map[string]string{paconfig.ReservationKey: paconfig.ReservationNone},
		objects: []runtime.Object{
			readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Hour))),
			memberPod("build-b-pod", "node-1", corev1.PodRunning, ago(time.Minute)),
		},
		remaining:    growBack(demand.Running, demand.Waiting),
		want:         Placement{Node: "node-1", Ready: true},
		wantTemplate: tokenTemplate("node-1"),
		wantPod:      token,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.resizeErr != nil {
				h.failResize(tc.resizeErr)
			}
			h.dryRunErr = tc.dryRunErr
			if tc.createErr != nil {
				h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			run := testRun()
			if tc.runCreated != nil {
				run.CreationTimestamp = *tc.runCreated
			}
			runBefore := run.DeepCopy()
			rem := remaining()
			if tc.remaining != nil {
				rem = tc.remaining
			}
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: tc.topology}

			got, err := h.engine(t).Place(h.ctx, settings(t, tc.config), run, target, rem)
			h.check(t, placed{got: got, err: err}, placeExpectation{
				want: tc.want, wantErr: tc.wantErr, message: tc.wantMessage, actions: tc.wantActions,
				events: tc.wantEvents, template: tc.wantTemplate, pod: tc.wantPod,
			})
			if d := cmp.Diff(runBefore, run); d != "" {
				t.Errorf("Place() modified the PipelineRun (-before +after):\n%s", d)
			}
		})
	}
}

// TestPlaceCreate checks the StatefulSet that Place creates in detail.
func TestPlaceCreate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		config    map[string]string
		isolation selection.Isolation
		run       func(*v1.PipelineRun)
		// wantRepel is the anti-affinity between placeholders.
		wantRepel *corev1.PodAntiAffinity
		// wantNodes is the placeholder's node affinity.
		wantNodes *corev1.NodeAffinity
		wantVols  []string
	}{{
		name:      "required, cluster scope",
		isolation: selection.IsolationRequired,
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       placeholder.HostnameTopologyKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
	}, {
		name:      "preferred, namespace scope",
		config:    map[string]string{paconfig.IsolationScopeKey: paconfig.IsolationScopeNamespace},
		isolation: selection.IsolationPreferred,
		wantRepel: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100,
			PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: placeholder.AllPlaceholdersSelector(),
				TopologyKey:   placeholder.HostnameTopologyKey,
			},
		}}},
	}, {
		name:      "required, cluster scope, zone: placeholders repel each other in a zone",
		config:    map[string]string{paconfig.TopologyKeyKey: zoneKey},
		isolation: selection.IsolationRequired,
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       zoneKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
		wantNodes: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: zoneKey, Operator: corev1.NodeSelectorOpExists}},
		}}}},
	}, {
		name:      "workspaces' claims are mounted",
		isolation: selection.IsolationRequired,
		run: func(r *v1.PipelineRun) {
			r.Spec.Workspaces = []v1.WorkspaceBinding{
				{Name: "src", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "source"}},
				{Name: "tmp", EmptyDir: &corev1.EmptyDirVolumeSource{}},
			}
		},
		wantRepel: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector:     placeholder.AllPlaceholdersSelector(),
			TopologyKey:       placeholder.HostnameTopologyKey,
			NamespaceSelector: &metav1.LabelSelector{},
		}}},
		wantVols: []string{"source"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			run := testRun()
			if tc.run != nil {
				tc.run(run)
			}
			s := settings(t, tc.config)
			// The scope is decided with the run (Target) and then sticks to it.
			target := Target{Placeholder: phName(), Isolation: tc.isolation, NamespaceScoped: s.Config.IsolationScope() == paconfig.IsolationScopeNamespace, Topology: s.Config.Topology}
			if _, err := h.engine(t).Place(h.ctx, s, run, target, remaining()); err != nil {
				t.Fatalf("Place() = %v", err)
			}
			sts := h.placeholderSTS(t, phName())
			if sts == nil {
				t.Fatal("no placeholder StatefulSet created")
			}
			wantOwner := []metav1.OwnerReference{{
				APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "build", UID: "run-uid",
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}}
			if d := cmp.Diff(wantOwner, sts.OwnerReferences); d != "" {
				t.Errorf("owner references (-want +got):\n%s", d)
			}
			spec := sts.Spec.Template.Spec
			if d := cmp.Diff(tc.wantRepel, spec.Affinity.PodAntiAffinity); d != "" {
				t.Errorf("anti-affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantNodes, spec.Affinity.NodeAffinity); d != "" {
				t.Errorf("node affinity (-want +got):\n%s", d)
			}
			if d := cmp.Diff(image, spec.Containers[0].Image); d != "" {
				t.Errorf("image (-want +got):\n%s", d)
			}
			wantResources := corev1.ResourceRequirements{Requests: peak(), Limits: peak()}
			if d := cmp.Diff(wantResources, spec.Containers[0].Resources, quantityEqual); d != "" {
				t.Errorf("resources (-want +got):\n%s", d)
			}
			var vols []string
			for _, v := range spec.Volumes {
				vols = append(vols, v.PersistentVolumeClaim.ClaimName)
			}
			if d := cmp.Diff(tc.wantVols, vols); d != "" {
				t.Errorf("claims mounted (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceLifecycle walks a run through its placement with the fake API
// server standing in for the StatefulSet controller and the scheduler, and
// calls Place twice at every step: a second call on the state the first one
// left must write nothing (13).
func TestPlaceLifecycle(t *testing.T) {
	type step struct {
		name   string
		before func(*testing.T, *harness)
		want   Placement
		// wantSecond is what the second call returns, when it differs from want.
		wantSecond *Placement
		// wantActions are the writes of the first call; the second writes
		// wantSecondActions.
		wantActions       []string
		wantSecondActions []string
		wantTemplate      template
		// wantSecondTemplate is the template after the second call, when it
		// differs from wantTemplate.
		wantSecondTemplate *template
		wantPod            corev1.ResourceList
	}
	podName := placeholder.PodName(phName())
	// statefulSetController creates the pod from the current template.
	statefulSetController := func(node string, conditions ...corev1.PodCondition) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			sts := h.placeholderSTS(t, phName())
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns, UID: types.UID("pod-on-" + node), Labels: sts.Spec.Template.Labels, CreationTimestamp: ago(10 * time.Second)},
				Spec:       *sts.Spec.Template.Spec.DeepCopy(),
				Status:     corev1.PodStatus{Phase: corev1.PodPending, Conditions: conditions},
			}
			p.Spec.NodeName = node
			if _, err := h.client.CoreV1().Pods(ns).Create(h.ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// kubelet starts the pod's container; reporting, it reports the
	// container's resources as they are in the pod's spec then, as a kubelet
	// with in-place resize does once it has applied a resize.
	kubelet := func(reporting bool) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, podName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			runningUnreported(p)
			if reporting {
				r := placeholder.Requests(&p.Spec)
				p.Status.ContainerStatuses[0].Resources = &corev1.ResourceRequirements{Requests: r.DeepCopy(), Limits: r.DeepCopy()}
			}
			if _, err := h.client.CoreV1().Pods(ns).UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	scheduler := func(node string) func(*testing.T, *harness) {
		return func(t *testing.T, h *harness) {
			t.Helper()
			p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, podName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.NodeName = node
			p.Status.Conditions = nil
			if _, err := h.client.CoreV1().Pods(ns).Update(h.ctx, p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := []step{{
		name: "create",
		want: waitForNode,
		// The StatefulSet controller is given a moment to create the pod.
		wantSecond:   &Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
		wantActions:  []string{"create statefulsets"},
		wantTemplate: template{Requests: peak()},
	}, {
		name:         "pod pending",
		before:       statefulSetController("", unschedulableCondition(schedulerMessage)),
		want:         Placement{Reason: ReasonWaitingForNode, RequeueAfter: time.Hour},
		wantTemplate: template{Requests: peak()},
		wantPod:      peak(),
	}}
	pinned := template{Pinned: "node-2", Requests: placeholder.TokenRequests()}

	for _, tc := range []struct {
		name       string
		resizeErr  error
		steps      []step
		wantEvents []string
	}{{
		name: "in-place resize",
		steps: append(append([]step{}, start...), step{
			name:         "pod bound: pinned, the shrink waits for the node to start the container",
			before:       scheduler("node-2"),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      peak(),
		}, step{
			name:         "container started: shrink in place, then wait for the node to report it",
			before:       kubelet(true),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, HandOverBegun: true},
			wantSecond:   &Placement{Node: "node-2", Reason: ReasonHandingOver},
			wantActions:  []string{"patch pods/resize"},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}, step{
			name:         "the node reports the smaller size: ready",
			before:       kubelet(true),
			want:         Placement{Node: "node-2", Ready: true},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}),
		wantEvents: []string{"Normal PlaceholderCreated", "Normal Placed", "Normal ReservationHandedOver"},
	}, {
		name:      "pod replaced",
		resizeErr: resizeUnsupported,
		steps: append(append([]step{}, start...), step{
			name:         "pod bound: pinned, the shrink waits for the node to start the container",
			before:       scheduler("node-2"),
			want:         Placement{Node: "node-2", Reason: ReasonHandingOver, RequeueAfter: 50 * time.Second},
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      peak(),
		}, step{
			name:   "container started, no resources reported: replace the pod",
			before: kubelet(false),
			want:   Placement{Node: "node-2", Reason: ReasonHandingOver, HandOverBegun: true},
			// The pod is gone: its wait starts, the StatefulSet controller
			// is given a moment.
			wantSecond:         &Placement{Reason: ReasonWaitingForNode, RequeueAfter: createGrace},
			wantActions:        []string{"patch pods/resize", "delete pods"},
			wantSecondActions:  []string{"patch statefulsets"},
			wantTemplate:       pinned,
			wantSecondTemplate: &template{Pinned: "node-2", Requests: placeholder.TokenRequests(), WaitingSince: now.Format(time.RFC3339)},
		}, step{
			name:   "token pod bound: ready",
			before: statefulSetController("node-2"),
			want:   Placement{Node: "node-2", Ready: true},
			// Placed again: the record of the wait goes.
			wantActions:  []string{"patch statefulsets"},
			wantTemplate: pinned,
			wantPod:      placeholder.TokenRequests(),
		}),
		wantEvents: []string{"Normal PlaceholderCreated", "Normal Placed", "Normal ReservationHandedOver"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"), readyNode("node-2"))
			if tc.resizeErr != nil {
				h.failResize(tc.resizeErr)
			}
			run := testRun()
			s := settings(t, nil)
			target := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
			for _, st := range tc.steps {
				if st.before != nil {
					st.before(t, h)
				}
				for call, wantActions := range [][]string{st.wantActions, st.wantSecondActions} {
					got, err := h.engine(t).Place(h.ctx, s, run, target, remaining())
					if err != nil {
						t.Fatalf("%s, call %d: Place() = %v", st.name, call+1, err)
					}
					want := st.want
					if call > 0 && st.wantSecond != nil {
						want = *st.wantSecond
					}
					if d := cmp.Diff(want, got, ignoreMessage); d != "" {
						t.Errorf("%s, call %d: Place() (-want +got):\n%s", st.name, call+1, d)
					}
					if d := cmp.Diff(wantActions, h.actions()); d != "" {
						t.Errorf("%s, call %d: API writes (-want +got):\n%s", st.name, call+1, d)
					}
					wantTemplate := st.wantTemplate
					if call > 0 && st.wantSecondTemplate != nil {
						wantTemplate = *st.wantSecondTemplate
					}
					if d := cmp.Diff(wantTemplate, templateOf(h.placeholderSTS(t, phName())), quantityEqual); d != "" {
						t.Errorf("%s, call %d: placeholder template (-want +got):\n%s", st.name, call+1, d)
					}
					if d := cmp.Diff(st.wantPod, h.podRequests(t), quantityEqual); d != "" {
						t.Errorf("%s, call %d: placeholder pod requests, nil when deleted (-want +got):\n%s", st.name, call+1, d)
					}
				}
			}
			// One creation, one placement, one hand-over over the whole lifecycle.
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestPlaceJoined(t *testing.T) {
	const parentPlaceholder = "placeholder-parent-0123456789"
	parentPod := func(node string, requests corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: placeholder.PodName(parentPlaceholder), Namespace: ns, Labels: placeholder.Labels(parentPlaceholder, "parent")},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name:      placeholder.ContainerName,
				Resources: corev1.ResourceRequirements{Requests: requests, Limits: requests},
			}}},
		}
	}
	for _, tc := range []struct {
		name    string
		objects []runtime.Object
		want    Placement
	}{{
		name:    "parent placeholder pod missing",
		objects: []runtime.Object{readyNode("node-1")},
		want:    waitForNode,
	}, {
		name:    "parent placeholder pod not scheduled",
		objects: []runtime.Object{readyNode("node-1"), parentPod("", peak())},
		want:    waitForNode,
	}, {
		name:    "parent placeholder shrinking to make room: the node has not applied it yet",
		objects: []runtime.Object{readyNode("node-1"), reportingRequests(parentPod("node-1", placeholder.TokenRequests()), peak())},
		want:    waitForNode,
	}, {
		name:    "parent placeholder grows back but the node deferred it: ready, nothing waits for a grow",
		objects: []runtime.Object{readyNode("node-1"), reportingRequests(parentPod("node-1", peak()), placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name:    "parent placeholder shrunk and applied: ready",
		objects: []runtime.Object{readyNode("node-1"), reporting(parentPod("node-1", placeholder.TokenRequests()))},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name: "parent placeholder pod being deleted",
		objects: []runtime.Object{readyNode("node-1"), func() *corev1.Pod {
			p := parentPod("node-1", placeholder.TokenRequests())
			p.DeletionTimestamp = ptr.To(ago(time.Second))
			p.Finalizers = []string{"test"}
			return p
		}()},
		want: waitForNode,
	}, {
		name:    "parent placed and handed over: ready",
		objects: []runtime.Object{readyNode("node-1"), parentPod("node-1", placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Ready: true},
	}, {
		name:    "parent's node cordoned: wait for the parent to move",
		objects: []runtime.Object{cordonedNode("node-1"), parentPod("node-1", placeholder.TokenRequests())},
		want:    Placement{Node: "node-1", Reason: ReasonWaitingToMove},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			child := testRun()
			child.Name, child.UID = "build-child", "child-uid"
			target := Target{Placeholder: parentPlaceholder, Joined: true}
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), child, target, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, ignoreMessage); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if !got.Ready && !strings.Contains(got.Message, parentPlaceholder) && !strings.Contains(got.Message, "parent") {
				t.Errorf("Place().Message = %q, want it to explain the wait for the parent", got.Message)
			}
			if d := cmp.Diff([]string(nil), h.actions()); d != "" {
				t.Errorf("a joined run writes nothing (-want +got):\n%s", d)
			}
		})
	}
}

func TestRelease(t *testing.T) {
	parent := testRun()
	child := testRun()
	child.Name, child.UID = "build-child", "child-uid"
	for _, tc := range []struct {
		name        string
		run         *v1.PipelineRun
		objects     []runtime.Object
		wantActions []string
		wantExists  bool
	}{{
		name:        "own placeholder is deleted",
		run:         parent,
		objects:     []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		wantActions: []string{"delete statefulsets"},
		wantExists:  false,
	}, {
		name:    "no placeholder: nothing to do",
		run:     parent,
		objects: nil,
	}, {
		name: "placeholder of the same name not controlled by the run is kept",
		run:  parent,
		objects: []runtime.Object{func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", placeholder.TokenRequests())
			sts.OwnerReferences = nil
			return sts
		}()},
		wantExists: true,
	}, {
		name: "placeholder of a previous run with the same name is kept",
		run:  parent,
		objects: []runtime.Object{func() *appsv1.StatefulSet {
			sts := ownSTS("node-1", placeholder.TokenRequests())
			sts.OwnerReferences[0].UID = "previous-run-uid"
			return sts
		}()},
		wantExists: true,
	}, {
		name:       "placeholder already being deleted",
		run:        parent,
		objects:    []runtime.Object{beingDeleted(ownSTS("node-1", placeholder.TokenRequests()))},
		wantExists: true,
	}, {
		name:       "a child run never deletes its parent's placeholder",
		run:        child,
		objects:    []runtime.Object{ownSTS("node-1", placeholder.TokenRequests())},
		wantExists: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if err := h.engine(t).Release(h.ctx, settings(t, nil), tc.run); err != nil {
				t.Fatalf("Release() = %v", err)
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantExists, h.placeholderSTS(t, phName()) != nil); d != "" {
				t.Errorf("parent placeholder exists (-want +got):\n%s", d)
			}
		})
	}
}

func TestTarget(t *testing.T) {
	withLabels := func(r *v1.PipelineRun, labels map[string]string) *v1.PipelineRun {
		r.Labels = labels
		return r
	}
	childRun := func(labels map[string]string) *v1.PipelineRun {
		r := testRun()
		r.Name, r.UID = "build-child", "child-uid"
		r.Labels = labels
		r.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "parent", UID: "parent-uid", Controller: ptr.To(true)}}
		return r
	}
	done := testRun()
	done.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue})
	const parentPlaceholder = "placeholder-parent-0123456789"

	withAnnotations := func(r *v1.PipelineRun, annotations map[string]string) *v1.PipelineRun {
		r.Annotations = annotations
		return r
	}
	for _, tc := range []struct {
		name       string
		enabled    bool
		coschedule string
		// topology is the value of the topology key flag, if set.
		topology   string
		run        *v1.PipelineRun
		want       Target
		wantEvents []string
	}{{
		name:    "feature disabled",
		enabled: false,
		run:     testRun(),
		want:    Target{},
	}, {
		name:    "labelled run: required isolation",
		enabled: true,
		run:     testRun(),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:       "coschedule pipelineruns: preferred isolation",
		enabled:    true,
		coschedule: tektonconfig.CoschedulePipelineRuns,
		run:        withLabels(testRun(), nil),
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationPreferred},
	}, {
		name:    "not selected",
		enabled: true,
		run:     withLabels(testRun(), nil),
		want:    Target{},
	}, {
		name:    "done run",
		enabled: true,
		run:     done,
		want:    Target{},
	}, {
		name:     "topology key set to the zone: the run's pods share a zone",
		enabled:  true,
		topology: zoneKey,
		run:      testRun(),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired, Topology: zoneKey},
	}, {
		name:     "topology key set to the node: the default",
		enabled:  true,
		topology: placeholder.HostnameTopologyKey,
		run:      testRun(),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:     "topology key changed to the zone mid-run: the run's record (one node) holds",
		enabled:  true,
		topology: zoneKey,
		run:      reconciled(recorded(testRun(), "required/cluster"), true),
		want:     Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:    "topology key changed back to the node mid-run: the run's record (the zone) holds",
		enabled: true,
		run:     reconciled(recorded(testRun(), "required/namespace@"+zoneKey), true),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired, NamespaceScoped: true, Topology: zoneKey},
	}, {
		name:     "child PipelineRun of a run in one zone joins in the parent's zone, whatever the flag says",
		enabled:  true,
		topology: "example.com/rack",
		run:      withAnnotations(childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}), map[string]string{placeholder.TopologyAnnotationKey: zoneKey}),
		want:     Target{Placeholder: parentPlaceholder, Joined: true, Topology: zoneKey},
	}, {
		name:     "child PipelineRun of a run on one node joins on it, whatever the flag says",
		enabled:  true,
		topology: zoneKey,
		run:      childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:     Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "child PipelineRun joins the parent's placeholder",
		enabled: true,
		run:     childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:       "child PipelineRun joins even when coschedule would select it",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:       Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "child PipelineRun joins after the feature was turned off: the parent's decision holds",
		enabled: false,
		run:     childRun(map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{Placeholder: parentPlaceholder, Joined: true},
	}, {
		name:    "feature turned off mid-run: the run's record holds",
		enabled: false,
		run:     reconciled(recorded(testRun(), "required/cluster"), false),
		want:    Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:       "coschedule and scope changed mid-run: the run's record holds",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "preferred/namespace"), true),
		want:       Target{Placeholder: phName(), Isolation: selection.IsolationPreferred, NamespaceScoped: true},
	}, {
		name:       "recorded as not handled: the feature turned on later leaves it alone",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "none"), true),
		want:       Target{},
	}, {
		name:       "feature turned on while a run without a record is between tasks: it finishes under the Affinity Assistant",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(withLabels(testRun(), nil), true),
		want:       Target{},
	}, {
		name:       "a record on a run the controller never reconciled is its creator's, not the engine's",
		enabled:    false,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        recorded(testRun(), "required/cluster"),
		want:       Target{},
	}, {
		name:       "an invalid record is ignored; a run with children finishes as it began",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(recorded(withLabels(testRun(), nil), "always"), true),
		want:       Target{},
	}, {
		name:    "member label on a run not owned by a PipelineRun is ignored",
		enabled: true,
		run:     withLabels(testRun(), map[string]string{placeholder.MemberLabelKey: parentPlaceholder}),
		want:    Target{},
	}, {
		name:    "child of a handled parent without the member label is placed on its own terms",
		enabled: true,
		run:     childRun(map[string]string{selection.LabelKey: "true"}),
		want:    Target{Placeholder: placeholder.Name(&childRun(nil).ObjectMeta), Isolation: selection.IsolationRequired},
	}, {
		name:       "invalid label on a run reconciled before: not handled, no second warning",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        reconciled(withLabels(testRun(), map[string]string{selection.LabelKey: "yes"}), false),
		want:       Target{},
	}, {
		name:       "invalid label: not handled, warning event",
		enabled:    true,
		coschedule: tektonconfig.CoscheduleIsolatePipelineRun,
		run:        withLabels(testRun(), map[string]string{selection.LabelKey: "yes"}),
		want:       Target{},
		wantEvents: []string{"Warning InvalidPodAffinityLabel"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			flags := map[string]string{paconfig.EnableKey: fmt.Sprint(tc.enabled)}
			if tc.topology != "" {
				flags[paconfig.TopologyKeyKey] = tc.topology
			}
			s := settings(t, flags)
			s.Coschedule = tc.coschedule
			got, err := h.engine(t).Target(h.ctx, s, tc.run)
			if err != nil {
				t.Fatalf("Target() = %v", err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Target() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.want.Placeholder != "", got.Handled()); d != "" {
				t.Errorf("Target().Handled() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestTargetWithoutRecorder(t *testing.T) {
	// No recorder in the context: the invalid label is still ignored, without a panic.
	e := newHarness(t).engine(t)
	run := testRun()
	run.Labels[selection.LabelKey] = "maybe"
	got, err := e.Target(logtesting.TestContextWithLogger(t), settings(t, nil), run)
	if err != nil {
		t.Fatalf("Target() = %v", err)
	}
	if d := cmp.Diff(Target{}, got); d != "" {
		t.Errorf("Target() (-want +got):\n%s", d)
	}
}

func TestLabel(t *testing.T) {
	const name = "placeholder-x-0123456789"
	member := map[string]string{placeholder.MemberLabelKey: name}
	inZone := map[string]string{placeholder.TopologyAnnotationKey: zoneKey}
	for _, tc := range []struct {
		name            string
		labels          map[string]string
		annotations     map[string]string
		target          Target
		want            map[string]string
		wantAnnotations map[string]string
	}{
		{name: "not handled: untouched", labels: map[string]string{"a": "b"}, target: Target{}, want: map[string]string{"a": "b"}},
		{name: "not handled, no labels: stays nil", target: Target{}, want: nil},
		{name: "not handled, the run's creator's topology annotation: untouched", annotations: inZone, target: Target{}, wantAnnotations: inZone},
		{name: "handled, no labels", target: Target{Placeholder: name}, want: member},
		{name: "handled, labels kept", labels: map[string]string{"a": "b"}, target: Target{Placeholder: name, Joined: true}, want: map[string]string{"a": "b", placeholder.MemberLabelKey: name}},
		{name: "handled, stale value replaced", labels: map[string]string{placeholder.MemberLabelKey: "old"}, target: Target{Placeholder: name}, want: member},
		{name: "handled, in a zone: annotated with the key", target: Target{Placeholder: name, Topology: zoneKey}, want: member, wantAnnotations: inZone},
		{name: "joined child, in a zone: annotated with the key", annotations: map[string]string{"a": "b"}, target: Target{Placeholder: name, Joined: true, Topology: zoneKey}, want: member, wantAnnotations: map[string]string{"a": "b", placeholder.TopologyAnnotationKey: zoneKey}},
		{name: "handled, on one node: a topology annotation copied from the run is removed", annotations: map[string]string{"a": "b", placeholder.TopologyAnnotationKey: zoneKey}, target: Target{Placeholder: name}, want: member, wantAnnotations: map[string]string{"a": "b"}},
		{name: "handled, in a zone: another topology copied from the run is replaced", annotations: map[string]string{placeholder.TopologyAnnotationKey: "rack"}, target: Target{Placeholder: name, Topology: zoneKey}, want: member, wantAnnotations: inZone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := &metav1.ObjectMeta{Labels: tc.labels, Annotations: tc.annotations}
			Label(meta, tc.target)
			if d := cmp.Diff(tc.want, meta.Labels); d != "" {
				t.Errorf("labels (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantAnnotations, meta.Annotations, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
		})
	}
}

func TestPlacedMessage(t *testing.T) {
	zoned := readyNode("node-1")
	zoned.Labels = map[string]string{zoneKey: "zone-a"}
	for _, tc := range []struct {
		name     string
		topology string
		want     string
	}{
		{name: "one node", want: "All pods of this PipelineRun run on node node-1 (placeholder p waited 1.5s for it)"},
		{name: "a zone: its value", topology: zoneKey, want: "All pods of this PipelineRun run in topology.kubernetes.io/zone=zone-a; placeholder p holds the reservation on node node-1 (it waited 1.5s for it)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, zoned)
			got := h.engine(t).placedMessage("node-1", tc.topology, "p", 1500*time.Millisecond)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("placedMessage() (-want +got):\n%s", d)
			}
		})
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

func TestShrinking(t *testing.T) {
	withStatus := func(spec, status corev1.ResourceList) *corev1.Pod {
		p := placeholderPod("node-1", spec, ago(time.Minute))
		if status != nil {
			reportingRequests(p, status)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{name: "no container resources reported: nothing to apply", pod: withStatus(peak(), nil), want: false},
		// A real kubelet reports a container's resources only once it has
		// started; until then it holds the pod at the size it admitted it
		// with, whatever the spec says since (seen on a real node).
		{name: "resized before its container started: the node holds the admitted size", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, nil), want: true},
		{name: "never resized, container not started: nothing to apply", pod: generation(withStatus(peak(), nil), 1, nil), want: false},
		{name: "resized, container running, no resources reported: the node does not resize in place", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), want: false},
		{name: "resized, container terminated, no resources reported: nothing is held", pod: generation(withStatus(rl("1", "1Gi"), nil), 2, &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}), want: false},
		{name: "applied", pod: withStatus(peak(), peak()), want: false},
		{name: "shrink not applied yet", pod: withStatus(rl("1", "1Gi"), peak()), want: true},
		{name: "grow deferred by the node", pod: withStatus(peak(), rl("1", "1Gi")), want: false},
		{name: "a resource the node does not report is not waited for", pod: withStatus(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceEphemeralStorage: resource.MustParse("1Gi"),
		}, corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}), want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := shrinking(tc.pod); got != tc.want {
				t.Errorf("shrinking() = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestTargetOwnedPlaceholderWithoutRecord(t *testing.T) {
	// A handled run whose record was lost (written by a controller before
	// the record existed, say) still owns its placeholder: it stays handled.
	run := testRun()
	run.Labels = nil
	run.Status.StartTime = ptr.To(ago(time.Minute))
	run.Status.ChildReferences = []v1.ChildStatusReference{{Name: "build-a", PipelineTaskName: "a"}}
	h := newHarness(t, ownSTS("node-1", placeholder.TokenRequests()))
	s := settings(t, nil)
	s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
	want := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	got, err := h.engine(t).Target(h.ctx, s, run)
	if err != nil {
		t.Fatalf("Target() = %v", err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Target() (-want +got):\n%s", d)
	}
}

func TestRecord(t *testing.T) {
	pending := func(r *v1.PipelineRun) *v1.PipelineRun {
		r.Spec.Status = v1.PipelineRunSpecStatusPending
		return r
	}
	withRecord := func(r *v1.PipelineRun, value string) *v1.PipelineRun {
		r.Annotations = map[string]string{selection.RecordAnnotationKey: value, "keep": "me"}
		return r
	}
	for _, tc := range []struct {
		name   string
		run    *v1.PipelineRun
		target Target
		want   map[string]string
	}{{
		name:   "handled: recorded",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
		want:   map[string]string{selection.RecordAnnotationKey: "required/cluster"},
	}, {
		name:   "handled, namespace scope",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationPreferred, NamespaceScoped: true},
		want:   map[string]string{selection.RecordAnnotationKey: "preferred/namespace"},
	}, {
		name:   "handled, in a zone: the key follows the scope",
		run:    testRun(),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired, TenantLabel: "example.com/tenant", Topology: zoneKey},
		want:   map[string]string{selection.RecordAnnotationKey: "required/label:example.com/tenant@" + zoneKey},
	}, {
		name:   "not handled: nothing written",
		run:    testRun(),
		target: Target{},
	}, {
		name:   "not handled, with a record its creator wrote: overwritten",
		run:    withRecord(testRun(), "required/cluster"),
		target: Target{},
		want:   map[string]string{selection.RecordAnnotationKey: "none", "keep": "me"},
	}, {
		name:   "pending: decided again when released, not recorded",
		run:    pending(testRun()),
		target: Target{Placeholder: phName(), Isolation: selection.IsolationRequired},
	}, {
		name:   "joined child: its member label is its record",
		run:    testRun(),
		target: Target{Placeholder: "placeholder-parent-0123456789", Joined: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			Record(tc.run, tc.target)
			if d := cmp.Diff(tc.want, tc.run.Annotations); d != "" {
				t.Errorf("annotations (-want +got):\n%s", d)
			}
		})
	}
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

// withEphemeral adds ephemeral storage to r.
func withEphemeral(r corev1.ResourceList, q string) corev1.ResourceList {
	out := r.DeepCopy()
	out[corev1.ResourceEphemeralStorage] = resource.MustParse(q)
	return out
}

func TestPlaceConflictingNodeConstraints(t *testing.T) {
	// Two tasks whose pod templates select different values of one node
	// label: no node can run both, so the run fails before any placeholder.
	run := testRun()
	run.Spec.TaskRunSpecs = []v1.PipelineTaskRunSpec{
		{PipelineTaskName: "a", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "x"}}},
		{PipelineTaskName: "b", PodTemplate: &pod.PodTemplate{NodeSelector: map[string]string{"pool": "y"}}},
	}
	h := newHarness(t, readyNode("node-1"))
	got, err := h.engine(t).Place(h.ctx, settings(t, nil), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
	if err != nil {
		t.Fatalf("Place() = %v", err)
	}
	if d := cmp.Diff(Placement{Failed: true, Reason: ReasonConflictingNodeConstraints}, got, ignoreMessage); d != "" {
		t.Errorf("Place() (-want +got):\n%s", d)
	}
	if !strings.Contains(got.Message, "taskRunSpecs[b].podTemplate selects pool=y") {
		t.Errorf("message %q does not name the tasks in conflict", got.Message)
	}
	if d := cmp.Diff([]string(nil), h.actions()); d != "" {
		t.Errorf("API writes (-want +got):\n%s", d)
	}
}

// shrinkNotApplied is the placeholder pod on node-1 shrunk to the token in
// its spec while the node still gives it 2 CPU and reports condition.
// runningUnreported makes the node run the placeholder container without
// reporting its resources, as a kubelet without in-place resize does.
func runningUnreported(p *corev1.Pod) *corev1.Pod {
	p.Status.Phase = corev1.PodRunning
	return generation(p, p.Generation, &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
}

func shrinkNotApplied(condition corev1.PodCondition) *corev1.Pod {
	p := reportingRequests(placeholderPod("node-1", placeholder.TokenRequests(), ago(time.Hour)), rl("2", "16Mi"))
	p.Status.Conditions = append(p.Status.Conditions, condition)
	return p
}

func TestPlaceDoesNotRecreateForAStaleRun(t *testing.T) {
	// The run failed (NodeWaitTimeout) and its placeholder was released; a
	// reconcile that read the run from a stale cache finds no placeholder.
	// Before it makes a new one the engine reads the run afresh, and hands
	// the reconcile the current run instead.
	stale := testRun()
	failed := testRun()
	failed.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: ReasonNodeWaitTimeout})
	for _, tc := range []struct {
		name        string
		current     *v1.PipelineRun
		wantCurrent bool
		wantActions []string
	}{
		{name: "run done since it was read: nothing created, the current run handed back", current: failed, wantCurrent: true},
		{name: "run as read: the placeholder is created", current: stale, wantActions: []string{"create statefulsets"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			e := h.engine(t)
			e.PipelineRuns = func(context.Context, string, string) (*v1.PipelineRun, error) { return tc.current.DeepCopy(), nil }
			got, err := e.Place(h.ctx, settings(t, nil), stale.DeepCopy(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if (got.Current != nil) != tc.wantCurrent {
				t.Errorf("Place().Current = %v, want set: %t", got.Current, tc.wantCurrent)
			}
			if d := cmp.Diff(tc.wantActions, h.actions()); d != "" {
				t.Errorf("API writes (-want +got):\n%s", d)
			}
		})
	}
}

// TestPlaceSince checks when Place says a run's wait began: a reconciler
// keeps a wait of a moment out of the run's status by it.
func TestPlaceSince(t *testing.T) {
	token := placeholder.TokenRequests()
	for _, tc := range []struct {
		name      string
		objects   []runtime.Object
		createErr error
		want      time.Time
	}{{
		name:    "placeholder created now",
		objects: []runtime.Object{readyNode("node-1")},
		want:    now,
	}, {
		name:      "placeholder refused by a quota: since the run started",
		objects:   []runtime.Object{readyNode("node-1")},
		createErr: apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName(), errors.New("exceeded quota: count")),
		want:      now.Add(-30 * time.Minute),
	}, {
		name: "placeholder pod unschedulable: since the placeholder was created",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("", peak()), 3*time.Second),
			placeholderPod("", peak(), ago(2*time.Second), unschedulableCondition(schedulerMessage))},
		want: now.Add(-3 * time.Second),
	}, {
		name: "moved: since the move",
		objects: []runtime.Object{readyNode("node-1"), waitingSince(ownSTS("", peak()), 10*time.Second),
			placeholderPod("", peak(), ago(9*time.Second), unschedulableCondition(schedulerMessage))},
		want: now.Add(-10 * time.Second),
	}, {
		name: "handing over: since the placeholder was created",
		objects: []runtime.Object{readyNode("node-1"), createdAgo(ownSTS("node-1", token), time.Second),
			reporting(placeholderPod("node-1", peak(), ago(time.Second)))},
		want: now.Add(-time.Second),
	}, {
		name:    "placed, nothing to hand over: no wait",
		objects: []runtime.Object{readyNode("node-1"), ownSTS("node-1", token), reporting(placeholderPod("node-1", token, ago(time.Minute)))},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.objects...)
			if tc.createErr != nil {
				h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, tc.createErr
				})
			}
			run := testRun()
			run.CreationTimestamp = ago(time.Hour)
			run.Status.StartTime = ptr.To(ago(30 * time.Minute))
			rem := remaining()
			if tc.want.IsZero() {
				rem = growBack(demand.Running, demand.Running)
			}
			got, err := h.engine(t).Place(h.ctx, settings(t, nil), run, Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, rem)
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if !got.Since.Equal(tc.want) {
				t.Errorf("Place() = %+v, Since %v, want %v", got, got.Since, tc.want)
			}
		})
	}
}

// TestPlaceCreateFindsExisting checks what Place does when the placeholder's
// name is taken by a StatefulSet its cache does not hold: someone else's
// (the cache holds placeholders only) fails the run; its own (the cache is
// behind) is waited for, without a second PlaceholderCreated event.
func TestPlaceCreateFindsExisting(t *testing.T) {
	foreign := ownSTS("", peak())
	foreign.OwnerReferences = nil
	for _, tc := range []struct {
		name       string
		existing   *appsv1.StatefulSet
		want       Placement
		wantEvents []string
	}{{
		name:     "someone else's StatefulSet: conflict",
		existing: foreign,
		want:     Placement{Failed: true, Reason: ReasonPlaceholderConflict},
	}, {
		name:     "its own, not in the cache yet: wait",
		existing: createdAgo(ownSTS("", peak()), time.Second),
		want:     Placement{Reason: ReasonWaitingForNode, Since: now.Add(-time.Second)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, readyNode("node-1"))
			e := h.engine(t)
			h.client.PrependReactor("create", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, phName())
			})
			h.client.PrependReactor("get", "statefulsets", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, tc.existing.DeepCopy(), nil
			})
			got, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
			if err != nil {
				t.Fatalf("Place() = %v", err)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Placement{}, "Message")); d != "" {
				t.Errorf("Place() (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantEvents, h.events()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// failingLimitRanges is a LimitRange lister whose reads fail.
type failingLimitRanges struct{ corelisters.LimitRangeLister }

func (failingLimitRanges) LimitRanges(string) corelisters.LimitRangeNamespaceLister {
	return failingLimitRangesInNamespace{}
}

type failingLimitRangesInNamespace struct {
	corelisters.LimitRangeNamespaceLister
}

func (failingLimitRangesInNamespace) List(labels.Selector) ([]*corev1.LimitRange, error) {
	return nil, errors.New("cache not ready")
}

// TestPlaceLimitRangeReadError checks that a failed read of the namespace's
// LimitRanges is an error, not a reservation computed without them.
func TestPlaceLimitRangeReadError(t *testing.T) {
	h := newHarness(t, readyNode("node-1"))
	e := h.engine(t)
	e.LimitRanges = failingLimitRanges{}
	if _, err := e.LimitRangesIn(ns); err == nil || !strings.Contains(err.Error(), "cache not ready") {
		t.Errorf("LimitRangesIn() = %v, want the lister's error", err)
	}
	_, err := e.Place(h.ctx, settings(t, nil), testRun(), Target{Placeholder: phName(), Isolation: selection.IsolationRequired}, remaining())
	if err == nil || !strings.Contains(err.Error(), "LimitRanges of namespace "+ns) {
		t.Errorf("Place() = %v, want the LimitRange read error", err)
	}
	if got := h.actions(); len(got) != 0 {
		t.Errorf("API writes %v, want none", got)
	}
}
