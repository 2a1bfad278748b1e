//go:build e2e

package e2e

// Side-by-side proofs: each scenario asserts the patched controller's
// behaviour and, with E2E_COMPARE_UPSTREAM=1, replays it against the
// unpatched controller and logs whether upstream shows the defect.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// (a) Capacity: the placeholder reserves the run's peak demand, so a run
// never lands on a node that cannot fit its biggest task. Upstream's small
// assistant lands on the only node free of assistants although it is busy,
// and the 3-CPU task pends there forever.
func TestCompareCapacityReservation(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "capacity")
		rec := watchPods(t, nil, ns)
		n := len(cluster.nodes)
		occupied := map[string]bool{}
		for i := 0; i < n-1; i++ {
			createRun(t, newRun(ns, fmt.Sprintf("blocker-%d", i), oneTask(), runOpts{duration: "15s"}))
		}
		for i := 0; i < n-1; i++ {
			node, ok := s.waitBound(ns, fmt.Sprintf("blocker-%d", i), 60*time.Second)
			if !ok {
				return
			}
			occupied[node] = true
		}
		free := ""
		for _, node := range cluster.nodes {
			if !occupied[node] {
				free = node
			}
		}
		if free == "" {
			t.Fatalf("test premise broken: blockers occupy every node: %v", occupied)
		}
		createPodOnNode(t, ns, "background", free, "3500m")
		waitFor(t, "the background pod to be bound on "+free, 30*time.Second, podBoundTo(ns, "background", free))
		t.Logf("blockers on %v; background pod (3500m) on %s", keys(occupied), free)

		const run = "big"
		createRun(t, newRun(ns, run, pipelineSpec(
			taskDef{name: "small", cpu: "100m"},
			taskDef{name: "large", cpu: "3", after: []string{"small"}},
		), runOpts{duration: "2s"}))
		_, ok := s.finish(ns, run, 90*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		logPods(t, pods)
		for _, p := range pods {
			s.check(len(p.Unschedulable) == 0, "TaskRun pod %s (task %s) was Pending unschedulable on %q: %v",
				p.Name, p.Labels[labelPipelineTask], p.Node, p.Unschedulable)
		}
		if ok && !s.upstream {
			node := placedNode(ns, run)
			s.check(node != free, "run %s was placed on the busy node %s", run, free)
			// The reservation is what kept the run off the busy node: its
			// placeholder was unschedulable for CPU until a blocker finished.
			var msgs []string
			for _, h := range rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}) {
				msgs = append(msgs, h.Unschedulable...)
			}
			s.check(strings.Contains(strings.Join(msgs, "\n"), "Insufficient cpu"),
				"the placeholder of %s was never unschedulable for CPU (scheduler messages: %v)", run, msgs)
		}
	})
}

// (b) A podTemplate affinity (a preferred node affinity) under
// isolate-pipelinerun: the engine merges it into the placeholder and the run
// completes; upstream is reported to deadlock.
func TestComparePodTemplateAffinity(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "tplaff")
		rec := watchPods(t, nil, ns)
		tpl := &pod.PodTemplate{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
				Weight: 10,
				Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "type", Operator: corev1.NodeSelectorOpIn, Values: []string{"kwok"},
				}}},
			}},
		}}}
		const run = "templated"
		createRun(t, newRun(ns, run, chain(2), runOpts{duration: "1s", podTemplate: tpl}))
		_, ok := s.finish(ns, run, 60*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		logPods(t, pods)
		if ok {
			s.check(len(nodesOf(pods)) == 1, "TaskRun pods ran on %v, want one node", nodesOf(pods))
		}
		for _, p := range pods {
			if len(p.Unschedulable) > 0 {
				s.check(false, "TaskRun pod %s was unschedulable: %v", p.Name, p.Unschedulable)
			}
		}
	})
}

