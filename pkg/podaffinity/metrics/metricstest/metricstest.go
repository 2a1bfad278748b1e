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

// Package metricstest is a meter provider for tests that keeps what the
// instruments made on it record, so that a test can compare it with what
// it expects. The tests use it rather than
// go.opentelemetry.io/otel/sdk/metric, which Tekton v1.9, one of the
// releases the series is kept for, does not depend on; the metric API
// (go.opentelemetry.io/otel/metric) every release has.
package metricstest

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Recorded is what a Provider's instruments got: counters and gauges by
// name (counters with their "outcome" attribute as "{outcome=...}"),
// histograms as name_count and name_sum.
type Recorded map[string]float64

// Provider is a meter provider whose one meter records into Recorded.
type Provider struct {
	noop.MeterProvider
	meter *meter
}

// NewProvider returns a Provider that has recorded nothing yet.
func NewProvider() *Provider {
	return &Provider{meter: &meter{got: Recorded{}, bounds: map[string][]float64{}}}
}

// Meter returns the provider's one meter, whatever the name.
func (p *Provider) Meter(name string, _ ...metric.MeterOption) metric.Meter {
	p.meter.mu.Lock()
	defer p.meter.mu.Unlock()
	p.meter.name = name
	return p.meter
}

// MeterName is the name the last meter was asked for by.
func (p *Provider) MeterName() string {
	p.meter.mu.Lock()
	defer p.meter.mu.Unlock()
	return p.meter.name
}

// Got returns a copy of what the instruments recorded so far.
func (p *Provider) Got() Recorded {
	p.meter.mu.Lock()
	defer p.meter.mu.Unlock()
	got := Recorded{}
	for k, v := range p.meter.got {
		got[k] = v
	}
	return got
}

// Bounds returns the explicit bucket boundaries of histogram name.
func (p *Provider) Bounds(name string) []float64 {
	p.meter.mu.Lock()
	defer p.meter.mu.Unlock()
	return p.meter.bounds[name]
}

// Collect runs the registered callbacks, as a reader's collection does.
func (p *Provider) Collect(ctx context.Context) error {
	p.meter.mu.Lock()
	callbacks := append([]metric.Callback(nil), p.meter.callbacks...)
	p.meter.mu.Unlock()
	for _, f := range callbacks {
		if err := f(ctx, observer{m: p.meter}); err != nil {
			return err
		}
	}
	return nil
}

type meter struct {
	noop.Meter
	mu        sync.Mutex
	name      string
	got       Recorded
	bounds    map[string][]float64
	callbacks []metric.Callback
}

func (m *meter) add(key string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[key] += v
}

func (m *meter) set(key string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[key] = v
}

type counter struct {
	noop.Int64Counter
	m    *meter
	name string
}

func (c *counter) Add(_ context.Context, n int64, opts ...metric.AddOption) {
	key := c.name
	attrs := metric.NewAddConfig(opts).Attributes()
	if v, ok := attrs.Value("outcome"); ok {
		key += "{outcome=" + v.AsString() + "}"
	}
	c.m.add(key, float64(n))
}

type histogram struct {
	noop.Float64Histogram
	m    *meter
	name string
}

func (h *histogram) Record(_ context.Context, v float64, _ ...metric.RecordOption) {
	h.m.add(h.name+"_count", 1)
	h.m.add(h.name+"_sum", v)
}

type gauge struct {
	noop.Int64ObservableGauge
	name string
}

type observer struct {
	noop.Observer
	m *meter
}

func (o observer) ObserveInt64(g metric.Int64Observable, v int64, _ ...metric.ObserveOption) {
	if g, ok := g.(*gauge); ok {
		o.m.set(g.name, float64(v))
	}
}

func (m *meter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return &counter{m: m, name: name}, nil
}

func (m *meter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bounds[name] = metric.NewFloat64HistogramConfig(opts...).ExplicitBucketBoundaries()
	return &histogram{m: m, name: name}, nil
}

func (m *meter) Int64ObservableGauge(name string, _ ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	return &gauge{name: name}, nil
}

func (m *meter) RegisterCallback(f metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks = append(m.callbacks, f)
	return noop.Registration{}, nil
}
