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
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	"knative.dev/pkg/logging"
)

// lazy is a set of named informers that start together the first time the
// engine reads from them, not with the controller, and that remember the
// last error each one's list or watch got, to say why one has not synced.
// Caches, Namespaces and RuntimeClassCache are built on it: a controller
// that never needs one watches nothing for it and needs no permission.
type lazy struct {
	// SyncTimeout bounds the wait for the first sync, from the start;
	// DefaultSyncTimeout by default.
	SyncTimeout time.Duration

	named map[string]cache.SharedIndexInformer
	stop  <-chan struct{}
	// clock times the wait (the real one; a test's fake one).
	clock clock.WithDelayedExecution

	start   sync.Once
	started atomic.Bool
	// deadline is SyncTimeout after the start: no call waits past it.
	deadline time.Time

	mu      sync.Mutex
	lastErr map[string]error
}

// newLazy sets up the informers in named without starting them; stop ends
// them once started (see WaitInformers).
func newLazy(named map[string]cache.SharedIndexInformer, stop <-chan struct{}) *lazy {
	l := &lazy{SyncTimeout: DefaultSyncTimeout, named: named, stop: stop, clock: clock.RealClock{}, lastErr: map[string]error{}}
	for name, informer := range named {
		// Not started yet: this cannot fail. Without a context, as
		// client-go's own handler: see logWatchError.
		_ = informer.SetWatchErrorHandler(func(r *cache.Reflector, err error) {
			l.mu.Lock()
			l.lastErr[name] = err
			l.mu.Unlock()
			if logWatchError != nil {
				logWatchError(r, err)
			}
		})
	}
	return l
}

// Started reports whether the informers have been started.
func (l *lazy) Started() bool { return l.started.Load() }

// synced starts the informers on its first call (logging that it does so,
// with why they are needed), and waits for them to sync until SyncTimeout
// after that start, a wait every call shares: one made later waits no
// more. When they have not, it returns a *NotSyncedError naming each one
// with the last error of its list or watch; the caller fails and retries
// later while they keep trying. Once synced it returns at once. It is safe
// for concurrent use.
func (l *lazy) synced(ctx context.Context, why string) error {
	l.start.Do(func() {
		logging.FromContext(ctx).Infof("Starting the PipelineRun pod affinity engine's informers of %s (%s)", l.names(), why)
		l.deadline = l.clock.Now().Add(l.SyncTimeout)
		runInformers(l.stop, l.named)
		l.started.Store(true)
	})
	if len(l.pending()) == 0 {
		return nil
	}
	// Past the deadline the informers are only looked at.
	if left := l.deadline.Sub(l.clock.Now()); left > 0 {
		wait, cancel := context.WithCancel(ctx)
		timer := l.clock.AfterFunc(left, cancel)
		synced := make([]cache.InformerSynced, 0, len(l.named))
		for _, informer := range l.named {
			synced = append(synced, informer.HasSynced)
		}
		cache.WaitForCacheSync(wait.Done(), synced...)
		timer.Stop()
		cancel()
	}
	pending := l.pending()
	if len(pending) == 0 {
		return nil
	}
	err := &NotSyncedError{Timeout: l.SyncTimeout, Pending: make([]PendingCache, 0, len(pending))}
	l.mu.Lock()
	for _, name := range pending {
		p := PendingCache{Name: name}
		if last := l.lastErr[name]; last != nil {
			p.Err = last.Error()
			p.Forbidden = apierrors.IsForbidden(last)
		}
		err.Pending = append(err.Pending, p)
	}
	l.mu.Unlock()
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

// pending returns the names of the informers that have not synced, sorted.
func (l *lazy) pending() []string {
	var names []string
	for name, informer := range l.named {
		if !informer.HasSynced() {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// names lists the informers' names, sorted, for the log.
func (l *lazy) names() string {
	names := make([]string, 0, len(l.named))
	for name := range l.named {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
