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

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// closure returns the transitive closure of n tasks and edges {i, j}
// (i before j), by Floyd-Warshall.
func closure(n int, edges [][2]int) [][]bool {
	before := make([][]bool, n)
	for i := range before {
		before[i] = make([]bool, n)
	}
	for _, e := range edges {
		before[e[0]][e[1]] = true
	}
	for k := range n {
		for i := range n {
			for j := range n {
				before[i][j] = before[i][j] || before[i][k] && before[k][j]
			}
		}
	}
	return before
}

// adjacency returns, for each of n tasks, the tasks that edges {i, j} (i
// before j) make wait for it.
func adjacency(n int, edges [][2]int) [][]int {
	next := make([][]int, n)
	for _, e := range edges {
		next[e[0]] = append(next[e[0]], e[1])
	}
	return next
}

// closureEdges returns every pair {i, j} that before orders.
func closureEdges(before [][]bool) [][2]int {
	var edges [][2]int
	for i := range before {
		for j := range before[i] {
			if before[i][j] {
				edges = append(edges, [2]int{i, j})
			}
		}
	}
	return edges
}

func TestHeaviestAntichain(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w     []int64
		edges [][2]int
		want  int64
	}{{
		name: "no tasks",
		want: 0,
	}, {
		name:  "only zero weights",
		w:     []int64{0, 0},
		edges: [][2]int{{0, 1}},
		want:  0,
	}, {
		name: "independent tasks add up",
		w:    []int64{1, 2, 3},
		want: 6,
	}, {
		name:  "a chain keeps its heaviest task",
		w:     []int64{1, 5, 2},
		edges: [][2]int{{0, 1}, {1, 2}},
		want:  5,
	}, {
		name:  "a weightless task in between still orders its neighbours",
		w:     []int64{3, 0, 4},
		edges: [][2]int{{0, 1}, {1, 2}},
		want:  4,
	}, {
		name:  "heaviest beats largest",
		w:     []int64{2000, 500, 500, 500, 100},
		edges: [][2]int{{0, 1}, {0, 2}, {0, 3}},
		want:  2100,
	}, {
		name:  "two fully connected stages",
		w:     []int64{1, 2, 3, 2, 2, 2},
		edges: [][2]int{{0, 3}, {0, 4}, {0, 5}, {1, 3}, {1, 4}, {1, 5}, {2, 3}, {2, 4}, {2, 5}},
		want:  6,
	}, {
		name:  "crossing dependencies: the heavy ends overlap",
		w:     []int64{10, 1, 1, 10},
		edges: [][2]int{{0, 2}, {1, 3}},
		want:  20,
	}, {
		name:  "a cycle counts its heaviest task once",
		w:     []int64{1, 2, 5},
		edges: [][2]int{{0, 1}, {1, 0}},
		want:  7,
	}, {
		name:  "a cycle of equal tasks counts one of them",
		w:     []int64{3, 3, 3},
		edges: [][2]int{{0, 1}, {1, 2}, {2, 0}},
		want:  3,
	}, {
		name:  "a cycle orders what follows any of its tasks",
		w:     []int64{5, 1, 4},
		edges: [][2]int{{0, 1}, {1, 0}, {1, 2}},
		want:  5,
	}, {
		name:  "a weightless task passes a chain on to a heavier one",
		w:     []int64{7, 0, 0, 6, 6},
		edges: [][2]int{{0, 1}, {1, 2}, {2, 3}, {0, 4}},
		want:  12,
	}, {
		name:  "listed twice",
		w:     []int64{3, 4},
		edges: [][2]int{{0, 1}, {0, 1}},
		want:  4,
	}, {
		name:  "a task that waits for itself still counts",
		w:     []int64{4, 1},
		edges: [][2]int{{0, 0}},
		want:  5,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			// The direct dependencies and their transitive closure are the
			// same order.
			for _, edges := range map[string][][2]int{"direct": tc.edges, "closed": closureEdges(closure(len(tc.w), tc.edges))} {
				got := heaviestAntichain(tc.w, adjacency(len(tc.w), edges))
				if d := cmp.Diff(tc.want, got); d != "" {
					t.Errorf("heaviestAntichain(%v) (-want +got):\n%s", edges, d)
				}
			}
		})
	}
}

