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
	"fmt"
	"strings"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appsinformers "k8s.io/client-go/informers/apps/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultSyncTimeout bounds how long Caches.Synced waits for the informers
// to sync before it fails (the run's reconcile is retried).
const DefaultSyncTimeout = 15 * time.Second

// The names of the caches, as errors give them.
const (
	CacheStatefulSets = "placeholder StatefulSets"
	CacheNodes        = "nodes"
)

// Caches are the informers the engine needs that Tekton's controllers do
// not start themselves: placeholder StatefulSets (selected by their label
// on the API server) and nodes (trimmed to what the engine reads, see
// TrimForCache). They start the first time a run needs them (Synced), not
// with the controller: while the feature is off and no run was placed, the
// controller watches nothing the unpatched one does not, and needs no
// permission the unpatched one lacks. Pods and LimitRanges come from the
// informers Tekton's TaskRun controller starts anyway.
type Caches struct {
	*lazy

	statefulSets cache.SharedIndexInformer
	nodes        cache.SharedIndexInformer
}

// NewCaches sets up the engine's informers on client without starting
// them. namespace limits the StatefulSets watched ("" for all); resync is
// the informers' resync period; stop ends them once started.
func NewCaches(client kubernetes.Interface, namespace string, resync time.Duration, stop <-chan struct{}) *Caches {
	selector := labels.SelectorFromSet(labels.Set{placeholder.LabelComponent: placeholder.ComponentName}).String()
	c := &Caches{
		statefulSets: appsinformers.NewFilteredStatefulSetInformer(client, namespace, resync,
			cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			func(o *metav1.ListOptions) { o.LabelSelector = selector }),
		nodes: coreinformers.NewNodeInformer(client, resync, cache.Indexers{}),
	}
	// Not started yet: these cannot fail.
	_ = c.statefulSets.SetTransform(TrimForCache)
	_ = c.nodes.SetTransform(TrimForCache)
	c.lazy = newLazy(map[string]cache.SharedIndexInformer{CacheStatefulSets: c.statefulSets, CacheNodes: c.nodes}, stop)
	return c
}

// logWatchError is client-go's DefaultWatchErrorHandler, which logs a watch
// error as client-go does when no handler is set, in the shape
// SetWatchErrorHandler takes. The context variants of both are not used:
// the client-go of Tekton v1.9 (v0.32), one of the releases the series is
// kept for, lacks SetWatchErrorHandlerWithContext, and its
// DefaultWatchErrorHandler takes no context, which later ones do. nil if
// client-go has neither signature (a test checks it has one).
var logWatchError = func() cache.WatchErrorHandler {
	switch h := any(cache.DefaultWatchErrorHandler).(type) {
	case func(context.Context, *cache.Reflector, error):
		return func(r *cache.Reflector, err error) { h(context.Background(), r, err) }
	case func(*cache.Reflector, error):
		return h
	}
	return nil
}()

// StatefulSetInformer is the informer of placeholder StatefulSets, for event handlers.
func (c *Caches) StatefulSetInformer() cache.SharedIndexInformer { return c.statefulSets }

// NodeInformer is the informer of nodes, for event handlers.
func (c *Caches) NodeInformer() cache.SharedIndexInformer { return c.nodes }

// StatefulSets lists placeholder StatefulSets; empty until started.
func (c *Caches) StatefulSets() appslisters.StatefulSetLister {
	return appslisters.NewStatefulSetLister(c.statefulSets.GetIndexer())
}

// Nodes lists nodes; empty until started.
func (c *Caches) Nodes() corelisters.NodeLister {
	return corelisters.NewNodeLister(c.nodes.GetIndexer())
}

// Synced starts the informers on its first call, and waits at most
// SyncTimeout for them to sync. When they have not, its error (a
// *NotSyncedError) names each one with the last error its list or watch
// got (a missing permission, for instance); the caller fails and retries
// later while they keep trying. It is safe for concurrent use; once synced
// it returns at once.
func (c *Caches) Synced(ctx context.Context) error {
	return c.synced(ctx, "a PipelineRun is placed")
}

// ReasonInformersNotSynced: the engine's informers have not synced (the
// controller may lack the permission to list or watch what they cache), so
// the engine cannot decide on the run; the condition's message is the
// NotSyncedError, and the run is reconciled again until they sync.
const ReasonInformersNotSynced = "InformersNotSynced"

// NotSyncedError says which of the engine's informers have not synced in time, and why.
type NotSyncedError struct {
	Timeout time.Duration
	Pending []PendingCache
}