// (c) The run's node is cordoned while its first task runs: the run moves
// and its later TaskRuns run on a new node; upstream is reported to hang.
func TestCompareCordonMove(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "cordon")
		rec := watchPods(t, nil, ns)
		const run = "mover"
		createRun(t, newRun(ns, run, chain(3), runOpts{duration: "6s"}))
		first, ok := s.waitBound(ns, run, 60*time.Second)
		if !ok {
			return
		}
		// Cordon while t1 runs there.
		waitFor(t, "the pod of t1 to be bound", 60*time.Second, func(context.Context) error {
			_, err := rec.boundNode(map[string]string{labelPipelineRun: run, labelPipelineTask: "t1"})
			return err
		})
		cordon(t, first)
		if !s.upstream {
			// The wait for t1 is visible: once as an event, and in the run's
			// condition while it lasts.
			ev := waitEvent(t, ns, "PipelineRun", run, eventWaitingToMove, 30*time.Second)
			s.check(strings.Contains(ev.Message, "Node "+first+" is cordoned"), "%s event %q does not name the cordoned node %s", eventWaitingToMove, ev.Message, first)
			pr := waitRunReason(t, ns, run, reasonWaitingToMove, 30*time.Second)
			t.Logf("while t1 finishes on the cordoned node: %s", describeCondition(pr))
		}
		_, ok = s.finish(ns, run, 90*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		logPods(t, pods)
		byTask := map[string]podRecord{}
		for _, p := range pods {
			byTask[p.Labels[labelPipelineTask]] = p
		}
		s.check(byTask["t1"].Node == first, "t1 ran on %q, want %s", byTask["t1"].Node, first)
		for _, task := range []string{"t2", "t3"} {
			p, found := byTask[task]
			if !s.check(found, "task %s has no pod", task) {
				continue
			}
			s.check(p.Node != "" && p.Node != first, "task %s pod %s is on %q, want a node other than the cordoned %s (unschedulable: %v)",
				task, p.Name, p.Node, first, p.Unschedulable)
		}
		if ok {
			s.check(byTask["t2"].Node == byTask["t3"].Node, "t2 (%s) and t3 (%s) ran on different nodes", byTask["t2"].Node, byTask["t3"].Node)
		}
		if !s.upstream {
			s.check(hasEvent(ns, "PipelineRun", run, eventMoving), "no %s event", eventMoving)
		}
		t.Logf("holder pods ran on %v", nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent()})))
	})
}

// (d) Runs in two namespaces under isolation with fewer nodes than runs:
// the engine's isolation spans namespaces; upstream's does not.
func TestCompareCrossNamespaceIsolation(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		nsA := newNamespace(t, "iso-a")
		nsB := newNamespace(t, "iso-b")
		rec := watchPods(t, sharedHolderNodes, nsA, nsB)
		n := len(cluster.nodes)
		type ref struct{ ns, name string }
		var runs []ref
		for i := 0; i < n+1; i++ { // more runs than nodes
			ns := nsA
			if i%2 == 1 {
				ns = nsB
			}
			name := fmt.Sprintf("run-%d", i)
			createRun(t, newRun(ns, name, oneTask(), runOpts{duration: "4s"}))
			runs = append(runs, ref{ns, name})
		}
		for _, r := range runs {
			s.finish(r.ns, r.name, 90*time.Second)
		}
		v := rec.getViolations()
		s.check(len(v) == 0, "placeholders of different runs shared a node: %s", strings.Join(v, " | "))
		// TaskRun pods of different runs that overlapped on one node.
		t.Logf("holder pods: %d on %v", len(rec.matching(map[string]string{labelComponent: s.holderComponent()})),
			nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent()})))
	})
}

