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

// Package config parses the PipelineRun pod affinity settings that live in
// Tekton's "feature-flags" ConfigMap.
//
// The package depends on the standard library and apimachinery's name
// validation only, never on Tekton's packages, so that Tekton's
// pkg/apis/config can embed Config in its FeatureFlags without an import
// cycle. The zero value of Config is the default configuration: adding it to
// FeatureFlags leaves every existing FeatureFlags comparison unchanged.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	// EnableKey turns the engine on ("true") or off ("false", the default).
	// Tekton declares it as an alpha per-feature flag
	// (config.DefaultEnablePipelineRunPodAffinity) and parses it with its
	// per-feature helper: FromMap reads it the same way, strconv.ParseBool
	// of the untrimmed value, and "enable-api-fields" does not turn it on.
	EnableKey = "enable-pipelinerun-pod-affinity"
	// IsolationScopeKey chooses whether isolated PipelineRuns repel each other
	// across all namespaces ("cluster", the default), only within their own
	// namespace ("namespace"), or within their tenant: the namespaces that
	// have the same value of a namespace label ("label:<key>").
	IsolationScopeKey = "pipelinerun-pod-affinity-isolation-scope"
	// ReservationKey chooses whether the placeholder reserves the run's peak
	// resource demand on its node before the first TaskRun starts
	// ("reserve", the default) or only a token amount ("none").
	ReservationKey = "pipelinerun-pod-affinity-reservation"
	// MaxNodeWaitKey bounds how long a PipelineRun may wait for its
	// placeholder to be scheduled before it fails. A Go duration; "0" means no
	// bound. The default is DefaultMaxNodeWait.
	MaxNodeWaitKey = "pipelinerun-pod-affinity-max-node-wait"
	// PriorityClassKey names the PriorityClass of every placeholder pod. When
	// absent or empty, a placeholder has the priority class of its run's
	// podTemplate (or of Tekton's default Affinity Assistant template), if any.
	PriorityClassKey = "pipelinerun-pod-affinity-priority-class"
	// TopologyKeyKey names the node label whose value all pods of a run
	// share: the topology key of the task pods' required affinity to the
	// run's placeholder and of the placeholders' anti-affinity to each
	// other. The default is DefaultTopologyKey (one node);
	// "topology.kubernetes.io/zone" keeps a run in one zone and gives each
	// isolated run a zone of its own.
	TopologyKeyKey = "pipelinerun-pod-affinity-topology-key"
	// KueueQueueKey names the Kueue LocalQueue, in each run's namespace,
	// through which the runs the engine places are admitted as wholes when
	// they have no "kueue.x-k8s.io/queue-name" label of their own (the
	// label wins). Empty or absent, the default: only labelled runs are
	// queued. The queue is recorded on a run when the engine first decides
	// it, so changing the key changes only runs that have not started.
	KueueQueueKey = "pipelinerun-pod-affinity-kueue-queue-name"

	// IsolationScopeCluster isolates PipelineRuns from each other across namespaces.
	IsolationScopeCluster = "cluster"
	// IsolationScopeNamespace isolates PipelineRuns only from runs in the same namespace.
	IsolationScopeNamespace = "namespace"
	// IsolationScopeLabelPrefix followed by a namespace label key isolates
	// PipelineRuns only from runs whose namespaces have the same value of that
	// label: a tenant. A namespace without the label is a tenant of its own.
	IsolationScopeLabelPrefix = "label:"

	// ReservationReserve makes the placeholder request the run's peak demand.
	ReservationReserve = "reserve"
	// ReservationNone makes the placeholder request a token amount only.
	ReservationNone = "none"

	// DefaultMaxNodeWait is the wait bound used when MaxNodeWaitKey is absent.
	DefaultMaxNodeWait = time.Hour
	// DefaultTopologyKey is the topology key used when TopologyKeyKey is
	// absent or empty: every pod of a run on one node.
	DefaultTopologyKey = "kubernetes.io/hostname"
)

