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
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// benchPipeline builds a pipeline of `stages` sequential stages, each with
// `width` parallel tasks that wait for every task of the previous stage, and
// a finally task. It is the shape of a wide CI pipeline (lint/test/build fan
// out, then fan in).
func benchPipeline(stages, width int) []Task {
	var tasks []Task
	var previous []string
	for s := 0; s < stages; s++ {
		var current []string
		for w := 0; w < width; w++ {
			name := fmt.Sprintf("s%d-t%d", s, w)
			tasks = append(tasks, Task{
				Name:  name,
				After: previous,
				Pod: corev1.ResourceList{
					corev1.ResourceCPU:    *resource.NewMilliQuantity(int64(100*(w+1)), resource.DecimalSI),
					corev1.ResourceMemory: *resource.NewQuantity(int64(64<<20*(s+1)), resource.BinarySI),
				},
			})
			current = append(current, name)
		}
		previous = current
	}
	tasks = append(tasks, Task{Name: "cleanup", Finally: true, Pod: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}})
	return tasks
}

// BenchmarkPeak measures the demand computation the reconciler runs while a
// run waits for its node, up to 200 tasks in the fan-out/fan-in shape. Run
// with: go test -bench Peak -benchmem ./pkg/podaffinity/demand/
func BenchmarkPeak(b *testing.B) {
	for _, shape := range []struct{ stages, width int }{{4, 1}, {4, 4}, {8, 8}, {3, 20}, {2, 100}, {10, 20}, {20, 10}} {
		tasks := benchPipeline(shape.stages, shape.width)
		b.Run(fmt.Sprintf("stages=%d/width=%d/tasks=%d", shape.stages, shape.width, len(tasks)), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Peak(tasks)
			}
		})
	}
}
