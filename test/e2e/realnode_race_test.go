//go:build e2e && realnode

package e2e

// The hand-over's race on the real node: a run's placeholder holds most of
// the node while task a runs; task b needs that room. Another pod, not the
// run's, wants the same room: what do the scheduler and the kubelet do when
// the placeholder shrinks for b? (issue 14: "a run whose hand-over races
// another pod for the freed room shows what really happens".)
//
// Sizes follow the node's allocatable CPU (A): a asks 100m, b 3A/4, so the
// placeholder holds 3A/4 - 100m beside a; the rival asks A/2. It does not
// fit while the placeholder holds the room, fits once the placeholder has
// shrunk to its token, and cannot run beside b.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

const (
	rivalLabel = "e2e.pra.dev/rival"
	// What the kubelet writes into status.reason of a pod it refuses for
	// want of CPU (lifecycle.InsufficientResourceError: "OutOf" + resource).
	reasonOutOfCPU = "OutOfcpu"
)

// raceSizes are the CPU requests of the race, from the node's allocatable
// CPU.
type raceSizes struct {
	alloc, small, big, rival resource.Quantity
}

func raceSizesFor(t *testing.T, node string) raceSizes {
	t.Helper()
	n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading node %s: %v", node, err)
	}
	alloc := n.Status.Allocatable[corev1.ResourceCPU]
	m := alloc.MilliValue()
	if m < 1000 {
		t.Fatalf("node %s has %s allocatable CPU; the race needs at least 1", node, alloc.String())
	}
	s := raceSizes{
		alloc: alloc,
		small: *resource.NewMilliQuantity(100, resource.DecimalSI),
		big:   *resource.NewMilliQuantity(m*3/4, resource.DecimalSI),
		rival: *resource.NewMilliQuantity(m/2, resource.DecimalSI),
	}
	t.Logf("node %s: %s allocatable CPU; a asks %s, b %s, the rival %s", node, alloc.String(), s.small.String(), s.big.String(), s.rival.String())
	return s
}

// realTask is a task of one busybox step asking cpu and 32Mi.
func realTask(name string, cpu resource.Quantity, script string, after ...string) v1.PipelineTask {
	return v1.PipelineTask{Name: name, RunAfter: after, TaskSpec: &v1.EmbeddedTask{TaskSpec: v1.TaskSpec{Steps: []v1.Step{{
		Name: name, Image: realBusybox, Script: script,
		ComputeResources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: cpu, corev1.ResourceMemory: resource.MustParse("32Mi"),
		}},
	}}}}}
}

// raceRun starts the race's run (a sleeps 12 s, then b) on the real nodes
// with the pod template tpl (nil: realPodTemplate) and returns the node of
// a's pod once it runs, and what the placeholder then holds.
func raceRun(t *testing.T, ns, name string, s raceSizes, tpl *pod.PodTemplate) (node string, held resource.Quantity) {
	t.Helper()
	spec := &v1.PipelineSpec{Tasks: []v1.PipelineTask{
		realTask("a", s.small, "#!/bin/sh\nsleep 12\n"),
		realTask("b", s.big, "#!/bin/sh\necho b\n", "a"),
	}}
	if tpl == nil {
		tpl = realPodTemplate()
	}
	createRun(t, newRun(ns, name, spec, runOpts{podTemplate: tpl}))
	waitFor(t, "task a's pod to run and the placeholder to report what it holds beside it", 2*time.Minute, func(ctx context.Context) error {
		pods, err := taskRunPods(ctx, ns, name)
		if err != nil {
			return err
		}
		node = ""
		for _, p := range pods {
			if p.Labels[labelPipelineTask] == "a" && p.Status.Phase == corev1.PodRunning {
				node = p.Spec.NodeName
			}
		}
		if node == "" {
			return fmt.Errorf("task a's pod is not running: %d TaskRun pods", len(pods))
		}
		hs, err := placeholderPods(ctx, ns, name)
		if err != nil {
			return err
		}
		if len(hs) != 1 {
			return fmt.Errorf("%d placeholder pods", len(hs))
		}
		spec, rep := containerResources(&hs[0])
		if rep == nil || exceedsList(rep.Requests, spec) || exceedsList(spec, rep.Requests) {
			return fmt.Errorf("placeholder %s: spec %s, reported %v", hs[0].Name, listString(spec), rep)
		}
		held = spec[corev1.ResourceCPU]
		return nil
	})
	t.Logf("task a runs on %s; the placeholder holds %s CPU beside it", node, held.String())
	return node, held
}

