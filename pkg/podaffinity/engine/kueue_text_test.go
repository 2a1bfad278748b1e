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

package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWorkloadMessage(t *testing.T) {
	for _, tc := range []struct {
		name       string
		conditions []metav1.Condition
		want       string
	}{{
		name: "no conditions",
		want: "not evaluated by Kueue yet",
	}, {
		name:       "pending",
		conditions: []metav1.Condition{{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient quota "}},
		want:       "pending: insufficient quota",
	}, {
		name:       "quota reserved, admission checks pending",
		conditions: []metav1.Condition{{Type: "QuotaReserved", Status: metav1.ConditionTrue}},
		want:       "quota reserved, waiting for its admission checks",
	}, {
		name: "admitted",
		conditions: []metav1.Condition{
			{Type: "QuotaReserved", Status: metav1.ConditionTrue},
			{Type: "Admitted", Status: metav1.ConditionTrue},
		},
		want: "admitted; Kueue lifts the scheduling gate next",
	}, {
		name: "evicted and pending again",
		conditions: []metav1.Condition{
			{Type: "Evicted", Status: metav1.ConditionTrue, Reason: "Preempted", Message: "Preempted to accommodate a workload"},
			{Type: "QuotaReserved", Status: metav1.ConditionFalse, Reason: "Pending", Message: "insufficient quota"},
		},
		want: "evicted by Kueue (Preempted: Preempted to accommodate a workload); pending: insufficient quota",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, workloadMessage(tc.conditions)); d != "" {
				t.Errorf("workloadMessage() (-want +got):\n%s", d)
			}
		})
	}
}

func TestPendingText(t *testing.T) {
	for _, tc := range []struct {
		n    int32
		want string
	}{
		{0, ""},
		{-1, ""},
		{1, "; it is the only workload Kueue counts pending in LocalQueue runs"},
		{4, "; Kueue counts 4 workloads pending in LocalQueue runs, this one included"},
	} {
		if d := cmp.Diff(tc.want, pendingText(tc.n, "runs")); d != "" {
			t.Errorf("pendingText(%d) (-want +got):\n%s", tc.n, d)
		}
	}
}
