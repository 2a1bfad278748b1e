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
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/selection"
	tektonconfig "github.com/tektoncd/pipeline/pkg/apis/config"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
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
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
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

func TestTrimForCache(t *testing.T) {
	full := fullNode("node-1")
	got, err := TrimForCache(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: full.Labels},
		Spec:       full.Spec,
		Status:     corev1.NodeStatus{Allocatable: full.Status.Allocatable, Conditions: full.Status.Conditions},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("trimmed node (-want +got):\n%s", d)
	}
	trimmed := got.(*corev1.Node)
	// What the engine decides from a node is the same on the trimmed copy.
	tolerations := []corev1.Toleration{{Key: "example.com/pressure", Operator: corev1.TolerationOpExists}}
	volumes := []boundVolume{{claim: "c", volume: "v", affinity: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"zone-a"}}},
		MatchFields:      []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-1"}}},
	}}}}}
	for _, check := range []struct {
		name        string
		full, terse any
	}{
		{"nodeUnusable", nodeUnusable(full, nil), nodeUnusable(trimmed, nil)},
		{"nodeUnusable, tolerated", nodeUnusable(full, tolerations), nodeUnusable(trimmed, tolerations)},
		{"nodeReady", nodeReady(full), nodeReady(trimmed)},
		{"shortfall", shortfall(rl("8", "1Gi"), []*corev1.Node{full}), shortfall(rl("8", "1Gi"), []*corev1.Node{trimmed})},
		{"mountsAll", mountsAll(full, volumes), mountsAll(trimmed, volumes)},
	} {
		if d := cmp.Diff(check.full, check.terse); d != "" {
			t.Errorf("%s on the trimmed node differs (-full +trimmed):\n%s", check.name, d)
		}
	}

	sts := ownSTS("node-1", peak())
	sts.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "tekton"}}
	gotSTS, err := TrimForCache(sts.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	wantSTS := sts.DeepCopy()
	wantSTS.ManagedFields = nil
	if d := cmp.Diff(wantSTS, gotSTS); d != "" {
		t.Errorf("trimmed StatefulSet (-want +got):\n%s", d)
	}
	pod := placeholderPod("node-1", peak(), ago(time.Minute))
	if gotPod, _ := TrimForCache(pod); gotPod != pod {
		t.Errorf("TrimForCache changed a pod")
	}
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

// TestSyncedOnlyWhenNeeded checks that the engine waits for its caches
// exactly when it reads them for a run, and returns their error then.
func TestSyncedOnlyWhenNeeded(t *testing.T) {
	errNotSynced := errors.New("not synced")
	child := testRun()
	child.Name, child.UID = "build-child", "child-uid"
	child.Labels = map[string]string{placeholder.MemberLabelKey: "placeholder-parent-0123456789"}
	child.OwnerReferences = []metav1.OwnerReference{{APIVersion: "tekton.dev/v1", Kind: "PipelineRun", Name: "parent", UID: "parent-uid", Controller: ptr.To(true)}}
	done := func(r *v1.PipelineRun) *v1.PipelineRun {
		r.Status.SetCondition(&apis.Condition{Type: apis.ConditionSucceeded, Status: corev1.ConditionTrue})
		return r
	}
	handled := Target{Placeholder: phName(), Isolation: selection.IsolationRequired}
	for _, tc := range []struct {
		name      string
		enabled   bool
		call      func(context.Context, *Engine, Settings) error
		wantCalls int
	}{{
		name:    "Place of a handled run",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Place(ctx, s, testRun(), handled, remaining())
			return err
		},
		wantCalls: 1,
	}, {
		name:    "Place of a child run that joined its parent",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Place(ctx, s, child, Target{Placeholder: "placeholder-parent-0123456789", Joined: true}, nil)
			return err
		},
		wantCalls: 1,
	}, {
		name:    "Target of a new run",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Target(ctx, s, testRun())
			return err
		},
	}, {
		name:    "Target of a run reconciled with children and no record, feature on: does it own a placeholder?",
		enabled: true,
		call: func(ctx context.Context, e *Engine, s Settings) error {
			_, err := e.Target(ctx, s, reconciled(testRun(), true))
			return err
		},
		wantCalls: 1,
	}, {
		name: "the same with the feature off: not handled whatever the cache says",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			got, err := e.Target(ctx, s, reconciled(testRun(), true))
			if got.Handled() {
				return fmt.Errorf("handled: %+v", got)
			}
			return err
		},
	}, {
		name: "Target of a run recorded as handled, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			got, err := e.Target(ctx, s, reconciled(recorded(testRun(), "required/cluster"), true))
			if !got.Handled() {
				return fmt.Errorf("not handled")
			}
			return err
		},
	}, {
		name: "Release of a run the engine placed, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error {
			return e.Release(ctx, s, done(recorded(testRun(), "required/cluster")))
		},
		wantCalls: 1,
	}, {
		name:      "Release of a run the engine never placed, feature on",
		enabled:   true,
		call:      func(ctx context.Context, e *Engine, s Settings) error { return e.Release(ctx, s, done(testRun())) },
		wantCalls: 1,
	}, {
		name: "Release of a run the engine never placed, feature off",
		call: func(ctx context.Context, e *Engine, s Settings) error { return e.Release(ctx, s, done(testRun())) },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			e := h.engine(t)
			calls := 0
			e.Synced = func(context.Context) error {
				calls++
				return errNotSynced
			}
			s := settings(t, map[string]string{paconfig.EnableKey: fmt.Sprint(tc.enabled)})
			s.Coschedule = tektonconfig.CoscheduleIsolatePipelineRun
			err := tc.call(h.ctx, e, s)
			if tc.wantCalls > 0 && !errors.Is(err, errNotSynced) {
				t.Errorf("error = %v, want one wrapping %v", err, errNotSynced)
			}
			if tc.wantCalls == 0 && err != nil {
				t.Errorf("error = %v, want nil", err)
			}
			if calls != tc.wantCalls {
				t.Errorf("Synced called %d times, want %d", calls, tc.wantCalls)
			}
		})
	}
}

func TestLogWatchErrorIsClientGos(t *testing.T) {
	if logWatchError == nil {
		t.Errorf("cache.DefaultWatchErrorHandler is a %T, neither signature logWatchError knows: watch errors of the engine's caches would not be logged", cache.DefaultWatchErrorHandler)
	}
}
