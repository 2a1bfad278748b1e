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
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestArmRecheckRealTime checks that, with a Clock that cannot run timers,
// a recheck fires in real time, once, and that one replaced or stopped
// meanwhile does not fire (run it with -race: timers fire on their own
// goroutines).
func TestArmRecheckRealTime(t *testing.T) {
	enqueued := make(chan types.NamespacedName, 100)
	e := &Engine{Clock: clocktesting.NewFakePassiveClock(time.Now()), Enqueue: func(k types.NamespacedName) { enqueued <- k }}
	run, other := recheckedRun("build"), recheckedRun("other")
	// Replaced long before they are due, then stopped.
	for i := 0; i < 50; i++ {
		e.armRecheck(other, Placement{}, 100*time.Millisecond)
		e.armRecheck(other, Placement{}, time.Hour)
	}
	e.stopRecheck(other)
	got := e.armRecheck(run, Placement{Reason: ReasonHandingOver}, 200*time.Millisecond)
	if got.RequeueAfter != 0 {
		t.Errorf("armRecheck() RequeueAfter = %s, want 0: the timer brings the run back", got.RequeueAfter)
	}
	select {
	case k := <-enqueued:
		// The replaced and stopped timers were due first.
		if k.Name != run.Name {
			t.Errorf("enqueued %s first, want %s: a timer replaced or stopped fired", k, run.Name)
		}
	case <-time.After(time.Minute):
		t.Fatal("the recheck did not fire within a minute")
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(enqueued); n != 0 {
		t.Errorf("%d more enqueues, want none", n)
	}
	e.rechecks.Lock()
	defer e.rechecks.Unlock()
	if n := len(e.rechecks.timers); n != 0 {
		t.Errorf("%d timers left, want none", n)
	}
}

// TestArmRecheckWithoutEnqueue checks that, when the engine cannot enqueue
// runs, a recheck is returned as the placement's requeue, if sooner.
func TestArmRecheckWithoutEnqueue(t *testing.T) {
	e := &Engine{Clock: clocktesting.NewFakeClock(time.Now())}
	for _, tc := range []struct {
		name             string
		requeue, recheck time.Duration
		wantRequeueAfter time.Duration
	}{
		{name: "no recheck", requeue: time.Second, wantRequeueAfter: time.Second},
		{name: "a recheck, no requeue", recheck: time.Minute, wantRequeueAfter: time.Minute},
		{name: "the recheck is sooner", requeue: time.Hour, recheck: time.Minute, wantRequeueAfter: time.Minute},
		{name: "the requeue is sooner", requeue: time.Second, recheck: time.Minute, wantRequeueAfter: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := e.armRecheck(recheckedRun("build"), Placement{RequeueAfter: tc.requeue}, tc.recheck)
			if got.RequeueAfter != tc.wantRequeueAfter {
				t.Errorf("armRecheck() RequeueAfter = %s, want %s", got.RequeueAfter, tc.wantRequeueAfter)
			}
		})
	}
}

// TestSooner checks the sooner of two waits, where 0 or less is none.
func TestSooner(t *testing.T) {
	for _, tc := range []struct {
		a, b, want time.Duration
	}{
		{a: 0, b: 0, want: 0},
		{a: time.Second, b: 0, want: time.Second},
		{a: 0, b: time.Second, want: time.Second},
		{a: -time.Second, b: time.Minute, want: time.Minute},
		{a: time.Minute, b: -time.Second, want: time.Minute},
		{a: time.Second, b: time.Minute, want: time.Second},
		{a: time.Minute, b: time.Second, want: time.Second},
		{a: time.Minute, b: time.Minute, want: time.Minute},
	} {
		if got := sooner(tc.a, tc.b); got != tc.want {
			t.Errorf("sooner(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
}

func recheckedRun(name string) *v1.PipelineRun {
	return &v1.PipelineRun{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name}}
}
