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

package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/metrics/metricstest"
	"go.opentelemetry.io/otel"
)

func TestRecorder(t *testing.T) {
	provider := metricstest.NewProvider()
	previous := otel.GetMeterProvider()
	otel.SetMeterProvider(provider)
	t.Cleanup(func() { otel.SetMeterProvider(previous) })

	r, err := NewRecorder(func() (int64, error) { return 3, nil })
	if err != nil {
		t.Fatalf("NewRecorder: %v", err)
	}
	ctx := context.Background()
	r.NodeWait(ctx, 1500*time.Millisecond)
	r.Placement(ctx, OutcomePlaced)
	r.Placement(ctx, OutcomePlaced)
	r.Placement(ctx, OutcomeMoved)
	r.Placement(ctx, OutcomeStuckDeleting)
	r.Handover(ctx)
	r.Handover(ctx)
	r.Restore(ctx)
	if err := provider.Collect(ctx); err != nil {
		t.Fatalf("collect: %v", err)
	}

	if name := provider.MeterName(); name != meterName {
		t.Errorf("meter name = %q, want %q (Tekton's controller meter)", name, meterName)
	}
	want := metricstest.Recorded{
		PlacementsName + "{outcome=placed}":         2,
		PlacementsName + "{outcome=moved}":          1,
		PlacementsName + "{outcome=stuck_deleting}": 1,
		ReservationHandoversName:                    2,
		ReservationRestoresName:                     1,
		ActivePlaceholdersName:                      3,
		NodeWaitName + "_count":                     1,
		NodeWaitName + "_sum":                       1.5,
	}
	if d := cmp.Diff(want, provider.Got()); d != "" {
		t.Errorf("recorded metrics (-want +got):\n%s", d)
	}
	// Bucket boundaries must ascend, or an SDK drops the histogram.
	bounds := provider.Bounds(NodeWaitName)
	for i := 1; i < len(bounds); i++ {
		if bounds[i] <= bounds[i-1] {
			t.Errorf("bucket boundaries of %s do not ascend: %v", NodeWaitName, bounds)
		}
	}
	if len(bounds) == 0 {
		t.Errorf("%s has no explicit bucket boundaries", NodeWaitName)
	}
}

func TestNilRecorderRecordsNothing(t *testing.T) {
	var r *Recorder
	ctx := context.Background()
	// Must not panic: unit tests and controllers without metrics pass nil.
	r.NodeWait(ctx, time.Second)
	r.Placement(ctx, OutcomePlaced)
	r.Handover(ctx)
	r.Restore(ctx)
}
