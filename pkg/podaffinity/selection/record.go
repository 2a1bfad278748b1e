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

package selection

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// RecordAnnotationKey is the annotation on which the engine records how it
// handles a PipelineRun when it first decides it. The record sticks to the
// run: turning the feature off or on, or changing "coschedule", the
// isolation scope, the topology key or the Kueue queue, changes only runs
// that have not started yet, so a run in flight finishes the way it began.
const RecordAnnotationKey = "tekton.dev/pod-affinity"

// recordNone is the recorded value of a run the engine does not handle.
const recordNone = "none"

// topologySeparator separates the recorded topology key, when it is not
// the node's, from the scope: "@" is in no label key.
const topologySeparator = "@"

// tenantScopePrefix starts the recorded scope of a run isolated within its
// tenant; the namespace label key follows.
const tenantScopePrefix = "label:"

// queueSeparator starts the recorded Kueue LocalQueue, after the scope and
// topology: "," is in no label key nor name.
const queueSeparator = ",kueue-queue="

// Record is a decision as recorded on the run.
type Record struct {
	// Isolation is IsolationNone for a run the engine does not handle.
	Isolation Isolation
	// NamespaceScoped limits isolation to the run's namespace.
	NamespaceScoped bool
	// TenantLabel, when set, limits isolation to the runs of namespaces
	// with the same value of this namespace label (its tenant).
	TenantLabel string
	// Topology is the node label whose value all pods of the run share
	// (pipelinerun-pod-affinity-topology-key); "" is one node
	// (kubernetes.io/hostname), also for a record written before the key
	// existed.
	Topology string
	// Queue is the Kueue LocalQueue that pipelinerun-pod-affinity-kueue-
	// queue-name gave the run, which had no queue label of its own, when it
	// was decided; "" is none, also for a record written before the key
	// existed. A queue label on the run wins over it.
	Queue string
}

// Handled reports whether the record says the engine places the run.
func (r Record) Handled() bool { return r.Isolation != IsolationNone }

// String is the annotation value: "none", or "<isolation>/<scope>" such as
// "required/cluster", "preferred/namespace" or "required/label:tenant",
// followed by "@<topology key>" when the run's pods share a topology wider
// than a node ("required/cluster@topology.kubernetes.io/zone"), and by
// ",kueue-queue=<LocalQueue>" when the run is queued through the default
// queue ("required/cluster,kueue-queue=runs").
func (r Record) String() string {
	if !r.Handled() {
		return recordNone
	}
	scope := "cluster"
	switch {
	case r.TenantLabel != "":
		scope = tenantScopePrefix + r.TenantLabel
	case r.NamespaceScoped:
		scope = "namespace"
	}
	if r.Topology != "" {
		scope += topologySeparator + r.Topology
	}
	if r.Queue != "" {
		scope += queueSeparator + r.Queue
	}
	return string(r.Isolation) + "/" + scope
}

// ParseRecord reads a value written by Record.String.
func ParseRecord(value string) (Record, error) {
	if value == recordNone {
		return Record{}, nil
	}
	isolation, scope, ok := strings.Cut(value, "/")
	r := Record{Isolation: Isolation(isolation)}
	scope, queue, queued := strings.Cut(scope, queueSeparator)
	// The name becomes a label value of the placeholder: an invalid one is no record.
	if queued {
		r.Queue = queue
	}
	scope, topology, wide := strings.Cut(scope, topologySeparator)
	// The key becomes the topology of affinity terms: an invalid one is no record.
	if wide {
		r.Topology = topology
	}
	switch {
	case !ok, r.Isolation != IsolationRequired && r.Isolation != IsolationPreferred:
	case queued && !validQueueName(queue):
	case wide && len(validation.IsQualifiedName(topology)) > 0:
	case scope == "cluster":
		return r, nil
	case scope == "namespace":
		r.NamespaceScoped = true
		return r, nil
	case strings.HasPrefix(scope, tenantScopePrefix):
		// The key becomes a namespace selector: an invalid one is no record.
		key := strings.TrimPrefix(scope, tenantScopePrefix)
		if len(validation.IsQualifiedName(key)) == 0 {
			r.TenantLabel = key
			return r, nil
		}
	}
	return Record{}, fmt.Errorf("annotation %s has invalid value %q: valid values are %q and \"<required|preferred>/<cluster|namespace|label:<namespace label key>>[@<node label key>][%s<LocalQueue>]\"",
		RecordAnnotationKey, value, recordNone, queueSeparator)
}

// validQueueName reports whether name can be a recorded LocalQueue: a
// DNS-1123 subdomain and a label value.
func validQueueName(name string) bool {
	return len(validation.IsDNS1123Subdomain(name)) == 0 && len(validation.IsValidLabelValue(name)) == 0
}

// History is what a run's metadata and status say about its past, as far
// as the choice between a recorded and a fresh decision goes.
type History struct {
	// Recorded is the value of RecordAnnotationKey, if the run has it.
	Recorded string
	// HasRecord is true when the run has RecordAnnotationKey.
	HasRecord bool
	// Reconciled is true once the controller has reconciled the run (its
	// status has a start time, or, while it waits for its first node, a
	// condition or a record made for its UID). Only then can a record be
	// the engine's own: a user may put any annotation on a run they
	// create, never a status, nor the UID the API server gives it.
	Reconciled bool
	// HasChildren is true when the run has created TaskRuns, CustomRuns or
	// child PipelineRuns.
	HasChildren bool
	// OwnsPlaceholder is true when the run controls a placeholder.
	OwnsPlaceholder bool
}

// Source says where Sticky's decision came from.
type Source int

const (
	// Fresh: decided now from the configuration; record it.
	Fresh Source = iota
	// Recorded: the run's own record.
	Recorded
	// Began: the run began without the engine before any record; it
	// finishes without it.
	Began
)

// Sticky returns the decision that holds for a run: its record once the
// controller has reconciled it; for a run that began without a record
// (created before the engine ran, or while the engine did not handle it)
// and has children but no placeholder, "not handled"; otherwise fresh(),
// the decision from the current configuration. A record that does not
// parse is ignored, as if absent, and returned as the error next to the
// decision that holds instead.
func Sticky(h History, fresh func() Record) (Record, Source, error) {
	var invalid error
	if h.HasRecord && h.Reconciled {
		r, err := ParseRecord(h.Recorded)
		if err == nil {
			return r, Recorded, nil
		}
		invalid = err
	}
	if h.Reconciled && h.HasChildren && !h.OwnsPlaceholder {
		return Record{}, Began, invalid
	}
	return fresh(), Fresh, invalid
}