func TestMaxFlow(t *testing.T) {
	type edge struct {
		from, to int
		capacity int64
	}
	for _, tc := range []struct {
		name  string
		nodes int
		edges []edge
		want  int64
	}{{
		name:  "sink unreachable",
		nodes: 3,
		edges: []edge{{0, 1, 5}},
		want:  0,
	}, {
		name:  "parallel edges add up",
		nodes: 2,
		edges: []edge{{0, 1, 3}, {0, 1, 4}},
		want:  7,
	}, {
		name:  "an unlimited edge between limited ones",
		nodes: 4,
		edges: []edge{{0, 1, 9}, {1, 2, math.MaxInt64}, {2, 3, 6}},
		want:  6,
	}, {
		name:  "flow is rerouted through a residual edge",
		nodes: 6,
		// CLRS figure 26.1.
		edges: []edge{{0, 1, 16}, {0, 2, 13}, {1, 3, 12}, {2, 1, 4}, {2, 4, 14}, {3, 2, 9}, {3, 5, 20}, {4, 3, 7}, {4, 5, 4}},
		want:  23,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFlowNetwork(tc.nodes, len(tc.edges))
			for _, e := range tc.edges {
				g.addEdge(e.from, e.to, e.capacity)
			}
			if d := cmp.Diff(tc.want, g.maxFlow(0, tc.nodes-1)); d != "" {
				t.Errorf("maxFlow() (-want +got):\n%s", d)
			}
		})
	}
}

// TestPeakMatchesBruteForce compares Peak with the heaviest set of
// non-finally tasks none of which waits for another, found by trying every
// subset, on random pipelines.
func TestPeakMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(20260101))
	for run := range 3000 {
		tasks, want := randomPipeline(rng)
		got := map[corev1.ResourceName]int64{}
		for name, q := range Peak(tasks) {
			got[name] = scaled(name, q)
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("run %d: Peak(%s) (-brute force +got):\n%s", run, describe(tasks), d)
		}
	}
}

// randomPipeline returns up to 12 tasks with random dependencies, requests
// (zero and missing ones included), matrix counts and finally tasks, and
// their peak by brute force in millicores and bytes. One pipeline in ten
// gets a dependency that may close a cycle, which Tekton rejects; Peak then
// counts at most one task of the cycle, as the brute force does.
func randomPipeline(rng *rand.Rand) ([]Task, map[corev1.ResourceName]int64) {
	n := rng.Intn(13)
	density := rng.Float64()
	millis := []int64{-1, 0, 0, 50, 100, 200, 250, 333, 500, 1000, 1500} // -1: not requested
	mebis := []int64{-1, 0, 64, 128, 256, 1024}
	tasks := make([]Task, n)
	w := map[corev1.ResourceName][]int64{corev1.ResourceCPU: make([]int64, n), corev1.ResourceMemory: make([]int64, n)}
	for i := range tasks {
		tasks[i] = Task{Name: fmt.Sprintf("t%d", i), Count: rng.Intn(4), Finally: rng.Intn(6) == 0, Pod: corev1.ResourceList{}}
		copies := int64(max(tasks[i].Count, 1))
		if m := millis[rng.Intn(len(millis))]; m >= 0 {
			tasks[i].Pod[corev1.ResourceCPU] = *resource.NewMilliQuantity(m, resource.DecimalSI)
			w[corev1.ResourceCPU][i] = m * copies
		}
		if mi := mebis[rng.Intn(len(mebis))]; mi >= 0 {
			tasks[i].Pod[corev1.ResourceMemory] = *resource.NewQuantity(mi<<20, resource.BinarySI)
			w[corev1.ResourceMemory][i] = copies * (mi << 20)
		}
	}
	var edges [][2]int
	for j := range tasks {
		for i := range j {
			if !tasks[i].Finally && !tasks[j].Finally && rng.Float64() < density {
				edges = append(edges, [2]int{i, j})
			}
		}
		if rng.Intn(4) == 0 {
			// A task that has started already is not in the list.
			tasks[j].After = append(tasks[j].After, "started")
		}
	}
	if n > 1 && rng.Intn(10) == 0 {
		i, j := rng.Intn(n), rng.Intn(n)
		if !tasks[i].Finally && !tasks[j].Finally {
			edges = append(edges, [2]int{max(i, j), min(i, j)})
		}
	}
	for _, e := range edges {
		tasks[e[1]].After = append(tasks[e[1]].After, tasks[e[0]].Name)
	}
	before := closure(n, edges)

	// waits[i]: the tasks that can never run at the same time as task i.
	var dag []int
	waits := make([]uint, n)
	for i := range tasks {
		if tasks[i].Finally {
			continue
		}
		dag = append(dag, i)
		for j := range tasks {
			if j != i && (before[i][j] || before[j][i]) {
				waits[i] |= 1 << j
			}
		}
	}
	want := map[corev1.ResourceName]int64{}
	for name, weights := range w {
		var best int64
		for subset := range 1 << len(dag) {
			var set uint
			var total int64
			for k, i := range dag {
				if subset&(1<<k) != 0 {
					set |= 1 << i
					total += weights[i]
				}
			}
			antichain := true
			for _, i := range dag {
				if set&(1<<i) != 0 && waits[i]&set != 0 {
					antichain = false
				}
			}
			if antichain {
				best = max(best, total)
			}
		}
		var finally int64
		for i := range tasks {
			if tasks[i].Finally {
				finally += weights[i]
			}
		}
		if best = max(best, finally); best > 0 {
			want[name] = best
		}
	}
	rng.Shuffle(n, func(i, j int) { tasks[i], tasks[j] = tasks[j], tasks[i] })
	return tasks, want
}

