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
	"sync"

	"k8s.io/client-go/tools/cache"
)

// runningInformers counts the informers the engine has started that have
// not stopped yet, by the stop channel they were started with (see
// WaitInformers). They start lazily, deep in a reconcile, so the code that
// set up the controller holds no handle to them: their stop channel, the
// controller's, is what it can name.
var runningInformers = struct {
	sync.Mutex
	byStop map[<-chan struct{}]*informerGroup
}{byStop: map[<-chan struct{}]*informerGroup{}}

// informerGroup is the informers started with one stop channel.
type informerGroup struct {
	count   int
	stopped chan struct{} // closed when count drops to 0
}

// runInformers runs each of the named informers in its own goroutine until
// stop is closed, counted under stop until it has stopped.
func runInformers(stop <-chan struct{}, named map[string]cache.SharedIndexInformer) {
	runningInformers.Lock()
	defer runningInformers.Unlock()
	g := runningInformers.byStop[stop]
	if g == nil {
		g = &informerGroup{stopped: make(chan struct{})}
		runningInformers.byStop[stop] = g
	}
	g.count += len(named)
	for _, informer := range named {
		go func() {
			defer informerStopped(stop, g)
			informer.Run(stop)
		}()
	}
}

// informerStopped counts one informer of g, started with stop, as stopped.
func informerStopped(stop <-chan struct{}, g *informerGroup) {
	runningInformers.Lock()
	defer runningInformers.Unlock()
	g.count--
	if g.count == 0 {
		close(g.stopped)
		delete(runningInformers.byStop, stop)
	}
}

// WaitInformers waits until every informer the engine started with stop
// (the stop channel given to NewCaches, NewNamespaces and
// NewRuntimeClassCache) has stopped; stop must be closed, before or while
// it waits. An informer stops once its event handlers have returned, so
// none runs after WaitInformers: a test that sets up a controller calls it
// after cancelling the controller's context, so that no handler logs
// through the test's logger once the test has ended. A controller does not
// need it: its informers end with its process. It returns at once when no
// informer runs for stop.
func WaitInformers(stop <-chan struct{}) {
	runningInformers.Lock()
	g := runningInformers.byStop[stop]
	runningInformers.Unlock()
	if g != nil {
		<-g.stopped
	}
}
