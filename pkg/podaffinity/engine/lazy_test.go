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
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
	logtesting "knative.dev/pkg/logging/testing"
)

// waitClock is a fake clock that hands the test the length of every wait
// a call of synced starts (AfterFunc), before the call waits: the test
// knows when a call waits, and for how long, without a wall-clock margin.
type waitClock struct {
	*clocktesting.FakeClock
	waits chan time.Duration
}

func (c *waitClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	timer := c.FakeClock.AfterFunc(d, f)
	c.waits <- d
	return timer
}

// realBound bounds, in real time, what must happen at once on the fake
// clock (a goroutine to run, an informer to list): only a broken test
// waits that long.
const realBound = time.Minute

// TestSyncedWaitsOnceWhileInformersFail checks that informers that cannot
// sync hold the reconciles that need them once, not each: every call waits
// at most until SyncTimeout after their start, so a call made during that
// wait waits only for what is left of it, and a call after it fails at once
// with the last error of their list, until they sync; then every call
// succeeds at once. The wait is timed by a fake clock, which moves only
// when the test steps it: "at once" is "without waiting on the clock", not
// a wall-clock margin a loaded machine (go test -race) can overrun.
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
	fc := &waitClock{FakeClock: clocktesting.NewFakeClock(time.Now()), waits: make(chan time.Duration)}
	began := fc.Now()
	c := NewCaches(client, "", 0, ctx.Done())
	c.SyncTimeout = timeout
	c.clock = fc
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
	// nextWait returns the length of the wait a call starts.
	nextWait := func(name string) time.Duration {
		t.Helper()
		select {
		case d := <-fc.waits:
			return d
		case <-time.After(realBound):
			t.Fatalf("%s: Synced() started no wait within %s", name, realBound)
		}
		return 0
	}
	type result struct {
		err error
		// at is when the call returned, on the fake clock, from the start.
		at time.Duration
	}
	call := func() <-chan result {
		out := make(chan result, 1)
		go func() {
			err := c.Synced(ctx)
			out <- result{err, fc.Since(began)}
		}()
		return out
	}
	receive := func(name string, from <-chan result) result {
		t.Helper()
		select {
		case r := <-from:
			return r
		case d := <-fc.waits:
			t.Fatalf("%s: Synced() waits %s, want it to return at once", name, d)
		case <-time.After(realBound):
			t.Fatalf("%s: Synced() did not return within %s", name, realBound)
		}
		return result{}
	}

	first := call()
	if d := nextWait("first call"); d != timeout {
		t.Errorf("the first call waits %s, want SyncTimeout, %s", d, timeout)
	}
	// The StatefulSets sync, the nodes' list fails: the error the calls
	// return is known before their wait ends.
	for deadline := time.Now().Add(realBound); ; time.Sleep(10 * time.Millisecond) {
		c.mu.Lock()
		listed := c.lastErr[CacheNodes] != nil
		c.mu.Unlock()
		if listed && cmp.Equal(c.pending(), []string{CacheNodes}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("within %s, the nodes' list did not fail or the StatefulSets did not sync: pending %v", realBound, c.pending())
		}
	}
	fc.Step(timeout / 2)
	late := call()
	// Its own wait of SyncTimeout would end timeout/2 after the first one's.
	if d := nextWait("call made during the first one's wait"); d != timeout/2 {
		t.Errorf("the call made halfway through the first one's wait waits %s, want what is left of it, %s: the wait is one", d, timeout/2)
	}
	select {
	case r := <-first:
		t.Fatalf("the first call returned halfway through its wait: %v", r.err)
	default:
	}
	fc.Step(timeout / 2)
	firstDone, lateDone := receive("first call", first), receive("call made during the first one's wait", late)
	checkErr("first call", firstDone.err)
	checkErr("call made during the first one's wait", lateDone.err)
	for _, r := range []struct {
		name string
		at   time.Duration
	}{{"the first call", firstDone.at}, {"the call made during the first one's wait", lateDone.at}} {
		if r.at != timeout {
			t.Errorf("%s returned %s after the start, want %s, the end of the first one's wait", r.name, r.at, timeout)
		}
	}

	for range 3 {
		checkErr("call after the first wait", receive("call after the first wait", call()).err)
	}

	// The permission is given: once the informer lists, calls succeed at
	// once. The informer's retry of its list is timed by the real clock.
	forbid.Store(false)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := receive("call once nodes can be listed", call()).err
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the informers did not sync once the nodes could be listed: %v", err)
		}
	}
}
