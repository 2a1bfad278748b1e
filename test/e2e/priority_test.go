//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// Placeholder priority (issue 13 item 4): pipelinerun-pod-affinity-priority-class
// sets the placeholders' PriorityClass (default: the run's podTemplate's),
// and a placeholder that is preempted or evicted mid-run leads to a
// defined outcome: its pod comes back asking the scheduler for the room the
// run still needs on its node; where that room is gone the run moves
// between tasks, never starting a task on a node it no longer holds.

const (
	flagPriorityClass = "pipelinerun-pod-affinity-priority-class"
	eventLost         = "PlaceholderLost"

	// The classes of these tests: placeholders lowest, then the pod that
	// preempts one, then the runs' own pods, which nothing here preempts.
	classPlaceholder = "e2e-pra-placeholder"
	classPreemptor   = "e2e-pra-preemptor"
	classTasks       = "e2e-pra-tasks"
)

// ensurePriorityClass creates the PriorityClass name with value (one left by
// an interrupted run is reused) and deletes it when the test ends.
func ensurePriorityClass(t *testing.T, name string, value int32) {
	t.Helper()
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, Description: "pipelinerun-affinity e2e"}
	_, err := cluster.kube.SchedulingV1().PriorityClasses().Create(bg(), pc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating PriorityClass %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := cluster.kube.SchedulingV1().PriorityClasses().Delete(bg(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting PriorityClass %s: %v", name, err)
		}
	})
}

// handOverRun is t1 (500m, long) then t2 (3 CPU): while t1 runs, the
// placeholder holds 2500m beside it for t2.
func handOverRun(ns, name, t1Duration string) *v1.PipelineRun {
	spec := pipelineSpec(
		taskDef{name: "t1", cpu: "500m", duration: t1Duration},
		taskDef{name: "t2", cpu: "3", after: []string{"t1"}, duration: "2s"},
	)
	return newRun(ns, name, spec, runOpts{podTemplate: &pod.PodTemplate{PriorityClassName: ptr.To(classTasks)}})
}

// waitHolding waits until the run's placeholder pod is bound to node and
// asks for cpu, and returns it.
func waitHolding(t *testing.T, ns, run, node, cpu string) *corev1.Pod {
	t.Helper()
	want := resource.MustParse(cpu)
	var found *corev1.Pod
	waitFor(t, fmt.Sprintf("the placeholder of %s/%s to hold cpu=%s on %s", ns, run, cpu, node), 60*time.Second, func(ctx context.Context) error {
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		var seen []string
		for i := range pods {
			p := &pods[i]
			if p.DeletionTimestamp == nil && p.Spec.NodeName == node && len(p.Spec.Containers) > 0 && p.Spec.Containers[0].Resources.Requests.Cpu().Cmp(want) == 0 {
				found = p
				return nil
			}
			holds := "<no container>"
			if len(p.Spec.Containers) > 0 {
				holds = p.Spec.Containers[0].Resources.Requests.Cpu().String()
			}
			seen = append(seen, fmt.Sprintf("%s %s on %q cpu=%s", p.Name, podStatus(p), p.Spec.NodeName, holds))
		}
		return fmt.Errorf("placeholder pods %v", seen)
	})
	return found
}

// checkPriorityClass checks the priority class of the run's placeholder.
func checkPriorityClass(t *testing.T, ns, run, want string) {
	t.Helper()
	l, err := placeholderStatefulSets(bg(), ns, run)
	if err != nil || len(l) == 0 {
		t.Fatalf("no placeholder StatefulSet of %s/%s: %v", ns, run, err)
	}
	if got := l[0].Spec.Template.Spec.PriorityClassName; got != want {
		t.Errorf("placeholder %s has priorityClassName %q, want %q", l[0].Name, got, want)
	}
}

