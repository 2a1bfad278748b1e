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
	"strings"
	"testing"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/controller"
	logtesting "knative.dev/pkg/logging/testing"
)

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
		// As Tekton's pod informer keeps them (v1.15 on:
		// internal/reconciler/cachetransform.ForPod): without managed fields.
		pods.Items[i].ManagedFields = nil
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