// rivalPod asks cpu on node, as a pod of no run: through the scheduler (a
// nodeSelector on the node's hostname) or straight to the kubelet
// (spec.nodeName). It sleeps for sleep seconds.
func rivalPod(ns, name, node string, byNodeName bool, cpu resource.Quantity, sleep int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{rivalLabel: name}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr.To[int64](1),
			Tolerations:                   realPodTemplate().Tolerations,
			Containers: []corev1.Container{{
				Name: "rival", Image: realBusybox, Command: []string{"/bin/sh", "-c", fmt.Sprintf("sleep %d", sleep)},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: cpu, corev1.ResourceMemory: resource.MustParse("16Mi"),
				}},
			}},
		},
	}
	if byNodeName {
		p.Spec.NodeName = node
	} else {
		p.Spec.NodeSelector = map[string]string{corev1.LabelHostname: node}
	}
	return p
}

// raceTrigger is the moment a rival was created at the shrink.
type raceTrigger struct {
	rv      string // of the placeholder's state that set it off
	state   string
	created string // the rival's resourceVersion ("" if creating it failed)
	err     error
}

// createAtShrink creates pod the moment the run's placeholder shows its
// shrink below held: once its spec asks less (reported false: the engine
// has asked, the kubelet may not have applied it; the engine creates the
// next TaskRuns with it) or once its status reports less (reported true:
// the moment the scheduler can bind their pods).
func createAtShrink(t *testing.T, ns, run string, held resource.Quantity, reported bool, pod *corev1.Pod) <-chan raceTrigger {
	t.Helper()
	cfg := rest.CopyConfig(cluster.cfg)
	cfg.Timeout = 0
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	ctx, cancel := context.WithCancel(bg())
	w, err := kube.CoreV1().Pods(ns).Watch(ctx, placeholderListOptions(run))
	if err != nil {
		cancel()
		t.Fatalf("watching the placeholder: %v", err)
	}
	out := make(chan raceTrigger, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted {
				continue
			}
			spec, rep := containerResources(p)
			var cpu resource.Quantity
			switch {
			case !reported:
				cpu = spec[corev1.ResourceCPU]
			case rep != nil:
				cpu = rep.Requests[corev1.ResourceCPU]
			default:
				continue
			}
			if cpu.IsZero() || cpu.Cmp(held) >= 0 {
				continue
			}
			tr := raceTrigger{rv: p.ResourceVersion, state: fmt.Sprintf("spec %s, reported %s, conditions [%s]",
				listString(spec), listString(reportedRequests(rep)), resizeConditions(p))}
			created, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), pod, metav1.CreateOptions{})
			if err != nil {
				tr.err = fmt.Errorf("creating pod %s: %w", pod.Name, err)
			} else {
				tr.created = created.ResourceVersion
			}
			out <- tr
			return
		}
	}()
	t.Cleanup(func() {
		cancel()
		w.Stop()
		wg.Wait()
	})
	return out
}

func reportedRequests(r *corev1.ResourceRequirements) corev1.ResourceList {
	if r == nil {
		return nil
	}
	return r.Requests
}

// racePod is what the events said of one pod, in resourceVersion order.
type racePod struct {
	name        string
	created     int64 // rv of the first event
	bound       int64 // rv of the first event with a node (0: never)
	running     int64 // rv of the first event in phase Running (0: never)
	ended       int64 // rv of the first event in a final phase (0: never)
	phase       corev1.PodPhase
	reason, msg string // status.reason and .message when it failed
	// unschedulable is the scheduler's first PodScheduled=False message.
	unschedulable string
}

