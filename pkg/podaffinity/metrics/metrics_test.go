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
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// recorded is what a recordingMeter's instruments got: counters and gauges
// by name (counters with their "outcome" attribute as "{outcome=...}"),
// histograms as name_count and name_sum.
type recorded map[string]float64

// recordingMeter keeps what its instruments record. The tests use it rather
// than go.opentelemetry.io/otel/sdk/metric, which Tekton v1.9, one of the
// releases the series is kept for, does not depend on; the metric API
// (go.opentelemetry.io/otel/metric) every release has.
type recordingMeter struct {
	noop.Meter
	name      string
	got       recorded
	bounds    map[string][]float64
	callbacks []metric.Callback
}

type recordingProvider struct {
	noop.MeterProvider
	meter *recordingMeter
}

func (p *recordingProvider) Meter(name string, _ ...metric.MeterOption) metric.Meter {
	p.meter.name = name
	return p.meter
}

type counter struct {
	noop.Int64Counter
	m    *recordingMeter
	name string
}

func (c *counter) Add(_ context.Context, n int64, opts ...metric.AddOption) {
	key := c.name
	attrs := metric.NewAddConfig(opts).Attributes()
	if v, ok := attrs.Value("outcome"); ok {
		key += "{outcome=" + v.AsString() + "}"
	}
	c.m.got[key] += float64(n)
}

type histogram struct {
	noop.Float64Histogram
	m    *recordingMeter
	name string
}

func (h *histogram) Record(_ context.Context, v float64, _ ...metric.RecordOption) {
	h.m.got[h.name+"_count"]++
	h.m.got[h.name+"_sum"] += v
}

type gauge struct {
	noop.Int64ObservableGauge
	name string
}

type observer struct {
	noop.Observer
	m *recordingMeter
}

func (o observer) ObserveInt64(g metric.Int64Observable, v int64, _ ...metric.ObserveOption) {
	if g, ok := g.(*gauge); ok {
		o.m.got[g.name] = float64(v)
	}
}

func (m *recordingMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return &counter{m: m, name: name}, nil
}

func (m *recordingMeter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	m.bounds[name] = metric.NewFloat64HistogramConfig(opts...).ExplicitBucketBoundaries()
	return &histogram{m: m, name: name}, nil
}

func (m *recordingMeter) Int64ObservableGauge(name string, _ ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	return &gauge{name: name}, nil
}

func (m *recordingMeter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.callbacks = append(m.callbacks, f)
	return noop.Registration{}, nil
}

// collect runs the registered callbacks, as a reader's collection does.
func (m *recordingMeter) collect(ctx context.Context) error {
	for _, f := range m.callbacks {
		if err := f(ctx, observer{m: m}); err != nil {
			return err
		}
	}
	return nil
}

func TestRecorder(t *testing.T) {
	meter := &recordingMeter{got: recorded{}, bounds: map[string][]float64{}}
	previous := otel.GetMeterProvider()
	otel.SetMeterProvider(&recordingProvider{meter: meter})
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
	if err := meter.collect(ctx); err != nil {
		t.Fatalf("collect: %v", err)
	}

	if meter.name != meterName {
		t.Errorf("meter name = %q, want %q (Tekton's controller meter)", meter.name, meterName)
	}
	want := recorded{
		PlacementsName + "{outcome=placed}":         2,
		PlacementsName + "{outcome=moved}":          1,
		PlacementsName + "{outcome=stuck_deleting}": 1,
		ReservationHandoversName:                    2,
		ReservationRestoresName:                     1,
		ActivePlaceholdersName:                      3,
		NodeWaitName + "_count":                     1,
		NodeWaitName + "_sum":                       1.5,
	}
	if d := cmp.Diff(want, meter.got); d != "" {
		t.Errorf("recorded metrics (-want +got):\n%s", d)
	}
	// Bucket boundaries must ascend, or an SDK drops the histogram.
	bounds := meter.bounds[NodeWaitName]
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
