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

	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	nodeinformers "k8s.io/client-go/informers/node/v1"
	"k8s.io/client-go/kubernetes"
	nodelisters "k8s.io/client-go/listers/node/v1"
	"k8s.io/client-go/tools/cache"
)

// RuntimeClassCache is a RuntimeClassReader backed by an informer that
// starts the first time a class is read: a controller whose runs name no
// RuntimeClass watches none and needs no permission on them. A class the
// cache lacks is asked of the API server, as the API server's own
// RuntimeClass admission does: one created a moment ago may not be in the
// cache yet.
type RuntimeClassCache struct {
	*lazy

	client   kubernetes.Interface
	informer cache.SharedIndexInformer
}

// NewRuntimeClassCache sets up the cache on client without starting it;
// resync is the informer's resync period; stop ends it once started.
func NewRuntimeClassCache(client kubernetes.Interface, resync time.Duration, stop <-chan struct{}) *RuntimeClassCache {
	c := &RuntimeClassCache{client: client, informer: nodeinformers.NewRuntimeClassInformer(client, resync, cache.Indexers{})}
	c.lazy = newLazy(map[string]cache.SharedIndexInformer{CacheRuntimeClasses: c.informer}, stop)
	return c
}

// Get returns the RuntimeClass called name. It starts the informer on its
// first call and waits at most SyncTimeout for it to sync; when it has
// not, its error (a *NotSyncedError) says why (a missing permission, for
// instance) and the caller fails and retries later.
func (c *RuntimeClassCache) Get(ctx context.Context, name string) (*nodev1.RuntimeClass, error) {
	if err := c.synced(ctx, "a placed PipelineRun names a RuntimeClass"); err != nil {
		return nil, err
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
