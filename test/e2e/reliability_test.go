//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/pkg/apis"
)

// The fault matrix of issue 8: what real clusters do to a handled run
// (quotas, LimitRanges, bad names, flag flips, Pending runs, wide DAGs,
// placeholders that finalizers keep from going; tainted nodes are in
// taints_test.go). Each case asserts the run's terminal outcome within a
// bound, and the reason and message its condition shows on the way.

const (
	reasonRejected      = "PlaceholderRejected"
	reasonStuckDeleting = "PlaceholderStuckDeleting"
	recordKey           = "tekton.dev/pod-affinity"
	// holdFinalizer is the finalizer the tests put on a placeholder object
	// to keep it from going when it is deleted, as another controller may.
	holdFinalizer = "example.com/e2e-hold"
)

// parallel is a pipeline of n tasks that run at once, each requesting cpu.
func parallel(n int, cpu string) *v1.PipelineSpec {
	var tasks []taskDef
	for i := 1; i <= n; i++ {
		tasks = append(tasks, taskDef{name: fmt.Sprintf("p%d", i), cpu: cpu})
	}
	return pipelineSpec(tasks...)
}

// createdCPU returns the CPU the run's placeholder asked for when it was
// created (see createdRequest).
func createdCPU(t *testing.T, ns, run string) resource.Quantity {
	t.Helper()
	return createdRequest(t, ns, run, corev1.ResourceCPU)
}

// createdRequest returns the request of resource the run's placeholder
// asked for when it was created, from its Placed event ("... requesting
// cpu=3, ephemeral-storage=80Gi, memory=...; it waited ..."): by the time a
// test reads the StatefulSet it may be placed and token-sized already.
func createdRequest(t *testing.T, ns, run string, name corev1.ResourceName) resource.Quantity {
	t.Helper()
	ev := waitEvent(t, ns, "PipelineRun", run, eventPlaced, 30*time.Second)
	_, requests, _ := strings.Cut(ev.Message, "requesting ")
	requests, _, _ = strings.Cut(requests, ";")
	for _, part := range strings.Split(requests, ", ") {
		if v, ok := strings.CutPrefix(part, string(name)+"="); ok {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				t.Fatalf("event %q: %v", ev.Message, err)
			}
			return q
		}
	}
	t.Fatalf("event %q names no %s request", ev.Message, name)
	return resource.Quantity{}
}

// A namespace quota below the run's peak: the run says so, with the quota's
// message, and fails when max-node-wait runs out.
func TestReliabilityResourceQuota(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "20s"}))
	ns := newNamespace(t, "quota")
	createQuota(t, ns, "500m")
	const run = "over-quota"
	start := time.Now()
	createRun(t, newRun(ns, run, parallel(2, "400m"), runOpts{duration: "1s"}))
	pr := waitRunMessage(t, ns, run, reasonWaiting, 30*time.Second, "exceeded quota", "compute")
	t.Logf("while waiting: %s", describeCondition(pr))
	pr = waitRunMessage(t, ns, run, reasonNodeWait, 60*time.Second, "exceeded quota")
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	if elapsed := time.Since(start); elapsed < 19*time.Second {
		t.Errorf("failed after %s, before max-node-wait 20s", elapsed.Round(time.Second))
	}
	if trs, _ := taskRuns(bg(), ns, run); len(trs) != 0 {
		t.Errorf("%s created %d TaskRuns", run, len(trs))
	}
	waitNoPlaceholder(t, ns, run, 30*time.Second)
}

