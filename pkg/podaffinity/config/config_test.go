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

package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func durationPtr(d time.Duration) *time.Duration { return &d }

func TestFromMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		want Config
	}{{
		name: "nil map is the default",
		data: nil,
		want: Config{},
	}, {
		name: "empty map is the default",
		data: map[string]string{},
		want: Config{},
	}, {
		name: "defaults written explicitly are stored as zero values",
		data: map[string]string{
			EnableKey:         "false",
			IsolationScopeKey: "cluster",
			ReservationKey:    "reserve",
			MaxNodeWaitKey:    "1h",
		},
		want: Config{},
	}, {
		name: "default wait bound in another spelling is still the default",
		data: map[string]string{MaxNodeWaitKey: "60m"},
		want: Config{},
	}, {
		name: "every setting changed",
		data: map[string]string{
			EnableKey:         "true",
			IsolationScopeKey: "namespace",
			ReservationKey:    "none",
			MaxNodeWaitKey:    "30m",
			PriorityClassKey:  "ci-low",
		},
		want: Config{Enabled: true, Scope: IsolationScopeNamespace, Reserve: ReservationNone, NodeWait: durationPtr(30 * time.Minute), PriorityClass: "ci-low"},
	}, {
		name: "tenant scope: a namespace label key",
		data: map[string]string{IsolationScopeKey: "label:tenant"},
		want: Config{Scope: "label:tenant"},
	}, {
		name: "tenant scope: a prefixed key keeps its case, the prefix is case-insensitive",
		data: map[string]string{IsolationScopeKey: " Label:example.com/Tenant "},
		want: Config{Scope: "label:example.com/Tenant"},
	}, {
		name: "placeholder priority class",
		data: map[string]string{PriorityClassKey: " pipelinerun-placeholders "},
		want: Config{PriorityClass: "pipelinerun-placeholders"},
	}, {
		name: "empty priority class is the default (the run's podTemplate)",
		data: map[string]string{PriorityClassKey: ""},
		want: Config{},
	}, {
		name: "values are trimmed and case-insensitive (the enable flag is not trimmed, see below)",
		data: map[string]string{
			EnableKey:         "TRUE",
			IsolationScopeKey: " Namespace",
			ReservationKey:    "NONE ",
			MaxNodeWaitKey:    " 90s ",
		},
		want: Config{Enabled: true, Scope: IsolationScopeNamespace, Reserve: ReservationNone, NodeWait: durationPtr(90 * time.Second)},
	}, {
		name: "zero wait bound means unbounded",
		data: map[string]string{MaxNodeWaitKey: "0"},
		want: Config{NodeWait: durationPtr(0)},
	}, {
		name: "zero wait bound with a unit",
		data: map[string]string{MaxNodeWaitKey: "0s"},
		want: Config{NodeWait: durationPtr(0)},
	}, {
		name: "topology key: zone",
		data: map[string]string{TopologyKeyKey: " topology.kubernetes.io/zone "},
		want: Config{Topology: "topology.kubernetes.io/zone"},
	}, {
		name: "topology key: an unprefixed label key keeps its case",
		data: map[string]string{TopologyKeyKey: "Rack"},
		want: Config{Topology: "Rack"},
	}, {
		name: "topology key: the default written explicitly",
		data: map[string]string{TopologyKeyKey: "kubernetes.io/hostname"},
		want: Config{},
	}, {
		name: "topology key: empty is the default",
		data: map[string]string{TopologyKeyKey: ""},
		want: Config{},
	}, {
		name: "topology key with a tenant scope",
		data: map[string]string{TopologyKeyKey: "topology.kubernetes.io/zone", IsolationScopeKey: "label:tenant"},
		want: Config{Topology: "topology.kubernetes.io/zone", Scope: "label:tenant"},
	}, {
		name: "Kueue queue: a LocalQueue name, trimmed",
		data: map[string]string{KueueQueueKey: " team-a.runs "},
		want: Config{KueueQueue: "team-a.runs"},
	}, {
		name: "Kueue queue: empty is the default (no queue)",
		data: map[string]string{KueueQueueKey: ""},
		want: Config{},
	}, {
		name: "unrelated keys are ignored",
		data: map[string]string{"enable-api-fields": "alpha", "coschedule": "pipelineruns"},
		want: Config{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromMap(tc.data)
			if err != nil {
				t.Fatalf("FromMap(%v) = %v", tc.data, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("FromMap(%v) (-want +got):\n%s", tc.data, d)
			}
		})
	}
}