// describe prints tasks compactly, to reproduce a failure.
func describe(tasks []Task) string {
	var b strings.Builder
	for _, t := range tasks {
		cpu, mem := t.Pod[corev1.ResourceCPU], t.Pod[corev1.ResourceMemory]
		fmt.Fprintf(&b, "\n  %s after=%v cpu=%s memory=%s count=%d finally=%t", t.Name, t.After, cpu.String(), mem.String(), t.Count, t.Finally)
	}
	return b.String()
}

// TestHeaviestAntichainMatchesBruteForce compares heaviestAntichain with the
// heaviest set of tasks of which no two are ordered, found by trying every
// subset, on random graphs of up to 12 tasks: sparse and dense, with
// weightless tasks, dependencies listed twice, tasks that wait for
// themselves and cycles.
func TestHeaviestAntichainMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(20261202))
	for run := range 2000 {
		n := rng.Intn(13)
		density := rng.Float64()
		w := make([]int64, n)
		for i := range w {
			w[i] = []int64{0, 0, 1, 2, 3, 5, 8, 100}[rng.Intn(8)]
		}
		var edges [][2]int
		for j := range n {
			for i := range j {
				if rng.Float64() < density {
					edges = append(edges, [2]int{i, j})
				}
			}
		}
		for range rng.Intn(3) {
			if n > 0 && rng.Intn(3) == 0 { // against the order: may close a cycle
				i, j := rng.Intn(n), rng.Intn(n)
				edges = append(edges, [2]int{max(i, j), min(i, j)})
			}
		}
		if len(edges) > 0 && rng.Intn(4) == 0 {
			edges = append(edges, edges[rng.Intn(len(edges))])
		}
		perm := rng.Perm(n) // the order need not follow the task numbers
		pw := make([]int64, n)
		for i := range w {
			pw[perm[i]] = w[i]
		}
		pedges := make([][2]int, len(edges))
		for k, e := range edges {
			pedges[k] = [2]int{perm[e[0]], perm[e[1]]}
		}

		before := closure(n, pedges)
		var want int64
		for subset := range 1 << n {
			var total int64
			antichain := true
			for i := range n {
				if subset&(1<<i) == 0 {
					continue
				}
				total += pw[i]
				for j := range n {
					if j != i && subset&(1<<j) != 0 && before[i][j] {
						antichain = false
					}
				}
			}
			if antichain {
				want = max(want, total)
			}
		}
		got := heaviestAntichain(pw, adjacency(n, pedges))
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("run %d: heaviestAntichain(w=%v, edges=%v) (-brute force +got):\n%s", run, pw, pedges, d)
		}
	}
}

