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
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{},
		{Isolation: IsolationRequired},
		{Isolation: IsolationRequired, NamespaceScoped: true},
		{Isolation: IsolationPreferred},
		{Isolation: IsolationPreferred, NamespaceScoped: true},
		{Isolation: IsolationRequired, TenantLabel: "tenant"},
		{Isolation: IsolationPreferred, TenantLabel: "example.com/tenant"},
		{Isolation: IsolationRequired, Topology: "topology.kubernetes.io/zone"},
		{Isolation: IsolationPreferred, NamespaceScoped: true, Topology: "rack"},
		{Isolation: IsolationRequired, TenantLabel: "example.com/tenant", Topology: "topology.kubernetes.io/zone"},
		{Isolation: IsolationRequired, Queue: "runs"},
		{Isolation: IsolationPreferred, NamespaceScoped: true, Queue: "team-a.runs"},
		{Isolation: IsolationRequired, TenantLabel: "example.com/tenant", Topology: "topology.kubernetes.io/zone", Queue: "runs"},
	} {
		got, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("ParseRecord(%q): %v", r.String(), err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("ParseRecord(%q) (-want +got):\n%s", r.String(), diff)
		}
	}
}

func TestParseRecordInvalid(t *testing.T) {
	for _, v := range []string{
		"", "required", "required/zone", "strict/cluster", "None", "/cluster",
		// A tenant scope needs a valid namespace label key.
		"required/label:", "required/label:team name", "preferred/label:Example.com/tenant",
		// A topology needs a valid node label key; "none" has none.
		"required/cluster@", "required/cluster@zone name", "required/cluster@Topology.io/zone",
		"required/cluster@kubernetes.io/hostname@x", "none@topology.kubernetes.io/zone", "@topology.kubernetes.io/zone",
		// A queue needs a valid LocalQueue name; "none" has none.
		"required/cluster,kueue-queue=", "required/cluster,kueue-queue=Team_A", "required/cluster,queue=runs",
		"required/cluster,kueue-queue=runs,kueue-queue=runs", "none,kueue-queue=runs", ",kueue-queue=runs",
		"required/cluster@topology.kubernetes.io/zone,kueue-queue=a/b",
	} {
		if r, err := ParseRecord(v); err == nil {
			t.Errorf("ParseRecord(%q) = %+v, want an error", v, r)
		}
	}
}

func TestRecordString(t *testing.T) {
	for _, tc := range []struct {
		record Record
		want   string
	}{
		{Record{}, "none"},
		{Record{Isolation: IsolationRequired}, "required/cluster"},
		{Record{Isolation: IsolationPreferred, NamespaceScoped: true}, "preferred/namespace"},
		{Record{Isolation: IsolationRequired, TenantLabel: "example.com/tenant"}, "required/label:example.com/tenant"},
		{Record{Isolation: IsolationRequired, Topology: "topology.kubernetes.io/zone"}, "required/cluster@topology.kubernetes.io/zone"},
		{Record{Isolation: IsolationRequired, TenantLabel: "example.com/tenant", Topology: "topology.kubernetes.io/zone"}, "required/label:example.com/tenant@topology.kubernetes.io/zone"},
		{Record{Isolation: IsolationRequired, Queue: "runs"}, "required/cluster,kueue-queue=runs"},
		{Record{Isolation: IsolationRequired, Topology: "topology.kubernetes.io/zone", Queue: "runs"}, "required/cluster@topology.kubernetes.io/zone,kueue-queue=runs"},
		// Not handled: no topology nor queue, whatever the fields say.
		{Record{Topology: "topology.kubernetes.io/zone"}, "none"},
		{Record{Queue: "runs"}, "none"},
	} {
		if got := tc.record.String(); got != tc.want {
			t.Errorf("%+v.String() = %q, want %q", tc.record, got, tc.want)
		}
	}
}

