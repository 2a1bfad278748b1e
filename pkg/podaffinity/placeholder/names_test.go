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

package placeholder

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestName(t *testing.T) {
	for _, tc := range []struct {
		name    string
		runName string
		// wantReadable is the part of the name between the prefix and the hash.
		wantReadable string
	}{
		{name: "simple", runName: "build", wantReadable: "build-"},
		{name: "generated name", runName: "build-and-test-x7k2p", wantReadable: "build-and-test-x7k2p-"},
		{name: "upper case and dots", runName: "Release.V1.2", wantReadable: "release-v1-2-"},
		{name: "runs of separators fold into one dash", runName: "a..--__b", wantReadable: "a-b-"},
		{name: "leading and trailing separators are dropped", runName: "-.run.-", wantReadable: "run-"},
		{name: "long name is cut to the budget", runName: strings.Repeat("abcdefghij", 25), wantReadable: "abcdefghijabcdefghijabcde-"},
		{name: "cut does not end on a dash", runName: strings.Repeat("a", 24) + "-bcdef", wantReadable: strings.Repeat("a", 24) + "-"},
		{name: "non-ASCII letters fold into dashes", runName: "ビルド-run", wantReadable: "run-"},
		{name: "nothing readable", runName: "---", wantReadable: ""},
		{name: "empty", runName: "", wantReadable: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			meta := &metav1.ObjectMeta{Namespace: "team-a", Name: tc.runName, UID: types.UID("6a1f0c53-0c2f-4a3e-9d1b-3c7a2b1e0f99")}
			got := Name(meta)

			want := regexp.MustCompile("^placeholder-" + regexp.QuoteMeta(tc.wantReadable) + "[0-9a-f]{10}$")
			if !want.MatchString(got) {
				t.Errorf("Name(%q) = %q, want a match for %s", tc.runName, got, want)
			}
			if again := Name(meta.DeepCopy()); again != got {
				t.Errorf("Name() is not stable: %q then %q", got, again)
			}
			for what, errs := range map[string][]string{
				"StatefulSet name (DNS label)":           validation.IsDNS1123Label(got),
				"pod name":                               validation.IsDNS1123Label(PodName(got)),
				"controller-revision-hash label value":   validation.IsValidLabelValue(got + "-" + "7b9f5c6d4f"),
				"app.kubernetes.io/instance label value": validation.IsValidLabelValue(got),
			} {
				if len(errs) > 0 {
					t.Errorf("Name(%q) = %q: invalid %s: %v", tc.runName, got, what, errs)
				}
			}
			if len(got) > MaxNameLength {
				t.Errorf("len(Name(%q)) = %d, want <= %d", tc.runName, len(got), MaxNameLength)
			}
		})
	}
}

func TestNameIsUniquePerRun(t *testing.T) {
	base := metav1.ObjectMeta{Namespace: "team-a", Name: "build", UID: "uid-1"}
	variants := map[string]metav1.ObjectMeta{
		"base":                     base,
		"other namespace":          {Namespace: "team-b", Name: "build", UID: "uid-1"},
		"other name":               {Namespace: "team-a", Name: "build2", UID: "uid-1"},
		"recreated (other UID)":    {Namespace: "team-a", Name: "build", UID: "uid-2"},
		"separator shifted":        {Namespace: "team-a/build", Name: "", UID: "uid-1"},
		"same readable part":       {Namespace: "team-a", Name: "BUILD", UID: "uid-1"},
		"long names share prefix":  {Namespace: "team-a", Name: strings.Repeat("x", 40) + "1", UID: "uid-1"},
		"long names share prefix'": {Namespace: "team-a", Name: strings.Repeat("x", 40) + "2", UID: "uid-1"},
	}
	seen := map[string]string{}
	for what, meta := range variants {
		got := Name(&meta)
		if prev, dup := seen[got]; dup {
			t.Errorf("Name() of %q and %q are both %q", prev, what, got)
		}
		seen[got] = what
	}
}

func TestPodName(t *testing.T) {
	if d := cmp.Diff("placeholder-build-0123456789-0", PodName("placeholder-build-0123456789")); d != "" {
		t.Errorf("PodName() (-want +got):\n%s", d)
	}
}

func TestLabelsAndSelectors(t *testing.T) {
	const name = "placeholder-build-0123456789"
	labels := Labels(name, "build")
	wantLabels := map[string]string{
		"app.kubernetes.io/component":  "pipelinerun-placeholder",
		"app.kubernetes.io/instance":   name,
		"app.kubernetes.io/managed-by": "tekton-pipelines",
		"tekton.dev/pipelineRun":       "build",
	}
	if d := cmp.Diff(wantLabels, labels); d != "" {
		t.Errorf("Labels() (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name     string
		selector *metav1.LabelSelector
		labels   map[string]string
		want     bool
	}{
		{name: "own selector matches own pod", selector: Selector(name), labels: labels, want: true},
		{name: "own selector ignores another placeholder", selector: Selector(name), labels: Labels("placeholder-other-9999999999", "other"), want: false},
		{name: "own selector ignores TaskRun pods", selector: Selector(name), labels: map[string]string{MemberLabelKey: name, "tekton.dev/pipelineRun": "build"}, want: false},
		{name: "all placeholders matches own pod", selector: AllPlaceholdersSelector(), labels: labels, want: true},
		{name: "all placeholders matches another placeholder", selector: AllPlaceholdersSelector(), labels: Labels("placeholder-other-9999999999", "other"), want: true},
		{name: "all placeholders ignores TaskRun pods", selector: AllPlaceholdersSelector(), labels: map[string]string{MemberLabelKey: name}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := metav1.LabelSelectorAsSelector(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.Matches(k8slabels.Set(tc.labels)); got != tc.want {
				t.Errorf("%v matches %v = %t, want %t", sel, tc.labels, got, tc.want)
			}
		})
	}
}
