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
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestExpiring checks what an expiring map answers after a series of
// calls, and which entries it still holds: what expires when, and what
// each call drops.
func TestExpiring(t *testing.T) {
	const ttl = time.Minute
	t0 := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type m = expiring[string, int]
	set := func(key string, value int, d time.Duration) func(*m) string {
		return func(m *m) string { m.set(key, value, at(d), ttl); return "" }
	}
	// add adds one to the value of key, 10 to none.
	add := func(key string, d time.Duration) func(*m) string {
		return func(m *m) string {
			return fmt.Sprint(m.update(key, at(d), ttl, func(old int, found bool) int {
				if !found {
					return 10
				}
				return old + 1
			}))
		}
	}
	// getOrDrop answers the value of key, "-" for none; odd values are stale.
	getOrDrop := func(key string, d time.Duration) func(*m) string {
		return func(m *m) string {
			v, ok := m.getOrDrop(key, at(d), func(v int) bool { return v%2 == 1 })
			if !ok {
				return "-"
			}
			return fmt.Sprint(v)
		}
	}
	for _, tc := range []struct {
		name string
		// calls are made in order; what each answers, if anything, is
		// collected.
		calls []func(*m) string
		// readAt is when get reads "a" and "b".
		readAt time.Duration
		// want is what the calls answered, wantLive what get read, wantHeld
		// the keys the map holds after.
		want     []string
		wantLive map[string]int
		wantHeld []string
	}{{
		name: "zero value: empty",
	}, {
		name:     "live until its ttl, inclusive",
		calls:    []func(*m) string{set("a", 2, 0)},
		readAt:   ttl,
		wantLive: map[string]int{"a": 2},
		wantHeld: []string{"a"},
	}, {
		name:     "expired past its ttl; get drops nothing",
		calls:    []func(*m) string{set("a", 2, 0)},
		readAt:   ttl + time.Nanosecond,
		wantHeld: []string{"a"},
	}, {
		name:     "overwritten: the new value, for ttl from the new store",
		calls:    []func(*m) string{set("a", 2, 0), set("a", 4, 30*time.Second)},
		readAt:   30*time.Second + ttl,
		wantLive: map[string]int{"a": 4},
		wantHeld: []string{"a"},
	}, {
		name:     "a store drops the entries expired by then, not the others",
		calls:    []func(*m) string{set("a", 2, 0), set("c", 2, 30*time.Second), set("b", 4, ttl+time.Second)},
		readAt:   ttl + time.Second,
		wantLive: map[string]int{"b": 4},
		wantHeld: []string{"b", "c"},
	}, {
		name:     "deleted: only that key",
		calls:    []func(*m) string{set("a", 2, 0), set("b", 4, 0), func(m *m) string { m.delete("a"); return "" }},
		wantLive: map[string]int{"b": 4},
		wantHeld: []string{"b"},
	}, {
		name:     "pruned: the entries expired by then",
		calls:    []func(*m) string{set("a", 2, 0), set("b", 4, 30*time.Second), func(m *m) string { m.prune(at(ttl + time.Second)); return "" }},
		wantLive: map[string]int{"b": 4},
		wantHeld: []string{"b"},
	}, {
		name:     "updated: from the live value, for ttl from the update",
		calls:    []func(*m) string{add("a", 0), add("a", 30*time.Second)},
		readAt:   30*time.Second + ttl,
		want:     []string{"10", "11"},
		wantLive: map[string]int{"a": 11},
		wantHeld: []string{"a"},
	}, {
		name:     "updated past its ttl: found none; other expired entries dropped",
		calls:    []func(*m) string{add("a", 0), set("b", 4, 0), add("a", ttl+time.Second)},
		readAt:   ttl + time.Second,
		want:     []string{"10", "10"},
		wantLive: map[string]int{"a": 10},
		wantHeld: []string{"a"},
	}, {
		name:     "getOrDrop: a live value that is not stale is kept",
		calls:    []func(*m) string{set("a", 2, 0), getOrDrop("a", ttl), getOrDrop("b", 0)},
		want:     []string{"2", "-"},
		wantLive: map[string]int{"a": 2},
		wantHeld: []string{"a"},
	}, {
		name:     "getOrDrop: a stale value is dropped",
		calls:    []func(*m) string{set("a", 3, 0), set("b", 4, 0), getOrDrop("a", 0)},
		want:     []string{"-"},
		wantLive: map[string]int{"b": 4},
		wantHeld: []string{"b"},
	}, {
		name:  "getOrDrop: an expired value is dropped",
		calls: []func(*m) string{set("a", 2, 0), getOrDrop("a", ttl+time.Nanosecond)},
		want:  []string{"-"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var m m
			var got []string
			for _, call := range tc.calls {
				if answer := call(&m); answer != "" {
					got = append(got, answer)
				}
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("answers (-want +got):\n%s", d)
			}
			live := map[string]int{}
			for _, key := range []string{"a", "b"} {
				if v, ok := m.get(key, at(tc.readAt)); ok {
					live[key] = v
				}
			}
			if d := cmp.Diff(tc.wantLive, live, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("get() at +%s (-want +got):\n%s", tc.readAt, d)
			}
			held := []string{}
			for key := range m.entries {
				held = append(held, key)
			}
			slices.Sort(held)
			if d := cmp.Diff(tc.wantHeld, held, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("keys held (-want +got):\n%s", d)
			}
		})
	}
}

// TestExpiringConcurrent uses one map from several goroutines, every call
// on the same few keys (run with -race): each update sees the one before.
func TestExpiringConcurrent(t *testing.T) {
	const goroutines, rounds = 8, 200
	t0 := time.Date(2026, time.March, 14, 15, 9, 26, 0, time.UTC)
	var m expiring[string, int]
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				at := t0.Add(time.Duration(i) * time.Second)
				m.update("count", t0, time.Hour, func(old int, _ bool) int { return old + 1 })
				key := fmt.Sprint("key-", (g+i)%3)
				m.set(key, i, at, time.Minute)
				m.get(key, at)
				m.getOrDrop(key, at, func(v int) bool { return v%5 == 0 })
				if i%7 == 0 {
					m.delete(key)
					m.prune(at)
				}
			}
		}()
	}
	wg.Wait()
	if got, ok := m.get("count", t0); !ok || got != goroutines*rounds {
		t.Errorf("get(count) = %d, %t; want %d, true", got, ok, goroutines*rounds)
	}
}