// A quota raised while the run waits for it: the run is placed and runs,
// within a bound, although the StatefulSet controller has been retrying the
// rejected placeholder pod with growing delays meanwhile.
func TestReliabilityResourceQuotaRaised(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "10m"}))
	ns := newNamespace(t, "quota-raised")
	createQuota(t, ns, "500m")
	// A quota on requests.cpu admits only pods whose every container asks
	// for CPU: Tekton's init containers get it from a LimitRange default.
	createLimitRange(t, ns, corev1.LimitRangeItem{
		Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	})
	const run = "raised"
	createRun(t, newRun(ns, run, parallel(2, "400m"), runOpts{duration: "1s"}))
	waitRunMessage(t, ns, run, reasonWaiting, 30*time.Second, "exceeded quota")
	// Long enough for the StatefulSet controller to back off.
	time.Sleep(45 * time.Second)
	if _, err := cluster.kube.CoreV1().ResourceQuotas(ns).Patch(bg(), "compute", types.MergePatchType,
		[]byte(`{"spec":{"hard":{"requests.cpu":"4"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("raising the quota: %v", err)
	}
	raised := time.Now()
	waitRunSucceeded(t, ns, run, 60*time.Second)
	t.Logf("%s succeeded %s after the quota was raised", run, time.Since(raised).Round(time.Second))
}

// A quota with room for the run's peak and little more: at each hand-over
// the quota still charges the placeholder's old size until the quota
// controller recounts, so the next task's pod can be refused ("exceeded
// quota"). Such a pod is tried again within seconds, not after Tekton's
// minute: the run of two 1-CPU tasks, one after the other, is done well
// within a minute.
func TestReliabilityResourceQuotaHandOver(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "quota-handover")
	createQuota(t, ns, "1100m")
	createLimitRange(t, ns, corev1.LimitRangeItem{
		Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
	})
	const run = "tight"
	spec := pipelineSpec(taskDef{name: "t1", cpu: "1"}, taskDef{name: "t2", cpu: "1", after: []string{"t1"}})
	start := time.Now()
	createRun(t, newRun(ns, run, spec, runOpts{duration: "1s"}))
	waitRunSucceeded(t, ns, run, 45*time.Second)
	trs, err := taskRuns(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing TaskRuns: %v", err)
	}
	var refused []string
	for _, tr := range trs {
		refused = append(refused, eventMessages(objectEvents(ns, "TaskRun", tr.Name, "ExceededResourceQuota", ""))...)
	}
	t.Logf("%s succeeded after %s; TaskRun pods refused by the quota on the way: %v", run, time.Since(start).Round(time.Second), refused)
}

// A LimitRange whose max is below the run's peak (but above each task):
// the placeholder reserves up to the max and the run succeeds.
func TestReliabilityLimitRangeMax(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "30s"}))
	ns := newNamespace(t, "limits")
	createLimitRange(t, ns, corev1.LimitRangeItem{
		Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
	})
	const run = "capped"
	createRun(t, newRun(ns, run, parallel(2, "800m"), runOpts{duration: "2s"}))
	if got := createdCPU(t, ns, run); got.Cmp(resource.MustParse("1")) != 0 {
		t.Errorf("placeholder requests cpu %s, want the LimitRange's max 1", got.String())
	}
	waitRunSucceeded(t, ns, run, 90*time.Second)
}

// A run whose name is too long for a label value: the placeholder is
// invalid, and the run fails at once with the API server's message.
func TestReliabilityNameTooLongForALabel(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "longname")
	run := "r" + strings.Repeat("x", 204)
	start := time.Now()
	createRun(t, newRun(ns, run, oneTask(), runOpts{duration: "1s"}))
	pr := waitRunMessage(t, ns, run, reasonRejected, 30*time.Second, "placeholder StatefulSet", "must be no more than 63")
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s", describeCondition(pr))
	}
	t.Logf("failed after %s: %s", time.Since(start).Round(time.Second), describeCondition(pr))
}

// Flipping enable-pipelinerun-pod-affinity between two tasks of a run
// changes nothing for that run: it finishes the way it began, on one node.
func TestReliabilityFeatureFlagFlippedMidRun(t *testing.T) {
	for _, tc := range []struct {
		name           string
		before, after  string
		wantRecord     string
		wantHolderKind string
	}{
		{name: "turned off", before: "true", after: "false", wantRecord: "required/cluster", wantHolderKind: componentHolder},
		{name: "turned on", before: "false", after: "true", wantRecord: "", wantHolderKind: componentAssistant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setFeatureFlags(t, patchedFlags(map[string]string{flagEnable: tc.before}))
			ns := newNamespace(t, "flip")
			rec := watchPods(t, nil, ns)
			const run = "flipped"
			spec := pipelineSpec(taskDef{name: "t1", duration: "8s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "2s"})
			createRun(t, newRun(ns, run, spec, runOpts{}))
			waitPlaced(t, ns, run, 60*time.Second)
			setFeatureFlags(t, map[string]string{flagEnable: tc.after})
			pr := waitRunSucceeded(t, ns, run, 120*time.Second)
			if got := pr.Annotations[recordKey]; got != tc.wantRecord {
				t.Errorf("annotation %s = %q, want %q", recordKey, got, tc.wantRecord)
			}
			pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
			if nodes := nodesOf(pods); len(pods) != 2 || len(nodes) != 1 {
				t.Errorf("TaskRun pods %d on nodes %v, want 2 pods on one node", len(pods), nodes)
			}
			if holders := rec.matching(map[string]string{labelComponent: tc.wantHolderKind}); len(holders) == 0 {
				t.Errorf("no %s pod: the run did not stay with what placed it", tc.wantHolderKind)
			}
		})
	}
}

// A run held Pending for longer than max-node-wait (as queueing front ends
// do) is placed when released: the time it was Pending does not count.
func TestReliabilityPendingRunReleased(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "10s"}))
	ns := newNamespace(t, "pending")
	const run = "held"
	pr := newRun(ns, run, oneTask(), runOpts{duration: "1s"})
	pr.Spec.Status = v1.PipelineRunSpecStatusPending
	createRun(t, pr)
	time.Sleep(15 * time.Second)
	assertNoPlaceholder(t, ns, run)
	if _, err := cluster.tekton.TektonV1().PipelineRuns(ns).Patch(bg(), run, types.MergePatchType,
		[]byte(`{"spec":{"status":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("releasing the run: %v", err)
	}
	waitRunSucceeded(t, ns, run, 60*time.Second)
}

// A fan-out, fan-in, fan-out pipeline (15 tasks, a join, 15 tasks, 200m
// each) reserves its true peak, 3 CPU, and runs on a 4-CPU node.
func TestReliabilityFanOutFanInPeak(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	ns := newNamespace(t, "fanout")
	var first []string
	var defs []taskDef
	for i := 1; i <= 15; i++ {
		name := fmt.Sprintf("a%d", i)
		first = append(first, name)
		defs = append(defs, taskDef{name: name, cpu: "200m"})
	}
	defs = append(defs, taskDef{name: "join", cpu: "100m", after: first})
	for i := 1; i <= 15; i++ {
		defs = append(defs, taskDef{name: fmt.Sprintf("b%d", i), cpu: "200m", after: []string{"join"}})
	}
	const run = "wide"
	createRun(t, newRun(ns, run, pipelineSpec(defs...), runOpts{duration: "1s"}))
	if got := createdCPU(t, ns, run); got.Cmp(resource.MustParse("3")) != 0 {
		t.Errorf("placeholder requests cpu %s, want the peak 3 (15 x 200m)", got.String())
	}
	waitRunSucceeded(t, ns, run, 180*time.Second)
	pods := mustTaskRunPods(t, ns, run)
	if nodes := podNodes(pods); len(pods) != 31 || len(distinct(nodes)) != 1 {
		t.Errorf("%d TaskRun pods on nodes %v, want 31 on one node", len(pods), distinct(nodes))
	}
}

func distinct(m map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range m {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// A taskRunSpecs podTemplate whose nodeSelector only one node satisfies:
// the placeholder has the same constraint, so the run lands there and every
// task runs (before, the placeholder landed anywhere and the task stayed
// Pending for ever).
func TestReliabilityTaskRunSpecsNodeSelector(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	ns := newNamespace(t, "selector")
	special := cluster.nodes[len(cluster.nodes)-1]
	const poolLabel = "e2e.pipelinerun-affinity.dev/pool"
	labelNode(t, special, poolLabel, "special")
	const run = "selective"
	pr := newRun(ns, run, chain(2), runOpts{duration: "1s"})
	pr.Spec.TaskRunSpecs = []v1.PipelineTaskRunSpec{{
		PipelineTaskName: "t2",
		PodTemplate:      &pod.PodTemplate{NodeSelector: map[string]string{poolLabel: "special"}},
	}}
	createRun(t, pr)
	waitRunSucceeded(t, ns, run, 90*time.Second)
	pods := mustTaskRunPods(t, ns, run)
	if nodes := distinct(podNodes(pods)); len(pods) != 2 || len(nodes) != 1 || nodes[0] != special {
		t.Errorf("%d TaskRun pods on %v, want 2 on %s", len(pods), nodes, special)
	}
}

// labelNode sets a label on node and registers its removal.
func labelNode(t *testing.T, node, key, value string) {
	t.Helper()
	patch := func(v string) error {
		val := `null`
		if v != "" {
			val = `"` + v + `"`
		}
		_, err := cluster.kube.CoreV1().Nodes().Patch(bg(), node, types.MergePatchType,
			[]byte(fmt.Sprintf(`{"metadata":{"labels":{%q:%s}}}`, key, val)), metav1.PatchOptions{})
		return err
	}
	t.Cleanup(func() {
		if err := patch(""); err != nil {
			t.Errorf("removing label %s from %s: %v", key, node, err)
		}
	})
	if err := patch(value); err != nil {
		t.Fatalf("labelling %s: %v", node, err)
	}
}

// Isolation nobody else can abuse: a tenant's DaemonSet (or bare pod) that
// carries the placeholders' label would keep every isolated run of the
// cluster off its nodes. The policy in config/placeholder-label-policy.yaml
// denies it, and isolated runs are placed as usual.
func TestReliabilityPlaceholderLabelReserved(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	tenant := newNamespace(t, "tenant")
	labels := map[string]string{labelComponent: componentHolder, "app": "squatter"}
	squatter := corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}

	_, err := cluster.kube.CoreV1().Pods(tenant).Create(bg(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "squatter", Namespace: tenant, Labels: labels},
		Spec:       squatter,
	}, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "is reserved for the placeholders of PipelineRuns") {
		t.Fatalf("creating a pod with the placeholders' label = %v, want the policy's denial", err)
	}
	t.Logf("bare pod denied: %v", err)

	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "squatter", Namespace: tenant},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "squatter"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: squatter},
		},
	}
	if _, err := cluster.kube.AppsV1().DaemonSets(tenant).Create(bg(), ds, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the DaemonSet: %v", err)
	}
	waitEvent(t, tenant, "DaemonSet", "squatter", "FailedCreate", 30*time.Second)

	ns := newNamespace(t, "isolated")
	const run = "isolated"
	createRun(t, newRun(ns, run, oneTask(), runOpts{duration: "1s"}))
	waitRunSucceeded(t, ns, run, 60*time.Second)
	if pods, err := cluster.kube.CoreV1().Pods(tenant).List(bg(), metav1.ListOptions{LabelSelector: "app=squatter"}); err != nil || len(pods.Items) != 0 {
		t.Errorf("the tenant's DaemonSet has %d pods (err %v), want none", len(pods.Items), err)
	}
}

