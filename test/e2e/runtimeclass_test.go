//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A RuntimeClass whose scheduling selects one node (labelled and tainted
// for it) and whose pods pay an overhead: the placeholder carries the
// class's nodeSelector and tolerations, so it lands on that node, and
// reserves each pod's overhead with its requests. Before, the placeholder
// landed on any node and the tasks' pods, which the RuntimeClass admission
// sends to the labelled node, could never join it.
func TestReliabilityRuntimeClass(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "60s"}))
	ns := newNamespace(t, "runtimeclass")
	sandbox := cluster.nodes[len(cluster.nodes)-1]
	const sandboxLabel = "e2e.pipelinerun-affinity.dev/sandbox"
	labelNode(t, sandbox, sandboxLabel, "kata")
	taint(t, sandbox, corev1.Taint{Key: sandboxLabel, Value: "kata", Effect: corev1.TaintEffectNoSchedule})
	class := createRuntimeClass(t, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-kata"},
		Handler:    "kata",
		Overhead:   &nodev1.Overhead{PodFixed: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{sandboxLabel: "kata"},
			Tolerations:  []corev1.Toleration{{Key: sandboxLabel, Operator: corev1.TolerationOpEqual, Value: "kata", Effect: corev1.TaintEffectNoSchedule}},
		},
	})

	const run = "sandboxed"
	spec := pipelineSpec(taskDef{name: "t1", cpu: "1"}, taskDef{name: "t2", cpu: "1", after: []string{"t1"}})
	createRun(t, newRun(ns, run, spec, runOpts{duration: "1s", podTemplate: &pod.PodTemplate{RuntimeClassName: ptr.To(class)}}))
	// One task at a time: 1 CPU and the overhead of its pod.
	if got, want := createdCPU(t, ns, run), resource.MustParse("1250m"); got.Cmp(want) != 0 {
		t.Errorf("placeholder created with cpu=%s, want %s (1 CPU and the RuntimeClass's 250m overhead)", got.String(), want.String())
	}
	waitRunSucceeded(t, ns, run, 90*time.Second)
	pods := mustTaskRunPods(t, ns, run)
	if nodes := distinct(podNodes(pods)); len(pods) != 2 || len(nodes) != 1 || nodes[0] != sandbox {
		t.Errorf("%d TaskRun pods on %v, want 2 on %s", len(pods), nodes, sandbox)
	}
}

// A RuntimeClass whose node is tainted for it, named by one task only (its
// taskRunSpecs podTemplate): that task's pods must run on the node, the
// other task's never can. The run fails at once with
// ConflictingNodeConstraints naming the taint and who tolerates it, and no
// placeholder is created. Before, the placeholder (which tolerates only
// what every pod tolerates) waited for a node until max-node-wait.
func TestReliabilityRuntimeClassOfOneTaskTainted(t *testing.T) {
	setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: "300s"}))
	ns := newNamespace(t, "runtimeclass-task")
	sandbox := cluster.nodes[len(cluster.nodes)-1]
	const sandboxLabel = "e2e.pipelinerun-affinity.dev/sandbox-task"
	labelNode(t, sandbox, sandboxLabel, "kata")
	taint(t, sandbox, corev1.Taint{Key: sandboxLabel, Value: "kata", Effect: corev1.TaintEffectNoSchedule})
	class := createRuntimeClass(t, &nodev1.RuntimeClass{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-kata-task"},
		Handler:    "kata",
		Scheduling: &nodev1.Scheduling{
			NodeSelector: map[string]string{sandboxLabel: "kata"},
			Tolerations:  []corev1.Toleration{{Key: sandboxLabel, Operator: corev1.TolerationOpEqual, Value: "kata", Effect: corev1.TaintEffectNoSchedule}},
		},
	})

	const run = "one-sandboxed"
	pr := newRun(ns, run, pipelineSpec(taskDef{name: "t1", cpu: "1"}, taskDef{name: "t2", cpu: "1", after: []string{"t1"}}), runOpts{duration: "1s"})
	pr.Spec.TaskRunSpecs = []v1.PipelineTaskRunSpec{{PipelineTaskName: "t2", PodTemplate: &pod.PodTemplate{RuntimeClassName: ptr.To(class)}}}
	createRun(t, pr)
	// Well within the bound: the run does not wait for a node.
	waitRunMessage(t, ns, run, "ConflictingNodeConstraints", 60*time.Second,
		"every node with "+sandboxLabel+"=kata ("+sandbox+") has taint "+sandboxLabel+"=kata:NoSchedule",
		"taskRunSpecs[t2].podTemplate's RuntimeClass "+class+" tolerates and the run's podTemplate does not")
	assertNoPlaceholder(t, ns, run)
	if trs, err := taskRuns(bg(), ns, run); err != nil || len(trs) > 0 {
		t.Errorf("PipelineRun %s/%s: %d TaskRuns (%v), want none", ns, run, len(trs), err)
	}
}

// createRuntimeClass creates rc, registers its deletion and returns its name.
func createRuntimeClass(t *testing.T, rc *nodev1.RuntimeClass) string {
	t.Helper()
	if _, err := cluster.kube.NodeV1().RuntimeClasses().Create(bg(), rc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating RuntimeClass %s: %v", rc.Name, err)
	}
	t.Cleanup(func() {
		if err := cluster.kube.NodeV1().RuntimeClasses().Delete(bg(), rc.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting RuntimeClass %s: %v", rc.Name, err)
		}
	})
	return rc.Name
}
