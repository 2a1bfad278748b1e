//go:build e2e && realnode

package e2e

// The real-node subset: runs on the real nodes (containerd and a kubelet
// each) of
//   hack/cluster.sh up --real-nodes 2      (make e2e-real)
// what the kwok stages otherwise play: TaskRun pods that really run their
// steps, the placeholder's in-place resizes applied by a kubelet, and Pod
// Security admission of the placeholder. Built only with the tags
// "e2e realnode"; the kwok suite never lands pods on that node (it is
// tainted).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// What hack/cluster.sh up --real-nodes N makes (hack/real-node.sh,
// hack/lib.sh).
const (
	realNodeLabel = "type"
	realNodeValue = "real"
	realNodeTaint = "pra.dev/real-node"
	realBusybox   = "pra.local/busybox:1.35"
)

// realNodeCgroup is the kubelet's cgroupRoot of a real node, in every v1
// hierarchy.
func realNodeCgroup(node string) string { return "pra-" + node }

// realNodes returns the Ready real nodes, sorted, or fails the test.
func realNodes(t *testing.T) []string {
	t.Helper()
	l, err := cluster.kube.CoreV1().Nodes().List(bg(), metav1.ListOptions{LabelSelector: realNodeLabel + "=" + realNodeValue})
	if err != nil {
		t.Fatalf("listing the real nodes: %v", err)
	}
	var out []string
	for _, n := range l.Items {
		if nodeReady(&n) {
			out = append(out, n.Name)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no Ready node labelled %s=%s: start the cluster with hack/cluster.sh up --real-nodes 2", realNodeLabel, realNodeValue)
	}
	sort.Strings(out)
	return out
}

// realNode returns a Ready real node (the first by name), or fails the
// test. A run sent to the real nodes may take any of them.
func realNode(t *testing.T) string {
	t.Helper()
	return realNodes(t)[0]
}

// checkOnRealNode fails the test unless node is one of the real nodes.
func checkOnRealNode(t *testing.T, what, node string, real []string) {
	t.Helper()
	for _, n := range real {
		if n == node {
			return
		}
	}
	t.Errorf("%s is on %q, not on a real node %v", what, node, real)
}

// realPodTemplate puts a run's pods, the placeholder's included, on the
// real node.
func realPodTemplate() *pod.PodTemplate {
	return &pod.PodTemplate{
		NodeSelector: map[string]string{realNodeLabel: realNodeValue},
		Tolerations:  []corev1.Toleration{{Key: realNodeTaint, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
	}
}

// readExample decodes examples/NAME into obj.
func readExample(t *testing.T, name string, obj interface{}) {
	t.Helper()
	f, err := os.Open(filepath.Join(cluster.repoRoot, "examples", name))
	if err != nil {
		t.Fatalf("opening the example: %v", err)
	}
	defer f.Close()
	if err := yaml.NewYAMLOrJSONDecoder(f, 4096).Decode(obj); err != nil {
		t.Fatalf("decoding examples/%s: %v", name, err)
	}
}

// event is one watch event of the test's namespace, in the order the API
// server sent it (one watch per kind; resourceVersions order them across
// kinds: one etcd).
type event struct {
	rv   int64
	kind string // "Pod" or "TaskRun"
	typ  watch.EventType
	pod  *corev1.Pod
	tr   *v1.TaskRun
	// cgroup is what the placeholder container's cgroup held when the event
	// arrived (placeholder events only; "" when unread).
	cgroup string
}

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// sorted returns the events ordered by resourceVersion.
func (r *recorder) sorted() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]event(nil), r.events...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].rv < out[j].rv })
	return out
}

// record watches the namespace's pods and TaskRuns until the test ends.
func record(t *testing.T, ns string) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(bg())
	r := &recorder{}
	// The suite's clients time requests out after 20 s; a watch must last
	// the whole test.
	cfg := rest.CopyConfig(cluster.cfg)
	cfg.Timeout = 0
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	tk, err := tektonclient.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	pw, err := kube.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watching pods: %v", err)
	}
	tw, err := tk.TektonV1().TaskRuns(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watching TaskRuns: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer func() {
			if ctx.Err() == nil {
				r.add(event{kind: "closed"})
			}
		}()
		for ev := range pw.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			rv, _ := strconv.ParseInt(p.ResourceVersion, 10, 64)
			e := event{rv: rv, kind: "Pod", typ: ev.Type, pod: p}
			if p.Labels[labelComponent] == componentHolder {
				e.cgroup = placeholderCgroup(p)
			}
			r.add(e)
		}
	}()
	go func() {
		defer wg.Done()
		defer func() {
			if ctx.Err() == nil {
				r.add(event{kind: "closed"})
			}
		}()
		for ev := range tw.ResultChan() {
			tr, ok := ev.Object.(*v1.TaskRun)
			if !ok {
				continue
			}
			rv, _ := strconv.ParseInt(tr.ResourceVersion, 10, 64)
			r.add(event{rv: rv, kind: "TaskRun", typ: ev.Type, tr: tr})
		}
	}()
	t.Cleanup(func() {
		cancel()
		pw.Stop()
		tw.Stop()
		wg.Wait()
	})
	return r
}

