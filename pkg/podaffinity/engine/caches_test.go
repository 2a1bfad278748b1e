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
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	logtesting "knative.dev/pkg/logging/testing"
)

// fullNode is a node as the API server returns it, with much the engine never reads.
func fullNode(name string) *corev1.Node {
	n := taintedNode(name, "example.com/pressure", corev1.TaintEffectNoSchedule)
	n.Labels = map[string]string{"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": "zone-a"}
	n.Annotations = map[string]string{"node.alpha.kubernetes.io/ttl": "0"}
	n.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	n.Status.Capacity = rl("4", "16Gi")
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"registry.invalid/big:v1"}, SizeBytes: 1 << 30}}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}}
	n.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.35.4"}
	n.Status.VolumesInUse = []corev1.UniqueVolumeName{"kubernetes.io/csi/x"}
	return n
}

// otherSTS is a StatefulSet that is not a placeholder.
func otherSTS() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "database", Namespace: ns, Labels: map[string]string{"app": "db"}}}
}

// cacheActions lists the list and watch calls sent for the engine's own caches.
func cacheActions(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		if (a.GetVerb() == "list" || a.GetVerb() == "watch") && (a.GetResource().Resource == "nodes" || a.GetResource().Resource == "statefulsets") {
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestCachesStartOnFirstSynced(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	placeholderSTS := ownSTS("node-1", peak())
	client := fake.NewClientset(placeholderSTS, otherSTS(), fullNode("node-1"))
	c := NewCaches(client, "", 0, ctx.Done())

	// Set up, not started: nothing is listed or watched.
	time.Sleep(50 * time.Millisecond)
	if d := cmp.Diff([]string(nil), cacheActions(client)); d != "" {
		t.Errorf("list and watch calls before Synced (-want +got):\n%s", d)
	}
	if c.Started() {
		t.Error("Started() = true before Synced")
	}

	// Concurrent first calls start the informers once and all see them synced.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Synced(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Synced() #%d = %v", i, err)
		}
	}
	if !c.Started() {
		t.Error("Started() = false after Synced")
	}
	lists := map[string]int{}
	for _, a := range client.Actions() {
		if a.GetVerb() != "list" {
			continue
		}
		lists[a.GetResource().Resource]++
		if a.GetResource().Resource == "statefulsets" {
			want := placeholder.LabelComponent + "=" + placeholder.ComponentName
			if got := a.(k8stesting.ListAction).GetListRestrictions().Labels.String(); got != want {
				t.Errorf("StatefulSets listed with selector %q, want %q", got, want)
			}
		}
	}
	if d := cmp.Diff(map[string]int{"nodes": 1, "statefulsets": 1}, lists); d != "" {
		t.Errorf("list calls (-want +got):\n%s", d)
	}

	list, err := c.StatefulSets().List(labels.Everything())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list {
		names = append(names, s.Name)
	}
	if d := cmp.Diff([]string{placeholderSTS.Name}, names); d != "" {
		t.Errorf("cached StatefulSets (-want +got):\n%s", d)
	}
	node, err := c.Nodes().Get("node-1")
	if err != nil {
		t.Fatal(err)
	}
	if node.Status.Images != nil || node.Annotations != nil || node.Status.Allocatable == nil {
		t.Errorf("cached node not trimmed to what the engine reads: %+v", node.Status)
	}
}