// PendingCache is one informer that has not synced.
type PendingCache struct {
	// Name is CacheStatefulSets, CacheNodes, CacheNamespaces or
	// CacheRuntimeClasses.
	Name string
	// Err is the last error of its list or watch; "" when it got none.
	Err string
	// Forbidden is true when that error is the API server's refusal.
	Forbidden bool
}

// requiredRules says which rule of the controller's ClusterRole each cache needs.
var requiredRules = map[string]string{
	CacheStatefulSets:   `"list" and "watch" on statefulsets (apps)`,
	CacheNodes:          `"list" and "watch" on nodes`,
	CacheNamespaces:     `"list" and "watch" on namespaces`,
	CacheRuntimeClasses: `"list" and "watch" on runtimeclasses (node.k8s.io)`,
}

func (e *NotSyncedError) Error() string {
	parts := make([]string, 0, len(e.Pending))
	for _, p := range e.Pending {
		switch {
		case p.Forbidden:
			parts = append(parts, fmt.Sprintf("%s: %s (the controller's ServiceAccount needs %s, see config/200-clusterrole.yaml)", p.Name, p.Err, requiredRules[p.Name]))
		case p.Err != "":
			parts = append(parts, fmt.Sprintf("%s: %s", p.Name, p.Err))
		default:
			parts = append(parts, fmt.Sprintf("%s: still listing, no error so far", p.Name))
		}
	}
	return fmt.Sprintf("the pod affinity engine's informers did not sync within %s: %s", e.Timeout, strings.Join(parts, "; "))
}

// TrimForCache is the transform of the engine's informers: a node keeps
// only what the engine reads (its metadata without annotations and managed
// fields, its spec, and its allocatable resources and conditions), not its
// images, volumes, addresses or node info; a StatefulSet loses its managed
// fields. Anything else is returned as it is.
func TrimForCache(obj interface{}) (interface{}, error) {
	switch o := obj.(type) {
	case *corev1.Node:
		trimmed := &corev1.Node{
			TypeMeta:   o.TypeMeta,
			ObjectMeta: *o.ObjectMeta.DeepCopy(),
			Spec:       o.Spec,
			Status: corev1.NodeStatus{
				Allocatable: o.Status.Allocatable,
				Conditions:  o.Status.Conditions,
			},
		}
		trimmed.Annotations = nil
		trimmed.ManagedFields = nil
		return trimmed, nil
	case *appsv1.StatefulSet:
		if len(o.ManagedFields) == 0 {
			return o, nil
		}
		trimmed := o.DeepCopy()
		trimmed.ManagedFields = nil
		return trimmed, nil
	}
	return obj, nil
}

// Index names and functions for Tekton's informers, so that event handlers
// re-queue only the runs concerned instead of listing.
const (
	// PlaceholderPodsByNodeIndex indexes placeholder pods by the node they are bound to.
	PlaceholderPodsByNodeIndex = "pod-affinity-placeholder-node"
	// MembersByPlaceholderIndex indexes objects by the namespace and value
	// of their placeholder.MemberLabelKey label (MemberIndexKey).
	MembersByPlaceholderIndex = "pod-affinity-member"
)

// PlaceholderPodsByNode is the index function of PlaceholderPodsByNodeIndex.
func PlaceholderPodsByNode(obj interface{}) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Labels[placeholder.LabelComponent] != placeholder.ComponentName || p.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

// MembersByPlaceholder is the index function of MembersByPlaceholderIndex.
func MembersByPlaceholder(obj interface{}) ([]string, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	name := o.GetLabels()[placeholder.MemberLabelKey]
	if name == "" {
		return nil, nil
	}
	return []string{MemberIndexKey(o.GetNamespace(), name)}, nil
}

// MemberIndexKey is the MembersByPlaceholderIndex key of the members of
// the placeholder called name in namespace.
func MemberIndexKey(namespace, name string) string { return namespace + "/" + name }

// AddIndexer adds the index name to informer unless it has it already
// (a controller set up twice on the same informers).
func AddIndexer(informer cache.SharedIndexInformer, name string, f cache.IndexFunc) error {
	if _, ok := informer.GetIndexer().GetIndexers()[name]; ok {
		return nil
	}
	if err := informer.AddIndexers(cache.Indexers{name: f}); err != nil {
		return fmt.Errorf("adding index %s: %w", name, err)
	}
	return nil
}

// CacheNamespaces is the name of the namespace cache, as errors give it.
const CacheNamespaces = "namespaces"

// CacheRuntimeClasses is the name of the RuntimeClass cache, as errors give it.
const CacheRuntimeClasses = "runtimeclasses"
