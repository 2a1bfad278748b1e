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
	"time"

	paconfig "github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/config"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Namespaces is the engine's cache of namespaces, trimmed to their names
// and labels, for the tenant isolation scope ("label:<key>"): a run's
// tenant is its namespace's value of that label. It starts on the first
// Get, which only the placement of a run isolated per tenant makes: a
// controller that never uses that scope (or has the feature off) never
// lists or watches namespaces and needs no permission for them.
type Namespaces struct {
	*lazy

	informer cache.SharedIndexInformer
}

// NewNamespaces sets up the namespace informer on client without starting
// it. resync is its resync period; stop ends it once started.
func NewNamespaces(client kubernetes.Interface, resync time.Duration, stop <-chan struct{}) *Namespaces {
	n := &Namespaces{informer: coreinformers.NewNamespaceInformer(client, resync, cache.Indexers{})}
	// Not started yet: this cannot fail.
	_ = n.informer.SetTransform(trimNamespace)
	n.lazy = newLazy(map[string]cache.SharedIndexInformer{CacheNamespaces: n.informer}, stop)
	return n
}

// Get returns the namespace called name from the cache. Its first call
// starts the informer; until it has synced (no call waits past SyncTimeout
// after that start) Get fails with a *NotSyncedError that names the last
// error of its list or watch. A namespace the cache does not hold is a
// NotFound error: the caller retries rather than take it for a namespace
// without labels.
func (n *Namespaces) Get(ctx context.Context, name string) (*corev1.Namespace, error) {
	if err := n.synced(ctx, "isolation scope "+paconfig.IsolationScopeLabelPrefix+"<key>"); err != nil {
		return nil, err
	}
	ns, err := corelisters.NewNamespaceLister(n.informer.GetIndexer()).Get(name)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %s from the cache: %w", name, err)
	}
	return ns, nil
}

// trimNamespace keeps of a namespace what the engine reads: its name and
// labels (and what the informer needs to follow it).
func trimNamespace(obj interface{}) (interface{}, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{
		TypeMeta: ns.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:            ns.Name,
			UID:             ns.UID,
			ResourceVersion: ns.ResourceVersion,
			Labels:          ns.Labels,
		},
	}, nil
}

// tenant returns the run's namespace's value of the label key of the
// tenant isolation scope, or nil when the namespace does not have it (it
// is then a tenant of its own). A namespace that cannot be read is an
// error, never taken for one without the label: that would isolate the run
// from its own namespace only.
func (e *Engine) tenant(ctx context.Context, namespace, key string) (*string, error) {
	scope := paconfig.IsolationScopeLabelPrefix + key
	if e.Namespaces == nil {
		return nil, fmt.Errorf("isolation scope %s needs the engine's namespace cache, which is not set up", scope)
	}
	ns, err := e.Namespaces(ctx, namespace)
	if err != nil {
		return nil, fmt.Errorf("reading namespace %s for isolation scope %s: %w", namespace, scope, err)
	}
	if v, ok := ns.Labels[key]; ok {
		return &v, nil
	}
	return nil, nil
}
