//go:build e2e

package e2e

// What namespace admission does to the placeholder (issue 8): a policy
// that forbids it, and a LimitRange whose min is above the token the
// placeholder keeps once it is placed.

import (
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// An admission policy that forbids the placeholder pod, as Pod Security, an
// OpenShift SCC or a webhook may: no retry can cure it, so the run fails at
// once with PlaceholderRejected quoting the policy (as upstream fails a run
// whose TaskRun it cannot create), long before max-node-wait; no TaskRun,
// no placeholder left.
func TestReliabilityPlaceholderForbidden(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "forbidden")
	const message = "e2e: no placeholder pods in this namespace"
	refuseInNamespaceWith(t, ns, message, rules(rule("", "pods", admissionv1.Create)))
	const run = "forbidden"
	start := time.Now()
	createRun(t, newRun(ns, run, oneTask(), runOpts{duration: "1s"}))
	pr := waitRunMessage(t, ns, run, reasonRejected, 60*time.Second, "rejects placeholder pod", message)
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	t.Logf("failed after %s: %s", time.Since(start).Round(time.Second), describeCondition(pr))
	if trs, _ := taskRuns(bg(), ns, run); len(trs) != 0 {
		t.Errorf("%s created %d TaskRuns", run, len(trs))
	}
	waitNoPlaceholder(t, ns, run, 30*time.Second)
}

// A namespace whose pods must run as a user of a range, as OpenShift's
// restricted-v2 SCC requires (MustRunAsRange; a pod that names no user gets
// one of the range, which this policy stands for by admitting it). The
// placeholder runs as 65532 unless the run's pod template names a user: the
// run fails at once with PlaceholderRejected quoting the policy; with
// taskRunTemplate.podTemplate.securityContext.runAsUser set to a user of
// the range (the workaround the docs give), the placeholder runs as that
// user and the run succeeds.
func TestReliabilityUserRangePolicy(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "userrange")
	const (
		first   = int64(1000700000)
		last    = int64(1000709999)
		message = `unable to validate against any security context constraint: provider "restricted-v2": runAsUser: Invalid value: must be in the ranges: [1000700000, 1000709999]`
	)
	vars := []admissionv1.Variable{
		{Name: "podUser", Expression: "has(object.spec.securityContext) && has(object.spec.securityContext.runAsUser) ? object.spec.securityContext.runAsUser : -1"},
		{Name: "users", Expression: "(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])).map(c, has(c.securityContext) && has(c.securityContext.runAsUser) ? c.securityContext.runAsUser : variables.podUser)"},
	}
	admit := "variables.users.all(u, u == -1 || (u >= 1000700000 && u <= 1000709999))"
	refuseInNamespaceUnless(t, ns, vars, admit, message, rules(rule("", "pods", admissionv1.Create)))

	const refused = "fixed-user"
	createRun(t, newRun(ns, refused, oneTask(), runOpts{duration: "1s"}))
	pr := waitRunMessage(t, ns, refused, reasonRejected, 60*time.Second, "rejects placeholder pod", "must be in the ranges")
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", refused, describeCondition(pr))
	}
	if trs, _ := taskRuns(bg(), ns, refused); len(trs) != 0 {
		t.Errorf("%s created %d TaskRuns", refused, len(trs))
	}
	waitNoPlaceholder(t, ns, refused, 30*time.Second)

	const admitted = "user-of-range"
	tpl := &pod.PodTemplate{SecurityContext: &corev1.PodSecurityContext{RunAsUser: ptr.To(first)}}
	createRun(t, newRun(ns, admitted, pipelineSpec(taskDef{name: "t1", duration: "5s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "1s"}), runOpts{podTemplate: tpl}))
	name := waitPlaceholder(t, ns, admitted, 60*time.Second)
	sts, err := cluster.kube.AppsV1().StatefulSets(ns).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading placeholder StatefulSet %s: %v", name, err)
	}
	if sc := sts.Spec.Template.Spec.SecurityContext; sc == nil || ptr.Deref(sc.RunAsUser, -1) != first {
		t.Errorf("placeholder StatefulSet %s runs as %v, want user %d of the range [%d, %d]", name, sc, first, first, last)
	}
	waitRunSucceeded(t, ns, admitted, 3*time.Minute)
	waitNoPlaceholder(t, ns, admitted, 30*time.Second)
}

// A LimitRange whose min CPU per container (100m) is above the token the
// placeholder keeps once placed (10m): every size the placeholder asks for
// is raised to the min, so its pinned StatefulSet can make its pod again
// (here: the pod is deleted while the first task runs) and the run
// succeeds; the StatefulSet controller is never refused.
func TestReliabilityLimitRangeMin(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	ns := newNamespace(t, "limits-min")
	createLimitRange(t, ns, corev1.LimitRangeItem{
		Type:           corev1.LimitTypeContainer,
		Min:            corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
	})
	const run = "raised"
	spec := pipelineSpec(taskDef{name: "t1", cpu: "200m", duration: "10s"}, taskDef{name: "t2", cpu: "300m", after: []string{"t1"}, duration: "1s"})
	createRun(t, newRun(ns, run, spec, runOpts{}))
	waitPlaced(t, ns, run, 60*time.Second)
	name := waitPlaceholder(t, ns, run, 10*time.Second)
	sts, err := cluster.kube.AppsV1().StatefulSets(ns).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading StatefulSet %s: %v", name, err)
	}
	cpu := sts.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
	if cpu.Cmp(resource.MustParse("100m")) < 0 {
		t.Errorf("StatefulSet %s pinned asking cpu %s, below the LimitRange's min 100m", name, cpu.String())
	}
	if err := cluster.kube.CoreV1().Pods(ns).Delete(bg(), name+"-0", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the placeholder pod: %v", err)
	}
	waitRunSucceeded(t, ns, run, 90*time.Second)
	if evs := objectEvents(ns, "StatefulSet", name, "FailedCreate", ""); len(evs) > 0 {
		t.Errorf("the StatefulSet controller was refused: %v", eventMessages(evs))
	}
}