// placeholderCgroup reads the CPU quota and memory limit of the placeholder
// container's cgroup on this machine (the real node is this machine), as
// "cpu.cfs_quota_us=Q memory.limit_in_bytes=M", or "".
func placeholderCgroup(p *corev1.Pod) string {
	var id string
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "placeholder" {
			id = strings.TrimPrefix(cs.ContainerID, "containerd://")
		}
	}
	if id == "" {
		return ""
	}
	// requests == limits: QoS Guaranteed, directly below kubepods.
	rel := filepath.Join(realNodeCgroup(p.Spec.NodeName), "kubepods", "pod"+string(p.UID), id)
	q, err1 := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", rel, "cpu.cfs_quota_us"))
	m, err2 := os.ReadFile(filepath.Join("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes"))
	if err1 != nil || err2 != nil {
		return ""
	}
	return fmt.Sprintf("cpu.cfs_quota_us=%s memory.limit_in_bytes=%s", strings.TrimSpace(string(q)), strings.TrimSpace(string(m)))
}

// wantCgroup is what placeholderCgroup reads for a container whose limits
// are r (CPU period 100 ms).
func wantCgroup(r corev1.ResourceList) string {
	cpu, mem := r[corev1.ResourceCPU], r[corev1.ResourceMemory]
	return fmt.Sprintf("cpu.cfs_quota_us=%d memory.limit_in_bytes=%d", cpu.MilliValue()*100, mem.Value())
}

