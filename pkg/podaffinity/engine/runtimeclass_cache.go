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
	"sync"
	"sync/atomic"
	"time"

	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodeinformers "k8s.io/client-go/informers/node/v1"
	"k8s.io/client-go/kubernetes"
	nodelisters "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"
	"knative.dev/pkg/logging"
)

// RuntimeClassReader reads RuntimeClasses.
type RuntimeClassReader interface {
	// Get returns the RuntimeClass called name, or an error for which
	// apierrors.IsNotFound is true when there is none.
	Get(ctx context.Context, name string) (*nodev1.RuntimeClass, error)
}

// RuntimeClassCache is a RuntimeClassReader backed by an informer that
// starts the first time a class is read: a controller whose runs name no
// RuntimeClass watches none and needs no permission on them. A class the
// cache lacks is asked of the API server, as the API server's own
// RuntimeClass admission does: one created a moment ago may not be in the
// cache yet.
type RuntimeClassCache struct {
	// SyncTimeout bounds each wait for the informer to sync; DefaultSyncTimeout by default.
	SyncTimeout time.Duration

	client   kubernetes.Interface
	informer cache.SharedIndexInformer
	stop     <-chan struct{}

	start   sync.Once
	started atomic.Bool

	mu      sync.Mutex
	lastErr error
}

// NewRuntimeClassCache sets up the cache on client without starting it;
// resync is the informer's resync period; stop ends it once started.
func NewRuntimeClassCache(client kubernetes.Interface, resync time.Duration, stop <-chan struct{}) *RuntimeClassCache {
	c := &RuntimeClassCache{
		SyncTimeout: DefaultSyncTimeout,
		client:      client,
		informer:    nodeinformers.NewRuntimeClassInformer(client, resync, cache.Indexers{}),
		stop:        stop,
	}
	// Not started yet: this cannot fail.
	// Without a context, as the caches do: see logWatchError.
	_ = c.informer.SetWatchErrorHandler(func(r *cache.Reflector, err error) {
		c.mu.Lock()
		c.lastErr = err
		c.mu.Unlock()
		if logWatchError != nil {
			logWatchError(r, err)
		}
	})
	return c
}

// Started reports whether a read has started the informer.
func (c *RuntimeClassCache) Started() bool { return c.started.Load() }

// Get returns the RuntimeClass called name. It starts the informer on its
// first call and waits at most SyncTimeout for it to sync; when it has
// not, its error says why (a missing permission, for instance) and the
// caller fails and retries later.
func (c *RuntimeClassCache) Get(ctx context.Context, name string) (*nodev1.RuntimeClass, error) {
	c.start.Do(func() {
		logging.FromContext(ctx).Info("Starting the PipelineRun pod affinity engine's RuntimeClass informer")
		go c.informer.Run(c.stop)
		c.started.Store(true)
	})
	if !c.informer.HasSynced() {
		wait, cancel := context.WithTimeout(ctx, c.SyncTimeout)
		defer cancel()
		if !cache.WaitForCacheSync(wait.Done(), c.informer.HasSynced) {
			return nil, c.notSynced()
		}
	}
	rc, err := nodelisters.NewRuntimeClassLister(c.informer.GetIndexer()).Get(name)
	if apierrors.IsNotFound(err) {
		rc, err = c.client.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
	}
	switch {
	case apierrors.IsNotFound(err):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("getting RuntimeClass %s: %w", name, err)
	}
	return rc, nil
}

// notSynced says why the informer has not synced.
func (c *RuntimeClassCache) notSynced() error {
	c.mu.Lock()
	last := c.lastErr
	c.mu.Unlock()
	why := "still listing, no error so far"
	if last != nil {
		why = last.Error()
		if apierrors.IsForbidden(last) {
			why += ` (the controller's ServiceAccount needs "list" and "watch" on runtimeclasses (node.k8s.io), see config/200-clusterrole.yaml)`
		}
	}
	return fmt.Errorf("the pod affinity engine's RuntimeClass informer did not sync within %s: %s", c.SyncTimeout, why)
}