// (e) A child PipelineRun (pipelineSpec in a pipeline task) joins its
// parent's placeholder: every pod of parent and child on one node.
func TestCompareChildPipelineRun(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(map[string]string{flagAPIFields: "alpha"}))
		ns := newNamespace(t, "child")
		rec := watchPods(t, nil, ns)
		spec := pipelineSpec(taskDef{name: "before"}, taskDef{name: "after", after: []string{"inner"}})
		spec.Tasks = append(spec.Tasks, v1.PipelineTask{
			Name:         "inner",
			RunAfter:     []string{"before"},
			PipelineSpec: pipelineSpec(taskDef{name: "c1"}, taskDef{name: "c2"}),
		})
		const run = "parent"
		createRun(t, newRun(ns, run, spec, runOpts{duration: "1s"}))
		_, ok := s.finish(ns, run, 90*time.Second)
		prs, err := cluster.tekton.TektonV1().PipelineRuns(ns).List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var children []v1.PipelineRun
		for _, pr := range prs.Items {
			if pr.Name != run {
				children = append(children, pr)
			}
		}
		if !s.require(len(children) == 1, "want 1 child PipelineRun, found %d", len(children)) {
			return
		}
		child := children[0]
		t.Logf("child %s: %s", child.Name, describeCondition(&child))
		all := rec.matching(map[string]string{labelTaskRun: "*"})
		logPods(t, all)
		if !s.upstream {
			holder := waitPlaceholderNameFromPods(rec, run)
			s.check(child.Labels[labelMember] != "" && child.Labels[labelMember] == holder,
				"child label %s=%q, want the parent's placeholder %q", labelMember, child.Labels[labelMember], holder)
			if !s.check(len(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: child.Name})) == 0, "the child got its own placeholder") {
				return
			}
			s.check(nodesOf(all) != nil && len(nodesOf(all)) == 1 && nodesOf(all)[0] == placedNode(ns, run),
				"pods of parent and child ran on %v, want only the parent's node %s", nodesOf(all), placedNode(ns, run))
		} else {
			s.check(len(nodesOf(all)) == 1, "pods of parent and child ran on %d nodes %v", len(nodesOf(all)), nodesOf(all))
		}
		var childPods int
		for _, p := range all {
			if p.Labels[labelPipelineRun] == child.Name {
				childPods++
			}
		}
		s.check(childPods == 2, "child ran %d TaskRun pods, want 2", childPods)
		_ = ok
	})
}

// waitPlaceholderNameFromPods returns the instance label of run's placeholder pods.
func waitPlaceholderNameFromPods(rec *podRecorder, run string) string {
	for _, p := range rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run}) {
		return p.Labels[labelInstance]
	}
	return ""
}

// (f) The placeholder pod, then the whole StatefulSet, are deleted mid-run:
// both come back on the same node and the run completes there.
func TestComparePlaceholderDeletedMidRun(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "recreate")
		rec := watchPods(t, nil, ns)
		const run = "resilient"
		createRun(t, newRun(ns, run, chain(3), runOpts{duration: "5s"}))
		node, ok := s.waitBound(ns, run, 60*time.Second)
		if !ok {
			return
		}
		sel := labelComponent + "=" + s.holderComponent() + "," + labelPipelineRun + "=" + run
		holderPod := func(ctx context.Context) (*corev1.Pod, error) {
			l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil || len(l.Items) == 0 {
				return nil, err
			}
			for i := range l.Items {
				if l.Items[i].DeletionTimestamp == nil {
					return &l.Items[i], nil
				}
			}
			return nil, nil
		}
		p, err := holderPod(bg())
		if err != nil || p == nil {
			t.Fatalf("no holder pod for %s: %v", run, err)
		}
		// 1. Delete the pod.
		if err := cluster.kube.CoreV1().Pods(ns).Delete(bg(), p.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatalf("deleting pod %s: %v", p.Name, err)
		}
		var recreated *corev1.Pod
		err = poll("the deleted holder pod to be recreated and bound", 30*time.Second, func(ctx context.Context) error {
			np, err := holderPod(ctx)
			switch {
			case err != nil:
				return err
			case np == nil:
				return fmt.Errorf("no holder pod")
			case np.UID == p.UID:
				return fmt.Errorf("the deleted pod %s is still there (%s)", np.Name, podStatus(np))
			case np.Spec.NodeName == "":
				return fmt.Errorf("the new pod %s is %s, not bound", np.Name, podStatus(np))
			}
			recreated = np
			return nil
		})
		if s.require(err == nil, "%v", err) {
			s.check(recreated.Spec.NodeName == node, "recreated holder pod is on %s, want %s", recreated.Spec.NodeName, node)
		}
		// 2. Delete the StatefulSet.
		stsList, err := cluster.kube.AppsV1().StatefulSets(ns).List(bg(), metav1.ListOptions{LabelSelector: sel})
		if err != nil || len(stsList.Items) != 1 {
			t.Fatalf("want one holder StatefulSet for %s, got %d (%v)", run, len(stsList.Items), err)
		}
		old := stsList.Items[0]
		policy := metav1.DeletePropagationBackground
		if err := cluster.kube.AppsV1().StatefulSets(ns).Delete(bg(), old.Name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
			t.Fatalf("deleting StatefulSet %s: %v", old.Name, err)
		}
		t.Logf("deleted pod %s and StatefulSet %s on %s", p.Name, old.Name, node)
		var again *corev1.Pod
		err = poll("the deleted holder StatefulSet to be recreated with a bound pod", 45*time.Second, func(ctx context.Context) error {
			sts, err := cluster.kube.AppsV1().StatefulSets(ns).Get(ctx, old.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return fmt.Errorf("no StatefulSet %s", old.Name)
			case err != nil:
				return err
			case sts.UID == old.UID:
				return fmt.Errorf("the deleted StatefulSet %s is still there", old.Name)
			}
			np, err := holderPod(ctx)
			switch {
			case err != nil:
				return err
			case np == nil:
				return fmt.Errorf("the new StatefulSet %s has no pod", sts.Name)
			case np.Spec.NodeName == "" || np.Labels["controller-revision-hash"] == "" || !metav1.IsControlledBy(np, sts):
				return fmt.Errorf("pod %s is %s on %q, controlled by the new StatefulSet: %t", np.Name, podStatus(np), np.Spec.NodeName, metav1.IsControlledBy(np, sts))
			}
			again = np
			return nil
		})
		if s.check(err == nil, "%v", err) {
			s.check(again.Spec.NodeName == node, "recreated StatefulSet's pod is on %s, want %s", again.Spec.NodeName, node)
		}
		if _, ok := s.finish(ns, run, 90*time.Second); ok {
			pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
			logPods(t, pods)
			s.check(len(pods) == 3, "saw %d TaskRun pods, want 3", len(pods))
			for _, pr := range pods {
				s.check(pr.Node == node, "TaskRun pod %s ran on %s, want %s", pr.Name, pr.Node, node)
			}
		}
		if !s.upstream {
			ev, _ := events(bg(), ns, "PipelineRun", run)
			recreatedEvent := false
			for _, e := range ev {
				if e.Reason == eventRecreated {
					recreatedEvent = true
				}
			}
			s.check(recreatedEvent, "no %s event", eventRecreated)
		}
	})
}

