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
		name:  "a task that waits for itself still counts",
		w:     []int64{4, 1},
		edges: [][2]int{{0, 0}},
		want:  5,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := heaviestAntichain(tc.w, closure(len(tc.w), tc.edges))
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("heaviestAntichain() (-want +got):\n%s", d)
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