// racePods folds the recorded pod events into one history per pod, and
// checks on the way that b's pod and a rival never ran together (the two
// do not fit the node together: the kubelet would have admitted more than
// it has).
func racePods(t *testing.T, evs []event, isB func(*corev1.Pod) bool) map[string]*racePod {
	t.Helper()
	out := map[string]*racePod{}
	running := map[string]bool{}
	for _, e := range evs {
		if e.kind != "Pod" {
			continue
		}
		p := e.pod
		if e.typ == watch.Deleted {
			running[p.Name] = false
			continue
		}
		h := out[p.Name]
		if h == nil {
			h = &racePod{name: p.Name, created: e.rv}
			out[p.Name] = h
		}
		if h.bound == 0 && p.Spec.NodeName != "" {
			h.bound = e.rv
		}
		if msg, ok := podScheduledFalse(p); ok && h.unschedulable == "" {
			h.unschedulable = msg
		}
		h.phase = p.Status.Phase
		switch p.Status.Phase {
		case corev1.PodRunning:
			if h.running == 0 {
				h.running = e.rv
			}
		case corev1.PodSucceeded, corev1.PodFailed:
			if h.ended == 0 {
				h.ended = e.rv
			}
			h.reason, h.msg = p.Status.Reason, p.Status.Message
		}
		if isB(p) || p.Labels[rivalLabel] != "" {
			running[p.Name] = p.Status.Phase == corev1.PodRunning
			var together []string
			for n, r := range running {
				if r {
					together = append(together, n)
				}
			}
			if len(together) > 1 {
				t.Errorf("rv %d: pods %v ran at once on the node, though together they ask more CPU than it has", e.rv, together)
			}
		}
	}
	return out
}

func (h *racePod) String() string {
	if h == nil {
		return "<never seen>"
	}
	s := fmt.Sprintf("%s: created rv %d, bound rv %d, running rv %d, ended rv %d (%s", h.name, h.created, h.bound, h.running, h.ended, h.phase)
	if h.reason != "" {
		s += " " + h.reason + ": " + h.msg
	}
	s += ")"
	if h.unschedulable != "" {
		s += ", unschedulable: " + h.unschedulable
	}
	return s
}

// raceOutcome gathers what the race's checks read: b's pod, the TaskRun
// reasons b went through, and where the placeholder reported its last
// shrink.
type raceOutcome struct {
	b          *racePod
	bReasons   []string
	bCreated   int64 // rv of TaskRun b's creation
	shrinkSeen int64 // rv of the placeholder's first status reporting less than held
}

func raceEvents(t *testing.T, evs []event, run string, held resource.Quantity) (map[string]*racePod, raceOutcome) {
	t.Helper()
	isB := func(p *corev1.Pod) bool {
		return p.Labels[labelPipelineRun] == run && p.Labels[labelPipelineTask] == "b" && p.Labels[labelTaskRun] != ""
	}
	hs := racePods(t, evs, isB)
	var o raceOutcome
	seen := map[string]bool{}
	for _, e := range evs {
		switch e.kind {
		case "closed":
			t.Errorf("a watch of the test's namespace ended before the test: events are missing")
		case "Pod":
			p := e.pod
			if isB(p) && o.b == nil {
				o.b = hs[p.Name]
			}
			if p.Labels[labelComponent] == componentHolder && o.shrinkSeen == 0 {
				if _, rep := containerResources(p); rep != nil {
					if cpu := rep.Requests[corev1.ResourceCPU]; cpu.Cmp(held) < 0 {
						o.shrinkSeen = e.rv
					}
				}
			}
		case "TaskRun":
			if e.tr.Labels[labelPipelineTask] != "b" {
				continue
			}
			if o.bCreated == 0 {
				o.bCreated = e.rv
			}
			if c := e.tr.Status.GetCondition("Succeeded"); c != nil && !seen[c.Reason] {
				seen[c.Reason] = true
				o.bReasons = append(o.bReasons, c.Reason)
			}
		}
	}
	return hs, o
}

