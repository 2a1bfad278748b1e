//go:build e2e

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

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BenchmarkFirstTaskRunPodRunning measures, on the local cluster, the time
// from the creation of a one-task PipelineRun to its TaskRun pod Running:
// the price of placing the run first. It reports ms/run (lower is better)
// for the engine off (upstream behaviour, coschedule disabled), the engine
// with a reservation (placeholder scheduled, reservation handed over, then
// the TaskRun), and the engine without reservation; with
// E2E_COMPARE_UPSTREAM=1 also for the unpatched controller with
// coschedule disabled and isolate-pipelinerun (its Affinity Assistant), on
// the same cluster. Figures only: nothing is asserted about time. Run with
//
//	go test -tags=e2e -run '^$' -bench FirstTaskRunPodRunning -benchtime 5x ./test/e2e/...
func BenchmarkFirstTaskRunPodRunning(b *testing.B) {
	ctx := bg()
	original, err := cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Get(ctx, featureFlagsConfigMap, metav1.GetOptions{})
	if err != nil {
		b.Fatalf("reading feature flags: %v", err)
	}
	b.Cleanup(func() {
		if err := restoreFeatureFlags(bg(), original.Data); err != nil {
			b.Errorf("restoring feature flags: %v", err)
		}
	})

	type config struct {
		name       string
		controller string
		flags      map[string]string
	}
	configs := []config{
		{"engine-off", "patched", map[string]string{flagEnable: "false", flagCoschedule: "disabled"}},
		{"engine-reserve", "patched", patchedFlags(map[string]string{flagReservation: "reserve"})},
		{"engine-no-reservation", "patched", patchedFlags(map[string]string{flagReservation: "none"})},
	}
	if compareUpstream() {
		b.Cleanup(func() { switchController(b, "patched") })
		configs = append(configs,
			config{"upstream-coschedule-disabled", "upstream", map[string]string{flagCoschedule: "disabled"}},
			config{"upstream-isolate-pipelinerun", "upstream", map[string]string{flagCoschedule: "isolate-pipelinerun"}})
	}
	for _, tc := range configs {
		b.Run(tc.name, func(b *testing.B) {
			switchController(b, tc.controller)
			if err := updateFeatureFlags(ctx, func(data map[string]string) {
				for k, v := range tc.flags {
					if v == "" {
						delete(data, k)
					} else {
						data[k] = v
					}
				}
			}); err != nil {
				b.Fatalf("setting feature flags: %v", err)
			}
			time.Sleep(2 * time.Second) // the controller's ConfigMap watch applies it
			ns := benchNamespace(b)

			var total time.Duration
			i := 0
			for b.Loop() {
				name := fmt.Sprintf("latency-%d", i)
				i++
				start := time.Now()
				createRun(b, newRun(ns, name, oneTask(), runOpts{duration: "1s"}))
				if err := eventually(ctx, fmt.Sprintf("a TaskRun pod of %s to be Running", name), 5*time.Millisecond, 2*time.Minute, func(ctx context.Context) error {
					pods, err := taskRunPods(ctx, ns, name)
					if err != nil {
						return err
					}
					var seen []string
					for _, p := range pods {
						if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded {
							return nil
						}
						seen = append(seen, p.Name+" "+podStatus(&p))
					}
					return fmt.Errorf("TaskRun pods %v", seen)
				}); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				b.StopTimer()
				// Let the run finish and free its node before the next one.
				if _, err := waitRunDone(ns, name, 2*time.Minute); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(i), "ms/first-pod-running")
		})
	}
}

// benchNamespace creates a namespace for a benchmark and deletes it after.
func benchNamespace(b *testing.B) string {
	b.Helper()
	ns, err := cluster.kube.CoreV1().Namespaces().Create(bg(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "e2e-bench-",
		Labels:       map[string]string{suiteLabel: "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		b.Fatalf("creating namespace: %v", err)
	}
	b.Cleanup(func() {
		_ = cluster.kube.CoreV1().Namespaces().Delete(bg(), ns.Name, metav1.DeleteOptions{})
		_ = cluster.waitNamespacePodsGone(bg(), ns.Name, 90*time.Second)
	})
	if err := waitDefaultServiceAccount(ns.Name); err != nil {
		b.Fatal(err)
	}
	return ns.Name
}