// (g) The engine's metrics appear on the controller's metrics endpoint
// while a run is placed.
func TestCompareMetrics(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "metrics")
		const run = "metered"
		// CPU requests make the placeholder reserve and then hand over, so
		// every metric gets a sample even on a freshly started controller.
		createRun(t, newRun(ns, run, pipelineSpec(
			taskDef{name: "t1", cpu: "200m"},
			taskDef{name: "t2", cpu: "200m", after: []string{"t1"}},
		), runOpts{duration: "5s"}))
		if _, ok := s.waitBound(ns, run, 60*time.Second); !ok {
			return
		}
		var body string
		wanted := []string{"node_wait_seconds", "placements_total", "active_placeholders", "reservation_handovers_total"}
		seen := map[string]bool{}
		var missing []string
		var maxActive float64
		err := poll("the engine's metrics during the run", 20*time.Second, func(ctx context.Context) error {
			b, err := cluster.scrapeMetrics(ctx)
			if err != nil {
				return err
			}
			body = b
			missing = nil
			for _, w := range wanted {
				if len(metricLines(body, "pod_affinity", w)) > 0 {
					seen[w] = true
				}
				if !seen[w] {
					missing = append(missing, w)
				}
			}
			if v := metricValue(body, "pod_affinity", "active_placeholders"); v > maxActive {
				maxActive = v
			}
			if len(missing) > 0 || maxActive < 1 {
				return fmt.Errorf("missing %v, highest active_placeholders %v", missing, maxActive)
			}
			return nil
		})
		var lines []string
		for _, l := range metricLines(body, "pod_affinity") {
			if !strings.Contains(l, "_bucket") && len(lines) < 15 {
				lines = append(lines, l)
			}
		}
		t.Logf("pod_affinity samples (first %d, no buckets):\n  %s", len(lines), strings.Join(lines, "\n  "))
		s.check(err == nil, "%v", err)
		s.finish(ns, run, 60*time.Second)
	})
}