// TestRealNodeHandOverRacePendingPod: a pod that is not the run's waits,
// Pending, for the room the placeholder holds on the node (the scheduler
// finds it "Insufficient cpu"), then the placeholder shrinks for b. The
// scheduler decides who gets the room: the other pod (retried when the
// placeholder's shrink is reported, or once its back-off ends) or b's pod
// (created right after that report). The loser waits Pending; nothing is
// ever refused by the kubelet (no OutOfcpu: every pod reaches it through
// the scheduler), the two never run together, and the run succeeds once
// the other pod is done. Which one won is logged.
func TestRealNodeHandOverRacePendingPod(t *testing.T) {
	ns := newNamespace(t, "real-race")
	setFeatureFlags(t, patchedFlags(nil))
	rec := record(t, ns)
	const run = "race"
	s := raceSizesFor(t, realNode(t))
	node, held := raceRun(t, ns, run, s, nil)

	// The rival waits for the room the placeholder holds.
	rival := rivalPod(ns, "rival", node, false, s.rival, 15)
	if _, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), rival, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod rival: %v", err)
	}
	waitRivalUnschedulable(t, ns, run, rival.Name)

	done := waitRunSucceeded(t, ns, run, 3*time.Minute)
	t.Logf("PipelineRun %s: %s", run, describeCondition(done))
	waitPodEnded(t, ns, rival.Name)

	evs := rec.sorted()
	hs, o := raceOutcomeOf(t, evs, run, held, rival.Name)
	r := hs[rival.Name]
	for _, h := range hs {
		if h.phase == corev1.PodFailed {
			t.Errorf("pod %v failed: every pod went through the scheduler, the kubelet should refuse none", h)
		}
	}
	if r == nil || o.b == nil {
		t.Fatalf("pod rival or b's pod never seen")
	}
	if r.bound == 0 || o.b.bound == 0 {
		t.Fatalf("pod rival or b's pod never bound")
	}
	if o.shrinkSeen == 0 || o.bCreated < o.shrinkSeen {
		t.Errorf("TaskRun b created at rv %d, the placeholder's shrink reported at rv %d: b did not wait for the shrink", o.bCreated, o.shrinkSeen)
	}
	winner, loser := r, o.b
	if o.b.bound < r.bound {
		winner, loser = o.b, r
	}
	t.Logf("%s took the room handed over; %s waited", winner.name, loser.name)
	if r.bound < o.shrinkSeen {
		t.Errorf("pod rival was bound at rv %d, before the placeholder reported its shrink (rv %d)", r.bound, o.shrinkSeen)
	}
	if loser.bound < winner.ended {
		t.Errorf("%s was bound at rv %d, before %s ended (rv %d): the scheduler counted less than both ask", loser.name, loser.bound, winner.name, winner.ended)
	}
	if !strings.Contains(loser.unschedulable, "Insufficient cpu") {
		t.Errorf("%s did not wait unschedulable for CPU (%q)", loser.name, loser.unschedulable)
	}
	if loser == o.b && !slices.Contains(o.bReasons, "ExceededNodeResources") {
		t.Errorf("TaskRun b waited for the node without saying so: its reasons %v, want ExceededNodeResources among them", o.bReasons)
	}
	checkPlaceholderResizes(t, evs, false)
}

