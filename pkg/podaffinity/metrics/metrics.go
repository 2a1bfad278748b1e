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

// Package metrics exports the pod affinity engine's metrics through
// OpenTelemetry, on the same meter as Tekton's other controller metrics.
package metrics

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

const (
	// meterName is the meter Tekton's controller metrics use.
	meterName = "tekton_pipelines_controller"

	// NodeWaitName is the histogram of seconds a placeholder waited for a node.
	NodeWaitName = "tekton_pipelines_controller_pipelinerun_pod_affinity_node_wait_seconds"
	// PlacementsName counts placement outcomes, by the "outcome" attribute.
	PlacementsName = "tekton_pipelines_controller_pipelinerun_pod_affinity_placements_total"
	// ActivePlaceholdersName is the gauge of placeholder StatefulSets that exist.
	ActivePlaceholdersName = "tekton_pipelines_controller_pipelinerun_pod_affinity_active_placeholders"
	// ReservationHandoversName counts reservations handed over to TaskRun pods.
	ReservationHandoversName = "tekton_pipelines_controller_pipelinerun_pod_affinity_reservation_handovers_total"
	// ReservationRestoresName counts reservations grown back as tasks finished.
	ReservationRestoresName = "tekton_pipelines_controller_pipelinerun_pod_affinity_reservation_restores_total"
)

// Outcome is the value of the "outcome" attribute of PlacementsName.
type Outcome string

const (
	// OutcomePlaced: a run got its node.
	OutcomePlaced Outcome = "placed"
	// OutcomeMoved: a run left a cordoned or lost node for a new one.
	OutcomeMoved Outcome = "moved"
	// OutcomeRecreated: a placeholder that disappeared was recreated.
	OutcomeRecreated Outcome = "recreated"
	// OutcomeWaitTimeout: a run failed because it waited too long for a node.
	OutcomeWaitTimeout Outcome = "wait_timeout"
	// OutcomeStuckDeleting: a run failed because its placeholder
	// StatefulSet or pod stayed being deleted (held by someone else's
	// finalizers) for longer than the bound of a wait for a node.
	OutcomeStuckDeleting Outcome = "stuck_deleting"
)

// Recorder records the engine's metrics. The zero value and a nil
// *Recorder record nothing, which is what unit tests use.
type Recorder struct {
	nodeWait   metric.Float64Histogram
	placements metric.Int64Counter
	handovers  metric.Int64Counter
	restores   metric.Int64Counter
}

// NewRecorder creates the instruments on the global meter provider.
// countActive is called at each collection to report ActivePlaceholdersName.
func NewRecorder(countActive func() (int64, error)) (*Recorder, error) {
	return NewRecorderFrom(otel.GetMeterProvider(), countActive)
}

// NewRecorderFrom creates the instruments on provider's meter of Tekton's
// controller metrics: NewRecorder's, or a test's (see metricstest).
func NewRecorderFrom(provider metric.MeterProvider, countActive func() (int64, error)) (*Recorder, error) {
	meter := provider.Meter(meterName)
	nodeWait, err := meter.Float64Histogram(NodeWaitName,
		metric.WithDescription("Seconds a PipelineRun's placeholder waited to be scheduled on a node"),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", NodeWaitName, err)
	}
	placements, err := meter.Int64Counter(PlacementsName,
		metric.WithDescription("PipelineRun placements by outcome: placed, moved, recreated, wait_timeout, stuck_deleting"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", PlacementsName, err)
	}
	handovers, err := meter.Int64Counter(ReservationHandoversName,
		metric.WithDescription("Placeholder reservations handed over to a PipelineRun's TaskRun pods"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", ReservationHandoversName, err)
	}
	restores, err := meter.Int64Counter(ReservationRestoresName,
		metric.WithDescription("Placeholder reservations grown back for later tasks after tasks of a PipelineRun finished"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", ReservationRestoresName, err)
	}
	active, err := meter.Int64ObservableGauge(ActivePlaceholdersName,
		metric.WithDescription("Placeholder StatefulSets that currently exist"))
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", ActivePlaceholdersName, err)
	}
	if _, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		n, err := countActive()
		if err != nil {
			return err
		}
		o.ObserveInt64(active, n)
		return nil
	}, active); err != nil {
		return nil, fmt.Errorf("registering %s: %w", ActivePlaceholdersName, err)
	}
	return &Recorder{nodeWait: nodeWait, placements: placements, handovers: handovers, restores: restores}, nil
}

// NodeWait records how long a placeholder waited for its node.
// It has no namespace attribute: one series per namespace would grow
// without bound on clusters with many namespaces.
func (r *Recorder) NodeWait(ctx context.Context, d time.Duration) {
	if r == nil || r.nodeWait == nil {
		return
	}
	r.nodeWait.Record(ctx, d.Seconds())
}

// Placement counts one placement outcome.
func (r *Recorder) Placement(ctx context.Context, outcome Outcome) {
	if r == nil || r.placements == nil {
		return
	}
	r.placements.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", string(outcome))))
}

// Handover counts one reservation handed over.
func (r *Recorder) Handover(ctx context.Context) {
	if r == nil || r.handovers == nil {
		return
	}
	r.handovers.Add(ctx, 1)
}

// Restore counts one reservation grown back.
func (r *Recorder) Restore(ctx context.Context) {
	if r == nil || r.restores == nil {
		return
	}
	r.restores.Add(ctx, 1)
}