// Config holds the parsed settings. Use the accessor methods: the zero value
// of each field means "default".
type Config struct {
	// Enabled is the value of EnableKey.
	Enabled bool `json:"enabled,omitempty"`
	// Scope is the value of IsolationScopeKey; empty means IsolationScopeCluster.
	// A tenant scope is stored as IsolationScopeLabelPrefix and the key.
	Scope string `json:"isolationScope,omitempty"`
	// Reserve is the value of ReservationKey; empty means ReservationReserve.
	Reserve string `json:"reservation,omitempty"`
	// NodeWait is the value of MaxNodeWaitKey; nil means DefaultMaxNodeWait.
	NodeWait *time.Duration `json:"maxNodeWait,omitempty"`
	// PriorityClass is the value of PriorityClassKey; empty means the run's
	// podTemplate decides.
	PriorityClass string `json:"priorityClass,omitempty"`
	// Topology is the value of TopologyKeyKey; empty means DefaultTopologyKey.
	Topology string `json:"topologyKey,omitempty"`
	// KueueQueue is the value of KueueQueueKey; empty means no queue.
	KueueQueue string `json:"kueueQueueName,omitempty"`
}

// KueueQueueName returns the Kueue LocalQueue of runs without a queue
// label of their own, or "" when only labelled runs are queued.
func (c Config) KueueQueueName() string { return c.KueueQueue }

// TopologyKey returns the effective topology key: the node label whose
// value all pods of a run share.
func (c Config) TopologyKey() string {
	if c.Topology == "" {
		return DefaultTopologyKey
	}
	return c.Topology
}

// IsolationScope returns the effective isolation scope.
func (c Config) IsolationScope() string {
	if c.Scope == "" {
		return IsolationScopeCluster
	}
	return c.Scope
}

// TenantLabel returns the namespace label key that defines a tenant when
// the isolation scope is "label:<key>", or "".
func (c Config) TenantLabel() string {
	key, _ := strings.CutPrefix(c.Scope, IsolationScopeLabelPrefix)
	if key == c.Scope {
		return ""
	}
	return key
}

// PriorityClassName returns the PriorityClass of placeholder pods, or ""
// when the run's podTemplate decides.
func (c Config) PriorityClassName() string { return c.PriorityClass }

// Reservation returns the effective reservation policy.
func (c Config) Reservation() string {
	if c.Reserve == "" {
		return ReservationReserve
	}
	return c.Reserve
}

// MaxNodeWait returns the effective wait bound; zero means unbounded.
func (c Config) MaxNodeWait() time.Duration {
	if c.NodeWait == nil {
		return DefaultMaxNodeWait
	}
	return *c.NodeWait
}