func TestFromMapExplicitDefaultsEqualAbsent(t *testing.T) {
	absent, err := FromMap(nil)
	if err != nil {
		t.Fatalf("FromMap(nil) = %v", err)
	}
	explicit, err := FromMap(map[string]string{
		EnableKey:         "false",
		IsolationScopeKey: IsolationScopeCluster,
		ReservationKey:    ReservationReserve,
		MaxNodeWaitKey:    DefaultMaxNodeWait.String(),
		PriorityClassKey:  "",
		TopologyKeyKey:    DefaultTopologyKey,
		KueueQueueKey:     "",
	})
	if err != nil {
		t.Fatalf("FromMap(explicit defaults) = %v", err)
	}
	// Strictly equal, not merely equivalent: an explicit default must not
	// leave a non-nil pointer that makes FeatureFlags comparisons differ.
	if absent != explicit {
		t.Errorf("FromMap(explicit defaults) = %+v, want %+v", explicit, absent)
	}
}

func TestFromMapErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]string
		// wantIn lists substrings the error must contain.
		wantIn []string
	}{{
		name:   "enable is not a bool",
		data:   map[string]string{EnableKey: "yes please"},
		wantIn: []string{EnableKey, `"yes please"`},
	}, {
		// Tekton declares the enable flag as an alpha per-feature flag,
		// whose helper (strconv.ParseBool of the raw value) refuses what
		// it cannot parse untrimmed: this package reads the flag alike.
		name:   "enable is padded",
		data:   map[string]string{EnableKey: " true"},
		wantIn: []string{`failed parsing feature flags config " true": strconv.ParseBool: parsing " true": invalid syntax for feature ` + EnableKey},
	}, {
		name:   "unknown scope",
		data:   map[string]string{IsolationScopeKey: "node"},
		wantIn: []string{IsolationScopeKey, `"node"`, `"cluster"`, `"namespace"`},
	}, {
		name:   "empty scope",
		data:   map[string]string{IsolationScopeKey: ""},
		wantIn: []string{IsolationScopeKey},
	}, {
		name:   "tenant scope without a key",
		data:   map[string]string{IsolationScopeKey: "label:"},
		wantIn: []string{IsolationScopeKey, `"label:"`, `"label:<namespace label key>"`},
	}, {
		name:   "tenant scope with an invalid label key",
		data:   map[string]string{IsolationScopeKey: "label:team name"},
		wantIn: []string{IsolationScopeKey, `"label:team name"`, "name part must consist of alphanumeric characters"},
	}, {
		name:   "tenant scope with an invalid key prefix",
		data:   map[string]string{IsolationScopeKey: "label:Example.com/tenant"},
		wantIn: []string{IsolationScopeKey, "prefix part"},
	}, {
		name:   "priority class that is not a valid name",
		data:   map[string]string{PriorityClassKey: "High_Priority"},
		wantIn: []string{PriorityClassKey, `"High_Priority"`, "lowercase RFC 1123 subdomain"},
	}, {
		name:   "topology key with a space",
		data:   map[string]string{TopologyKeyKey: "topology zone"},
		wantIn: []string{TopologyKeyKey, `"topology zone"`, "name part must consist of alphanumeric characters", "a node label key"},
	}, {
		name:   "topology key with an invalid prefix",
		data:   map[string]string{TopologyKeyKey: "Topology.Kubernetes.io/zone"},
		wantIn: []string{TopologyKeyKey, "prefix part"},
	}, {
		name:   "topology key with an empty name",
		data:   map[string]string{TopologyKeyKey: "topology.kubernetes.io/"},
		wantIn: []string{TopologyKeyKey, `"topology.kubernetes.io/"`},
	}, {
		name:   "topology key valid, another key invalid: nothing of it is kept",
		data:   map[string]string{TopologyKeyKey: "topology.kubernetes.io/zone", ReservationKey: "all"},
		wantIn: []string{ReservationKey},
	}, {
		name:   "Kueue queue that is not a valid name",
		data:   map[string]string{KueueQueueKey: "Team_A"},
		wantIn: []string{KueueQueueKey, `"Team_A"`, "a Kueue LocalQueue", "lowercase RFC 1123 subdomain"},
	}, {
		name:   "Kueue queue longer than a label value may be",
		data:   map[string]string{KueueQueueKey: strings.Repeat("q", 64)},
		wantIn: []string{KueueQueueKey, "must be no more than 63"},
	}, {
		name:   "Kueue queue with a slash",
		data:   map[string]string{KueueQueueKey: "team-a/runs"},
		wantIn: []string{KueueQueueKey, `"team-a/runs"`},
	}, {
		name:   "unknown reservation",
		data:   map[string]string{ReservationKey: "all"},
		wantIn: []string{ReservationKey, `"all"`, `"reserve"`, `"none"`},
	}, {
		name:   "wait bound without unit",
		data:   map[string]string{MaxNodeWaitKey: "30"},
		wantIn: []string{MaxNodeWaitKey, `"30"`},
	}, {
		name:   "negative wait bound",
		data:   map[string]string{MaxNodeWaitKey: "-5m"},
		wantIn: []string{MaxNodeWaitKey, "negative"},
	}, {
		name:   "empty wait bound",
		data:   map[string]string{MaxNodeWaitKey: ""},
		wantIn: []string{MaxNodeWaitKey},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromMap(tc.data)
			if err == nil {
				t.Fatalf("FromMap(%v) = %+v, want an error", tc.data, got)
			}
			for _, want := range tc.wantIn {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("FromMap(%v) error %q does not contain %q", tc.data, err, want)
				}
			}
			if d := cmp.Diff(Config{}, got); d != "" {
				t.Errorf("FromMap(%v) returned a partial config with its error (-want +got):\n%s", tc.data, d)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	type effective struct {
		Scope, TenantLabel, Reservation string
		MaxNodeWait                     time.Duration
		PriorityClass, TopologyKey      string
		KueueQueue                      string
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want effective
	}{{
		name: "zero value is the default",
		cfg:  Config{},
		want: effective{Scope: IsolationScopeCluster, Reservation: ReservationReserve, MaxNodeWait: DefaultMaxNodeWait, TopologyKey: DefaultTopologyKey},
	}, {
		name: "explicit values",
		cfg:  Config{Scope: IsolationScopeNamespace, Reserve: ReservationNone, NodeWait: durationPtr(5 * time.Minute), Topology: "topology.kubernetes.io/zone"},
		want: effective{Scope: IsolationScopeNamespace, Reservation: ReservationNone, MaxNodeWait: 5 * time.Minute, TopologyKey: "topology.kubernetes.io/zone"},
	}, {
		name: "tenant scope and a priority class",
		cfg:  Config{Scope: "label:example.com/tenant", PriorityClass: "low"},
		want: effective{Scope: "label:example.com/tenant", TenantLabel: "example.com/tenant", Reservation: ReservationReserve, MaxNodeWait: DefaultMaxNodeWait, PriorityClass: "low", TopologyKey: DefaultTopologyKey},
	}, {
		name: "Kueue queue",
		cfg:  Config{KueueQueue: "runs"},
		want: effective{Scope: IsolationScopeCluster, Reservation: ReservationReserve, MaxNodeWait: DefaultMaxNodeWait, TopologyKey: DefaultTopologyKey, KueueQueue: "runs"},
	}, {
		name: "zero wait is unbounded, not the default",
		cfg:  Config{NodeWait: durationPtr(0)},
		want: effective{Scope: IsolationScopeCluster, Reservation: ReservationReserve, MaxNodeWait: 0, TopologyKey: DefaultTopologyKey},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := effective{
				Scope: tc.cfg.IsolationScope(), TenantLabel: tc.cfg.TenantLabel(), Reservation: tc.cfg.Reservation(),
				MaxNodeWait: tc.cfg.MaxNodeWait(), PriorityClass: tc.cfg.PriorityClassName(), TopologyKey: tc.cfg.TopologyKey(),
				KueueQueue: tc.cfg.KueueQueueName(),
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("accessors of %+v (-want +got):\n%s", tc.cfg, d)
			}
		})
	}
}