func containerResources(p *corev1.Pod) (spec corev1.ResourceList, reported *corev1.ResourceRequirements) {
	for _, c := range p.Spec.Containers {
		if c.Name == "placeholder" {
			spec = c.Resources.Requests
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == "placeholder" {
			reported = cs.Resources
		}
	}
	return spec, reported
}

func resizeConditions(p *corev1.Pod) string {
	var out []string
	for _, c := range p.Status.Conditions {
		if strings.HasPrefix(string(c.Type), "PodResize") {
			out = append(out, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
		}
	}
	return strings.Join(out, ",")
}

func listString(l corev1.ResourceList) string {
	if l == nil {
		return "-"
	}
	cpu, mem := l[corev1.ResourceCPU], l[corev1.ResourceMemory]
	return fmt.Sprintf("cpu=%s,memory=%s", cpu.String(), mem.String())
}

// exceedsList reports whether a asks more than b of some resource.
func exceedsList(a, b corev1.ResourceList) bool {
	for name, q := range a {
		if q.Cmp(b[name]) > 0 {
			return true
		}
	}
	return false
}

// checkPlaceholderResizes checks and logs what the kubelet did with the
// placeholder's in-place resizes: every spec change of its container is
// eventually reported in the container status (the kubelet applied it), the
// cgroup holds what the status reports, and no TaskRun was created before
// the placeholder's container reported its resources (the engine resizes a
// started container only, and the first tasks wait for that). A TaskRun
// created while the node still gave the placeholder more than its spec
// (a shrink in flight: the tasks start with it) is logged.
func checkPlaceholderResizes(t *testing.T, evs []event, wantGrow bool) {
	t.Helper()
	var (
		last                    *corev1.Pod
		shrinks, grows, applied int
		prevSpec                corev1.ResourceList
	)
	for _, e := range evs {
		switch e.kind {
		case "closed":
			t.Errorf("a watch of the test's namespace ended before the test: events are missing")
		case "Pod":
			p := e.pod
			if p.Labels[labelComponent] != componentHolder {
				continue
			}
			spec, rep := containerResources(p)
			repReq := corev1.ResourceList(nil)
			if rep != nil {
				repReq = rep.Requests
			}
			t.Logf("rv %d placeholder %s %s: spec %s, status.resources %s, conditions [%s], generation %d observed %d, cgroup %q",
				e.rv, p.Name, e.typ, listString(spec), listString(repReq), resizeConditions(p), p.Generation, p.Status.ObservedGeneration, e.cgroup)
			if prevSpec != nil && spec != nil {
				switch {
				case exceedsList(prevSpec, spec):
					shrinks++
				case exceedsList(spec, prevSpec):
					grows++
				}
			}
			if spec != nil {
				prevSpec = spec
			}
			// While a resize is asked and the kubelet has not taken it yet
			// (generation above the observed one), or actuates it
			// (PodResizeInProgress), the cgroup may already hold part of it:
			// the test reads the cgroup after the event, not with it. Compare
			// only when the resize is done.
			settled := p.Status.ObservedGeneration >= p.Generation && !strings.Contains(resizeConditions(p), "PodResizeInProgress=True")
			if rep != nil && rep.Limits != nil && e.cgroup != "" && settled {
				if want := wantCgroup(rep.Limits); e.cgroup != want {
					t.Errorf("rv %d: the placeholder's cgroup holds %q, its status reports limits %s (%q)", e.rv, e.cgroup, listString(rep.Limits), want)
				} else if prevSpec != nil && repReq != nil && !exceedsList(repReq, spec) && !exceedsList(spec, repReq) {
					applied++
				}
			}
			last = p
		case "TaskRun":
			if e.typ != watch.Added {
				continue
			}
			if last == nil {
				t.Errorf("TaskRun %s created (rv %d) before any placeholder pod was seen", e.tr.Name, e.rv)
				continue
			}
			spec, rep := containerResources(last)
			if rep == nil {
				// The engine takes "no resources reported" for a node without
				// in-place resize; a real kubelet reports none until the
				// container runs, while it has allocated the larger size.
				t.Errorf("TaskRun %s created (rv %d) while the placeholder's container status reported no resources yet (spec %s): not the new size reported by the node",
					e.tr.Name, e.rv, listString(spec))
			} else if exceedsList(rep.Requests, spec) {
				t.Logf("rv %d TaskRun %s created with the shrink in flight: the node still gave the placeholder %s for a spec of %s",
					e.rv, e.tr.Name, listString(rep.Requests), listString(spec))
			} else {
				t.Logf("rv %d TaskRun %s created; the placeholder's status then reported %s for a spec of %s", e.rv, e.tr.Name, listString(rep.Requests), listString(spec))
			}
		}
	}
	t.Logf("placeholder: %d shrinks, %d grows in its spec; %d statuses whose cgroup matched the reported (= spec) resources", shrinks, grows, applied)
	if shrinks == 0 {
		t.Errorf("the placeholder was never shrunk in place (no hand-over observed)")
	}
	if wantGrow && grows == 0 {
		t.Errorf("the placeholder never grew back in place")
	}
	if applied == 0 {
		t.Errorf("no placeholder status reported the spec's resources with a cgroup to match: the kubelet never applied a resize")
	}
}

// TestRealNodeFourTaskPipeline runs examples/four-task-pipeline.yaml for
// real on the real node: busybox steps, a workspace on a local volume the
// kubelet mounts, a result read back from the TaskRun.
func TestRealNodeFourTaskPipeline(t *testing.T) {
	real := realNodes(t)
	ns := newNamespace(t, "real")
	setFeatureFlags(t, patchedFlags(nil))

	var pl v1.Pipeline
	readExample(t, "four-task-pipeline.yaml", &pl)
	var pr v1.PipelineRun
	readExample(t, "four-task-pipelinerun.yaml", &pr)
	for i := range pl.Spec.Tasks {
		task := &pl.Spec.Tasks[i]
		for j := range task.TaskSpec.Steps {
			if task.TaskSpec.Steps[j].Image == "busybox" {
				task.TaskSpec.Steps[j].Image = realBusybox
			}
		}
		// A real result: what clone wrote into the workspace.
		if task.Name == "clone" {
			task.TaskSpec.Results = []v1.TaskResult{{Name: "revision"}}
			task.TaskSpec.Steps[0].Script += "tr -d '\\n' < $(workspaces.source.path)/revision > $(results.revision.path)\n"
		}
	}
	pl.Namespace = ns
	if _, err := cluster.tekton.TektonV1().Pipelines(ns).Create(bg(), &pl, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Pipeline: %v", err)
	}
	rec := record(t, ns)
	pr.Namespace = ns
	pr.GenerateName = ""
	pr.Name = "four-task"
	delete(pr.Annotations, annotationDuration)
	pr.Spec.TaskRunTemplate.PodTemplate = realPodTemplate()
	createRun(t, &pr)
	done := waitRunSucceeded(t, ns, pr.Name, 5*time.Minute)
	t.Logf("PipelineRun %s: %s", pr.Name, describeCondition(done))

	// The TaskRun is done when its steps have ended; the kubelet reports
	// the pod Succeeded a moment later.
	var pods []corev1.Pod
	waitFor(t, "the four TaskRun pods to be Succeeded", time.Minute, func(ctx context.Context) error {
		var err error
		if pods, err = taskRunPods(ctx, ns, pr.Name); err != nil {
			return err
		}
		var phases []string
		succeededPods := 0
		for _, p := range pods {
			phases = append(phases, p.Name+" "+podStatus(&p))
			if p.Status.Phase == corev1.PodSucceeded {
				succeededPods++
			}
		}
		if succeededPods != len(pods) || len(pods) != 4 {
			return fmt.Errorf("TaskRun pods %v", phases)
		}
		return nil
	})
	for _, p := range pods {
		checkOnRealNode(t, "TaskRun pod "+p.Name, p.Spec.NodeName, real)
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("TaskRun pod %s: phase %s (%s: %s), want Succeeded", p.Name, p.Status.Phase, p.Status.Reason, p.Status.Message)
		}
	}
	trs, err := taskRuns(bg(), ns, pr.Name)
	if err != nil {
		t.Fatalf("listing TaskRuns: %v", err)
	}
	found := false
	for _, tr := range trs {
		if tr.Labels[labelPipelineTask] != "clone" {
			continue
		}
		for _, r := range tr.Status.Results {
			if r.Name == "revision" {
				found = true
				if got, want := r.Value.StringVal, "cloning revision v1.0.0"; got != want {
					t.Errorf("clone's result revision = %q, want %q", got, want)
				}
			}
		}
	}
	if !found {
		t.Errorf("clone's TaskRun has no result revision")
	}

	evs := rec.sorted()
	var holderNodes []string
	for _, e := range evs {
		if e.kind == "Pod" && e.pod.Labels[labelComponent] == componentHolder && e.pod.Spec.NodeName != "" {
			holderNodes = append(holderNodes, e.pod.Spec.NodeName)
		}
		// The kubelet refuses (OutOfcpu, OutOfmemory...) a pod it has no room
		// for: the hand-over must never let that happen.
		if e.kind == "Pod" && e.pod.Status.Phase == corev1.PodFailed {
			t.Errorf("pod %s failed: %s: %s", e.pod.Name, e.pod.Status.Reason, e.pod.Status.Message)
		}
	}
	if len(holderNodes) == 0 {
		t.Fatalf("the placeholder was never bound")
	}
	node := holderNodes[0]
	checkOnRealNode(t, "the placeholder", node, real)
	for _, n := range holderNodes {
		if n != node {
			t.Errorf("the placeholder was bound to %s, then to %s", node, n)
			break
		}
	}
	for _, p := range pods {
		if p.Spec.NodeName != node {
			t.Errorf("TaskRun pod %s ran on %q, the placeholder on %s", p.Name, p.Spec.NodeName, node)
		}
	}
	checkPlaceholderResizes(t, evs, false)
}

// TestRealNodeReservationGrowsBack: a and b (100m each) run at once, then c
// needs 400m. The placeholder reserves 400m, shrinks to 200m while a and b
// run, grows back to 300m when a is done, and hands everything to c when b
// is done: the kubelet applies the grow as it applies the shrinks, and c's
// TaskRun waits for the last shrink.
func TestRealNodeReservationGrowsBack(t *testing.T) {
	real := realNodes(t)
	ns := newNamespace(t, "real-grow")
	setFeatureFlags(t, patchedFlags(nil))
	task := func(name, cpu, script string, after ...string) v1.PipelineTask {
		return v1.PipelineTask{Name: name, RunAfter: after, TaskSpec: &v1.EmbeddedTask{TaskSpec: v1.TaskSpec{Steps: []v1.Step{{
			Name: name, Image: realBusybox, Script: script,
			ComputeResources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("32Mi"),
			}},
		}}}}}
	}
	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		task("a", "100m", "#!/bin/sh\nsleep 1\n"),
		task("b", "100m", "#!/bin/sh\nsleep 12\n"),
		task("c", "400m", "#!/bin/sh\necho c\n", "a", "b"),
	}}
	rec := record(t, ns)
	run := newRun(ns, "grow", spec, runOpts{podTemplate: realPodTemplate()})
	createRun(t, run)
	done := waitRunSucceeded(t, ns, run.Name, 4*time.Minute)
	t.Logf("PipelineRun %s: %s", run.Name, describeCondition(done))
	evs := rec.sorted()
	node := ""
	for _, e := range evs {
		if e.kind == "Pod" && e.pod.Spec.NodeName != "" && node == "" {
			node = e.pod.Spec.NodeName
			checkOnRealNode(t, "pod "+e.pod.Name, node, real)
		}
		if e.kind == "Pod" && e.pod.Spec.NodeName != "" && e.pod.Spec.NodeName != node {
			t.Errorf("pod %s bound to %s, the run's first pod to %s", e.pod.Name, e.pod.Spec.NodeName, node)
		}
		if e.kind == "Pod" && e.pod.Status.Phase == corev1.PodFailed {
			t.Errorf("pod %s failed: %s: %s", e.pod.Name, e.pod.Status.Reason, e.pod.Status.Message)
		}
	}
	checkPlaceholderResizes(t, evs, true)
}

