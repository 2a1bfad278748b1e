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

package demand

import "math"

// heaviestAntichain returns the largest total weight of a set of tasks none
// of which must finish before another starts. w[i] is the weight of task i;
// before[i][j] reports whether task i must finish before task j starts, and
// must be transitively closed.
//
// By the weighted form of Dilworth's theorem the heaviest antichain weighs
// the total weight less the maximum flow of a bipartite network: the source
// feeds a left copy of each task with its weight, a right copy of each task
// drains to the sink with its weight, and the left copy of i feeds the right
// copy of j without limit whenever i comes before j. The result is exact, in
// polynomial time, for every shape of DAG.
func heaviestAntichain(w []int64, before [][]bool) int64 {
	var nodes []int // tasks in the network: weight > 0
	var total int64
	for i := range w {
		if w[i] > 0 && !shadowed(w, before, i) {
			nodes = append(nodes, i)
			total += w[i]
		}
	}
	m := len(nodes)
	edges := 2 * m // counted first, so that the network is allocated once
	for a, i := range nodes {
		for b, j := range nodes {
			if a != b && before[i][j] {
				edges++
			}
		}
	}
	source, sink := 2*m, 2*m+1
	g := newFlowNetwork(2*m+2, edges)
	for a, i := range nodes {
		g.addEdge(source, a, w[i])
		g.addEdge(m+a, sink, w[i])
		for b, j := range nodes {
			if a != b && before[i][j] {
				g.addEdge(a, m+b, math.MaxInt64)
			}
		}
	}
	return total - g.maxFlow(source, sink)
}

// shadowed reports whether task i is on a cycle (which Tekton rejects) with
// a heavier task, or with an equal one listed first. Tasks on a cycle wait
// for one another, so at most one of them, the heaviest, can be in an
// antichain; without the others the order is a partial order again.
func shadowed(w []int64, before [][]bool, i int) bool {
	if !before[i][i] {
		return false
	}
	for j := range w {
		if j != i && before[i][j] && before[j][i] && (w[j] > w[i] || w[j] == w[i] && j < i) {
			return true
		}
	}
	return false
}

// flowNetwork is a directed graph with int64 capacities for Dinic's maximum
// flow. Edge e and its residual twin are e and e^1; the edges leaving a node
// are a linked list, from first through link.
type flowNetwork struct {
	first []int // first edge leaving each node, or -1
	link  []int // next edge leaving the same node, or -1
	to    []int
	cap   []int64
	level []int // BFS distance from the source in the residual graph
	next  []int // next edge of each node to try in this phase
}

// newFlowNetwork returns a network of n nodes with room for edges edges.
func newFlowNetwork(n, edges int) *flowNetwork {
	g := &flowNetwork{
		first: make([]int, n),
		link:  make([]int, 0, 2*edges),
		to:    make([]int, 0, 2*edges),
		cap:   make([]int64, 0, 2*edges),
		level: make([]int, n),
		next:  make([]int, n),
	}
	for v := range g.first {
		g.first[v] = -1
	}
	return g
}

func (g *flowNetwork) addEdge(from, to int, capacity int64) {
	g.first[from], g.link = len(g.to), append(g.link, g.first[from])
	g.to, g.cap = append(g.to, to), append(g.cap, capacity)
	g.first[to], g.link = len(g.to), append(g.link, g.first[to])
	g.to, g.cap = append(g.to, from), append(g.cap, 0)
}

// maxFlow returns the value of a maximum flow from source to sink.
func (g *flowNetwork) maxFlow(source, sink int) int64 {
	var flow int64
	for g.levels(source, sink) {
		copy(g.next, g.first)
		for f := g.augment(source, sink, math.MaxInt64); f > 0; f = g.augment(source, sink, math.MaxInt64) {
			flow += f
		}
	}
	return flow
}

// levels computes the BFS levels of the residual graph and reports whether
// the sink is reachable.
func (g *flowNetwork) levels(source, sink int) bool {
	for v := range g.level {
		g.level[v] = -1
	}
	g.level[source] = 0
	queue := []int{source}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for e := g.first[v]; e >= 0; e = g.link[e] {
			if u := g.to[e]; g.cap[e] > 0 && g.level[u] < 0 {
				g.level[u] = g.level[v] + 1
				queue = append(queue, u)
			}
		}
	}
	return g.level[sink] >= 0
}

// augment pushes at most f along one shortest residual path from v to the
// sink and returns how much it pushed.
func (g *flowNetwork) augment(v, sink int, f int64) int64 {
	if v == sink {
		return f
	}
	for ; g.next[v] >= 0; g.next[v] = g.link[g.next[v]] {
		e := g.next[v]
		if u := g.to[e]; g.cap[e] > 0 && g.level[u] == g.level[v]+1 {
			if pushed := g.augment(u, sink, min(f, g.cap[e])); pushed > 0 {
				g.cap[e] -= pushed
				g.cap[e^1] += pushed
				return pushed
			}
		}
	}
	return 0
}