// metricLines returns the sample lines (no comments) containing every part.
func metricLines(body string, parts ...string) []string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		ok := true
		for _, p := range parts {
			if !strings.Contains(name, p) {
				ok = false
			}
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// metricValue sums the values of the samples whose name contains every part.
func metricValue(body string, parts ...string) float64 {
	var sum float64
	for _, line := range metricLines(body, parts...) {
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// (g) The reservation follows the run: a and b (1 CPU each) run at once,
// then c needs 3 CPU. The placeholder reserves the peak (3 CPU), hands 2
// over to a and b, and when a finishes grows back to 2 CPU, so that c still
// fits beside b. A pod that would take the CPU a gave back stays Pending;
// without the grow-back (upstream, or the engine before it) that pod is
// bound and c pends instead.
func TestCompareReservationGrowsBack(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "growback")
		rec := watchPods(t, nil, ns)
		const run = "growback"
		createRun(t, newRun(ns, run, pipelineSpec(
			taskDef{name: "a", cpu: "1", duration: "1s"},
			taskDef{name: "b", cpu: "1", duration: "20s"},
			taskDef{name: "c", cpu: "3", duration: "1s", after: []string{"a", "b"}},
		), runOpts{}))

		var node string
		waitFor(t, "task a to finish", 60*time.Second, taskSucceeded(ns, run, "a", func(*v1.TaskRun) {
			for _, p := range rec.matching(map[string]string{labelPipelineRun: run, labelPipelineTask: "a"}) {
				node = p.Node
			}
		}))
		if !s.upstream {
			restored := waitEvent(t, ns, "PipelineRun", run, eventRestored, 30*time.Second)
			s.check(strings.Contains(restored.Message, "cpu=2"), "%s event %q: want the placeholder to hold cpu=2 again", eventRestored, restored.Message)
		}
		if !s.require(node != "", "no node recorded for the pod of task a") {
			return
		}
		// The node holds b (1 CPU) and, patched, the placeholder (2 CPU).
		createPodOnNode(t, ns, "thief", node, "1500m")
		var thiefNode, thiefMessage string
		_ = poll("pod thief to be bound or unschedulable for CPU", 30*time.Second, func(ctx context.Context) error {
			p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, "thief", metav1.GetOptions{})
			if err != nil {
				return err
			}
			thiefNode = p.Spec.NodeName
			msg, unschedulable := podScheduledFalse(p)
			thiefMessage = msg
			if thiefNode == "" && !(unschedulable && strings.Contains(msg, "Insufficient cpu")) {
				return fmt.Errorf("pod thief is %s", podStatus(p))
			}
			return nil
		})
		s.check(thiefNode == "", "pod thief (1500m) was bound to %s: nothing held the CPU task a gave back for c", thiefNode)
		s.check(strings.Contains(thiefMessage, "Insufficient cpu"), "pod thief was not found unschedulable for CPU (message %q)", thiefMessage)
		if !s.upstream {
			// A pod still waiting when the placeholder hands the room over to
			// c would win that race (documented): the scheduler binds it as
			// soon as the placeholder shrinks, before c's pod exists.
			if err := cluster.kube.CoreV1().Pods(ns).Delete(bg(), "thief", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
				t.Fatalf("deleting pod thief: %v", err)
			}
		}

		_, ok := s.finish(ns, run, 90*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		logPods(t, pods)
		for _, p := range pods {
			s.check(len(p.Unschedulable) == 0, "TaskRun pod %s (task %s) was Pending unschedulable on %q: %v",
				p.Name, p.Labels[labelPipelineTask], p.Node, p.Unschedulable)
		}
		if !ok || s.upstream {
			return
		}
		for _, p := range pods {
			s.check(p.Node == node, "TaskRun pod %s ran on %s, want %s", p.Name, p.Node, node)
		}
		s.check(len(pods) == 3, "saw %d TaskRun pods, want 3", len(pods))
		// The hand-overs before each wave are in place: counted, not
		// recorded as events (c running beside b above shows they happened).
		handovers := findEvents(ns, run, eventHandedOver, "")
		s.check(len(handovers) == 0, "%d %s events for shrinks in place, want none: %v", len(handovers), eventHandedOver, eventMessages(handovers))
		if t.Failed() {
			evs, _ := events(bg(), ns, "PipelineRun", run)
			t.Logf("events of PipelineRun %s: %v", run, eventMessages(evs))
		}
	})
}
