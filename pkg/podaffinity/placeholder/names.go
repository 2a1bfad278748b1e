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

// Package placeholder builds the placeholder StatefulSet that holds a node
// for all pods of a PipelineRun: its name, its labels and its spec. It is pure:
// nothing here talks to the API server.
package placeholder

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// namePrefix starts every placeholder name.
	namePrefix = "placeholder-"
	// runNameBudget is how much of the run's name is kept in the placeholder name.
	runNameBudget = 25
	// hashLength is the number of hex digits of the run's identity in the name.
	hashLength = 10
	// MaxNameLength bounds placeholder names. The StatefulSet controller labels
	// each pod with "controller-revision-hash: <name>-<up to 10 chars>", a
	// label value limited to 63 characters, so the name must stay at or below
	// 63 - 11 = 52 characters.
	MaxNameLength = 52
	// PodOrdinalSuffix is appended to the StatefulSet name to form its only pod's name.
	PodOrdinalSuffix = "-0"
)

// Name returns the placeholder StatefulSet name of a run: stable for the
// run, unique per run (the hash covers namespace, name and UID, so a run
// recreated under the same name gets a new placeholder), a valid DNS label,
// and at most MaxNameLength characters so that every derived name fits.
func Name(run *metav1.ObjectMeta) string {
	sum := sha256.Sum256([]byte(run.Namespace + "/" + run.Name + "/" + string(run.UID)))
	readable := dnsLabelPart(run.Name, runNameBudget)
	if readable == "" {
		return namePrefix + hex.EncodeToString(sum[:])[:hashLength]
	}
	return namePrefix + readable + "-" + hex.EncodeToString(sum[:])[:hashLength]
}

// PodName returns the name of the placeholder StatefulSet's only pod.
func PodName(statefulSetName string) string {
	return statefulSetName + PodOrdinalSuffix
}

// dnsLabelPart keeps at most budget characters of s that are valid inside a
// DNS label: lower-case alphanumerics, with runs of anything else folded into
// one '-', and no leading or trailing '-'.
func dnsLabelPart(s string, budget int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if b.Len() >= budget {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}