// TestRealNodePlaceholderRestricted: the placeholder passes Pod Security
// "restricted" admission and runs (as its non-root user, with a read-only
// root filesystem and the runtime's default seccomp profile) on the real
// node, in a namespace that enforces it; so does the run, whose own pods are
// made restricted by the run's templates and Tekton's set-security-context.
func TestRealNodePlaceholderRestricted(t *testing.T) {
	real := realNodes(t)
	ns := newNamespace(t, "real-restricted")
	nsObj, err := cluster.kube.CoreV1().Namespaces().Get(bg(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading namespace: %v", err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	nsObj.Labels["pod-security.kubernetes.io/enforce-version"] = "latest"
	if _, err := cluster.kube.CoreV1().Namespaces().Update(bg(), nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("enforcing restricted on %s: %v", ns, err)
	}
	setFeatureFlags(t, patchedFlags(map[string]string{"set-security-context": "true"}))
	rec := record(t, ns)

	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{{
		Name: "work",
		TaskSpec: &v1.EmbeddedTask{TaskSpec: v1.TaskSpec{
			StepTemplate: &v1.StepTemplate{SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				RunAsNonRoot:             ptr.To(true),
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			}},
			Steps: []v1.Step{{
				Name: "work", Image: realBusybox, Script: "#!/bin/sh\nid -u\n",
				ComputeResources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("32Mi"),
				}},
			}},
		}},
	}}}
	tpl := realPodTemplate()
	tpl.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65532),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	run := newRun(ns, "restricted", spec, runOpts{podTemplate: tpl})
	createRun(t, run)
	done, doneErr := waitRunDone(ns, run.Name, 3*time.Minute)
	if done != nil {
		t.Logf("PipelineRun %s: %s", run.Name, describeCondition(done))
	}

	var ready *corev1.Pod
	for _, e := range rec.sorted() {
		if e.kind == "Pod" && e.pod.Labels[labelComponent] == componentHolder {
			for _, c := range e.pod.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready = e.pod
				}
			}
		}
	}
	if ready == nil {
		var msgs []string
		if sts, err := placeholderStatefulSets(bg(), ns, run.Name); err == nil && len(sts) > 0 {
			evs, _ := events(bg(), ns, "StatefulSet", sts[0].Name)
			msgs = eventMessages(evs)
		}
		t.Fatalf("the placeholder never became Ready in a namespace enforcing restricted; its StatefulSet's events: %v", msgs)
	}
	checkOnRealNode(t, "the placeholder", ready.Spec.NodeName, real)
	t.Logf("placeholder %s Ready on %s (pod security context %+v)", ready.Name, ready.Spec.NodeName, ready.Spec.SecurityContext)
	switch {
	case doneErr != nil:
		t.Errorf("the PipelineRun in the restricted namespace: %v", doneErr)
	case succeeded(done) == nil || !succeeded(done).IsTrue():
		t.Errorf("the PipelineRun in the restricted namespace did not succeed: %s", describeCondition(done))
	}
}
