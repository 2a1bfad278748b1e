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

// order is the precedence between the tasks of a pipeline, ready for
// heaviest: tasks that wait for one another in a cycle (which Tekton
// rejects) are merged into one node, and each dependency between two nodes
// is kept once. It depends only on the DAG, so one order serves every
// resource.
type order struct {
	node  []int   // the node of each task
	nodes int     // how many nodes
	next  [][]int // next[u]: the nodes that wait directly for node u

	network *flowNetwork // kept from one call of heaviest to the next
}

// newOrder returns the order of tasks in which task i must finish before
// every task of next[i] starts. next need not be transitively closed (the
// direct dependencies are enough and keep the network small) and may list a
// task more than once.
func newOrder(next [][]int) *order {
	o := &order{node: components(next)}
	for _, c := range o.node {
		o.nodes = max(o.nodes, c+1)
	}
	o.next = make([][]int, o.nodes)
	seen := make([]int, o.nodes) // seen[v] == u+1: u -> v is listed already
	for i, js := range next {
		u := o.node[i]
		for _, j := range js {
			if v := o.node[j]; v != u && seen[v] != u+1 {
				seen[v] = u + 1
				o.next[u] = append(o.next[u], v)
			}
		}
	}
	return o
}

// heaviestAntichain returns the largest total weight of a set of tasks none
// of which must finish before another starts, where w[i] is the weight of
// task i and task i must finish before the tasks of next[i] start (see
// newOrder).
func heaviestAntichain(w []int64, next [][]int) int64 {
	return newOrder(next).heaviest(w)
}

// heaviest returns the largest total weight of a set of tasks none of which
// must finish before another starts; w[i] is the weight of task i. Of tasks
// on a cycle, which wait for one another, at most one can be in such a set:
// the node weighs as much as its heaviest task.
//
// By the weighted form of Dilworth's theorem, the heaviest antichain weighs
// as much as the fewest chains, counted with multiplicity, that pass every
// task at least as often as it weighs: a minimum flow through the DAG with
// a lower bound of w on each task. Routing each task's weight straight from
// source to sink is a feasible flow of value total; the minimum is total
// less the largest flow that can be taken back, a maximum flow in this
// bipartite network:
//
//   - the source feeds the left copy of each task with its weight, and the
//     right copy of each task drains to the sink with its weight;
//   - the left copy of i feeds the right copy of j without limit when j
//     waits directly for i;
//   - the right copy of each task feeds its own left copy without limit, so
//     that a chain passes through a task on its way to a later one.
//
// The pass-through edges stand in for the transitive closure, so the
// network has as many edges as the pipeline has dependencies rather than
// one per pair of ordered tasks. The result is exact, in polynomial time,
// for every shape of DAG.
func (o *order) heaviest(w []int64) int64 {
	weight := make([]int64, o.nodes)
	for i, c := range o.node {
		weight[c] = max(weight[c], w[i])
	}
	var total int64
	edges := 0 // counted first, so that the network is allocated once
	for u := range weight {
		total += weight[u]
		edges += 3 + len(o.next[u])
	}
	if total == 0 {
		return 0
	}
	m := o.nodes
	left := func(u int) int { return u }
	right := func(u int) int { return m + u }
	source, sink := 2*m, 2*m+1
	g := o.network
	if g == nil {
		g = newFlowNetwork(2*m+2, edges)
		o.network = g
	} else {
		g.clear()
	}
	for u := range weight {
		if weight[u] > 0 {
			g.addEdge(source, left(u), weight[u])
			g.addEdge(right(u), sink, weight[u])
		}
		g.addEdge(right(u), left(u), math.MaxInt64)
		for _, v := range o.next[u] {
			g.addEdge(left(u), right(v), math.MaxInt64)
		}
	}
	return total - g.maxFlow(source, sink)
}

// components numbers the strongly connected components of the graph in
// which i has an edge to every task of next[i] (Tarjan's algorithm) and
// returns the component of each task. A DAG has one component per task.
func components(next [][]int) []int {
	n := len(next)
	comp := make([]int, n)
	index := make([]int, n) // 1 + discovery order; 0: not visited yet
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	visited, count := 0, 0
	var visit func(int)
	visit = func(i int) {
		visited++
		index[i], low[i] = visited, visited
		stack = append(stack, i)
		onStack[i] = true
		for _, j := range next[i] {
			if index[j] == 0 {
				visit(j)
				low[i] = min(low[i], low[j])
			} else if onStack[j] {
				low[i] = min(low[i], index[j])
			}
		}
		if low[i] == index[i] {
			for {
				j := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[j] = false
				comp[j] = count
				if j == i {
					break
				}
			}
			count++
		}
	}
	for i := range next {
		if index[i] == 0 {
			visit(i)
		}
	}
	return comp
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
	queue []int // the BFS queue, allocated once
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
		queue: make([]int, 0, n),
	}
	g.clear()
	return g
}

// clear removes every edge, keeping the memory for the next ones.
func (g *flowNetwork) clear() {
	for v := range g.first {
		g.first[v] = -1
	}
	g.link, g.to, g.cap = g.link[:0], g.to[:0], g.cap[:0]
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
	queue := append(g.queue[:0], source) // every node enters it at most once
	for head := 0; head < len(queue); head++ {
		v := queue[head]
		if g.level[sink] >= 0 && g.level[v] >= g.level[sink] {
			break // no shortest path to the sink goes further
		}
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
