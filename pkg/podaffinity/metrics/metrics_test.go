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
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestRecorder(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	previous := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
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
	r.Handover(ctx)
	r.Handover(ctx)
	r.Restore(ctx)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatalf("Collect: %v", err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range data.DataPoints {
					key := m.Name
					if v, ok := dp.Attributes.Value("outcome"); ok {
						key += "{outcome=" + v.AsString() + "}"
					}
					got[key] = float64(dp.Value)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range data.DataPoints {
					got[m.Name] = float64(dp.Value)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					got[m.Name+"_count"] = float64(dp.Count)
					got[m.Name+"_sum"] = dp.Sum
				}
			}
		}
	}
	want := map[string]float64{
		PlacementsName + "{outcome=placed}": 2,
		PlacementsName + "{outcome=moved}":  1,
		ReservationHandoversName:            2,
		ReservationRestoresName:             1,
		ActivePlaceholdersName:              3,
		NodeWaitName + "_count":             1,
		NodeWaitName + "_sum":               1.5,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("collected metrics (-want +got):\n%s", d)
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
