//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"knative.dev/pkg/apis"
)

// Names from the engine's contract (pkg/podaffinity) and Tekton.
const (
	tektonNamespace       = "tekton-pipelines"
	featureFlagsConfigMap = "feature-flags"

	flagEnable      = "enable-pipelinerun-pod-affinity"
	flagCoschedule  = "coschedule"
	flagScope       = "pipelinerun-pod-affinity-isolation-scope"
	flagReservation = "pipelinerun-pod-affinity-reservation"
	flagMaxNodeWait = "pipelinerun-pod-affinity-max-node-wait"
	flagAPIFields   = "enable-api-fields"

	labelComponent      = "app.kubernetes.io/component"
	labelInstance       = "app.kubernetes.io/instance"
	componentHolder     = "pipelinerun-placeholder"
	componentAssistant  = "affinity-assistant" // upstream's Affinity Assistant
	labelPipelineRun    = "tekton.dev/pipelineRun"
	labelTaskRun        = "tekton.dev/taskRun"
	labelPipelineTask   = "tekton.dev/pipelineTask"
	labelMember         = "tekton.dev/pod-affinity-placeholder"
	labelOptIn          = "tekton.dev/pipelinerun-pod-affinity"
	labelLegacyOptIn    = "tekton.dev/custom-pod-affinity"
	annotationDuration  = "pipelinerun-affinity.dev/kwok-duration"
	reasonWaiting       = "WaitingForNode"
	reasonNodeWait      = "NodeWaitTimeout"
	eventCreated        = "PlaceholderCreated"
	eventPlaced         = "Placed"
	eventHandedOver     = "ReservationHandedOver"
	eventRestored       = "ReservationRestored"
	eventWaitingForNode = "WaitingForNode"
	eventWaitingToMove  = "WaitingToMove"
	reasonWaitingToMove = "WaitingToMove"
	eventMoving         = "Moving"
	eventInvalidLabel   = "InvalidPodAffinityLabel"
	placeholderSelector = labelComponent + "=" + componentHolder

	// suiteLabel marks the namespaces of this suite ("key" only, for selectors).
	suiteLabel = "e2e.pipelinerun-affinity.dev/suite"
	// cordonedByLabel marks a node the suite cordoned (so a rerun uncordons it).
	cordonedByLabel = "e2e.pipelinerun-affinity.dev/cordoned"
)

func bg() context.Context { return context.Background() }

// ----------------------------------------------------------- namespaces ----