// FromMap parses the settings from the data of the "feature-flags"
// ConfigMap. Keys that are absent keep their defaults; a value that cannot be
// parsed is an error that names the key, the value and the valid values, in
// the style of Tekton's other feature flags. The settings' values are
// trimmed; EnableKey's is not, as Tekton's per-feature flags are not.
func FromMap(data map[string]string) (Config, error) {
	var c Config
	if v, ok := data[EnableKey]; ok {
		enabled, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("failed parsing feature flags config %q: %w for feature %s", v, err, EnableKey)
		}
		c.Enabled = enabled
	}
	if v, ok := data[IsolationScopeKey]; ok {
		scope, err := parseScope(v)
		if err != nil {
			return Config{}, err
		}
		c.Scope = scope
	}
	if v, ok := data[ReservationKey]; ok {
		switch policy := strings.ToLower(strings.TrimSpace(v)); policy {
		case ReservationReserve:
		case ReservationNone:
			c.Reserve = policy
		default:
			return Config{}, fmt.Errorf("invalid value for feature flag %q: %q (valid values: %q, %q)", ReservationKey, v, ReservationReserve, ReservationNone)
		}
	}
	if v, ok := data[MaxNodeWaitKey]; ok {
		d, err := parseDuration(strings.TrimSpace(v))
		if err != nil {
			return Config{}, fmt.Errorf("invalid value for feature flag %q: %q (want a non-negative duration such as \"30m\", or \"0\" for no bound): %w", MaxNodeWaitKey, v, err)
		}
		if d != DefaultMaxNodeWait {
			c.NodeWait = &d
		}
	}
	if v, ok := data[PriorityClassKey]; ok {
		name := strings.TrimSpace(v)
		if errs := validation.IsDNS1123Subdomain(name); name != "" && len(errs) > 0 {
			return Config{}, fmt.Errorf("invalid value for feature flag %q: %q (want the name of a PriorityClass, or \"\" for the run's podTemplate's): %s", PriorityClassKey, v, strings.Join(errs, "; "))
		}
		c.PriorityClass = name
	}
	if v, ok := data[TopologyKeyKey]; ok {
		key := strings.TrimSpace(v)
		if errs := validation.IsQualifiedName(key); key != "" && len(errs) > 0 {
			return Config{}, fmt.Errorf("invalid value for feature flag %q: %q (want a node label key such as %q or %q): %s",
				TopologyKeyKey, v, DefaultTopologyKey, "topology.kubernetes.io/zone", strings.Join(errs, "; "))
		}
		// The default is stored as the zero value, so that an explicit
		// default compares equal to an absent key.
		if key != DefaultTopologyKey {
			c.Topology = key
		}
	}
	if v, ok := data[KueueQueueKey]; ok {
		name, err := parseQueueName(v)
		if err != nil {
			return Config{}, err
		}
		c.KueueQueue = name
	}
	return c, nil
}

// parseQueueName parses the value of KueueQueueKey: the name of a
// LocalQueue, which becomes the value of the "kueue.x-k8s.io/queue-name"
// label of placeholder pods, so both a DNS-1123 subdomain (what Kueue's
// webhook requires of that label) and a label value (at most 63
// characters); or "" for none.
func parseQueueName(v string) (string, error) {
	name := strings.TrimSpace(v)
	if name == "" {
		return "", nil
	}
	errs := append(validation.IsDNS1123Subdomain(name), validation.IsValidLabelValue(name)...)
	if len(errs) > 0 {
		return "", fmt.Errorf("invalid value for feature flag %q: %q (want the name of a Kueue LocalQueue, looked up in each PipelineRun's namespace, or \"\" for none): %s",
			KueueQueueKey, v, strings.Join(errs, "; "))
	}
	return name, nil
}

// parseScope parses the value of IsolationScopeKey. The default is stored
// as the zero value, so that an explicit default compares equal to an
// absent key. The words are case-insensitive; a label key keeps its case.
func parseScope(v string) (string, error) {
	trimmed := strings.TrimSpace(v)
	switch scope := strings.ToLower(trimmed); {
	case scope == IsolationScopeCluster:
		return "", nil
	case scope == IsolationScopeNamespace:
		return scope, nil
	case strings.HasPrefix(scope, IsolationScopeLabelPrefix):
		key := trimmed[len(IsolationScopeLabelPrefix):]
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			return "", fmt.Errorf("invalid value for feature flag %q: %q (%q needs a namespace label key: %s)",
				IsolationScopeKey, v, IsolationScopeLabelPrefix+"<namespace label key>", strings.Join(errs, "; "))
		}
		return IsolationScopeLabelPrefix + key, nil
	}
	return "", fmt.Errorf("invalid value for feature flag %q: %q (valid values: %q, %q, %q)",
		IsolationScopeKey, v, IsolationScopeCluster, IsolationScopeNamespace, IsolationScopeLabelPrefix+"<namespace label key>")
}

func parseDuration(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", d)
	}
	return d, nil
}
