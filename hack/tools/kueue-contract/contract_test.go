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

// Package contract checks the placeholder of a run labelled for a Kueue
// LocalQueue against Kueue's own pod integration (the reconciler of
// sigs.k8s.io/kueue v0.17.0, with its fake client): that the placeholder is
// one Workload at the run's peak demand, that Kueue lifts its gate on
// admission, that the engine's in-place resizes keep that Workload admitted
// (a single pod's would not: Kueue would stop the pod), and that Kueue's
// preemption stops it. make e2e-kueue runs it first (hack/test.sh e2e-kueue).
package contract

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
	"sigs.k8s.io/kueue/pkg/controller/jobframework"
	podctrl "sigs.k8s.io/kueue/pkg/controller/jobs/pod"
	utiltesting "sigs.k8s.io/kueue/pkg/util/testing"
	utiltestingapi "sigs.k8s.io/kueue/pkg/util/testing/v1beta2"
	"sigs.k8s.io/kueue/pkg/workload"
)

const ns = "team-a"

// placeholderPod is the pod the StatefulSet controller makes from the
// placeholder of a run labelled for queue, asking for cpu.
func placeholderPod(t *testing.T, queue, cpu string) (*corev1.Pod, string) {
	t.Helper()
	run := &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Name: "build", Namespace: ns, UID: "run-uid",
		Labels: map[string]string{placeholder.KueueQueueLabel: queue}}}
	name := placeholder.Name(&run.ObjectMeta)
	sts := placeholder.StatefulSet(placeholder.Spec{Name: name, Run: run, Image: "nop",
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("16Mi")}})
	tpl := sts.Spec.Template
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: placeholder.PodName(name), Namespace: ns, UID: "pod-uid",
			Labels: tpl.Labels, Annotations: tpl.Annotations},
		Spec:   *tpl.Spec.DeepCopy(),
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}, name
}

type harness struct {
	ctx context.Context
	c   client.Client
	r   reconcile.Reconciler
	req reconcile.Request
	rec *utiltesting.EventRecorder
	now time.Time
}

func newHarness(t *testing.T, p *corev1.Pod, group string) *harness {
	t.Helper()
	ctx := context.Background()
	b := utiltesting.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{SubResourcePatch: utiltesting.TreatSSAAsStrategicMerge})
	indexer := utiltesting.AsIndexer(b)
	if err := podctrl.SetupIndexes(ctx, indexer); err != nil {
		t.Fatal(err)
	}
	c := b.WithObjects(utiltesting.MakeNamespace(ns), p).WithStatusSubresource(&kueue.Workload{}).Build()
	now := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	rec := &utiltesting.EventRecorder{}
	r, err := podctrl.NewReconciler(ctx, c, indexer, rec, jobframework.WithClock(testingclock.NewFakeClock(now)))
	if err != nil {
		t.Fatal(err)
	}
	// Kueue reconciles a pod group under the key "group/<namespace>".
	return &harness{ctx: ctx, c: c, r: r, rec: rec, now: now,
		req: reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "group/" + ns, Name: group}}}
}

func (h *harness) reconcile(t *testing.T) {
	t.Helper()
	if _, err := h.r.Reconcile(h.ctx, h.req); err != nil {
		t.Fatalf("Kueue's Reconcile: %v (events %v)", err, h.rec.RecordedEvents)
	}
}

func (h *harness) workloads(t *testing.T) []kueue.Workload {
	t.Helper()
	var l kueue.WorkloadList
	if err := h.c.List(h.ctx, &l); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// pod returns the placeholder pod, or nil when Kueue deleted it.
func (h *harness) pod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	var p corev1.Pod
	if err := h.c.Get(h.ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
		return nil
	}
	return &p
}

func TestPlaceholderIsOneKueueWorkload(t *testing.T) {
	p, name := placeholderPod(t, "q", "3")
	h := newHarness(t, p, name)

	// Created: one Workload, named after the placeholder, at its requests.
	h.reconcile(t)
	wls := h.workloads(t)
	if len(wls) != 1 {
		t.Fatalf("%d Workloads, want 1", len(wls))
	}
	wl := wls[0]
	ps := wl.Spec.PodSets
	if len(ps) != 1 {
		t.Fatalf("Workload has %d pod sets, want 1", len(ps))
	}
	got := struct {
		Name, Queue string
		Count       int32
		CPU         string
	}{wl.Name, string(wl.Spec.QueueName), ps[0].Count, ps[0].Template.Spec.Containers[0].Resources.Requests.Cpu().String()}
	want := got
	want.Name, want.Queue, want.Count, want.CPU = placeholder.KueueWorkloadName(name), "q", 1, "3"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Workload (-want +got):\n%s", d)
	}
	if !placeholder.AwaitsAdmission(h.pod(t, p.Name)) {
		t.Errorf("placeholder pod not gated before admission")
	}

	// Admitted: Kueue lifts the gate.
	admission := utiltestingapi.MakeAdmission("cq").PodSets(utiltestingapi.MakePodSetAssignment(ps[0].Name).Obj()).Obj()
	workload.SetQuotaReservation(&wl, admission, testingclock.NewFakeClock(h.now))
	workload.SyncAdmittedCondition(&wl, h.now)
	if err := h.c.Status().Update(h.ctx, &wl); err != nil {
		t.Fatal(err)
	}
	h.reconcile(t)
	cur := h.pod(t, p.Name)
	if cur == nil || placeholder.AwaitsAdmission(cur) {
		t.Fatalf("placeholder pod %v after admission, want it ungated", cur)
	}

	// Bound, running, and shrunk in place for a hand-over: the Workload
	// still matches and stays admitted; the pod stays.
	cur.Spec.NodeName = "node-1"
	cur.Status.Phase = corev1.PodRunning
	for _, rl := range []corev1.ResourceList{cur.Spec.Containers[0].Resources.Requests, cur.Spec.Containers[0].Resources.Limits} {
		rl[corev1.ResourceCPU] = resource.MustParse("10m")
	}
	if err := h.c.Update(h.ctx, cur); err != nil {
		t.Fatal(err)
	}
	h.reconcile(t)
	h.reconcile(t)
	if after := h.pod(t, p.Name); after == nil || after.DeletionTimestamp != nil {
		t.Fatalf("Kueue stopped the resized placeholder pod; events %v", h.rec.RecordedEvents)
	}
	wls = h.workloads(t)
	if len(wls) != 1 || wls[0].Name != wl.Name || !workload.IsAdmitted(&wls[0]) {
		t.Fatalf("after the resize: Workloads %v, want %s still admitted", names(wls), wl.Name)
	}

	// Preempted: Kueue evicts the Workload and stops (deletes) the pod.
	wl = wls[0]
	workload.SetEvictedCondition(&wl, h.now, kueue.WorkloadEvictedByPreemption, "Preempted to accommodate a workload")
	if err := h.c.Status().Update(h.ctx, &wl); err != nil {
		t.Fatal(err)
	}
	h.reconcile(t)
	if after := h.pod(t, p.Name); after != nil && after.DeletionTimestamp == nil {
		t.Errorf("placeholder pod still there after Kueue preempted its Workload; events %v", h.rec.RecordedEvents)
	}
}

func names(wls []kueue.Workload) []string {
	var out []string
	for _, w := range wls {
		out = append(out, w.Name)
	}
	return out
}