// newNamespace creates a namespace named e2e-<prefix>-xxxxx, waits for its
// default ServiceAccount and registers its deletion (waiting until its pods
// are gone, so the next test finds free nodes) and, when the test failed, a
// dump of the diagnostics of every namespace the test created.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns, err := cluster.kube.CoreV1().Namespaces().Create(bg(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "e2e-" + prefix + "-",
		Labels:       map[string]string{suiteLabel: "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	name := ns.Name
	t.Cleanup(func() {
		if os.Getenv("E2E_KEEP_NAMESPACES") == "1" && t.Failed() {
			t.Logf("keeping namespace %s (E2E_KEEP_NAMESPACES=1)", name)
			return
		}
		if err := cluster.kube.CoreV1().Namespaces().Delete(bg(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
			return
		}
		if err := cluster.waitNamespacePodsGone(bg(), name, 90*time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			dumpDiagnostics(t, name)
		}
	})
	err = wait.PollUntilContextTimeout(bg(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cluster.kube.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s: no default ServiceAccount after 30s", name)
	}
	return name
}

// --------------------------------------------------------- feature flags ----

// setFeatureFlags updates the feature-flags ConfigMap (a value "" deletes
// the key), registers the restoration of the previous data, and gives the
// controller's ConfigMap watch time to apply the change.
func setFeatureFlags(t *testing.T, kv map[string]string) {
	t.Helper()
	cm, err := cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Get(bg(), featureFlagsConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading feature flags: %v", err)
	}
	before := copyMap(cm.Data)
	t.Cleanup(func() {
		if err := restoreFeatureFlags(bg(), before); err != nil {
			t.Errorf("restoring feature flags: %v", err)
		}
	})
	if err := updateFeatureFlags(bg(), func(data map[string]string) {
		for k, v := range kv {
			if v == "" {
				delete(data, k)
			} else {
				data[k] = v
			}
		}
	}); err != nil {
		t.Fatalf("setting feature flags %v: %v", kv, err)
	}
	time.Sleep(2 * time.Second)
}

// patchedFlags are the flags of most tests: engine on, isolate-pipelinerun,
// defaults for the rest, plus overrides.
func patchedFlags(overrides map[string]string) map[string]string {
	kv := map[string]string{
		flagEnable:      "true",
		flagCoschedule:  "isolate-pipelinerun",
		flagScope:       "",
		flagReservation: "",
		flagMaxNodeWait: "",
		flagTopology:    "",
	}
	for k, v := range overrides {
		kv[k] = v
	}
	return kv
}

func updateFeatureFlags(ctx context.Context, mutate func(map[string]string)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Get(ctx, featureFlagsConfigMap, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		mutate(cm.Data)
		_, err = cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

func restoreFeatureFlags(ctx context.Context, data map[string]string) error {
	return updateFeatureFlags(ctx, func(current map[string]string) {
		for k := range current {
			delete(current, k)
		}
		for k, v := range data {
			current[k] = v
		}
	})
}

// ------------------------------------------------------------- objects ----

// taskDef describes one pipeline task: a single step with optional CPU and
// ephemeral-storage requests, optionally its own kwok duration.
type taskDef struct {
	name     string
	cpu      string
	storage  string // ephemeral-storage request
	after    []string
	duration string
}

func step(cpu, storage string) v1.Step {
	s := v1.Step{Name: "run", Image: "busybox", Command: []string{"true"}}
	requests := corev1.ResourceList{}
	if cpu != "" {
		requests[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if storage != "" {
		requests[corev1.ResourceEphemeralStorage] = resource.MustParse(storage)
	}
	if len(requests) > 0 {
		s.ComputeResources = corev1.ResourceRequirements{Requests: requests}
	}
	return s
}

func embeddedTask(td taskDef) *v1.EmbeddedTask {
	et := &v1.EmbeddedTask{TaskSpec: v1.TaskSpec{Steps: []v1.Step{step(td.cpu, td.storage)}}}
	if td.duration != "" {
		et.Metadata.Annotations = map[string]string{annotationDuration: td.duration}
	}
	return et
}

func pipelineSpec(tasks ...taskDef) *v1.PipelineSpec {
	spec := &v1.PipelineSpec{}
	for _, td := range tasks {
		spec.Tasks = append(spec.Tasks, v1.PipelineTask{Name: td.name, TaskSpec: embeddedTask(td), RunAfter: td.after})
	}
	return spec
}

// oneTask is a pipeline of one task.
func oneTask() *v1.PipelineSpec { return pipelineSpec(taskDef{name: "work"}) }

// chain is a pipeline of n tasks, each after the previous one.
func chain(n int) *v1.PipelineSpec {
	var tasks []taskDef
	for i := 1; i <= n; i++ {
		td := taskDef{name: fmt.Sprintf("t%d", i)}
		if i > 1 {
			td.after = []string{fmt.Sprintf("t%d", i-1)}
		}
		tasks = append(tasks, td)
	}
	return pipelineSpec(tasks...)
}

func createPipeline(t *testing.T, ns, name string, spec *v1.PipelineSpec) {
	t.Helper()
	p := &v1.Pipeline{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: *spec}
	if _, err := cluster.tekton.TektonV1().Pipelines(ns).Create(bg(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Pipeline %s/%s: %v", ns, name, err)
	}
}

// runOpts are the optional parts of a PipelineRun.
type runOpts struct {
	pipelineRef string // use a Pipeline object instead of the spec
	duration    string // kwok duration of every TaskRun pod ("" = kwok's default 1s)
	labels      map[string]string
	timeout     time.Duration // timeouts.pipeline
	podTemplate *pod.PodTemplate
}

func newRun(ns, name string, spec *v1.PipelineSpec, o runOpts) *v1.PipelineRun {
	pr := &v1.PipelineRun{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: o.labels, Annotations: map[string]string{}},
	}
	if o.pipelineRef != "" {
		pr.Spec.PipelineRef = &v1.PipelineRef{Name: o.pipelineRef}
	} else {
		pr.Spec.PipelineSpec = spec
	}
	if o.duration != "" {
		pr.Annotations[annotationDuration] = o.duration
	}
	if o.timeout > 0 {
		pr.Spec.Timeouts = &v1.TimeoutFields{Pipeline: &metav1.Duration{Duration: o.timeout}}
	}
	pr.Spec.TaskRunTemplate.PodTemplate = o.podTemplate
	return pr
}

func createRun(t testing.TB, pr *v1.PipelineRun) *v1.PipelineRun {
	t.Helper()
	created, err := cluster.tekton.TektonV1().PipelineRuns(pr.Namespace).Create(bg(), pr, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating PipelineRun %s/%s: %v", pr.Namespace, pr.Name, err)
	}
	return created
}

func getRun(t *testing.T, ns, name string) *v1.PipelineRun {
	t.Helper()
	pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(bg(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting PipelineRun %s/%s: %v", ns, name, err)
	}
	return pr
}

func succeeded(pr *v1.PipelineRun) *apis.Condition {
	return pr.Status.GetCondition(apis.ConditionSucceeded)
}

func describeCondition(pr *v1.PipelineRun) string {
	c := succeeded(pr)
	if c == nil {
		return "<no Succeeded condition>"
	}
	return fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
}

// --------------------------------------------------------------- waiting ----

// poll is wait.PollUntilContextTimeout with a 500 ms interval; errors from
// cond are retried (the API server may be briefly busy on 2 cores).
func poll(timeout time.Duration, cond func(ctx context.Context) (bool, error)) error {
	return wait.PollUntilContextTimeout(bg(), 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		if err != nil {
			return false, nil
		}
		return ok, nil
	})
}

// waitFor polls cond and fails the test with what when it times out.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	start := time.Now()
	if err := poll(timeout, cond); err != nil {
		t.Fatalf("timed out after %s waiting for %s", time.Since(start).Round(time.Second), what)
	}
}

// waitRunDone waits until the run is done; ok=false on timeout.
func waitRunDone(ns, name string, timeout time.Duration) (*v1.PipelineRun, bool) {
	var last *v1.PipelineRun
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = pr
		return pr.IsDone(), nil
	})
	return last, err == nil
}

// waitRunSucceeded fails the test unless the run succeeds within timeout.
func waitRunSucceeded(t *testing.T, ns, name string, timeout time.Duration) *v1.PipelineRun {
	t.Helper()
	pr, ok := waitRunDone(ns, name, timeout)
	if !ok {
		cond := "<not found>"
		if pr != nil {
			cond = describeCondition(pr)
		}
		t.Fatalf("PipelineRun %s/%s not done after %s: %s", ns, name, timeout, cond)
	}
	if c := succeeded(pr); c == nil || !c.IsTrue() {
		t.Fatalf("PipelineRun %s/%s did not succeed: %s", ns, name, describeCondition(pr))
	}
	return pr
}

// waitRunReason waits until the run's Succeeded condition has reason.
func waitRunReason(t *testing.T, ns, name, reason string, timeout time.Duration) *v1.PipelineRun {
	t.Helper()
	return waitRunMessage(t, ns, name, reason, timeout)
}

// waitRunMessage waits until the run's condition has reason and a message
// containing every part.
func waitRunMessage(t *testing.T, ns, name, reason string, timeout time.Duration, parts ...string) *v1.PipelineRun {
	t.Helper()
	var last *v1.PipelineRun
	err := poll(timeout, func(ctx context.Context) (bool, error) {
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = pr
		c := succeeded(pr)
		if c == nil || c.Reason != reason {
			return false, nil
		}
		for _, p := range parts {
			if !strings.Contains(c.Message, p) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		cond := "<not found>"
		if last != nil {
			cond = describeCondition(last)
		}
		t.Fatalf("PipelineRun %s/%s: no condition %s mentioning %q after %s; last: %s", ns, name, reason, parts, timeout, cond)
	}
	return last
}

// ---------------------------------------------------------- placeholders ----

// placeholderListOptions selects placeholders, those of run when run != "".
func placeholderListOptions(run string) metav1.ListOptions {
	sel := placeholderSelector
	if run != "" {
		sel += "," + labelPipelineRun + "=" + run
	}
	return metav1.ListOptions{LabelSelector: sel}
}

func placeholderStatefulSets(ctx context.Context, ns, run string) ([]appsv1.StatefulSet, error) {
	l, err := cluster.kube.AppsV1().StatefulSets(ns).List(ctx, placeholderListOptions(run))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func placeholderPods(ctx context.Context, ns, run string) ([]corev1.Pod, error) {
	l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, placeholderListOptions(run))
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// waitPlaceholder waits for the run's placeholder StatefulSet and returns its name.
func waitPlaceholder(t *testing.T, ns, run string, timeout time.Duration) string {
	t.Helper()
	var name string
	waitFor(t, fmt.Sprintf("the placeholder StatefulSet of %s/%s", ns, run), timeout, func(ctx context.Context) (bool, error) {
		l, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil || len(l) == 0 {
			return false, err
		}
		name = l[0].Name
		return true, nil
	})
	return name
}

// waitPlaced waits until the run's placeholder pod is bound, its
// reservation handed over, and its first TaskRun pod bound; returns the node.
func waitPlaced(t *testing.T, ns, run string, timeout time.Duration) string {
	t.Helper()
	var node string
	waitFor(t, fmt.Sprintf("PipelineRun %s/%s to have a bound TaskRun pod", ns, run), timeout, func(ctx context.Context) (bool, error) {
		pods, err := taskRunPods(ctx, ns, run)
		if err != nil {
			return false, err
		}
		for _, p := range pods {
			if p.Spec.NodeName != "" {
				node = p.Spec.NodeName
				return true, nil
			}
		}
		return false, nil
	})
	return node
}

func assertNoPlaceholder(t *testing.T, ns, run string) {
	t.Helper()
	sts, err := placeholderStatefulSets(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing placeholders: %v", err)
	}
	pods, err := placeholderPods(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing placeholder pods: %v", err)
	}
	if len(sts) > 0 || len(pods) > 0 {
		t.Errorf("PipelineRun %s/%s: expected no placeholder, found %d StatefulSets %v and %d pods", ns, run, len(sts), stsNames(sts), len(pods))
	}
}

// waitNoPlaceholder waits until the run's placeholder StatefulSet and pods are gone.
func waitNoPlaceholder(t *testing.T, ns, run string, timeout time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the placeholder of %s/%s to be deleted", ns, run), timeout, func(ctx context.Context) (bool, error) {
		sts, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil {
			return false, err
		}
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return false, err
		}
		return len(sts) == 0 && len(pods) == 0, nil
	})
}

func stsNames(l []appsv1.StatefulSet) []string {
	var out []string
	for _, s := range l {
		out = append(out, s.Name)
	}
	return out
}

// ------------------------------------------------------------------ pods ----

// taskRunPods lists the TaskRun pods of a PipelineRun (not of its children).
func taskRunPods(ctx context.Context, ns, run string) ([]corev1.Pod, error) {
	l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run + "," + labelTaskRun})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func taskRuns(ctx context.Context, ns, run string) ([]v1.TaskRun, error) {
	l, err := cluster.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{LabelSelector: labelPipelineRun + "=" + run})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

func mustTaskRunPods(t *testing.T, ns, run string) []corev1.Pod {
	t.Helper()
	pods, err := taskRunPods(bg(), ns, run)
	if err != nil {
		t.Fatalf("listing TaskRun pods of %s/%s: %v", ns, run, err)
	}
	return pods
}

func podNodes(pods []corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, p := range pods {
		out[p.Name] = p.Spec.NodeName
	}
	return out
}

// podScheduledFalse returns the message of a PodScheduled=False condition.
func podScheduledFalse(p *corev1.Pod) (string, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Reason + ": " + c.Message, true
		}
	}
	return "", false
}

