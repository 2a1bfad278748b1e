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

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	logtesting "knative.dev/pkg/logging/testing"
)

// namespaceActions lists the list and watch calls sent for namespaces.
func namespaceActions(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if (a.GetVerb() == "list" || a.GetVerb() == "watch") && a.GetResource().Resource == "namespaces" {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestNamespacesStartOnFirstGet(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	full := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{
			Name: ns, UID: "ns-uid", Labels: map[string]string{tenantKey: "acme"},
			Annotations:   map[string]string{"scheduler.alpha.kubernetes.io/node-selector": "pool=ci"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	client := fake.NewClientset(full)
	n := NewNamespaces(client, 0, ctx.Done())

	// Set up, not started: nothing is listed or watched.
	time.Sleep(50 * time.Millisecond)
	if d := cmp.Diff([]string(nil), namespaceActions(client)); d != "" {
		t.Errorf("list and watch calls before Get (-want +got):\n%s", d)
	}
	if n.Started() {
		t.Error("Started() = true before Get")
	}

	got, err := n.Get(ctx, ns)
	if err != nil {
		t.Fatalf("Get(%q) = %v", ns, err)
	}
	if !n.Started() {
		t.Error("Started() = false after Get")
	}
	// Trimmed to what the engine reads.
	want := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, UID: "ns-uid", Labels: full.Labels}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("cached namespace (-want +got):\n%s", d)
	}
	if _, err := n.Get(ctx, "elsewhere"); !apierrors.IsNotFound(err) {
		t.Errorf("Get(unknown) = %v, want NotFound", err)
	}
	lists := 0
	for _, a := range namespaceActions(client) {
		if a == "list namespaces" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("namespaces listed %d times, want once", lists)
	}
}

func TestNamespacesSyncFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "",
		errors.New(`User "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller" cannot list resource "namespaces" in API group "" at the cluster scope`))
	client := fake.NewClientset()
	client.PrependReactor("list", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	client.PrependWatchReactor("namespaces", func(k8stesting.Action) (bool, watch.Interface, error) {
		return true, nil, forbidden
	})
	n := NewNamespaces(client, 0, ctx.Done())
	n.SyncTimeout = 300 * time.Millisecond

	_, err := n.Get(ctx, ns)
	var notSynced *NotSyncedError
	if !errors.As(err, &notSynced) {
		t.Fatalf("Get() = %v, want a *NotSyncedError", err)
	}
	want := &NotSyncedError{Timeout: 300 * time.Millisecond, Pending: []PendingCache{{
		Name: CacheNamespaces, Err: "failed to list *v1.Namespace: " + forbidden.Error(), Forbidden: true,
	}}}
	if d := cmp.Diff(want, notSynced); d != "" {
		t.Errorf("Get() error (-want +got):\n%s", d)
	}
	if !strings.Contains(err.Error(), `"list" and "watch" on namespaces`) {
		t.Errorf("Get() = %q, want it to name the missing permission", err)
	}
	// Retried later, it fails the same way without starting anything twice.
	if _, err := n.Get(ctx, ns); err == nil {
		t.Error("second Get() = nil, want an error")
	}
}

const tenantKey = "example.com/tenant"

// namespace is the run's namespace with labels.
func namespace(labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}
}