// TestRealNodeHandOverRaceNodeName: pods of no run sent straight to the
// kubelet (spec.nodeName), which admits them against what it has allocated,
// without the scheduler.
//   - While the placeholder holds the room, such a pod is refused at once
//     (phase Failed, reason OutOfcpu): the reservation holds against the
//     kubelet, not only the scheduler.
//   - Created right at the shrink: "asked" the moment the engine resizes the
//     placeholder (the kubelet may not have applied it; b's TaskRun is
//     created with the shrink), "reported" the moment the node reports the
//     smaller size (when b's pod can be bound). Whatever the kubelet admits, b and that pod never run
//     together, and the run either succeeds or fails saying that the node
//     refused b's pod.
func TestRealNodeHandOverRaceNodeName(t *testing.T) {
	realNode(t)
	for _, tc := range []struct {
		name     string
		reported bool
	}{
		{name: "asked", reported: false},
		{name: "reported", reported: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t, "real-race-"+tc.name)
			setFeatureFlags(t, patchedFlags(nil))
			rec := record(t, ns)
			const run = "race"
			s := raceSizesFor(t, realNode(t))
			node, held := raceRun(t, ns, run, s, nil)

			early := rivalPod(ns, "early", node, true, s.rival, 15)
			if _, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), early, metav1.CreateOptions{}); err != nil {
				t.Fatalf("creating pod early: %v", err)
			}
			var refused *corev1.Pod
			waitFor(t, "the kubelet to decide on pod early", 30*time.Second, func(ctx context.Context) error {
				p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, early.Name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if p.Status.Phase == corev1.PodPending {
					return fmt.Errorf("pod early is %s", podStatus(p))
				}
				refused = p
				return nil
			})
			if refused.Status.Phase != corev1.PodFailed || refused.Status.Reason != reasonOutOfCPU {
				t.Errorf("pod early (%s on %s, beside the placeholder's %s): phase %s, reason %q (%s); want Failed, %s",
					s.rival.String(), node, held.String(), refused.Status.Phase, refused.Status.Reason, refused.Status.Message, reasonOutOfCPU)
			} else {
				t.Logf("pod early refused by the kubelet while the placeholder held the room: %s: %s", refused.Status.Reason, refused.Status.Message)
			}
			if trs, err := taskRuns(bg(), ns, run); err != nil {
				t.Fatalf("listing TaskRuns: %v", err)
			} else if len(trs) != 1 {
				t.Fatalf("%d TaskRuns exist already: task a ended before the race was set (a sleeps 12 s)", len(trs))
			}

			late := rivalPod(ns, "late", node, true, s.rival, 15)
			trig := createAtShrink(t, ns, run, held, tc.reported, late)
			var tr raceTrigger
			select {
			case tr = <-trig:
			case <-time.After(2 * time.Minute):
				t.Fatalf("the placeholder did not shrink below %s within 2 minutes", held.String())
			}
			if tr.err != nil {
				t.Fatal(tr.err)
			}
			t.Logf("pod late created at rv %s, at the placeholder's state of rv %s: %s", tr.created, tr.rv, tr.state)

			done, err := waitRunDone(ns, run, 3*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("PipelineRun %s: %s", run, describeCondition(done))
			waitPodEnded(t, ns, late.Name)

			evs := rec.sorted()
			hs, o := raceOutcomeOf(t, evs, run, held, late.Name)
			l := hs[late.Name]
			if l == nil || o.b == nil {
				t.Fatalf("pod late or b's pod never seen")
			}
			if o.shrinkSeen == 0 || o.bCreated < o.shrinkSeen {
				t.Errorf("TaskRun b created at rv %d, the placeholder's shrink reported at rv %d: b did not wait for the shrink", o.bCreated, o.shrinkSeen)
			}
			switch {
			case l.phase == corev1.PodFailed && l.reason != reasonOutOfCPU:
				t.Errorf("pod late failed for another reason than %s: %v", reasonOutOfCPU, l)
			case l.phase == corev1.PodFailed:
				t.Logf("the kubelet refused pod late: %s", l.msg)
			case l.running == 0:
				t.Errorf("pod late neither ran nor was refused: %v", l)
			default:
				t.Logf("the kubelet admitted pod late (running at rv %d)", l.running)
			}
			ok := succeeded(done) != nil && succeeded(done).IsTrue()
			switch {
			case o.b.phase == corev1.PodFailed:
				// The scheduler bound b's pod before it saw pod late; the
				// kubelet, which admits in the order pods reach it, refused b.
				if o.b.reason != reasonOutOfCPU {
					t.Errorf("b's pod failed for another reason than %s: %v", reasonOutOfCPU, o.b)
				}
				if ok {
					t.Errorf("the run succeeded though b's pod was refused")
				}
				c := succeeded(done)
				trs, err := taskRuns(bg(), ns, run)
				if err != nil {
					t.Fatalf("listing TaskRuns: %v", err)
				}
				var bMsg string
				for _, tr := range trs {
					if tr.Labels[labelPipelineTask] == "b" {
						if bc := tr.Status.GetCondition("Succeeded"); bc != nil {
							bMsg = bc.Message
						}
					}
				}
				if !strings.Contains(bMsg, "Node didn't have enough resource") {
					t.Errorf("TaskRun b does not say the node refused its pod: %q (run: %s)", bMsg, conditionString(c))
				}
				t.Logf("b's pod was refused by the kubelet; TaskRun b says %q", bMsg)
			case !ok:
				t.Errorf("the run did not succeed though no pod of it was refused: %s", describeCondition(done))
			case l.running != 0 && o.b.bound < l.ended:
				t.Errorf("b's pod was bound at rv %d while pod late ran (rv %d to %d)", o.b.bound, l.running, l.ended)
			}
			for name, h := range hs {
				if h.phase == corev1.PodFailed && name != early.Name && name != late.Name && h != o.b {
					t.Errorf("pod %v failed", h)
				}
			}
			checkPlaceholderResizes(t, evs, false)
		})
	}
}

// waitRivalUnschedulable waits until pod name is found unschedulable for
// CPU while the placeholder holds the room, and checks that task a is still
// the run's only TaskRun (the hand-over has not begun).
func waitRivalUnschedulable(t *testing.T, ns, run, name string) {
	t.Helper()
	waitFor(t, "pod "+name+" to be unschedulable for CPU while the placeholder holds the room", 30*time.Second, func(ctx context.Context) error {
		p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Spec.NodeName != "" {
			return fmt.Errorf("pod %s was bound to %s: the placeholder did not hold the room", name, p.Spec.NodeName)
		}
		if msg, ok := podScheduledFalse(p); !ok || !strings.Contains(msg, "Insufficient cpu") {
			return fmt.Errorf("pod %s is %s", name, podStatus(p))
		}
		return nil
	})
	if trs, err := taskRuns(bg(), ns, run); err != nil {
		t.Fatalf("listing TaskRuns: %v", err)
	} else if len(trs) != 1 {
		t.Fatalf("%d TaskRuns exist already: task a ended before pod %s waited for its room (a sleeps 12 s)", len(trs), name)
	}
}