// events returns the events of an object (by kind and name) in ns.
func events(ctx context.Context, ns, kind, name string) ([]corev1.Event, error) {
	l, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return eventTime(&l.Items[i]).Before(eventTime(&l.Items[j])) })
	return l.Items, nil
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// waitEvent waits for an event with reason on the object and returns it.
func waitEvent(t *testing.T, ns, kind, name, reason string, timeout time.Duration) corev1.Event {
	t.Helper()
	var found corev1.Event
	waitFor(t, fmt.Sprintf("event %s on %s %s/%s", reason, kind, ns, name), timeout, func(ctx context.Context) (bool, error) {
		evs, err := events(ctx, ns, kind, name)
		if err != nil {
			return false, err
		}
		for _, e := range evs {
			if e.Reason == reason {
				found = e
				return true, nil
			}
		}
		return false, nil
	})
	return found
}

func hasEvent(ns, kind, name, reason string) bool {
	evs, err := events(bg(), ns, kind, name)
	if err != nil {
		return false
	}
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// placedNode returns the node named by the run's last Placed event.
func placedNode(ns, run string) string {
	evs, _ := events(bg(), ns, "PipelineRun", run)
	node := ""
	for _, e := range evs {
		if e.Reason != eventPlaced {
			continue
		}
		// "All pods of this PipelineRun run on node X (placeholder ...)"
		if _, rest, ok := strings.Cut(e.Message, " on node "); ok {
			node, _, _ = strings.Cut(rest, " ")
		}
	}
	return node
}

// ----------------------------------------------------------------- nodes ----

func setUnschedulable(ctx context.Context, kube kubernetes.Interface, node string, unschedulable bool) error {
	label := `"` + cordonedByLabel + `":"true"`
	if !unschedulable {
		label = `"` + cordonedByLabel + `":null`
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%s}},"spec":{"unschedulable":%t}}`, label, unschedulable)
	_, err := kube.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// cordon cordons node and registers its uncordon.
func cordon(t *testing.T, node string) {
	t.Helper()
	t.Cleanup(func() {
		if err := setUnschedulable(bg(), cluster.kube, node, false); err != nil {
			t.Errorf("uncordoning %s: %v", node, err)
		}
	})
	if err := setUnschedulable(bg(), cluster.kube, node, true); err != nil {
		t.Fatalf("cordoning %s: %v", node, err)
	}
	t.Logf("cordoned %s", node)
}

// ------------------------------------------------------------- recorder ----

// podRecord is everything a podRecorder saw of one pod.
type podRecord struct {
	Namespace, Name string
	UID             types.UID
	Labels          map[string]string
	Node            string
	FirstSeen       time.Time
	BoundAt         time.Time
	Unschedulable   []string // PodScheduled=False messages seen
	Phases          []corev1.PodPhase
	Deleted         bool
}

// podRecorder watches the pods of some namespaces for the duration of a
// test and remembers every pod it saw, and checks an invariant on each change.
type podRecorder struct {
	mu         sync.Mutex
	namespaces map[string]bool
	pods       map[types.UID]*podRecord
	order      []types.UID
	violations []string
	invariant  func(live []*corev1.Pod) string
	store      cache.Store
	stop       chan struct{}
}

// watchPods starts a podRecorder on namespaces; it stops at test cleanup.
// invariant, when not nil, is checked against the live pods of those
// namespaces after every change; what it returns is recorded as a violation.
func watchPods(t *testing.T, invariant func(live []*corev1.Pod) string, namespaces ...string) *podRecorder {
	t.Helper()
	r := &podRecorder{namespaces: map[string]bool{}, pods: map[types.UID]*podRecord{}, invariant: invariant, stop: make(chan struct{})}
	for _, ns := range namespaces {
		r.namespaces[ns] = true
	}
	factory := informers.NewSharedInformerFactory(cluster.kube, 0)
	inf := factory.Core().V1().Pods().Informer()
	r.store = inf.GetStore()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { r.observe(obj, false) },
		UpdateFunc: func(_, obj interface{}) { r.observe(obj, false) },
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			r.observe(obj, true)
		},
	})
	if err != nil {
		t.Fatalf("pod informer: %v", err)
	}
	factory.Start(r.stop)
	t.Cleanup(func() { close(r.stop) })
	for _, ok := range factory.WaitForCacheSync(r.stop) {
		if !ok {
			t.Fatalf("pod informer did not sync")
		}
	}
	return r
}

func (r *podRecorder) observe(obj interface{}, deleted bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok || !r.namespaces[p.Namespace] {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.pods[p.UID]
	if rec == nil {
		rec = &podRecord{Namespace: p.Namespace, Name: p.Name, UID: p.UID, FirstSeen: time.Now()}
		r.pods[p.UID] = rec
		r.order = append(r.order, p.UID)
	}
	rec.Labels = p.Labels
	if p.Spec.NodeName != "" && rec.Node == "" {
		rec.Node = p.Spec.NodeName
		rec.BoundAt = time.Now()
	}
	if msg, ok := podScheduledFalse(p); ok {
		if len(rec.Unschedulable) == 0 || rec.Unschedulable[len(rec.Unschedulable)-1] != msg {
			rec.Unschedulable = append(rec.Unschedulable, msg)
		}
	}
	if len(rec.Phases) == 0 || rec.Phases[len(rec.Phases)-1] != p.Status.Phase {
		rec.Phases = append(rec.Phases, p.Status.Phase)
	}
	if deleted {
		rec.Deleted = true
	}
	if r.invariant != nil {
		var live []*corev1.Pod
		for _, o := range r.store.List() {
			lp := o.(*corev1.Pod)
			if r.namespaces[lp.Namespace] && lp.DeletionTimestamp == nil && !(deleted && lp.UID == p.UID) {
				live = append(live, lp)
			}
		}
		if v := r.invariant(live); v != "" {
			if len(r.violations) == 0 || r.violations[len(r.violations)-1] != v {
				r.violations = append(r.violations, v)
			}
		}
	}
}

// all returns a copy of the records in order of first observation.
func (r *podRecorder) all() []podRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []podRecord
	for _, uid := range r.order {
		rec := *r.pods[uid]
		rec.Unschedulable = append([]string(nil), rec.Unschedulable...)
		out = append(out, rec)
	}
	return out
}

// matching returns the records whose labels contain every key=value of sel
// (a value "*" only requires the key).
func (r *podRecorder) matching(sel map[string]string) []podRecord {
	var out []podRecord
	for _, rec := range r.all() {
		ok := true
		for k, v := range sel {
			got, has := rec.Labels[k]
			if !has || (v != "*" && got != v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out
}

func (r *podRecorder) getViolations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// nodesOf returns the distinct nodes of recs, in order.
func nodesOf(recs []podRecord) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Node != "" && !seen[r.Node] {
			seen[r.Node] = true
			out = append(out, r.Node)
		}
	}
	return out
}

// ------------------------------------------------------------ isolation ----

// runKey identifies the run a placeholder or assistant pod belongs to.
func holderKey(p *corev1.Pod) string {
	switch p.Labels[labelComponent] {
	case componentHolder, componentAssistant:
		return p.Namespace + "/" + p.Labels[labelInstance]
	}
	return ""
}

// sharedHolderNodes is an invariant: no node holds the placeholders (or
// upstream Affinity Assistants) of two different runs at the same time.
func sharedHolderNodes(live []*corev1.Pod) string {
	byNode := map[string]map[string]bool{}
	for _, p := range live {
		key := holderKey(p)
		if key == "" || p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if byNode[p.Spec.NodeName] == nil {
			byNode[p.Spec.NodeName] = map[string]bool{}
		}
		byNode[p.Spec.NodeName][key] = true
	}
	var bad []string
	for node, keys := range byNode {
		if len(keys) > 1 {
			var ks []string
			for k := range keys {
				ks = append(ks, k)
			}
			sort.Strings(ks)
			bad = append(bad, fmt.Sprintf("node %s holds %s", node, strings.Join(ks, " and ")))
		}
	}
	sort.Strings(bad)
	return strings.Join(bad, "; ")
}

// ------------------------------------------------------------ diagnostics ----

// dumpDiagnostics logs a "kubectl get pods -o wide"-style table of the test's
// namespaces (and of every placeholder and assistant pod), the conditions of
// their PipelineRuns and TaskRuns, their events, and the nodes.
func dumpDiagnostics(t *testing.T, namespaces ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "\n==== diagnostics for %v at %s ====\n", namespaces, time.Now().UTC().Format(time.RFC3339))

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tSTATUS\tNODE\tPLACEHOLDER")
	seen := map[types.UID]bool{}
	addPods := func(pods []corev1.Pod) {
		for _, p := range pods {
			if seen[p.UID] {
				continue
			}
			seen[p.UID] = true
			node := p.Spec.NodeName
			if node == "" {
				node = "<none>"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Namespace, p.Name, podStatus(&p), node, p.Labels[labelMember])
		}
	}
	for _, ns := range namespaces {
		if l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
			addPods(l.Items)
		}
	}
	for _, sel := range []string{placeholderSelector, labelComponent + "=" + componentAssistant} {
		if l, err := cluster.kube.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: sel}); err == nil {
			addPods(l.Items)
		}
	}
	tw.Flush()

	for _, ns := range namespaces {
		if prs, err := cluster.tekton.TektonV1().PipelineRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, pr := range prs.Items {
				fmt.Fprintf(&b, "PipelineRun %s/%s: %s\n", ns, pr.Name, describeCondition(&pr))
				if evs, err := events(ctx, ns, "PipelineRun", pr.Name); err == nil {
					for _, e := range evs {
						fmt.Fprintf(&b, "    event %s %s %s: %s\n", eventTime(&e).UTC().Format("15:04:05"), e.Type, e.Reason, e.Message)
					}
				}
			}
		}
		if trs, err := cluster.tekton.TektonV1().TaskRuns(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, tr := range trs.Items {
				c := tr.Status.GetCondition(apis.ConditionSucceeded)
				cs := "<none>"
				if c != nil {
					cs = fmt.Sprintf("%s/%s: %s", c.Status, c.Reason, c.Message)
				}
				fmt.Fprintf(&b, "TaskRun %s/%s [%s=%s]: %s\n", ns, tr.Name, labelMember, tr.Labels[labelMember], cs)
			}
		}
		if sts, err := cluster.kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{}); err == nil {
			for _, s := range sts.Items {
				fmt.Fprintf(&b, "StatefulSet %s/%s component=%s run=%s\n", ns, s.Name, s.Labels[labelComponent], s.Labels[labelPipelineRun])
			}
		}
		if evs, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Pod"}); err == nil {
			for _, e := range evs.Items {
				if e.Reason == "FailedScheduling" || strings.HasPrefix(e.InvolvedObject.Name, "placeholder-") {
					fmt.Fprintf(&b, "pod event %s %s %s: %s\n", e.InvolvedObject.Name, e.Type, e.Reason, e.Message)
				}
			}
		}
	}
	if nodes, err := cluster.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			fmt.Fprintf(&b, "node %s ready=%t unschedulable=%t taints=%d\n", n.Name, nodeReady(&n), n.Spec.Unschedulable, len(n.Spec.Taints))
		}
	}
	logFile := cluster.logDir() + "/tekton-controller.log"
	fmt.Fprintf(&b, "controller log: %s; its last lines about %v:\n", logFile, namespaces)
	if data, err := os.ReadFile(logFile); err == nil {
		var lines []string
		for _, line := range strings.Split(string(data), "\n") {
			for _, ns := range namespaces {
				if strings.Contains(line, ns) {
					lines = append(lines, line)
					break
				}
			}
		}
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		for _, line := range lines {
			if len(line) > 400 {
				line = line[:400] + "..."
			}
			fmt.Fprintf(&b, "    %s\n", line)
		}
	}
	t.Log(b.String())
}

// podStatus is roughly kubectl's STATUS column.
func podStatus(p *corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return "Terminating"
	}
	if msg, ok := podScheduledFalse(p); ok {
		reason, _, _ := strings.Cut(msg, ":")
		return string(p.Status.Phase) + "(" + reason + ")"
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil && p.Status.Phase == corev1.PodRunning {
			return "Terminating:" + cs.State.Terminated.Reason
		}
	}
	return string(p.Status.Phase)
}

// -------------------------------------------------------------- upstream ----

// compareUpstream is true when the side-by-side tests also run against the
// unpatched controller.
func compareUpstream() bool { return os.Getenv("E2E_COMPARE_UPSTREAM") == "1" }

// switchController switches the Tekton controller to flavor, unless it
// runs already (see restartController).
func switchController(t testing.TB, flavor string) {
	t.Helper()
	if cluster.controllerFlavor() == flavor {
		return
	}
	start := time.Now()
	restartController(t, flavor)
	t.Logf("switched the Tekton controller to %s in %s", flavor, time.Since(start).Round(100*time.Millisecond))
}

// restartController runs hack/tekton-controller.sh FLAVOR, which stops the
// running controller, whatever its flavor, and starts a fresh one, and waits
// until the new controller serves metrics.
func restartController(t testing.TB, flavor string) {
	t.Helper()
	cmd := exec.Command("bash", "hack/tekton-controller.sh", flavor)
	cmd.Dir = cluster.repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/tekton-controller.sh %s: %v\n%s", flavor, err, out)
	}
	if err := poll(60*time.Second, func(ctx context.Context) (bool, error) {
		_, err := cluster.scrapeMetrics(ctx)
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the %s controller does not serve metrics at %s", flavor, cluster.metricsURL)
	}
}

// scenario runs a side-by-side proof: against the patched controller its
// checks are assertions; against upstream they are observations logged
// with t.Log ("UPSTREAM: ...") and never fail the test.
type scenario struct {
	t        *testing.T
	upstream bool
	// recordOnly makes the checks of a patched variant observations, as on
	// upstream (a setting shown for comparison, not a contract).
	recordOnly bool
	defects    []string
}

// compare runs fn against the patched controller, then (E2E_COMPARE_UPSTREAM=1)
// against upstream, and switches back.
func compare(t *testing.T, fn func(s *scenario)) {
	t.Run("patched", func(t *testing.T) {
		switchController(t, "patched")
		fn(&scenario{t: t})
	})
	if !compareUpstream() {
		return
	}
	t.Run("upstream", func(t *testing.T) {
		switchController(t, "upstream")
		t.Cleanup(func() { switchController(t, "patched") })
		s := &scenario{t: t, upstream: true}
		fn(s)
		if len(s.defects) == 0 {
			t.Logf("UPSTREAM SUMMARY: the defect was NOT observed")
		} else {
			t.Logf("UPSTREAM SUMMARY: defect observed: %s", strings.Join(s.defects, "; "))
		}
	})
}

// check asserts cond on patched; on upstream it records the failing
// expectation as an observed defect.
func (s *scenario) check(cond bool, format string, args ...interface{}) bool {
	s.t.Helper()
	if cond {
		return true
	}
	msg := fmt.Sprintf(format, args...)
	if s.upstream || s.recordOnly {
		s.defects = append(s.defects, msg)
		prefix := "UPSTREAM"
		if !s.upstream {
			prefix = "OBSERVED"
		}
		s.t.Logf("%s: %s", prefix, msg)
		return false
	}
	s.t.Error(msg)
	return false
}

// require is check that stops the patched test on failure; on upstream it
// records the defect and returns false so the caller can stop observing.
func (s *scenario) require(cond bool, format string, args ...interface{}) bool {
	s.t.Helper()
	if s.check(cond, format, args...) {
		return true
	}
	if !s.upstream && !s.recordOnly {
		s.t.FailNow()
	}
	return false
}

// flags returns the feature flags of a scenario: patched flags, which the
// upstream controller ignores except for coschedule.
func scenarioFlags(overrides map[string]string) map[string]string { return patchedFlags(overrides) }

// prettyJSON is for logs.
func prettyJSON(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// findEvents returns the run's events with reason whose message contains substr.
func findEvents(ns, run, reason, substr string) []corev1.Event {
	return objectEvents(ns, "PipelineRun", run, reason, substr)
}

// objectEvents returns the events of reason whose message contains substr
// on the object kind ns/name.
func objectEvents(ns, kind, name, reason, substr string) []corev1.Event {
	evs, _ := events(bg(), ns, kind, name)
	var out []corev1.Event
	for _, e := range evs {
		if e.Reason == reason && strings.Contains(e.Message, substr) {
			out = append(out, e)
		}
	}
	return out
}

func eventMessages(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s (count %d): %s", eventTime(&e).UTC().Format("15:04:05"), e.Reason, e.Count, e.Message))
	}
	return out
}