// checkTaskPods checks that t1 ran on node1 and t2 on node2 (or, when
// node2 is "", anywhere but node1), and that no TaskRun pod of the run was
// ever unschedulable.
func checkTaskPods(t *testing.T, rec *podRecorder, run, node1, node2 string) {
	t.Helper()
	pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
	logPods(t, pods)
	byTask := map[string]podRecord{}
	for _, p := range pods {
		byTask[p.Labels[labelPipelineTask]] = p
		if len(p.Unschedulable) > 0 {
			t.Errorf("TaskRun pod %s (task %s) was unschedulable: %v", p.Name, p.Labels[labelPipelineTask], p.Unschedulable)
		}
	}
	if got := byTask["t1"].Node; got != node1 {
		t.Errorf("t1 ran on %q, want %s", got, node1)
	}
	switch got := byTask["t2"].Node; {
	case node2 == "" && (got == "" || got == node1):
		t.Errorf("t2 ran on %q, want a node other than %s, whose room the placeholder lost", got, node1)
	case node2 != "" && got != node2:
		t.Errorf("t2 ran on %q, want %s", got, node2)
	}
}

// A placeholder with a low PriorityClass (the flag, which wins over the
// run's podTemplate) is preempted while t1 runs by a pod of higher
// priority that takes its room on the node: the pod the StatefulSet
// recreates there asks for that room again (PlaceholderLost), cannot get it,
// and the run says so while t1 finishes (WaitingToMove naming the lost
// room), then moves (Moving) and runs t2 on another node. No TaskRun pod is
// ever unschedulable, and no placeholder holds the node's room again.
func TestPlaceholderPreempted(t *testing.T) {
	ensurePriorityClass(t, classPlaceholder, 100)
	ensurePriorityClass(t, classPreemptor, 1000)
	ensurePriorityClass(t, classTasks, 10000)
	setFeatureFlags(t, patchedFlags(map[string]string{flagPriorityClass: classPlaceholder}))
	ns := newNamespace(t, "preempt")

	// After the preemption, no placeholder pod of the run but the preempted
	// one may hold more than the token on the node it lost.
	var mu sync.Mutex
	lostNode, preempted := "", types.UID("")
	token := resource.MustParse("10m")
	rec := watchPods(t, func(live []*corev1.Pod) string {
		mu.Lock()
		node, old := lostNode, preempted
		mu.Unlock()
		for _, p := range live {
			if node == "" || p.UID == old || p.Labels[labelComponent] != componentHolder || p.Spec.NodeName != node || len(p.Spec.Containers) == 0 {
				continue
			}
			if cpu := p.Spec.Containers[0].Resources.Requests.Cpu(); cpu.Cmp(token) > 0 {
				return fmt.Sprintf("placeholder pod %s holds cpu=%s on node %s, whose room it lost", p.Name, cpu, node)
			}
		}
		return ""
	}, ns)

	const run = "preempted"
	createRun(t, handOverRun(ns, run, "30s"))
	node := waitPlaced(t, ns, run, 60*time.Second)
	checkPriorityClass(t, ns, run, classPlaceholder)
	holder := waitHolding(t, ns, run, node, "2500m")
	mu.Lock()
	preempted = holder.UID
	mu.Unlock()

	// The node has 4 CPU: t1 holds 500m, the placeholder 2500m. A pod of
	// higher priority than the placeholder, and lower than the run's
	// pods, that needs 2 CPU there can only have them by preempting it.
	preemptor := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "preemptor", Namespace: ns},
		Spec: corev1.PodSpec{
			PriorityClassName: classPreemptor,
			NodeSelector:      map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}}},
		},
	}
	if _, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), preemptor, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod preemptor: %v", err)
	}
	waitFor(t, "the preemptor to be bound to "+node, 60*time.Second, podBoundTo(ns, "preemptor", node))
	mu.Lock()
	lostNode = node
	mu.Unlock()
	t.Logf("preemptor bound to %s", node)

	pr := waitRunMessage(t, ns, run, reasonWaitingToMove, 30*time.Second, "lost its room on node "+node, "preempted")
	t.Logf("while t1 runs: %s", describeCondition(pr))
	if evs := findEvents(ns, run, eventLost, "preempted, evicted or deleted"); len(evs) == 0 {
		t.Errorf("no %s event on the run", eventLost)
	}
	if trs, err := taskRuns(bg(), ns, run); err != nil || len(trs) != 1 {
		t.Errorf("run %s has %d TaskRuns while it waits to move, want t1's only (err %v)", run, len(trs), err)
	}

	waitRunSucceeded(t, ns, run, 120*time.Second)
	if evs := findEvents(ns, run, eventMoving, "lost its room on node "+node); len(evs) == 0 {
		all, _ := events(bg(), ns, "PipelineRun", run)
		t.Errorf("no %s event naming the lost room; events: %v", eventMoving, eventMessages(all))
	}
	checkTaskPods(t, rec, run, node, "")
	if v := rec.getViolations(); len(v) > 0 {
		t.Errorf("%s", strings.Join(v, " | "))
	}
}

