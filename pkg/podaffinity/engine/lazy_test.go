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
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	logtesting "knative.dev/pkg/logging/testing"
)

// TestSyncedWaitsOnceWhileInformersFail checks that informers that cannot
// sync hold the reconciles that need them once, not each: every call waits
// at most until SyncTimeout after their start, so a call made during that
// wait waits only for what is left of it, and a call after it fails at once
// with the last error of their list, until they sync; then every call
// succeeds at once.
func TestSyncedWaitsOnceWhileInformersFail(t *testing.T) {
	ctx, cancel := context.WithCancel(logtesting.TestContextWithLogger(t))
	defer cancel()
	var forbid atomic.Bool
	forbid.Store(true)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("cannot list nodes"))
	client := fake.NewClientset()
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if forbid.Load() {
			return true, nil, forbidden
		}
		return false, nil, nil
	})
	const timeout = 2 * time.Second
	c := NewCaches(client, "", 0, ctx.Done())
	c.SyncTimeout = timeout
	want := &NotSyncedError{Timeout: timeout, Pending: []PendingCache{{Name: CacheNodes, Err: "failed to list *v1.Node: " + forbidden.Error(), Forbidden: true}}}
	checkErr := func(name string, err error) {
		t.Helper()
		var notSynced *NotSyncedError
		if !errors.As(err, &notSynced) {
			t.Fatalf("%s: Synced() = %v, want a *NotSyncedError", name, err)
		}
		if d := cmp.Diff(want, notSynced); d != "" {
			t.Errorf("%s: Synced() error (-want +got):\n%s", name, d)
		}
	}

	start := time.Now()
	type result struct {
		err  error
		done time.Duration
	}
	first, late := make(chan result), make(chan result)
	go func() {
		err := c.Synced(ctx)
		first <- result{err, time.Since(start)}
	}()
	time.Sleep(timeout / 2)
	go func() {
		err := c.Synced(ctx)
		late <- result{err, time.Since(start)}
	}()
	firstDone, lateDone := <-first, <-late
	checkErr("first call", firstDone.err)
	checkErr("call made during the first one's wait", lateDone.err)
	if firstDone.done < timeout {
		t.Errorf("the first call returned after %s, want it to wait %s", firstDone.done, timeout)
	}
	// Its own wait of SyncTimeout would end timeout/2 after the first one's.
	if d := lateDone.done - firstDone.done; d > timeout/4 {
		t.Errorf("the call made during the first one's wait returned %s after it, want at the same time: the wait is one", d)
	}

	for range 3 {
		began := time.Now()
		err := c.Synced(ctx)
		if took := time.Since(began); took > timeout/4 {
			t.Errorf("Synced() after the first wait took %s, want it to fail at once", took)
		}
		checkErr("call after the first wait", err)
	}

	// The permission is given: once the informer lists, calls succeed at once.
	forbid.Store(false)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		began := time.Now()
		err := c.Synced(ctx)
		if took := time.Since(began); took > timeout/4 {
			t.Errorf("Synced() after the first wait took %s, want it to return at once", took)
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the informers did not sync once the nodes could be listed: %v", err)
		}
	}
}