// createQuota creates the ResourceQuota "compute" of requests.cpu in ns.
func createQuota(t *testing.T, ns, cpu string) {
	t.Helper()
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse(cpu)}},
	}
	if _, err := cluster.kube.CoreV1().ResourceQuotas(ns).Create(bg(), quota, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the quota: %v", err)
	}
}

// createLimitRange creates a LimitRange of item in ns.
func createLimitRange(t *testing.T, ns string, item corev1.LimitRangeItem) {
	t.Helper()
	lr := &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: ns},
		Spec:       corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{item}},
	}
	if _, err := cluster.kube.CoreV1().LimitRanges(ns).Create(bg(), lr, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the LimitRange: %v", err)
	}
}

// A placeholder StatefulSet that somebody deletes mid-run while a finalizer
// of theirs holds it: the run says what holds it and since when, and fails
// once max-node-wait, counted from the deletion, has run out: its running
// TaskRun is cancelled, the next never created, and its placeholder pod,
// which the held StatefulSet would keep on the node, is deleted.
func TestReliabilityPlaceholderStatefulSetStuckDeleting(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "20s"}))
	ns := newNamespace(t, "sts-held")
	const run = "sts-held"
	spec := pipelineSpec(taskDef{name: "t1", duration: "300s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "1s"})
	createRun(t, newRun(ns, run, spec, runOpts{}))
	waitPlaced(t, ns, run, 60*time.Second)
	name := waitPlaceholder(t, ns, run, 10*time.Second)
	statefulSets := cluster.kube.AppsV1().StatefulSets(ns)
	holdWithFinalizer(t, "StatefulSet "+name, func(patch []byte) error {
		_, err := statefulSets.Patch(bg(), name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err := statefulSets.Delete(bg(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting StatefulSet %s: %v", name, err)
	}
	pr := waitRunMessage(t, ns, run, reasonWaiting, 30*time.Second,
		"Placeholder StatefulSet "+name+" is being deleted since", "held by finalizer "+holdFinalizer, "The PipelineRun fails if it is not gone by")
	t.Logf("while held: %s", describeCondition(pr))
	pr = waitRunMessage(t, ns, run, reasonStuckDeleting, 60*time.Second,
		"Placeholder StatefulSet "+name+" is still being deleted", flagMaxNodeWait+"=20s", "held by finalizer "+holdFinalizer)
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	assertCancelledAfter(t, ns, run, "t1", "t2")
	waitFor(t, "the held StatefulSet's placeholder pod to be deleted", 30*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err == nil && len(pods) > 0 {
			return fmt.Errorf("placeholder pods %v", podNames(pods))
		}
		return err
	})
	if _, err := statefulSets.Get(bg(), name, metav1.GetOptions{}); err != nil {
		t.Errorf("StatefulSet %s: %v; want it still held by %s", name, err, holdFinalizer)
	}
}

// A placeholder pod deleted mid-run on a Ready node while a finalizer holds
// it stays Terminating, and its StatefulSet cannot make it again: the run
// says what holds it and since when, and fails once max-node-wait, counted
// from the deletion, has run out, cancelling its running TaskRun.
func TestReliabilityPlaceholderPodStuckTerminating(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "20s"}))
	ns := newNamespace(t, "pod-held")
	const run = "pod-held"
	spec := pipelineSpec(taskDef{name: "t1", duration: "300s"}, taskDef{name: "t2", after: []string{"t1"}, duration: "1s"})
	createRun(t, newRun(ns, run, spec, runOpts{}))
	node := waitPlaced(t, ns, run, 60*time.Second)
	name := waitPlaceholder(t, ns, run, 10*time.Second) + "-0"
	pods := cluster.kube.CoreV1().Pods(ns)
	holdWithFinalizer(t, "pod "+name, func(patch []byte) error {
		_, err := pods.Patch(bg(), name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err := pods.Delete(bg(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting pod %s: %v", name, err)
	}
	pr := waitRunMessage(t, ns, run, reasonWaiting, 30*time.Second,
		"Placeholder pod "+name+" is being deleted since", "held by finalizer "+holdFinalizer, "on node "+node, "The PipelineRun fails if it is not gone by")
	t.Logf("while held: %s", describeCondition(pr))
	pr = waitRunMessage(t, ns, run, reasonStuckDeleting, 60*time.Second,
		"Placeholder pod "+name+" is still being deleted", flagMaxNodeWait+"=20s", "held by finalizer "+holdFinalizer)
	if c := succeeded(pr); !c.IsFalse() {
		t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
	}
	assertCancelledAfter(t, ns, run, "t1", "t2")
}

// holdWithFinalizer puts holdFinalizer on an object of the test (what
// names it; patch merge-patches it) and registers its removal, so that the
// object, and the test's namespace, can go.
func holdWithFinalizer(t *testing.T, what string, patch func([]byte) error) {
	t.Helper()
	if err := patch([]byte(`{"metadata":{"finalizers":["` + holdFinalizer + `"]}}`)); err != nil {
		t.Fatalf("adding finalizer %s to %s: %v", holdFinalizer, what, err)
	}
	t.Cleanup(func() {
		if err := patch([]byte(`{"metadata":{"finalizers":null}}`)); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("removing finalizer %s from %s: %v", holdFinalizer, what, err)
		}
	})
}

// assertCancelledAfter checks that the failed run's TaskRun of task
// running is done without success (cancelled) within a bound, and that no
// TaskRun of task next was created.
func assertCancelledAfter(t *testing.T, ns, run, running, next string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the TaskRun of %s to be done", running), 60*time.Second, func(ctx context.Context) error {
		trs, err := taskRuns(ctx, ns, run)
		if err != nil {
			return err
		}
		for _, tr := range trs {
			if tr.Labels[labelPipelineTask] == running {
				if !tr.IsDone() {
					return fmt.Errorf("TaskRun %s: %s", tr.Name, conditionString(tr.Status.GetCondition(apis.ConditionSucceeded)))
				}
				return nil
			}
		}
		return fmt.Errorf("no TaskRun of task %s", running)
	})
	trs, err := taskRuns(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing TaskRuns: %v", err)
	}
	for _, tr := range trs {
		c := tr.Status.GetCondition(apis.ConditionSucceeded)
		switch tr.Labels[labelPipelineTask] {
		case running:
			if c == nil || !c.IsFalse() {
				t.Errorf("TaskRun %s of %s: %v, want it cancelled", tr.Name, running, c)
			}
		case next:
			t.Errorf("TaskRun %s of %s was created after the run failed", tr.Name, next)
		}
	}
}