// TestRealNodeHandOverRacePriority: the remedy the docs give for the race,
// on the real node. The run's pods have a PriorityClass above a pod of no
// run that waits, Pending, for the room the placeholder holds, and that
// would then run for an hour. Whoever the scheduler gives the room to at
// the hand-over, b runs within the test's bound: if the other pod took the
// room, b's pod preempts it (the scheduler marks it DisruptionTarget,
// PreemptionByScheduler, the kubelet stops it) and is bound once it is
// gone; the run succeeds.
func TestRealNodeHandOverRacePriority(t *testing.T) {
	ns := newNamespace(t, "real-race-prio")
	setFeatureFlags(t, patchedFlags(nil))
	const class = "e2e-pra-real-tasks"
	ensurePriorityClass(t, class, 1000)
	rec := record(t, ns)
	const run = "race"
	s := raceSizesFor(t, realNode(t))
	tpl := realPodTemplate()
	tpl.PriorityClassName = ptr.To(class)
	node, held := raceRun(t, ns, run, s, tpl)

	rival := rivalPod(ns, "rival", node, false, s.rival, 3600)
	if _, err := cluster.kube.CoreV1().Pods(ns).Create(bg(), rival, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod rival: %v", err)
	}
	waitRivalUnschedulable(t, ns, run, rival.Name)

	done := waitRunSucceeded(t, ns, run, 3*time.Minute)
	t.Logf("PipelineRun %s: %s", run, describeCondition(done))

	evs := rec.sorted()
	hs, o := raceOutcomeOf(t, evs, run, held, rival.Name)
	r := hs[rival.Name]
	if r == nil || o.b == nil || o.b.bound == 0 {
		t.Fatalf("pod rival or b's pod never seen, or b's pod never bound")
	}
	var disruption string
	var deleted bool
	for _, e := range evs {
		if e.kind != "Pod" || e.pod.Name != rival.Name {
			continue
		}
		if e.pod.DeletionTimestamp != nil || e.typ == watch.Deleted {
			deleted = true
		}
		for _, c := range e.pod.Status.Conditions {
			if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && disruption == "" {
				disruption = c.Reason + ": " + c.Message
			}
		}
	}
	switch {
	case r.bound != 0 && r.bound < o.b.bound:
		t.Logf("pod rival took the room at the hand-over (rv %d); b's pod preempted it: %s", r.bound, disruption)
		if !strings.HasPrefix(disruption, "PreemptionByScheduler") || !deleted {
			t.Errorf("pod rival held the room before b's pod but was not preempted (DisruptionTarget %q, deleted %v)", disruption, deleted)
		}
	default:
		t.Logf("b's pod took the room at the hand-over (rv %d); pod rival still waits: %v", o.b.bound, r)
		if r.bound != 0 && r.bound < o.b.ended {
			t.Errorf("pod rival was bound at rv %d while b ran (rv %d to %d)", r.bound, o.b.running, o.b.ended)
		}
	}
	for name, h := range hs {
		if h.phase == corev1.PodFailed && name != rival.Name {
			t.Errorf("pod %v failed", h)
		}
	}
	checkPlaceholderResizes(t, evs, false)
}

// waitPodEnded waits up to a minute for pod name of ns to succeed or fail.
func waitPodEnded(t *testing.T, ns, name string) {
	t.Helper()
	waitFor(t, "pod "+name+" to end", time.Minute, func(ctx context.Context) error {
		p, err := cluster.kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			return fmt.Errorf("pod %s is %s", name, podStatus(p))
		}
		return nil
	})
}

// raceOutcomeOf reads the race from the events evs recorded for run: the history
// of every pod by name, and the outcome for task b; it logs pod other's
// history and the outcome.
func raceOutcomeOf(t *testing.T, evs []event, run string, held resource.Quantity, other string) (map[string]*racePod, raceOutcome) {
	t.Helper()
	hs, o := raceEvents(t, evs, run, held)
	t.Logf("%s %v", other, hs[other])
	t.Logf("b %v", o.b)
	t.Logf("the placeholder reported its shrink at rv %d; TaskRun b was created at rv %d and went through %v", o.shrinkSeen, o.bCreated, o.bReasons)
	return hs, o
}
