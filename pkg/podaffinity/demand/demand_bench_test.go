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
	"math/rand"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// benchPod is what one pod of a benchmark task requests: CPU varies across
// a stage, memory from stage to stage, so that no two resources share their
// heaviest antichain.
func benchPod(stage, index int) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(100*(index%8+1)), resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(int64(64<<20*(stage%6+1)), resource.BinarySI),
	}
}

// benchFinally is the finally task every benchmark pipeline ends with.
var benchFinally = Task{Name: "cleanup", Finally: true, Pod: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}

// benchPipeline builds a pipeline of `stages` sequential stages, each with
// `width` parallel tasks that wait for every task of the previous stage, and
// a finally task. It is the shape of a wide CI pipeline (lint/test/build fan
// out, then fan in). A width of 1 is a chain.
func benchPipeline(stages, width int) []Task {
	var tasks []Task
	var previous []string
	for s := range stages {
		var current []string
		for w := range width {
			name := fmt.Sprintf("s%d-t%d", s, w)
			tasks = append(tasks, Task{Name: name, After: previous, Pod: benchPod(s, w)})
			current = append(current, name)
		}
		previous = current
	}
	return append(tasks, benchFinally)
}

// benchWide builds clone → n-2 parallel tasks → report, and a finally task.
func benchWide(n int) []Task {
	tasks := []Task{{Name: "clone", Pod: benchPod(0, 0)}}
	var all []string
	for i := range n - 2 {
		name := fmt.Sprintf("t%d", i)
		tasks = append(tasks, Task{Name: name, After: []string{"clone"}, Pod: benchPod(1, i)})
		all = append(all, name)
	}
	tasks = append(tasks, Task{Name: "report", After: all, Pod: benchPod(2, 0)})
	return append(tasks, benchFinally)
}

// benchSparse builds n tasks in stages of about width tasks, where each task
// waits for one to three random tasks of the stages before it (runAfter and
// result references as a generated monorepo pipeline has them), and a
// finally task.
func benchSparse(n, width int, seed int64) []Task {
	rng := rand.New(rand.NewSource(seed))
	tasks := make([]Task, 0, n+1)
	for i := range n {
		stage := i / width
		t := Task{Name: fmt.Sprintf("t%d", i), Pod: benchPod(stage, i)}
		if stage > 0 {
			for range 1 + rng.Intn(3) {
				earlier := rng.Intn(stage * width)
				// Mostly the stage just before.
				if rng.Intn(4) > 0 {
					earlier = (stage-1)*width + rng.Intn(width)
				}
				t.After = append(t.After, tasks[earlier].Name)
			}
		}
		tasks = append(tasks, t)
	}
	return append(tasks, benchFinally)
}

// benchMatrix builds clone → a task matrixed into count combinations →
// report, and a finally task.
func benchMatrix(count int) []Task {
	return []Task{
		{Name: "clone", Pod: benchPod(0, 0)},
		{Name: "test", After: []string{"clone"}, Count: count, Pod: benchPod(1, 1)},
		{Name: "report", After: []string{"test"}, Pod: benchPod(2, 0)},
		benchFinally,
	}
}

// withCounts returns tasks with every count-th task matrixed into
// combinations combinations.
func withCounts(tasks []Task, every, combinations int) []Task {
	out := append([]Task(nil), tasks...)
	for i := range out {
		if i%every == 0 && !out[i].Finally {
			out[i].Count = combinations
		}
	}
	return out
}

// inProgress returns tasks as the reconciler sees them partway through a
// run: the first `done` tasks finished (left out), the next `running` ones
// Running, the next `starting` ones Starting, and the rest Waiting.
func inProgress(tasks []Task, done, running, starting int) []Task {
	out := append([]Task(nil), tasks[done:]...)
	for i := range out {
		switch {
		case i < running:
			out[i].State = Running
		case i < running+starting:
			out[i].State = Starting
		}
	}
	return out
}

// BenchmarkPeak measures the demand computation for pipelines of 50, 200
// and 500 tasks in the shapes above, and for matrixed tasks. Figures are
// printed, not asserted; the aim is at most 10 ms for 500 tasks. Run with:
//
//	go test -run XXX -bench . -benchmem ./pkg/podaffinity/demand/
func BenchmarkPeak(b *testing.B) {
	for _, bc := range []struct {
		name  string
		tasks []Task
	}{
		{"tasks=5/chain", benchPipeline(4, 1)},
		{"tasks=50/stages=5x10", benchPipeline(5, 10)},
		{"tasks=50/sparse", benchSparse(49, 7, 1)},
		{"tasks=200/stages=10x20", benchPipeline(10, 20)},
		{"tasks=200/stages=20x10", benchPipeline(20, 10)},
		{"tasks=200/stages=2x100", benchPipeline(2, 100)},
		{"tasks=200/sparse", benchSparse(199, 20, 2)},
		{"tasks=500/stages=25x20", benchPipeline(25, 20)},
		{"tasks=500/stages=10x50", benchPipeline(10, 50)},
		{"tasks=500/sparse", benchSparse(499, 25, 3)},
		{"tasks=500/wide", benchWide(499)},
		{"tasks=500/deep", benchPipeline(499, 1)},
		{"matrix=256/tasks=4", benchMatrix(256)},
		{"matrix=256/tasks=500/every=10", withCounts(benchPipeline(25, 20), 10, 256)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Peak(bc.tasks)
			}
		})
	}
}

// BenchmarkReconcile measures what a reconcile of a 500-task run computes:
// ToPlace while the placeholder looks for a node, Held while the run holds
// one, with a fifth of the tasks finished, a stage running and the next one
// starting.
func BenchmarkReconcile(b *testing.B) {
	for _, bc := range []struct {
		name  string
		tasks []Task
	}{
		{"tasks=500/stages=25x20", inProgress(benchPipeline(25, 20), 100, 20, 20)},
		{"tasks=500/sparse", inProgress(benchSparse(499, 25, 3), 100, 25, 25)},
		{"tasks=500/wide", inProgress(benchWide(499), 1, 200, 100)},
	} {
		b.Run("ToPlace/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ToPlace(bc.tasks)
			}
		})
		b.Run("Held/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Held(bc.tasks)
			}
		})
	}
}
