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
	"runtime"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	logtesting "knative.dev/pkg/logging/testing"
)

// runningFor is how many informers started with stop run, as counted.
func runningFor(stop <-chan struct{}) int {
	runningInformers.Lock()
	defer runningInformers.Unlock()
	if g := runningInformers.byStop[stop]; g != nil {
		return g.count
	}
	return 0
}

// TestWaitInformersWaitsForHandlers checks that WaitInformers counts the
// informers of every cache started with a stop channel, and returns only
// once they have stopped: an event handler still running when the stop
// channel closes has returned by then (a test's logger panics when a
// handler logs through it after the test). With none started, it returns
// at once.
func TestWaitInformersWaitsForHandlers(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	stop := ctx.Done()
	WaitInformers(stop)
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
	caches := NewCaches(client, "", 0, stop)
	classes := NewRuntimeClassCache(client, 0, stop)

	var finished atomic.Bool
	inHandler := make(chan struct{})
	if _, err := caches.NodeInformer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(interface{}) { // once: one node
			close(inHandler)
			// Still busy when the stop channel closes, and a while after.
			<-stop
			for i := 0; i < 1000; i++ {
				runtime.Gosched()
			}
			finished.Store(true)
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := caches.Synced(ctx); err != nil {
		t.Fatalf("Synced() = %v", err)
	}
	if _, err := classes.Get(ctx, "kata"); err == nil {
		t.Fatal("Get(kata) = nil error, want NotFound")
	}
	if got, want := runningFor(stop), 3; got != want {
		t.Errorf("informers running for the stop channel = %d, want %d (StatefulSets, nodes, RuntimeClasses)", got, want)
	}
	<-inHandler

	cancel()
	WaitInformers(stop)
	if !finished.Load() {
		t.Error("WaitInformers returned while an event handler still ran")
	}
	if got := runningFor(stop); got != 0 {
		t.Errorf("informers running for the stop channel after WaitInformers = %d, want 0", got)
	}
}
