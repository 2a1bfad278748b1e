//go:build e2e && soak

package e2e

// The soak (issue 8, item 10; not part of CI): hundreds of PipelineRuns on a
// cluster of 20 or more nodes while faults are injected at random, then a
// report. Run it with `make soak` (hack/soak.sh), which starts and stops its
// own cluster. See README.md in this directory.

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektoninformers "github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

const (
	// soakRunLabel marks the soak's PipelineRuns (for the run informer).
	soakRunLabel = "e2e.pipelinerun-affinity.dev/soak"
	// soakTaintKey is a taint nothing else manages (the node lifecycle
	// controller removes node.kubernetes.io/* pressure taints).
	soakTaintKey = "karpenter.sh/disrupted"
	soakQuota    = "soak-quota"

	soakStuckAfter    = 2 * time.Minute  // no progress for longer: stuck
	soakCreateTimeout = 45 * time.Minute // bound of the creation phase
	soakDoneTimeout   = 20 * time.Minute // bound of the wait for every run
	soakLeakWait      = 60 * time.Second // placeholders/PVCs left after this leaked
	// soakKillSpacing is the least time between two controller kills. A
	// restarted controller first reconciles every PipelineRun and TaskRun
	// it finds, done or not: about 40 s for the soak's thousand on the
	// development machine, during which no run moves. Killed again within
	// that time, as kills in a row did (each fault that could not apply
	// fell to a kill, which always applies), it moves nothing at all; a
	// kubelet holds a crash-looping container back for longer still.
	soakKillSpacing = 90 * time.Second
)

// The fault kinds, in the order of the report.
const (
	faultCordon     = "cordon"
	faultTaint      = "taint"
	faultDeletePod  = "delete_placeholder_pod"
	faultDeleteSTS  = "delete_placeholder_sts"
	faultKill       = "kill_controller"
	faultFlagFlip   = "flag_flip"
	faultCancel     = "cancel"
	faultQuota      = "quota"
	faultDeleteNode = "delete_node"
)

var faultKinds = []string{faultCordon, faultTaint, faultDeletePod, faultDeleteSTS, faultKill, faultFlagFlip, faultCancel, faultQuota, faultDeleteNode, faultLoseNode}

// soakRun is what the soak knows of one PipelineRun.
type soakRun struct {
	ns, name   string
	pipeline   string // kind of pipeline, for the report
	created    time.Time
	lastChange time.Time     // last change of the progress signature
	maxGap     time.Duration // longest time without a change while not done
	gap        soakGap       // when maxGap was, and what ended it
	signature  string
	placed     time.Time // when its first child was seen: it had its node
	// lastCondition is the condition when the signature last changed.
	lastCondition string
	done          bool
	succeeded     bool
	condition     string
	touchedBy     []string // ids of the faults that touched it
}

// soakUndo undoes a fault when it is due.
type soakUndo struct {
	due  time.Time
	what string
	fn   func(ctx context.Context) error
}

type soakWindow struct{ start, end time.Time }

// soak is the state shared by the run creator, the fault injector, the run
// informer and the pod recorder's invariant.
type soak struct {
	t          *testing.T
	start      time.Time
	seed       int64
	namespaces []string
	cpuNS      string // every step requests CPU here: the quota fault's target

	mu     sync.Mutex
	runs   map[string]*soakRun // key ns/name
	order  []string
	errors []string

	// faults
	faultCount   int
	faultsByKind map[string]int
	faultErrors  int
	busyNodes    map[string]string       // node -> fault id (cordoned, tainted, deleted or lost)
	deletedNodes map[string]*corev1.Node // node -> the object to recreate
	lostPods     map[types.UID]bool      // pods bound to a node when it was deleted
	quotaWindows []soakWindow
	quotaActive  bool
	flagOff      bool
	lastKill     time.Time // when the controller was last killed
	cancelled    map[string]bool
	pending      []soakUndo // owned by the fault goroutine until it has ended

	// invariants
	splits         map[string]string // run key -> first observation
	isolation      map[string]bool
	isolationOrder []string
	assistantMix   map[string]bool
}

