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
	"strings"
	"testing"
	"time"

	nodev1 "k8s.io/api/node/v1"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	logtesting "knative.dev/pkg/logging/testing"
)

// runtimeClassCalls lists the calls made for RuntimeClasses, as "verb".
func runtimeClassCalls(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if a.GetResource().Resource == "runtimeclasses" {
			out = append(out, a.GetVerb())
		}
	}
	return out
}

// TestRuntimeClassCache checks that the cache of RuntimeClasses starts
// only when a class is first read (a controller whose runs name none needs
// no permission on them), answers from the cache once synced, and asks the
// API server about a class the cache lacks, as the API server's own
// RuntimeClass admission does: a class created a moment ago may not be in
// the cache yet.
func TestRuntimeClassCache(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	client := fake.NewClientset(sandboxClass("kata", "kata", "250m"))
	c := NewRuntimeClassCache(client, 0, ctx.Done())

	time.Sleep(50 * time.Millisecond)
	if d := cmp.Diff([]string(nil), runtimeClassCalls(client)); d != "" {
		t.Errorf("calls before the first read (-want +got):\n%s", d)
	}
	if c.Started() {
		t.Error("Started() = true before the first read")
	}

	rc, err := c.Get(ctx, "kata")
	if err != nil {
		t.Fatalf("Get(kata) = %v", err)
	}
	if rc.Handler != "kata" {
		t.Errorf("Get(kata) = %+v", rc)
	}
	if d := cmp.Diff([]string{"list", "watch"}, runtimeClassCalls(client)); d != "" {
		t.Errorf("calls of the first read (-want +got):\n%s", d)
	}

	client.ClearActions()
	if _, err := c.Get(ctx, "kata"); err != nil {
		t.Fatalf("second Get(kata) = %v", err)
	}
	if d := cmp.Diff([]string(nil), runtimeClassCalls(client)); d != "" {
		t.Errorf("calls of a read from the cache (-want +got):\n%s", d)
	}

	_, err = c.Get(ctx, "wasm")
	if !apierrors.IsNotFound(err) {
		t.Errorf("Get(wasm) = %v, want NotFound", err)
	}
	if d := cmp.Diff([]string{"get"}, runtimeClassCalls(client)); d != "" {
		t.Errorf("calls of a read the cache cannot answer (-want +got):\n%s", d)
	}
}

// TestRuntimeClassCacheSyncFailure checks that a cache that cannot list
// RuntimeClasses fails the read within its bound, naming the permission.
func TestRuntimeClassCacheSyncFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "node.k8s.io", Resource: "runtimeclasses"}, "",
		errors.New(`User "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller" cannot list resource "runtimeclasses"`))
	client := fake.NewClientset()
	client.PrependReactor("list", "runtimeclasses", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	client.PrependWatchReactor("runtimeclasses", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, forbidden
	})
	c := NewRuntimeClassCache(client, 0, ctx.Done())
	c.SyncTimeout = 300 * time.Millisecond

	_, err := c.Get(ctx, "kata")
	if err == nil {
		t.Fatal("Get() = nil error, want the cache's")
	}
	for _, want := range []string{"did not sync within 300ms", "cannot list resource", `"list" and "watch" on runtimeclasses`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Get() = %q, want it to say %q", err, want)
		}
	}
}

// sandboxClass is a RuntimeClass whose pods run on nodes labelled and
// tainted sandbox=<handler>, each paying overhead CPU.
func sandboxClass(name, handler, overhead string) *nodev1.RuntimeClass {
	return &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Handler:    handler,
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(overhead)}},
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{"sandbox": handler},
			Tolerations:  []corev1.Toleration{{Key: "sandbox", Operator: corev1.TolerationOpEqual, Value: handler, Effect: corev1.TaintEffectNoSchedule}},
		},
	}
}