func TestCachesSyncFailure(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "",
		errors.New(`User "system:serviceaccount:tekton-pipelines:tekton-pipelines-controller" cannot list resource "nodes" in API group "" at the cluster scope`))
	for _, tc := range []struct {
		name    string
		nodeErr error
		want    []PendingCache
		wantMsg string
	}{{
		name:    "no permission to list nodes",
		nodeErr: forbidden,
		want:    []PendingCache{{Name: CacheNodes, Err: "failed to list *v1.Node: " + forbidden.Error(), Forbidden: true}},
		wantMsg: `"list" and "watch" on nodes`,
	}, {
		name:    "the API server fails",
		nodeErr: apierrors.NewInternalError(errors.New("etcd is down")),
		want:    []PendingCache{{Name: CacheNodes, Err: "failed to list *v1.Node: Internal error occurred: etcd is down"}},
		wantMsg: "etcd is down",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
			defer cancel()
			client := fake.NewClientset()
			client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.nodeErr
			})
			client.PrependWatchReactor("nodes", func(k8stesting.Action) (bool, watch.Interface, error) {
				return true, nil, tc.nodeErr
			})
			c := NewCaches(client, "", 0, ctx.Done())
			c.SyncTimeout = 300 * time.Millisecond

			err := c.Synced(ctx)
			var notSynced *NotSyncedError
			if !errors.As(err, &notSynced) {
				t.Fatalf("Synced() = %v, want a *NotSyncedError", err)
			}
			if d := cmp.Diff(&NotSyncedError{Timeout: 300 * time.Millisecond, Pending: tc.want}, notSynced); d != "" {
				t.Errorf("Synced() error (-want +got):\n%s", d)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) || !strings.Contains(err.Error(), "did not sync within 300ms") {
				t.Errorf("Synced() = %q, want it to say %q and the bound", err, tc.wantMsg)
			}
			// Retried later, it fails the same way without starting anything twice.
			if err := c.Synced(ctx); err == nil {
				t.Error("second Synced() = nil, want an error")
			}
		})
	}
}

func TestNotSyncedErrorMessage(t *testing.T) {
	err := &NotSyncedError{Timeout: 15 * time.Second, Pending: []PendingCache{
		{Name: CacheNodes, Err: `nodes is forbidden: cannot watch resource "nodes"`, Forbidden: true},
		{Name: CacheStatefulSets},
	}}
	want := `the pod affinity engine's informers did not sync within 15s: ` +
		`nodes: nodes is forbidden: cannot watch resource "nodes" (the controller's ServiceAccount needs "list" and "watch" on nodes, see config/200-clusterrole.yaml); ` +
		`placeholder StatefulSets: still listing, no error so far`
	if d := cmp.Diff(want, err.Error()); d != "" {
		t.Errorf("Error() (-want +got):\n%s", d)
	}
}

func TestIndexes(t *testing.T) {
	bound := placeholderPod("node-1", peak(), ago(time.Minute))
	unbound := placeholderPod("", peak(), ago(time.Minute))
	member := memberPod("build-a-pod", "node-1", corev1.PodRunning, ago(time.Minute))
	child := testRun()
	child.Name = "build-child"
	child.Labels = map[string]string{placeholder.MemberLabelKey: phName()}
	for _, tc := range []struct {
		name  string
		index cache.IndexFunc
		obj   any
		want  []string
	}{
		{"placeholder pod on a node", PlaceholderPodsByNode, bound, []string{"node-1"}},
		{"placeholder pod not bound", PlaceholderPodsByNode, unbound, nil},
		{"a TaskRun pod is not a placeholder", PlaceholderPodsByNode, member, nil},
		{"not a pod", PlaceholderPodsByNode, child, nil},
		{"child PipelineRun", MembersByPlaceholder, child, []string{ns + "/" + phName()}},
		{"run without the member label", MembersByPlaceholder, testRun(), nil},
		{"not an object", MembersByPlaceholder, "x", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.index(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("index (-want +got):\n%s", d)
			}
		})
	}

	informer := cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Pod{}, 0, cache.Indexers{})
	for range 2 {
		if err := AddIndexer(informer, PlaceholderPodsByNodeIndex, PlaceholderPodsByNode); err != nil {
			t.Fatalf("AddIndexer() = %v", err)
		}
	}
	if err := informer.GetIndexer().Add(bound); err != nil {
		t.Fatal(err)
	}
	got, err := informer.GetIndexer().ByIndex(PlaceholderPodsByNodeIndex, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]any{bound}, got); d != "" {
		t.Errorf("ByIndex (-want +got):\n%s", d)
	}
}

func TestLogWatchErrorIsClientGos(t *testing.T) {
	if logWatchError == nil {
		t.Errorf("cache.DefaultWatchErrorHandler is a %T, neither signature logWatchError knows: watch errors of the engine's caches would not be logged", cache.DefaultWatchErrorHandler)
	}
}