// A placeholder evicted while t1 runs (through the Eviction API, as a
// drain does; or by the kubelet under node pressure: failed, reason
// Evicted) with nothing taking its room: the pod the StatefulSet recreates
// asks for that room again (PlaceholderLost), gets it on the same node
// (ReservationRestored), and t2 runs there. Without the flag the
// placeholder has the run's podTemplate priority class.
func TestPlaceholderEvicted(t *testing.T) {
	ensurePriorityClass(t, classTasks, 10000)
	setFeatureFlags(t, patchedFlags(map[string]string{flagPriorityClass: ""}))
	for _, tc := range []struct {
		name  string
		evict func(ctx context.Context, p *corev1.Pod) error
	}{{
		name: "eviction API",
		evict: func(ctx context.Context, p *corev1.Pod) error {
			return cluster.kube.CoreV1().Pods(p.Namespace).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
		},
	}, {
		name: "kubelet",
		evict: func(ctx context.Context, p *corev1.Pod) error {
			// What the kubelet leaves of a pod it evicts under node pressure:
			// failed, not deleted.
			return retry.RetryOnConflict(retry.DefaultRetry, func() error {
				current, err := cluster.kube.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if current.UID != p.UID {
					return fmt.Errorf("placeholder pod %s was replaced before it could be evicted", p.Name)
				}
				current.Status.Phase = corev1.PodFailed
				current.Status.Reason = "Evicted"
				current.Status.Message = "The node was low on resource: memory."
				current.Status.Conditions = append(current.Status.Conditions, corev1.PodCondition{
					Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "TerminationByKubelet",
					Message: "The node was low on resource: memory.", LastTransitionTime: metav1.Now(),
				})
				_, err = cluster.kube.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{})
				return err
			})
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t, "evict")
			rec := watchPods(t, nil, ns)
			const run = "evicted"
			createRun(t, handOverRun(ns, run, "20s"))
			node := waitPlaced(t, ns, run, 60*time.Second)
			checkPriorityClass(t, ns, run, classTasks)
			p := waitHolding(t, ns, run, node, "2500m")
			if err := tc.evict(bg(), p); err != nil {
				t.Fatalf("evicting placeholder pod %s: %v", p.Name, err)
			}
			t.Logf("evicted placeholder pod %s on %s", p.Name, node)

			lost := waitEvent(t, ns, "PipelineRun", run, eventLost, 30*time.Second)
			t.Logf("%s: %s", eventLost, lost.Message)
			waitFor(t, "the placeholder to hold its room on "+node+" again", 30*time.Second, func(ctx context.Context) error {
				return hasRunEvent(ctx, ns, run, eventRestored, "again, after")
			})
			if getRun(t, ns, run).IsDone() {
				t.Fatalf("test premise broken: %s finished before the placeholder came back; lengthen t1", run)
			}
			waitRunSucceeded(t, ns, run, 90*time.Second)
			checkTaskPods(t, rec, run, node, node)
			if evs := findEvents(ns, run, eventMoving, ""); len(evs) > 0 {
				t.Errorf("the run moved although its room on %s was free: %v", node, eventMessages(evs))
			}
		})
	}
}