func (s *soak) logf(format string, args ...interface{}) {
	now := time.Now()
	fmt.Printf("soak: %s +%s %s\n", now.UTC().Format("15:04:05"), now.Sub(s.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// recordError keeps an error for the test goroutine to report.
func (s *soak) recordError(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	s.logf("ERROR: %s", msg)
	s.mu.Lock()
	s.errors = append(s.errors, msg)
	s.mu.Unlock()
}

func soakKey(ns, name string) string { return ns + "/" + name }

// ---------------------------------------------------------------- flags ----

// soakFlags are the soak's feature flags: one run per node, a node wait of
// up to 10 minutes, the engine on unless a flag-flip fault has it off.
func soakFlags(enabled bool) map[string]string {
	return patchedFlags(map[string]string{flagMaxNodeWait: "10m", flagEnable: strconv.FormatBool(enabled)})
}

func (s *soak) desiredFlags() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return soakFlags(!s.flagOff)
}

// soakApplyFlags writes kv into the feature flags ("" deletes a key).
func soakApplyFlags(ctx context.Context, kv map[string]string) error {
	return updateFeatureFlags(ctx, func(data map[string]string) {
		for k, v := range kv {
			if v == "" {
				delete(data, k)
			} else {
				data[k] = v
			}
		}
	})
}

// ----------------------------------------------------------- controller ----

// killController SIGKILLs the Tekton controller and starts it again at once,
// as a kubelet restarts a crashed container (hack/tekton-controller.sh
// restart: nothing is installed again, the feature flags stay as they are).
// Its log so far is kept first (keepControllerLog).
func killController(t testing.TB) error {
	t.Helper()
	pid, err := sigkillController()
	if err != nil {
		return err
	}
	if err := keepControllerLog(); err != nil {
		t.Logf("%v", err)
	}
	start := time.Now()
	if err := startController("restart"); err != nil {
		return err
	}
	t.Logf("killed the Tekton controller (PID %d); restarted and serving metrics in %s", pid, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// ---------------------------------------------------------------- nodes ----

// setSoakTaint adds or removes the soak's NoSchedule taint on node.
func setSoakTaint(ctx context.Context, node string, add bool) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		for _, x := range n.Spec.Taints {
			if x.Key != soakTaintKey {
				taints = append(taints, x)
			}
		}
		if add {
			taints = append(taints, corev1.Taint{Key: soakTaintKey, Effect: corev1.TaintEffectNoSchedule})
		} else if len(taints) == len(n.Spec.Taints) {
			return nil
		}
		n.Spec.Taints = taints
		_, err = cluster.kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func soakCreateNode(ctx context.Context, n *corev1.Node) error {
	_, err := cluster.kube.CoreV1().Nodes().Create(ctx, n.DeepCopy(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// ----------------------------------------------------------------- runs ----

// soakPipeline returns a random pipeline: a chain of 2-4 tasks or a fan-out,
// fan-in (a -> b,c -> d), with kwok durations of 1-4 s and CPU requests of
// 100m-500m on some (allCPU: every) step.
func soakPipeline(rng *rand.Rand, allCPU bool) (*v1.PipelineSpec, runOpts, string) {
	dur := func() string { return fmt.Sprintf("%ds", 1+rng.Intn(4)) }
	cpu := func() string { return fmt.Sprintf("%dm", 100*(1+rng.Intn(5))) }
	withCPU := allCPU || rng.Intn(2) == 0
	task := func(name string, after ...string) taskDef {
		td := taskDef{name: name, after: after, duration: dur()}
		if withCPU {
			td.cpu = cpu()
		}
		return td
	}
	switch k := rng.Intn(3); {
	case k == 0 && !allCPU:
		// The suite's chain, one kwok duration for the whole run.
		return chain(2 + rng.Intn(3)), runOpts{duration: dur()}, "chain"
	case k <= 1:
		n := 2 + rng.Intn(3)
		tasks := []taskDef{task("t1")}
		for i := 2; i <= n; i++ {
			tasks = append(tasks, task(fmt.Sprintf("t%d", i), fmt.Sprintf("t%d", i-1)))
		}
		kind := "chain"
		if withCPU {
			kind = "chain-cpu"
		}
		return pipelineSpec(tasks...), runOpts{}, kind
	default:
		kind := "fan"
		if withCPU {
			kind = "fan-cpu"
		}
		return pipelineSpec(task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c")), runOpts{}, kind
	}
}

// createSoakRun creates pr, retrying for up to a minute: one transient API
// error must not end a soak of hundreds of runs (createRun would).
func createSoakRun(pr *v1.PipelineRun) error {
	return poll(fmt.Sprintf("PipelineRun %s/%s to be created", pr.Namespace, pr.Name), time.Minute, func(ctx context.Context) error {
		_, err := cluster.tekton.TektonV1().PipelineRuns(pr.Namespace).Create(ctx, pr, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	})
}

// forgetRun drops a run whose creation failed.
func (s *soak) forgetRun(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.runs, key)
	for i, k := range s.order {
		if k == key {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

func (s *soak) addRun(ns, name, pipeline string, created time.Time) *soakRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := soakKey(ns, name)
	r := s.runs[key]
	if r == nil {
		r = &soakRun{ns: ns, name: name, created: created, lastChange: created}
		s.runs[key] = r
		s.order = append(s.order, key)
	}
	if pipeline != "" {
		r.pipeline = pipeline
	}
	return r
}

// observeRun is the run informer's handler.
func (s *soak) observeRun(obj interface{}) {
	pr, ok := obj.(*v1.PipelineRun)
	if !ok {
		return
	}
	r := s.addRun(pr.Namespace, pr.Name, "", pr.CreationTimestamp.Time)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.done {
		return
	}
	now := time.Now()
	r.condition = describeCondition(pr)
	if sig := progressSignature(pr); sig != r.signature {
		r.progressed(sig, r.condition, now)
	}
	if r.placed.IsZero() && len(pr.Status.ChildReferences) > 0 {
		r.placed = now
	}
	if pr.IsDone() {
		r.done = true
		c := succeeded(pr)
		r.succeeded = c != nil && c.IsTrue()
	}
}

// watchRuns starts an informer on the soak's PipelineRuns; it stops at
// test cleanup.
func (s *soak) watchRuns(t *testing.T) {
	t.Helper()
	factory := tektoninformers.NewSharedInformerFactoryWithOptions(cluster.tekton, 0,
		tektoninformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = soakRunLabel }))
	inf := factory.Tekton().V1().PipelineRuns().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.observeRun,
		UpdateFunc: func(_, obj interface{}) { s.observeRun(obj) },
	}); err != nil {
		t.Fatalf("PipelineRun informer: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop) })
	for _, ok := range factory.WaitForCacheSync(stop) {
		if !ok {
			t.Fatalf("PipelineRun informer did not sync")
		}
	}
}

// counts returns how many runs exist and how many are done.
func (s *soak) counts() (total, done, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		total++
		if r.done {
			done++
			if !r.succeeded {
				failed++
			}
		}
	}
	return total, done, failed
}

func (s *soak) touch(id string, keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if r := s.runs[k]; r != nil && !soakContains(r.touchedBy, id) {
			r.touchedBy = append(r.touchedBy, id)
		}
	}
}

func soakContains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// --------------------------------------------------------- invariants ----

// invariant is the pod recorder's check, run on every pod change. It
// ignores pods bound to a node the soak deleted (they run nowhere) and
// records:
//   - splits: TaskRun pods of one run bound, not finished, on two nodes at
//     once (a move waits for the old node's pods to finish first);
//   - isolation violations: the placeholders of two runs on one node at
//     once (sharedHolderNodes over the engine's placeholders only);
//   - overlaps that involve an upstream Affinity Assistant (runs created
//     while a flag flip had the engine off), reported apart.
func (s *soak) invariant(live []*corev1.Pod) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var holders, holdersAndAssistants []*corev1.Pod
	runNodes := map[string]map[string]bool{}
	for _, p := range live {
		node := p.Spec.NodeName
		if node == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if s.lostPods[p.UID] || s.deletedNodes[node] != nil {
			continue
		}
		switch p.Labels[labelComponent] {
		case componentHolder:
			holders = append(holders, p)
			holdersAndAssistants = append(holdersAndAssistants, p)
		case componentAssistant:
			holdersAndAssistants = append(holdersAndAssistants, p)
		}
		if run := p.Labels[labelPipelineRun]; run != "" && p.Labels[labelTaskRun] != "" {
			key := soakKey(p.Namespace, run)
			if runNodes[key] == nil {
				runNodes[key] = map[string]bool{}
			}
			runNodes[key][node] = true
		}
	}
	var out []string
	for key, nodes := range runNodes {
		if len(nodes) > 1 {
			msg := fmt.Sprintf("TaskRun pods of %s running on %v at %s", key, keys(nodes), time.Now().UTC().Format("15:04:05"))
			if _, seen := s.splits[key]; !seen {
				s.splits[key] = msg
			}
			out = append(out, msg)
		}
	}
	isolated := map[string]bool{}
	if v := sharedHolderNodes(holders); v != "" {
		for _, e := range strings.Split(v, "; ") {
			isolated[e] = true
			if !s.isolation[e] {
				s.isolation[e] = true
				s.isolationOrder = append(s.isolationOrder, e)
			}
			out = append(out, e)
		}
	}
	if v := sharedHolderNodes(holdersAndAssistants); v != "" {
		for _, e := range strings.Split(v, "; ") {
			if !isolated[e] {
				s.assistantMix[e] = true
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// ------------------------------------------------------------- faults ----

// heldPlaceholders returns the bound, running placeholder pods of the
// soak's unfinished runs, on nodes no fault holds.
func (s *soak) heldPlaceholders(ctx context.Context, freeNodesOnly bool) ([]corev1.Pod, error) {
	var out []corev1.Pod
	for _, ns := range s.namespaces {
		pods, err := placeholderPods(ctx, ns, "")
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			if p.Spec.NodeName == "" || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			s.mu.Lock()
			r := s.runs[soakKey(p.Namespace, p.Labels[labelPipelineRun])]
			skip := r == nil || r.done || s.lostPods[p.UID] || s.deletedNodes[p.Spec.NodeName] != nil ||
				(freeNodesOnly && s.busyNodes[p.Spec.NodeName] != "")
			s.mu.Unlock()
			if !skip {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// podsOnNode returns the unfinished pods of the soak's namespaces bound to node.
func (s *soak) podsOnNode(ctx context.Context, node string) ([]corev1.Pod, error) {
	var out []corev1.Pod
	for _, ns := range s.namespaces {
		l, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			return nil, err
		}
		for _, p := range l.Items {
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

func soakRunsOf(pods []corev1.Pod) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pods {
		if run := p.Labels[labelPipelineRun]; run != "" && !seen[soakKey(p.Namespace, run)] {
			seen[soakKey(p.Namespace, run)] = true
			out = append(out, soakKey(p.Namespace, run))
		}
	}
	sort.Strings(out)
	return out
}

func soakDuration(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int63n(int64(hi-lo)+1))
}

// faultInjector injects one random fault at random intervals until stop is
// closed, and undoes each fault that needs it when it is due (also after
// stop, then it returns).
type faultInjector struct {
	s        *soak
	rng      *rand.Rand
	maxBusy  int // nodes that may be cordoned, tainted or deleted at once
	minPause time.Duration
	maxPause time.Duration
}

func (f *faultInjector) loop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	s := f.s
	next := time.Now().Add(soakDuration(f.rng, f.minPause, f.maxPause))
	stopping := false
	for {
		f.runDueUndos()
		s.mu.Lock()
		pending := len(s.pending)
		wake := time.Time{}
		for _, u := range s.pending {
			if wake.IsZero() || u.due.Before(wake) {
				wake = u.due
			}
		}
		s.mu.Unlock()
		if stopping && pending == 0 {
			return
		}
		if !stopping {
			if !time.Now().Before(next) {
				f.injectOne()
				next = time.Now().Add(soakDuration(f.rng, f.minPause, f.maxPause))
				continue
			}
			if wake.IsZero() || next.Before(wake) {
				wake = next
			}
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-stop:
			stopping = true
			stop = nil
			s.logf("run creation ended: no more faults; undoing the %d pending ones when due", pending)
		case <-timer.C:
		}
		timer.Stop()
	}
}

// runDueUndos runs the undos that are due, each retried for up to 30 s.
func (f *faultInjector) runDueUndos() {
	s := f.s
	now := time.Now()
	s.mu.Lock()
	var due, later []soakUndo
	for _, u := range s.pending {
		if !u.due.After(now) {
			due = append(due, u)
		} else {
			later = append(later, u)
		}
	}
	s.pending = later
	s.mu.Unlock()
	for _, u := range due {
		if err := soakRunUndo(u); err != nil {
			s.recordError("undo %s: %v", u.what, err)
		} else {
			s.logf("undone: %s", u.what)
		}
	}
}

func soakRunUndo(u soakUndo) error {
	return poll("undoing: "+u.what, 30*time.Second, u.fn)
}

func (f *faultInjector) schedule(after time.Duration, what string, fn func(ctx context.Context) error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.pending = append(f.s.pending, soakUndo{due: time.Now().Add(after), what: what, fn: fn})
}

// injectOne tries the fault kinds in a random order and injects the first
// one that applies now.
func (f *faultInjector) injectOne() {
	s := f.s
	for _, i := range f.rng.Perm(len(faultKinds)) {
		kind := faultKinds[i]
		s.mu.Lock()
		id := fmt.Sprintf("#%d", s.faultCount+1)
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(bg(), 5*time.Minute)
		target, runs, applied, err := f.inject(ctx, id, kind)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.faultErrors++
			s.mu.Unlock()
			s.logf("fault %s %s on %s FAILED: %v", id, kind, target, err)
			return
		}
		if !applied {
			continue
		}
		s.mu.Lock()
		s.faultCount++
		s.faultsByKind[kind]++
		s.mu.Unlock()
		s.touch(id, runs...)
		s.logf("fault %s %s %s runs=%v", id, kind, target, runs)
		return
	}
	s.logf("no fault applies now")
}

// inject injects one fault of kind; applied is false when none applies now
// (no target, or that fault is already in force).
func (f *faultInjector) inject(ctx context.Context, id, kind string) (target string, runs []string, applied bool, err error) {
	s := f.s
	switch kind {
	case faultCordon, faultTaint, faultDeleteNode, faultLoseNode:
		s.mu.Lock()
		busy := len(s.busyNodes)
		s.mu.Unlock()
		if busy >= f.maxBusy {
			return "", nil, false, nil
		}
		holders, err := s.heldPlaceholders(ctx, true)
		if err != nil || len(holders) == 0 {
			return "", nil, false, err
		}
		p := holders[f.rng.Intn(len(holders))]
		node := p.Spec.NodeName
		onNode, err := s.podsOnNode(ctx, node)
		if err != nil {
			return node, nil, false, err
		}
		runs = soakRunsOf(append(onNode, p))
		switch kind {
		case faultLoseNode:
			target, err := f.loseNode(ctx, id, node)
			return target, runs, err == nil, err
		case faultCordon:
			// The undo is scheduled even when the cordon seems to fail: it
			// may have been applied all the same.
			err := setUnschedulable(ctx, cluster.kube, node, true)
			f.holdNode(node, id)
			after := soakDuration(f.rng, 5*time.Second, 20*time.Second)
			f.schedule(after, fmt.Sprintf("%s uncordon %s (after %s)", id, node, after), func(ctx context.Context) error {
				if err := setUnschedulable(ctx, cluster.kube, node, false); err != nil {
					return err
				}
				f.releaseNode(node)
				return nil
			})
			return node + " for " + after.String(), runs, err == nil, err
		case faultTaint:
			err := setSoakTaint(ctx, node, true)
			f.holdNode(node, id)
			after := soakDuration(f.rng, 5*time.Second, 20*time.Second)
			f.schedule(after, fmt.Sprintf("%s untaint %s (after %s)", id, node, after), func(ctx context.Context) error {
				if err := setSoakTaint(ctx, node, false); err != nil {
					return err
				}
				f.releaseNode(node)
				return nil
			})
			return fmt.Sprintf("%s with %s:NoSchedule for %s", node, soakTaintKey, after), runs, err == nil, err
		default: // faultDeleteNode
			n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err != nil {
				return node, runs, false, err
			}
			copyNode := nodeForRecreation(n, soakTaintKey)
			// Marked deleted first, so the invariants never count its pods.
			s.mu.Lock()
			s.busyNodes[node] = id
			s.deletedNodes[node] = copyNode
			s.mu.Unlock()
			if err := cluster.kube.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				s.mu.Lock()
				delete(s.busyNodes, node)
				delete(s.deletedNodes, node)
				s.mu.Unlock()
				return node, runs, false, err
			}
			s.mu.Lock()
			for _, q := range onNode {
				s.lostPods[q.UID] = true
			}
			s.mu.Unlock()
			after := soakDuration(f.rng, 10*time.Second, 30*time.Second)
			f.scheduleRecreate(id, node, copyNode, after)
			return node + " for " + after.String(), runs, true, nil
		}

	case faultDeletePod, faultDeleteSTS:
		holders, err := s.heldPlaceholders(ctx, false)
		if err != nil || len(holders) == 0 {
			return "", nil, false, err
		}
		p := holders[f.rng.Intn(len(holders))]
		run := p.Labels[labelPipelineRun]
		runs = []string{soakKey(p.Namespace, run)}
		if kind == faultDeletePod {
			target = "pod " + p.Namespace + "/" + p.Name + " on " + p.Spec.NodeName
			err := cluster.kube.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
			return target, runs, err == nil, err
		}
		sts, err := placeholderStatefulSets(ctx, p.Namespace, run)
		if err != nil || len(sts) == 0 {
			return "", nil, false, err
		}
		target = "StatefulSet " + p.Namespace + "/" + sts[0].Name
		policy := metav1.DeletePropagationBackground
		err = cluster.kube.AppsV1().StatefulSets(p.Namespace).Delete(ctx, sts[0].Name, metav1.DeleteOptions{PropagationPolicy: &policy})
		return target, runs, err == nil, err

	case faultKill:
		s.mu.Lock()
		recent := time.Since(s.lastKill) < soakKillSpacing
		s.mu.Unlock()
		if recent {
			return "", nil, false, nil
		}
		err := killController(s.t)
		s.mu.Lock()
		s.lastKill = time.Now()
		s.mu.Unlock()
		if err != nil {
			// Whatever failed, the soak needs a controller: installed
			// afresh, which resets the feature flags, put back below.
			if _, merr := cluster.scrapeMetrics(ctx); merr != nil {
				if rerr := startController("patched"); rerr != nil {
					s.recordError("no Tekton controller after fault %s (%v): %v", id, err, rerr)
				}
				if ferr := soakApplyFlags(ctx, s.desiredFlags()); ferr != nil {
					s.recordError("re-applying the feature flags after fault %s: %v", id, ferr)
				}
			}
		}
		return "the Tekton controller (SIGKILL, restart)", nil, err == nil, err

	case faultFlagFlip:
		s.mu.Lock()
		off := s.flagOff
		s.mu.Unlock()
		if off {
			return "", nil, false, nil
		}
		s.mu.Lock()
		s.flagOff = true
		s.mu.Unlock()
		if err := soakApplyFlags(ctx, s.desiredFlags()); err != nil {
			s.mu.Lock()
			s.flagOff = false
			s.mu.Unlock()
			return flagEnable, nil, false, err
		}
		after := soakDuration(f.rng, 5*time.Second, 15*time.Second)
		f.schedule(after, fmt.Sprintf("%s %s back to true (after %s)", id, flagEnable, after), func(ctx context.Context) error {
			s.mu.Lock()
			s.flagOff = false
			s.mu.Unlock()
			return soakApplyFlags(ctx, s.desiredFlags())
		})
		return fmt.Sprintf("%s=false for %s", flagEnable, after), nil, true, nil

	case faultCancel:
		var candidates []string
		s.mu.Lock()
		for _, k := range s.order {
			if r := s.runs[k]; !r.done && !s.cancelled[k] && time.Since(r.created) > 3*time.Second {
				candidates = append(candidates, k)
			}
		}
		s.mu.Unlock()
		if len(candidates) == 0 {
			return "", nil, false, nil
		}
		key := candidates[f.rng.Intn(len(candidates))]
		ns, name, _ := strings.Cut(key, "/")
		_, err := cluster.tekton.TektonV1().PipelineRuns(ns).Patch(ctx, name, types.MergePatchType,
			[]byte(`{"spec":{"status":"Cancelled"}}`), metav1.PatchOptions{})
		if err == nil {
			s.mu.Lock()
			s.cancelled[key] = true
			s.mu.Unlock()
		}
		return "PipelineRun " + key, []string{key}, err == nil, err

	case faultQuota:
		s.mu.Lock()
		active := s.quotaActive
		s.mu.Unlock()
		if active {
			return "", nil, false, nil
		}
		// Smaller than any run's peak (every step of s.cpuNS asks >= 100m):
		// no new pod of the namespace fits while it exists.
		q := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: soakQuota, Namespace: s.cpuNS},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceRequestsCPU: resource.MustParse("50m")}},
		}
		target = "ResourceQuota " + s.cpuNS + "/" + soakQuota + " requests.cpu=50m"
		if _, err := cluster.kube.CoreV1().ResourceQuotas(s.cpuNS).Create(ctx, q, metav1.CreateOptions{}); err != nil {
			// It may exist all the same; the cleanup sweep deletes it too.
			_ = cluster.kube.CoreV1().ResourceQuotas(s.cpuNS).Delete(ctx, soakQuota, metav1.DeleteOptions{})
			return target, nil, false, err
		}
		s.mu.Lock()
		s.quotaActive = true
		s.quotaWindows = append(s.quotaWindows, soakWindow{start: time.Now()})
		window := len(s.quotaWindows) - 1
		s.mu.Unlock()
		after := soakDuration(f.rng, 10*time.Second, 30*time.Second)
		f.schedule(after, fmt.Sprintf("%s delete ResourceQuota %s/%s (after %s)", id, s.cpuNS, soakQuota, after), func(ctx context.Context) error {
			err := cluster.kube.CoreV1().ResourceQuotas(s.cpuNS).Delete(ctx, soakQuota, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			s.mu.Lock()
			s.quotaActive = false
			s.quotaWindows[window].end = time.Now()
			s.mu.Unlock()
			return nil
		})
		// Every unfinished run of the namespace is touched; the runs created
		// while the quota exists are found from the window in the report.
		s.mu.Lock()
		for _, k := range s.order {
			if r := s.runs[k]; r.ns == s.cpuNS && !r.done {
				runs = append(runs, k)
			}
		}
		s.mu.Unlock()
		return target + " for " + after.String(), runs, true, nil
	}
	return "", nil, false, fmt.Errorf("unknown fault kind %q", kind)
}

// scheduleRecreate creates deleted node again from copyNode after after.
func (f *faultInjector) scheduleRecreate(id, node string, copyNode *corev1.Node, after time.Duration) {
	s := f.s
	f.schedule(after, fmt.Sprintf("%s recreate node %s (after %s)", id, node, after), func(ctx context.Context) error {
		// Pods still bound to the name were bound to the deleted
		// node: they stay lost when it comes back.
		if left, err := s.podsOnNode(ctx, node); err == nil {
			s.mu.Lock()
			for _, q := range left {
				s.lostPods[q.UID] = true
			}
			s.mu.Unlock()
			s.touch(id, soakRunsOf(left)...)
		}
		if err := soakCreateNode(ctx, copyNode); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.deletedNodes, node)
		delete(s.busyNodes, node)
		s.mu.Unlock()
		return nil
	})
}

func (f *faultInjector) holdNode(node, id string) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	f.s.busyNodes[node] = id
}

func (f *faultInjector) releaseNode(node string) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	delete(f.s.busyNodes, node)
}

// restoreEverything undoes what faults may have left: pending undos, then a
// sweep (deleted nodes recreated, cordons and soak taints removed, the quota
// deleted, the flags re-applied, the controller restarted if it is down).
func (s *soak) restoreEverything() {
	s.mu.Lock()
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, u := range pending {
		if err := soakRunUndo(u); err != nil {
			s.t.Errorf("cleanup: undo %s: %v", u.what, err)
		}
	}
	// After the undos: one of them may delete a lost node.
	s.mu.Lock()
	var deleted []*corev1.Node
	for _, n := range s.deletedNodes {
		deleted = append(deleted, n)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(bg(), 3*time.Minute)
	defer cancel()
	for _, n := range deleted {
		if err := soakRunUndo(soakUndo{what: "recreate " + n.Name, fn: func(ctx context.Context) error { return soakCreateNode(ctx, n) }}); err != nil {
			s.t.Errorf("cleanup: recreating node %s: %v", n.Name, err)
		}
	}
	if nodes, err := cluster.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nodes.Items {
			if err := restartKubelet(ctx, n.Name); err != nil {
				s.t.Errorf("cleanup: %v", err)
			}
			if n.Labels[cordonedByLabel] != "" {
				if err := setUnschedulable(ctx, cluster.kube, n.Name, false); err != nil {
					s.t.Errorf("cleanup: uncordoning %s: %v", n.Name, err)
				}
			}
			for _, x := range n.Spec.Taints {
				if x.Key == soakTaintKey {
					if err := setSoakTaint(ctx, n.Name, false); err != nil {
						s.t.Errorf("cleanup: untainting %s: %v", n.Name, err)
					}
				}
			}
		}
	} else {
		s.t.Errorf("cleanup: listing nodes: %v", err)
	}
	if s.cpuNS != "" {
		if err := cluster.kube.CoreV1().ResourceQuotas(s.cpuNS).Delete(ctx, soakQuota, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			s.t.Errorf("cleanup: deleting ResourceQuota %s/%s: %v", s.cpuNS, soakQuota, err)
		}
	}
	if _, err := cluster.scrapeMetrics(ctx); err != nil {
		s.t.Logf("cleanup: the Tekton controller does not serve metrics (%v); restarting it", err)
		if err := startController("patched"); err != nil {
			s.t.Errorf("cleanup: %v", err)
		}
	}
	s.mu.Lock()
	s.flagOff = false
	s.mu.Unlock()
	if err := soakApplyFlags(ctx, s.desiredFlags()); err != nil {
		s.t.Errorf("cleanup: re-applying the soak's feature flags: %v", err)
	}
}

// --------------------------------------------------------------- report ----

func (s *soak) inQuotaWindow(r *soakRun, end time.Time) bool {
	if r.ns != s.cpuNS {
		return false
	}
	for _, w := range s.quotaWindows {
		wEnd := w.end
		if wEnd.IsZero() {
			wEnd = end
		}
		finished := r.lastChange
		if !r.done {
			finished = end
		}
		if r.created.Before(wEnd) && finished.After(w.start) {
			return true
		}
	}
	return false
}

// leaks waits up to soakLeakWait for the placeholders of done runs and the
// PVCs of the soak's namespaces to go, and returns what is left.
func (s *soak) leaks() (placeholders []string, pvcs []string) {
	_ = eventually(bg(), "the placeholders of done runs and the soak's PVCs to go", 2*time.Second, soakLeakWait, func(ctx context.Context) error {
		lp, lc := s.leftovers(ctx)
		if ctx.Err() != nil && (placeholders != nil || pvcs != nil) {
			// The deadline cut this look short: keep the last full one.
			return ctx.Err()
		}
		placeholders, pvcs = lp, lc
		if len(placeholders) > 0 || len(pvcs) > 0 {
			return fmt.Errorf("%d placeholder objects, %d claims or volumes left", len(placeholders), len(pvcs))
		}
		return nil
	})
	return placeholders, pvcs
}

// leftovers lists the placeholders of done runs, the PVCs of the soak's
// namespaces and the volumes still bound to them, once.
func (s *soak) leftovers(ctx context.Context) (placeholders []string, pvcs []string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, ns := range s.namespaces {
		sts, err := placeholderStatefulSets(ctx, ns, "")
		if err != nil {
			placeholders = append(placeholders, fmt.Sprintf("listing StatefulSets of %s: %v", ns, err))
		}
		pods, err := placeholderPods(ctx, ns, "")
		if err != nil {
			placeholders = append(placeholders, fmt.Sprintf("listing pods of %s: %v", ns, err))
		}
		s.mu.Lock()
		leaked := func(run string) bool {
			r := s.runs[soakKey(ns, run)]
			return r == nil || r.done // a stuck run's placeholder is not a leak
		}
		for _, x := range sts {
			if leaked(x.Labels[labelPipelineRun]) {
				placeholders = append(placeholders, fmt.Sprintf("StatefulSet %s/%s (run %s)", ns, x.Name, x.Labels[labelPipelineRun]))
			}
		}
		for _, x := range pods {
			if leaked(x.Labels[labelPipelineRun]) {
				placeholders = append(placeholders, fmt.Sprintf("pod %s/%s (run %s) on %q", ns, x.Name, x.Labels[labelPipelineRun], x.Spec.NodeName))
			}
		}
		s.mu.Unlock()
		l, err := cluster.kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			pvcs = append(pvcs, fmt.Sprintf("listing PVCs of %s: %v", ns, err))
		} else {
			for _, c := range l.Items {
				pvcs = append(pvcs, ns+"/"+c.Name)
			}
		}
	}
	// A claim deleted with its run leaves its volume to the provisioner,
	// which deletes it (reclaim policy Delete).
	pvs, err := cluster.kube.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
	if err != nil {
		pvcs = append(pvcs, fmt.Sprintf("listing PersistentVolumes: %v", err))
	} else {
		for _, pv := range pvs.Items {
			if ref := pv.Spec.ClaimRef; ref != nil && soakContains(s.namespaces, ref.Namespace) {
				pvcs = append(pvcs, fmt.Sprintf("PersistentVolume %s (claim %s/%s, %s)", pv.Name, ref.Namespace, ref.Name, pv.Status.Phase))
			}
		}
	}
	return placeholders, pvcs
}

// report prints the SOAK lines and fails the test on stuck or split runs,
// isolation violations, leaked placeholders and failures no fault explains.
func (s *soak) report(t *testing.T, wanted int) {
	t.Helper()
	end := time.Now()
	leakedHolders, leakedPVCs := s.leaks()

	s.mu.Lock()
	var succeededN, failedInjected int
	var failedOther, stuck, touchedRuns []string
	pipelines := map[string]int{}
	for _, k := range s.order {
		r := s.runs[k]
		pipelines[r.pipeline]++
		touched := len(r.touchedBy) > 0 || s.inQuotaWindow(r, end)
		if touched {
			touchedRuns = append(touchedRuns, k)
		}
		gap := r.maxGap
		if !r.done {
			if g := end.Sub(r.lastChange); g > gap {
				gap = g
			}
		}
		if !r.done || gap > soakStuckAfter {
			stuck = append(stuck, fmt.Sprintf("run=%s done=%t no_progress_for=%s touched=%v condition=%q %s",
				k, r.done, gap.Round(time.Second), r.touchedBy, r.condition, s.stuckDetail(r, end)))
		}
		switch {
		case !r.done:
		case r.succeeded:
			succeededN++
		case touched:
			failedInjected++
		default:
			failedOther = append(failedOther, fmt.Sprintf("run=%s pipeline=%s condition=%q", k, r.pipeline, r.condition))
		}
	}
	var splits []string
	for _, v := range s.splits {
		splits = append(splits, v)
	}
	sort.Strings(splits)
	isolation := append([]string(nil), s.isolationOrder...)
	mixed := len(s.assistantMix)
	byKind := make([]string, 0, len(faultKinds))
	for _, k := range faultKinds {
		byKind = append(byKind, fmt.Sprintf("%s=%d", k, s.faultsByKind[k]))
	}
	faults, faultErrors := s.faultCount, s.faultErrors
	total := len(s.order)
	errs := append([]string(nil), s.errors...)
	waits := s.nodeWaits()
	s.mu.Unlock()

	var kinds []string
	for k, n := range pipelines {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)

	fmt.Println()
	fmt.Printf("SOAK runs=%d succeeded=%d failed_injected=%d failed_other=%d stuck=%d split=%d leaked_placeholders=%d leaked_pvcs=%d faults=%d seed=%d duration=%s\n",
		total, succeededN, failedInjected, len(failedOther), len(stuck), len(splits), len(leakedHolders), len(leakedPVCs), faults, s.seed, end.Sub(s.start).Round(time.Second))
	fmt.Printf("SOAK faults %s errors=%d\n", strings.Join(byKind, " "), faultErrors)
	fmt.Printf("SOAK isolation violations=%d assistant_overlaps=%d\n", len(isolation), mixed)
	fmt.Printf("SOAK touched runs=%d pipelines %s nodes=%d\n", len(touchedRuns), strings.Join(kinds, " "), len(cluster.nodes))
	fmt.Printf("SOAK %s\n", waits)
	for _, group := range []struct {
		kind  string
		lines []string
	}{
		{"failed_other", failedOther}, {"stuck", stuck}, {"split", splits}, {"isolation", isolation},
		{"leaked_placeholder", leakedHolders}, {"leaked_pvc", leakedPVCs}, {"error", errs},
	} {
		for _, l := range group.lines {
			fmt.Printf("SOAK %s %s\n", group.kind, l)
		}
	}

	if total < wanted {
		t.Errorf("created %d of %d runs", total, wanted)
	}
	if len(stuck) > 0 {
		t.Errorf("%d runs stuck (no progress for more than %s, or not done)", len(stuck), soakStuckAfter)
	}
	if len(splits) > 0 {
		t.Errorf("%d runs had TaskRun pods running on two nodes at once", len(splits))
	}
	if len(isolation) > 0 {
		t.Errorf("%d isolation violations (placeholders of two runs on one node)", len(isolation))
	}
	if len(leakedHolders) > 0 {
		t.Errorf("%d placeholder StatefulSets or pods left %s after the runs were done", len(leakedHolders), soakLeakWait)
	}
	if len(failedOther) > 0 {
		t.Errorf("%d runs failed that no injected fault touched", len(failedOther))
	}
	for _, e := range errs {
		t.Errorf("%s", e)
	}
}

// ----------------------------------------------------------------- test ----

func soakEnvInt(t *testing.T, name string, def int64) int64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// TestSoak creates SOAK_RUNS (300) PipelineRuns in three namespaces, at most
// as many unfinished at once as faults leave nodes (SOAK_UNFINISHED), while
// random faults hit the runs, the nodes and the controller; then waits for
// every run and reports.
func TestSoak(t *testing.T) {
	wanted := int(soakEnvInt(t, "SOAK_RUNS", 300))
	if wanted < 1 {
		t.Fatalf("SOAK_RUNS=%d: want at least 1", wanted)
	}
	seed := soakEnvInt(t, "SOAK_SEED", time.Now().UnixNano())
	s := &soak{
		t: t, start: time.Now(), seed: seed,
		runs: map[string]*soakRun{}, faultsByKind: map[string]int{},
		busyNodes: map[string]string{}, deletedNodes: map[string]*corev1.Node{}, lostPods: map[types.UID]bool{},
		cancelled: map[string]bool{}, splits: map[string]string{}, isolation: map[string]bool{}, assistantMix: map[string]bool{},
	}
	// At most as many unfinished runs as there are nodes that no fault
	// takes (faults cordon, taint or delete up to maxBusy nodes at once):
	// then a run that waits for a node waits for a fault or for the engine,
	// never in a queue behind other isolated runs. Such a queue has no
	// order: the scheduler retries a placeholder that failed more often
	// after a longer backoff, so the placeholders of new runs, created just
	// as a run ends and frees its node, overtake the old ones, which can
	// wait out max-node-wait (soak_progress_test.go counts the overtakes).
	// SOAK_UNFINISHED sets another limit, to see that queue.
	maxBusy := max(1, len(cluster.nodes)/5)
	limit := int(soakEnvInt(t, "SOAK_UNFINISHED", int64(max(1, len(cluster.nodes)-maxBusy))))
	if limit < 1 {
		t.Fatalf("SOAK_UNFINISHED=%d: want at least 1", limit)
	}
	s.logf("seed=%d (SOAK_SEED=%d repeats the choices, not their timing); %d runs on %d nodes, at most %d unfinished at once",
		seed, seed, wanted, len(cluster.nodes), limit)

	setFeatureFlags(t, soakFlags(true))
	s.namespaces = []string{newNamespace(t, "soak-a"), newNamespace(t, "soak-b"), newNamespace(t, "soak-cpu")}
	s.cpuNS = s.namespaces[2]
	// A ResourceQuota on requests.cpu rejects every pod with a container
	// that requests no CPU; Tekton's "prepare" init container requests none.
	// The LimitRange gives such containers a request, so that the quota
	// fault rejects pods for their size only.
	if _, err := cluster.kube.CoreV1().LimitRanges(s.cpuNS).Create(bg(), &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "soak-defaults", Namespace: s.cpuNS},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")},
		}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the LimitRange of %s: %v", s.cpuNS, err)
	}
	s.watchRuns(t)
	watchPods(t, s.invariant, s.namespaces...)

	// Registered after the namespaces: runs before their deletion.
	stop := make(chan struct{})
	faultsDone := make(chan struct{})
	var stopOnce sync.Once
	stopFaults := func() {
		stopOnce.Do(func() { close(stop) })
		select {
		case <-faultsDone:
		case <-time.After(6 * time.Minute):
			t.Errorf("the fault injector did not stop within 6 minutes")
		}
	}
	t.Cleanup(func() {
		stopFaults()
		s.restoreEverything()
	})
	f := &faultInjector{
		s: s, rng: rand.New(rand.NewSource(seed + 1)),
		maxBusy:  maxBusy,
		minPause: 5 * time.Second, maxPause: 20 * time.Second,
	}
	go f.loop(stop, faultsDone)

	// Create the runs at a steady pace, keeping at most `limit` unfinished.
	rng := rand.New(rand.NewSource(seed))
	createDeadline := time.Now().Add(soakCreateTimeout)
	lastProgress := time.Now()
	for i := 0; i < wanted; i++ {
		for {
			total, done, _ := s.counts()
			if total-done < limit {
				break
			}
			if time.Now().After(createDeadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if time.Now().After(createDeadline) {
			s.recordError("creation phase ended after %s with %d of %d runs created", soakCreateTimeout, i, wanted)
			break
		}
		ns := s.namespaces[i%len(s.namespaces)]
		spec, opts, kind := soakPipeline(rng, ns == s.cpuNS)
		opts.labels = map[string]string{soakRunLabel: "true"}
		name := fmt.Sprintf("soak-%04d", i)
		// A third of the runs share a ReadWriteOnce volumeClaimTemplate
		// workspace, so that leaked claims and volumes are counted.
		withVolume := rng.Intn(3) == 0
		if withVolume {
			spec = sharing(workspaceName, spec)
			kind += "+volume"
		}
		pr := newRun(ns, name, spec, opts)
		if withVolume {
			pr.Spec.Workspaces = []v1.WorkspaceBinding{claimTemplate(workspaceName, "")}
		}
		s.addRun(ns, name, kind, time.Now())
		if err := createSoakRun(pr); err != nil {
			s.forgetRun(soakKey(ns, name))
			s.recordError("%v", err)
			continue
		}
		if time.Since(lastProgress) > 30*time.Second || i+1 == wanted {
			total, done, failed := s.counts()
			s.logf("created %d/%d runs: %d done (%d failed), %d unfinished", i+1, wanted, done, failed, total-done)
			lastProgress = time.Now()
		}
		time.Sleep(soakDuration(rng, 250*time.Millisecond, 750*time.Millisecond))
	}
	stopFaults()

	s.logf("waiting up to %s for every run to be done", soakDoneTimeout)
	waitStart := time.Now()
	_ = poll("every run to be done", soakDoneTimeout, func(context.Context) error {
		total, done, failed := s.counts()
		if time.Since(lastProgress) > 30*time.Second {
			s.logf("%d of %d runs done (%d failed) after %s", done, total, failed, time.Since(waitStart).Round(time.Second))
			lastProgress = time.Now()
		}
		if done < total {
			return fmt.Errorf("%d of %d runs done", done, total)
		}
		return nil
	})
	total, done, _ := s.counts()
	s.logf("%d of %d runs done; checking for leftovers (up to %s)", done, total, soakLeakWait)
	s.report(t, wanted)
}