func TestSticky(t *testing.T) {
	isolate := Record{Isolation: IsolationRequired}
	prefer := Record{Isolation: IsolationPreferred, NamespaceScoped: true}
	for _, tc := range []struct {
		name       string
		history    History
		fresh      Record
		want       Record
		wantSource Source
		wantErr    bool
	}{{
		name:       "first reconcile: decided from the configuration",
		history:    History{},
		fresh:      isolate,
		want:       isolate,
		wantSource: Fresh,
	}, {
		name:       "a record the user set at creation is not trusted before the controller reconciled the run",
		history:    History{HasRecord: true, Recorded: "required/cluster"},
		fresh:      Record{},
		want:       Record{},
		wantSource: Fresh,
	}, {
		name:       "feature turned off mid-run: the record holds",
		history:    History{HasRecord: true, Recorded: "required/cluster", Reconciled: true, HasChildren: true, OwnsPlaceholder: true},
		fresh:      Record{},
		want:       isolate,
		wantSource: Recorded,
	}, {
		name:       "coschedule changed mid-run: the record holds",
		history:    History{HasRecord: true, Recorded: "preferred/namespace", Reconciled: true},
		fresh:      isolate,
		want:       prefer,
		wantSource: Recorded,
	}, {
		name:       "scope changed to a tenant label mid-run: the record holds",
		history:    History{HasRecord: true, Recorded: "required/cluster", Reconciled: true, HasChildren: true, OwnsPlaceholder: true},
		fresh:      Record{Isolation: IsolationRequired, TenantLabel: "tenant"},
		want:       isolate,
		wantSource: Recorded,
	}, {
		name:       "tenant scope recorded: holds when the scope is changed back",
		history:    History{HasRecord: true, Recorded: "required/label:tenant", Reconciled: true},
		fresh:      isolate,
		want:       Record{Isolation: IsolationRequired, TenantLabel: "tenant"},
		wantSource: Recorded,
	}, {
		name:       "topology key changed to the zone mid-run: the node record holds",
		history:    History{HasRecord: true, Recorded: "required/cluster", Reconciled: true, HasChildren: true, OwnsPlaceholder: true},
		fresh:      Record{Isolation: IsolationRequired, Topology: "topology.kubernetes.io/zone"},
		want:       isolate,
		wantSource: Recorded,
	}, {
		name:       "zone recorded: holds when the topology key is changed back",
		history:    History{HasRecord: true, Recorded: "required/cluster@topology.kubernetes.io/zone", Reconciled: true},
		fresh:      isolate,
		want:       Record{Isolation: IsolationRequired, Topology: "topology.kubernetes.io/zone"},
		wantSource: Recorded,
	}, {
		name:       "Kueue queue flag set mid-run: the record without a queue holds",
		history:    History{HasRecord: true, Recorded: "required/cluster", Reconciled: true, HasChildren: true, OwnsPlaceholder: true},
		fresh:      Record{Isolation: IsolationRequired, Queue: "runs"},
		want:       isolate,
		wantSource: Recorded,
	}, {
		name:       "queue recorded: holds when the Kueue queue flag is cleared",
		history:    History{HasRecord: true, Recorded: "required/cluster,kueue-queue=runs", Reconciled: true},
		fresh:      isolate,
		want:       Record{Isolation: IsolationRequired, Queue: "runs"},
		wantSource: Recorded,
	}, {
		name:       "recorded as not handled: stays so when the feature is turned on",
		history:    History{HasRecord: true, Recorded: "none", Reconciled: true},
		fresh:      isolate,
		want:       Record{},
		wantSource: Recorded,
	}, {
		name:       "feature turned on while a run without a record is between tasks: it finishes without the engine",
		history:    History{Reconciled: true, HasChildren: true},
		fresh:      isolate,
		want:       Record{},
		wantSource: Began,
	}, {
		name:       "a run without a record that owns a placeholder (record lost) is decided again",
		history:    History{Reconciled: true, HasChildren: true, OwnsPlaceholder: true},
		fresh:      isolate,
		want:       isolate,
		wantSource: Fresh,
	}, {
		name:       "started but no children yet: nothing ran, decided from the configuration",
		history:    History{Reconciled: true},
		fresh:      isolate,
		want:       isolate,
		wantSource: Fresh,
	}, {
		name:       "invalid record on a run with children: ignored, the run finishes as it began",
		history:    History{HasRecord: true, Recorded: "bogus", Reconciled: true, HasChildren: true},
		fresh:      isolate,
		want:       Record{},
		wantSource: Began,
		wantErr:    true,
	}, {
		name:       "invalid record on a run without children: ignored, decided afresh",
		history:    History{HasRecord: true, Recorded: "bogus", Reconciled: true},
		fresh:      isolate,
		want:       isolate,
		wantSource: Fresh,
		wantErr:    true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, source, err := Sticky(tc.history, func() Record { return tc.fresh })
			if (err != nil) != tc.wantErr {
				t.Errorf("error = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
			if source != tc.wantSource {
				t.Errorf("source = %v, want %v", source, tc.wantSource)
			}
		})
	}
}