// peakByClosure is the peak of tasks as computed before the order kept
// only direct dependencies: a maximum flow with an edge for every pair of
// tasks in the transitive closure, tasks on a cycle but the heaviest left
// out. It checks Peak on pipelines too large to try every subset of.
func peakByClosure(tasks []Task) map[corev1.ResourceName]int64 {
	var dag []Task
	var finally []Task
	for _, t := range tasks {
		if t.Finally {
			finally = append(finally, t)
		} else {
			dag = append(dag, t)
		}
	}
	index := map[string]int{}
	for i, t := range dag {
		index[t.Name] = i
	}
	n := len(dag)
	before := make([][]bool, n)
	for i := range before {
		before[i] = make([]bool, n)
	}
	for j := range dag {
		// Walk back from j through every task it waits for.
		stack := []int{j}
		for len(stack) > 0 {
			cur := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, name := range dag[cur].After {
				if i, ok := index[name]; ok && !before[i][j] {
					before[i][j] = true
					stack = append(stack, i)
				}
			}
		}
	}
	peak := map[corev1.ResourceName]int64{}
	for _, name := range resourceNames(tasks) {
		w := make([]int64, n)
		for i, t := range dag {
			w[i] = weight(t, name)
		}
		// Of the tasks on a cycle, the heaviest, or the first of equals.
		var nodes []int
		var total int64
		for i := range w {
			shadowed := false
			for j := range w {
				if j != i && before[i][j] && before[j][i] && (w[j] > w[i] || w[j] == w[i] && j < i) {
					shadowed = true
				}
			}
			if w[i] > 0 && !shadowed {
				nodes = append(nodes, i)
				total += w[i]
			}
		}
		m := len(nodes)
		g := newFlowNetwork(2*m+2, 0)
		for a, i := range nodes {
			g.addEdge(2*m, a, w[i])
			g.addEdge(m+a, 2*m+1, w[i])
			for b, j := range nodes {
				if a != b && before[i][j] {
					g.addEdge(a, m+b, math.MaxInt64)
				}
			}
		}
		best := total - g.maxFlow(2*m, 2*m+1)
		var fin int64
		for _, t := range finally {
			fin += weight(t, name)
		}
		if best = max(best, fin); best > 0 {
			peak[name] = best
		}
	}
	return peak
}

// withCycle returns tasks with task i made to wait for task j as well.
func withCycle(tasks []Task, i, j int) []Task {
	out := append([]Task(nil), tasks...)
	out[i].After = append(append([]string(nil), out[i].After...), out[j].Name)
	return out
}

// shuffled returns tasks in a random order, with every After list shuffled.
func shuffled(tasks []Task, seed int64) []Task {
	rng := rand.New(rand.NewSource(seed))
	out := append([]Task(nil), tasks...)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		after := append([]string(nil), out[i].After...)
		rng.Shuffle(len(after), func(a, b int) { after[a], after[b] = after[b], after[a] })
		out[i].After = after
	}
	return out
}

// TestPeakMatchesClosure compares Peak with peakByClosure on the shapes of
// the benchmarks, where tasks share their After lists (fan-in) and chains
// are long, and on those shapes with a cycle.
func TestPeakMatchesClosure(t *testing.T) {
	sparse := benchSparse(120, 8, 7)
	for _, tc := range []struct {
		name  string
		tasks []Task
	}{
		{"stages", benchPipeline(6, 8)},
		{"stages, shuffled", shuffled(benchPipeline(6, 8), 1)},
		{"one wide stage after another", benchPipeline(2, 40)},
		{"chain", benchPipeline(60, 1)},
		{"wide", benchWide(80)},
		{"sparse", sparse},
		{"sparse, shuffled", shuffled(sparse, 2)},
		{"matrixed", withCounts(benchPipeline(6, 8), 3, 256)},
		{"matrix", benchMatrix(256)},
		{"a cycle across stages", withCycle(benchPipeline(6, 8), 9, 40)},
		{"a cycle in a sparse pipeline", withCycle(sparse, 30, 100)},
		{"some tasks started", inProgress(benchPipeline(6, 8), 12, 0, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[corev1.ResourceName]int64{}
			for name, q := range Peak(tc.tasks) {
				got[name] = scaled(name, q)
			}
			if d := cmp.Diff(peakByClosure(tc.tasks), got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("Peak() (-closure +got):\n%s", d)
			}
		})
	}
}
