//go:build e2e

package e2e

// Fixtures: a namespace per test, pipelines built in Go (tasks, chains,
// embedded specs), PipelineRuns, and a pod pinned to a node.

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

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
	if err := waitDefaultServiceAccount(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// waitDefaultServiceAccount waits until namespace ns has its default
// ServiceAccount, which a run's pods need.
func waitDefaultServiceAccount(ns string) error {
	return eventually(bg(), fmt.Sprintf("the default ServiceAccount of namespace %s", ns), 200*time.Millisecond, 30*time.Second, func(ctx context.Context) error {
		_, err := cluster.kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
}

// taskDef describes one pipeline task: a single step with optional CPU and
// ephemeral-storage requests and extended resources, optionally its own
// kwok duration.
type taskDef struct {
	name     string
	cpu      string
	storage  string // ephemeral-storage request
	after    []string
	duration string
	// extended are extended resources (example.com/widget: 2), set as
	// limits: the API server requires a limit of an extended resource and
	// defaults its request to it.
	extended corev1.ResourceList
}

func step(td taskDef) v1.Step {
	s := v1.Step{Name: "run", Image: "busybox", Command: []string{"true"}}
	requests := corev1.ResourceList{}
	if td.cpu != "" {
		requests[corev1.ResourceCPU] = resource.MustParse(td.cpu)
	}
	if td.storage != "" {
		requests[corev1.ResourceEphemeralStorage] = resource.MustParse(td.storage)
	}
	if len(requests) > 0 {
		s.ComputeResources.Requests = requests
	}
	if len(td.extended) > 0 {
		s.ComputeResources.Limits = td.extended.DeepCopy()
	}
	return s
}

func embeddedTask(td taskDef) *v1.EmbeddedTask {
	et := &v1.EmbeddedTask{TaskSpec: v1.TaskSpec{Steps: []v1.Step{step(td)}}}
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

// createPodOnNode creates a pod that is not Tekton's, requesting cpu, that
// only node may run.
func createPodOnNode(t *testing.T, ns, name, node, cpu string) {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
			}}},
		},
	}
	if _, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s: %v", name, err)
	}
}
