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
	"time"
)

// expiring is a map whose entries expire: the engine's short memories of
// its own doings, keyed by UID (Engine.released and changed, ownEvents, ownWrites,
// refusals). An entry stored at t for ttl lives until t+ttl, inclusive.
// Every store drops the entries expired by then, so the map holds only what
// was stored within the longest ttl; reads drop nothing (but getOrDrop).
// Callers pass the time, from the engine's Clock, which tests set. The zero
// value is ready to use; it is safe for concurrent use.
//
// Not k8s.io/apimachinery's cache.Expiring or LRUExpireCache: neither reads
// and writes an entry in one step (ownWrites chains a write onto the last
// one and drops one the cache shows; refusals keep the first time), both
// take their clock when built (the Engine is a struct literal whose Clock
// callers set), and LRUExpireCache evicts live entries past a size.
type expiring[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]expiringEntry[V]
}

type expiringEntry[V any] struct {
	value V
	until time.Time
}

// get returns the value of key unless it expired before now.
func (m *expiring[K, V]) get(key K, now time.Time) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.live(key, now)
}

// getOrDrop is get, except that it drops key, and answers false, when key
// expired or stale answers true for its value: both in one step.
func (m *expiring[K, V]) getOrDrop(key K, now time.Time, stale func(V) bool) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.live(key, now); ok && !stale(v) {
		return v, true
	}
	delete(m.entries, key)
	var zero V
	return zero, false
}

// set stores value under key for ttl from now (see update).
func (m *expiring[K, V]) set(key K, value V, now time.Time, ttl time.Duration) {
	m.update(key, now, ttl, func(V, bool) V { return value })
}

// update stores under key, for ttl from now, what f makes of its value
// (found false when it has none or it expired), and returns it. f runs
// under the map's lock. The entries expired at now are dropped first.
func (m *expiring[K, V]) update(key K, now time.Time, ttl time.Duration, f func(old V, found bool) V) V {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked(now)
	value := f(m.live(key, now))
	if m.entries == nil {
		m.entries = map[K]expiringEntry[V]{}
	}
	m.entries[key] = expiringEntry[V]{value: value, until: now.Add(ttl)}
	return value
}

// delete drops key.
func (m *expiring[K, V]) delete(key K) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
}

// prune drops the entries expired at now.
func (m *expiring[K, V]) prune(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruneLocked(now)
}

func (m *expiring[K, V]) pruneLocked(now time.Time) {
	for key, e := range m.entries {
		if now.After(e.until) {
			delete(m.entries, key)
		}
	}
}

// live is get under the lock.
func (m *expiring[K, V]) live(key K, now time.Time) (V, bool) {
	e, ok := m.entries[key]
	if !ok || now.After(e.until) {
		var zero V
		return zero, false
	}
	return e.value, true
}
