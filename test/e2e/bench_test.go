//go:build e2e && bench

package e2e

// The side-by-side cost benchmark (issue 11; not part of CI): the same burst
// of PipelineRuns under upstream's controller and the patched one, with
// coscheduling off and with one run per node, interleaved in one invocation
// on one cluster, and one table of what each costs. Run it with `make bench`
// (hack/bench.sh), which starts a cluster with the API server's audit log of
// the controller's requests and stops it afterwards. Figures are printed,
// never asserted: the test fails only when it cannot measure (a run does not
// finish, the controller cannot be switched, the audit log is missing).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektoninformers "github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// benchConfig is one row of the table: a controller flavor and its flags.
type benchConfig struct {
	name   string
	flavor string
	// isolated rows keep one run per node.
	isolated bool
	flags    map[string]string
}

// benchConfigs are the four rows, in the order they run in each round:
// flavors alternate, so that neither profits from a warmer cluster.
func benchConfigs() []benchConfig {
	return []benchConfig{
		{name: "upstream, coschedule off", flavor: "upstream", flags: map[string]string{flagCoschedule: "disabled"}},
		{name: "patched, engine off", flavor: "patched", flags: map[string]string{flagEnable: "false", flagCoschedule: "disabled"}},
		{name: "upstream, isolate", flavor: "upstream", isolated: true, flags: map[string]string{flagCoschedule: "isolate-pipelinerun"}},
		{name: "patched, engine on (isolate)", flavor: "patched", isolated: true, flags: patchedFlags(nil)},
	}
}

// benchSettings are the knobs of hack/bench.sh, from the environment.
type benchSettings struct {
	runs, rounds int
	taskCPU      string
	taskDuration string
	timeout      time.Duration
	// profileDir, when set (BENCH_PROFILE), receives each phase's
	// controller profiles (bench_profile_test.go).
	profileDir string
}

func readBenchSettings(t *testing.T) benchSettings {
	t.Helper()
	s := benchSettings{runs: 2 * len(cluster.nodes), rounds: 1, taskCPU: "1", taskDuration: "5s", timeout: 30 * time.Minute}
	for _, v := range []struct {
		env string
		dst *int
	}{{"BENCH_RUNS", &s.runs}, {"BENCH_ROUNDS", &s.rounds}} {
		if raw := os.Getenv(v.env); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 1 {
				t.Fatalf("%s=%q: want a positive integer", v.env, raw)
			}
			*v.dst = n
		}
	}
	if raw := os.Getenv("BENCH_TASK_CPU"); raw != "" {
		s.taskCPU = raw
	}
	if raw := os.Getenv("BENCH_TASK_DURATION"); raw != "" {
		if _, err := time.ParseDuration(raw); err != nil {
			t.Fatalf("BENCH_TASK_DURATION=%q: %v", raw, err)
		}
		s.taskDuration = raw
	}
	if raw := os.Getenv("BENCH_PHASE_TIMEOUT"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			t.Fatalf("BENCH_PHASE_TIMEOUT=%q: want a positive Go duration", raw)
		}
		s.timeout = d
	}
	s.profileDir = os.Getenv("BENCH_PROFILE")
	return s
}

// benchPipeline is a → (b, c) → d: the shape of the measurement.
func benchPipeline(cpu string) *v1.PipelineSpec {
	return pipelineSpec(
		taskDef{name: "a", cpu: cpu},
		taskDef{name: "b", cpu: cpu, after: []string{"a"}},
		taskDef{name: "c", cpu: cpu, after: []string{"a"}},
		taskDef{name: "d", cpu: cpu, after: []string{"b", "c"}},
	)
}

// benchRow is what one phase measured.
type benchRow struct {
	config       benchConfig
	round        int
	runs         int
	makespan     time.Duration
	firstPodP50  time.Duration
	firstPodP95  time.Duration
	cpuSeconds   float64
	peakRSSMiB   float64
	requests     int
	statusWrites int
	requestKinds map[string]int
	// failedKinds counts the requests the API server refused or failed,
	// by kind and status code (a conflict, say, is a request spent for
	// nothing).
	failedKinds   map[string]int
	split         int
	maxRunsOnNode int
	leftOver      int
	failed        int
	// queues are the controller's two workqueues over the phase (a fresh
	// process per phase: its counters are the phase's own).
	queues []queueStats
}

// queueStats is one reconciler's workqueue: how often a run was queued and
// how long it waited in the queue before a worker took it. With a burst
// the queue, not the CPU, is where a run's time goes: two workers per
// reconciler, each reconcile's writes paced by the client's rate limiter.
type queueStats struct {
	name        string
	adds        float64
	waitSeconds float64
	waits       float64
}

// benchQueues are the workqueues the benchmark reports, by the name knative
// gives them (the reconciler's package path).
var benchQueues = []struct{ name, metric string }{
	{"PipelineRun", "github.com.tektoncd.pipeline.pkg.reconciler.pipelinerun.Reconciler"},
	{"TaskRun", "github.com.tektoncd.pipeline.pkg.reconciler.taskrun.Reconciler"},
}

// readQueues scrapes the controller's workqueue metrics.
func readQueues(t *testing.T) []queueStats {
	t.Helper()
	ctx, cancel := context.WithTimeout(bg(), 30*time.Second)
	defer cancel()
	body, err := cluster.scrapeMetrics(ctx)
	if err != nil {
		t.Fatalf("reading the controller's workqueue metrics: %v", err)
	}
	var out []queueStats
	for _, q := range benchQueues {
		label := fmt.Sprintf("name=%q", q.metric)
		out = append(out, queueStats{
			name:        q.name,
			adds:        metricValue(body, "kn_workqueue_adds_total{", label),
			waitSeconds: metricValue(body, "kn_workqueue_queue_duration_seconds_sum{", label),
			waits:       metricValue(body, "kn_workqueue_queue_duration_seconds_count{", label),
		})
	}
	return out
}

// meanWait is the mean time a queued item waited for a worker.
func (q queueStats) meanWait() float64 { return ratio(q.waitSeconds, q.waits) }

func TestBench(t *testing.T) {
	s := readBenchSettings(t)
	audit := cluster.clusterSetting("AUDIT_LOG")
	user := cluster.clusterSetting("AUDIT_USER")
	if audit == "" || user == "" {
		t.Fatalf("the cluster has no audit log (%s has no AUDIT_LOG/AUDIT_USER): start it with hack/cluster.sh up --audit, or use hack/bench.sh", cluster.clusterEnvFile())
	}
	fmt.Printf("BENCH cluster: %d nodes, %d runs per phase of a → (b, c) → d (%s CPU, %s per task), %d round(s)\n",
		len(cluster.nodes), s.runs, s.taskCPU, s.taskDuration, s.rounds)
	if s.profileDir != "" {
		enableProfiling(t)
		fmt.Printf("BENCH profiles: every row's controller is profiled, into %s\n", s.profileDir)
	}
	var rows []benchRow
	for round := 1; round <= s.rounds; round++ {
		for _, c := range benchConfigs() {
			if only := os.Getenv("BENCH_ONLY"); only != "" && !strings.Contains(c.name, only) {
				continue
			}
			var row benchRow
			t.Run(fmt.Sprintf("round%d/%s", round, strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(c.name)), func(t *testing.T) {
				row = benchPhase(t, s, c, audit, user)
				row.round = round
			})
			if t.Failed() {
				t.FailNow()
			}
			fmt.Printf("BENCH row: %s\n", row.line())
			rows = append(rows, row)
		}
	}
	printBenchTable(rows)
}

// benchPhase restarts the controller of c's flavor (so that its CPU time and
// peak RSS are this phase's own), sets c's flags, creates the burst and
// waits until every run is done and its placeholders are gone.
func benchPhase(t *testing.T, s benchSettings, c benchConfig, audit, user string) benchRow {
	restartController(t, c.flavor)
	setFeatureFlags(t, c.flags)
	ns := newNamespace(t, "bench")
	w := startBenchWatch(t, ns)

	pid := controllerPID(t)
	cpuBefore := processCPUSeconds(t, pid)
	auditBefore := fileSize(t, audit)

	spec := benchPipeline(s.taskCPU)
	prof := startProfiler(t, s.profileDir, strings.ReplaceAll(t.Name(), "/", "-"))
	start := time.Now()
	createBurst(t, ns, s.runs, spec, s.taskDuration)
	if err := w.waitDone(s.runs, s.timeout); err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	end := w.lastDone()
	left := waitHoldersGone(ns, 60*time.Second)
	cpuAfter := processCPUSeconds(t, pid)
	queues := readQueues(t)
	if msg := prof.finish(); msg != "" {
		fmt.Printf("BENCH profile: %s: %s\n", c.name, msg)
	}
	// Where the phase's requests are in the audit log, for a finer
	// breakdown than the table's (by user agent, say).
	fmt.Printf("BENCH audit: %s: %s bytes %d-%d\n", c.name, audit, auditBefore, fileSize(t, audit))
	requests, writes, kinds, failures := countAudit(t, audit, auditBefore, user)

	row := benchRow{
		config: c, runs: s.runs, makespan: end.Sub(start),
		cpuSeconds: cpuAfter - cpuBefore, peakRSSMiB: peakRSSMiB(t, pid),
		requests: requests, statusWrites: writes, requestKinds: kinds, failedKinds: failures, leftOver: left, queues: queues,
	}
	row.firstPodP50, row.firstPodP95, row.split, row.maxRunsOnNode, row.failed = w.summary()
	return row
}

// createBurst creates n runs of spec in ns as fast as the client allows,
// from a few goroutines.
func createBurst(t *testing.T, ns string, n int, spec *v1.PipelineSpec, duration string) {
	t.Helper()
	const workers = 8
	names := make(chan string, n)
	for i := 1; i <= n; i++ {
		names <- fmt.Sprintf("bench-%04d", i)
	}
	close(names)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				pr := newRun(ns, name, spec, runOpts{duration: duration})
				if _, err := cluster.tekton.TektonV1().PipelineRuns(ns).Create(bg(), pr, metav1.CreateOptions{}); err != nil {
					errs <- fmt.Errorf("creating PipelineRun %s/%s: %w", ns, name, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// ---------------------------------------------------------------- watch ----

// benchWatch records, from watch events as the test sees them, when each run
// appeared and finished, when its first TaskRun pod ran, which nodes its
// pods ran on, and the most runs with live pods on one node at once.
type benchWatch struct {
	mu        sync.Mutex
	added     map[string]time.Time
	done      map[string]time.Time
	succeeded map[string]bool
	firstPod  map[string]time.Time
	runNodes  map[string]map[string]bool
	// live maps a node to the live TaskRun pods on it, by run; counted
	// remembers where each pod was counted.
	live    map[string]map[string]int
	counted map[types.UID]string
	maxRuns int
	changed chan struct{}
}

func startBenchWatch(t *testing.T, ns string) *benchWatch {
	t.Helper()
	w := &benchWatch{
		added: map[string]time.Time{}, done: map[string]time.Time{}, succeeded: map[string]bool{},
		firstPod: map[string]time.Time{}, runNodes: map[string]map[string]bool{},
		live: map[string]map[string]int{}, counted: map[types.UID]string{}, changed: make(chan struct{}, 1),
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })

	pods := informers.NewSharedInformerFactoryWithOptions(cluster.kube, 0, informers.WithNamespace(ns))
	podInformer := pods.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { w.observePod(obj, false) },
		UpdateFunc: func(_, obj interface{}) { w.observePod(obj, false) },
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			w.observePod(obj, true)
		},
	}); err != nil {
		t.Fatalf("pod informer: %v", err)
	}
	runs := tektoninformers.NewSharedInformerFactoryWithOptions(cluster.tekton, 0, tektoninformers.WithNamespace(ns))
	runInformer := runs.Tekton().V1().PipelineRuns().Informer()
	if _, err := runInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    w.observeRun,
		UpdateFunc: func(_, obj interface{}) { w.observeRun(obj) },
	}); err != nil {
		t.Fatalf("PipelineRun informer: %v", err)
	}
	pods.Start(stop)
	runs.Start(stop)
	for _, synced := range []bool{cache.WaitForCacheSync(stop, podInformer.HasSynced), cache.WaitForCacheSync(stop, runInformer.HasSynced)} {
		if !synced {
			t.Fatalf("the benchmark's informers did not sync")
		}
	}
	return w
}

func (w *benchWatch) observeRun(obj interface{}) {
	pr, ok := obj.(*v1.PipelineRun)
	if !ok {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, seen := w.added[pr.Name]; !seen {
		w.added[pr.Name] = now
	}
	if c := succeeded(pr); c != nil && !c.IsUnknown() {
		if _, seen := w.done[pr.Name]; !seen {
			w.done[pr.Name] = now
			w.succeeded[pr.Name] = c.IsTrue()
			select {
			case w.changed <- struct{}{}:
			default:
			}
		}
	}
}

func (w *benchWatch) observePod(obj interface{}, deleted bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Labels[labelTaskRun] == "" {
		return
	}
	run := p.Labels[labelPipelineRun]
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.Status.Phase == corev1.PodRunning {
		if _, seen := w.firstPod[run]; !seen {
			w.firstPod[run] = now
		}
	}
	if p.Spec.NodeName != "" {
		if w.runNodes[run] == nil {
			w.runNodes[run] = map[string]bool{}
		}
		w.runNodes[run][p.Spec.NodeName] = true
	}
	alive := !deleted && p.Spec.NodeName != "" && p.DeletionTimestamp == nil &&
		p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
	node, wasCounted := w.counted[p.UID]
	switch {
	case alive && !wasCounted:
		w.counted[p.UID] = p.Spec.NodeName
		if w.live[p.Spec.NodeName] == nil {
			w.live[p.Spec.NodeName] = map[string]int{}
		}
		w.live[p.Spec.NodeName][run]++
		if n := len(w.live[p.Spec.NodeName]); n > w.maxRuns {
			w.maxRuns = n
		}
	case !alive && wasCounted:
		delete(w.counted, p.UID)
		if w.live[node][run]--; w.live[node][run] == 0 {
			delete(w.live[node], run)
		}
	}
}

// waitDone waits until n runs are done.
func (w *benchWatch) waitDone(n int, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		done := len(w.done)
		w.mu.Unlock()
		if done >= n {
			return nil
		}
		select {
		case <-w.changed:
		case <-deadline.C:
			return fmt.Errorf("%d of %d runs done after %s", done, n, timeout)
		}
	}
}

func (w *benchWatch) lastDone() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var last time.Time
	for _, at := range w.done {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// summary returns the p50 and p95 of the time from a run's first watch
// event to its first TaskRun pod Running, the runs whose pods ran on more
// than one node, the most runs with live pods on one node at once, and the
// runs that did not succeed.
func (w *benchWatch) summary() (p50, p95 time.Duration, split, maxRuns, failed int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lat []time.Duration
	for run, at := range w.firstPod {
		if added, ok := w.added[run]; ok {
			lat = append(lat, at.Sub(added))
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	for _, nodes := range w.runNodes {
		if len(nodes) > 1 {
			split++
		}
	}
	for _, ok := range w.succeeded {
		if !ok {
			failed++
		}
	}
	return percentile(lat, 50), percentile(lat, 95), split, w.maxRuns, failed
}

// percentile returns the p-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

// waitHoldersGone waits (up to timeout) until ns has no placeholder or
// Affinity Assistant StatefulSet or pod left, and returns how many are left.
func waitHoldersGone(ns string, timeout time.Duration) int {
	selector := fmt.Sprintf("%s in (%s,%s)", labelComponent, componentHolder, componentAssistant)
	left := 0
	_ = poll(fmt.Sprintf("the placeholders and assistants of %s to be gone", ns), timeout, func(ctx context.Context) error {
		sts, err := cluster.kube.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		pods, err := cluster.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		left = len(sts.Items) + len(pods.Items)
		if left > 0 {
			return fmt.Errorf("%d left", left)
		}
		return nil
	})
	return left
}

// -------------------------------------------------- controller process ----

// controllerPID reads the Tekton controller's PID from hack/cluster.sh's
// run directory.
func controllerPID(t *testing.T) int {
	t.Helper()
	f := filepath.Join(cluster.stateDir, "cluster", "run", "tekton-controller.pid")
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatalf("reading the controller's PID: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return pid
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's times.
var clockTicks = sync.OnceValue(func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
})

// processCPUSeconds returns the user+system CPU time of pid.
func processCPUSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading the controller's CPU time: %v", err)
	}
	// The command name (field 2) may hold spaces: split after its ')'.
	rest := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	// rest[0] is field 3 (state); utime and stime are fields 14 and 15.
	utime, err1 := strconv.ParseFloat(rest[11], 64)
	stime, err2 := strconv.ParseFloat(rest[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return (utime + stime) / clockTicks()
}

// peakRSSMiB returns pid's peak resident set size (VmHWM).
func peakRSSMiB(t *testing.T, pid int) float64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the controller's memory: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				t.Fatalf("parsing %q: %v", line, err)
			}
			return kib / 1024
		}
	}
	t.Fatalf("/proc/%d/status has no VmHWM", pid)
	return 0
}

// ---------------------------------------------------------------- audit ----

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return fi.Size()
}

// auditEvent is the part of an audit.k8s.io/v1 Event the benchmark reads.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// The audit stages the benchmark reads (hack/cluster.sh's audit policy
// records these two): every request when received, and how it ended.
const (
	stageReceived = "RequestReceived"
	stageComplete = "ResponseComplete"
)

// countAudit counts user's requests in the audit log from offset on: all of
// them, the status writes of PipelineRuns and TaskRuns, by kind
// ("verb resource[/subresource]"), and those refused or failed, by kind and
// status code ("verb resource[/subresource] code").
func countAudit(t *testing.T, path string, offset int64, user string) (requests, statusWrites int, kinds, failures map[string]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	kinds, failures = map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e auditEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit log %s: %v", path, err)
		}
		if e.User.Username != user {
			continue
		}
		kind := e.Verb
		if r := e.ObjectRef; r != nil {
			kind += " " + r.Resource
			if r.Subresource != "" {
				kind += "/" + r.Subresource
			}
		}
		switch e.Stage {
		case stageComplete:
			if e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 {
				failures[fmt.Sprintf("%s %d", kind, e.ResponseStatus.Code)]++
			}
			continue
		case stageReceived:
		default:
			continue
		}
		requests++
		if r := e.ObjectRef; r != nil && (e.Verb == "update" || e.Verb == "patch") && r.Subresource == "status" &&
			(r.Resource == "pipelineruns" || r.Resource == "taskruns") {
			statusWrites++
		}
		kinds[kind]++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("audit log %s: %v", path, err)
	}
	return requests, statusWrites, kinds, failures
}

// ---------------------------------------------------------------- report ----

func (r benchRow) perRun(n int) float64 { return float64(n) / float64(r.runs) }

func (r benchRow) line() string {
	var kinds []string
	for k, n := range r.requestKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%.2f", k, r.perRun(n)))
	}
	sort.Strings(kinds)
	return fmt.Sprintf("%s (round %d): makespan %.1fs, first pod running p50 %dms p95 %dms, CPU %.1fs, peak RSS %.0fMiB, "+
		"requests/run %.1f, status writes/run %.1f, split %d, max runs/node %d, holders left %d, failed %d; requests/run by kind: %s",
		r.config.name, r.round, r.makespan.Seconds(), r.firstPodP50.Milliseconds(), r.firstPodP95.Milliseconds(),
		r.cpuSeconds, r.peakRSSMiB, r.perRun(r.requests), r.perRun(r.statusWrites), r.split, r.maxRunsOnNode,
		r.leftOver, r.failed, strings.Join(kinds, " ")) + r.failedText() + r.queueText()
}

func (r benchRow) failedText() string {
	var failed []string
	for k, n := range r.failedKinds {
		failed = append(failed, fmt.Sprintf("%s=%.2f", k, r.perRun(n)))
	}
	if len(failed) == 0 {
		return "; no request refused"
	}
	sort.Strings(failed)
	return "; refused or failed requests/run by kind and code: " + strings.Join(failed, " ")
}

func (r benchRow) queueText() string {
	var out string
	for _, q := range r.queues {
		out += fmt.Sprintf("; %s queue: %.1f adds/run, mean wait %.2fs", q.name, q.adds/float64(r.runs), q.meanWait())
	}
	return out
}

// printBenchTable prints the rows as a Markdown table and, per round, the
// patched/upstream ratios of the isolated rows and the engine's first-pod
// latency against the engine off.
func printBenchTable(rows []benchRow) {
	fmt.Println("BENCH | controller | round | makespan s | first TaskRun pod Running p50 / p95 ms | controller CPU s | controller peak RSS MiB | controller API requests / run | PipelineRun+TaskRun status writes / run | runs split | max runs / node | placeholders left | runs failed |")
	fmt.Println("BENCH |---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("BENCH | %s | %d | %.1f | %d / %d | %.1f | %.0f | %.1f | %.1f | %d | %d | %d | %d |\n",
			r.config.name, r.round, r.makespan.Seconds(), r.firstPodP50.Milliseconds(), r.firstPodP95.Milliseconds(),
			r.cpuSeconds, r.peakRSSMiB, r.perRun(r.requests), r.perRun(r.statusWrites), r.split, r.maxRunsOnNode, r.leftOver, r.failed)
	}
	fmt.Println("BENCH")
	fmt.Println("BENCH | controller | round | PipelineRun queue: adds / run | mean wait s | TaskRun queue: adds / run | mean wait s |")
	fmt.Println("BENCH |---|---|---|---|---|---|")
	for _, r := range rows {
		line := fmt.Sprintf("BENCH | %s | %d |", r.config.name, r.round)
		for _, q := range r.queues {
			line += fmt.Sprintf(" %.1f | %.1f |", q.adds/float64(r.runs), q.meanWait())
		}
		fmt.Println(line)
	}
	byRound := map[int]map[string]benchRow{}
	for _, r := range rows {
		if byRound[r.round] == nil {
			byRound[r.round] = map[string]benchRow{}
		}
		key := r.config.flavor
		if r.config.isolated {
			key += "/isolated"
		}
		byRound[r.round][key] = r
	}
	for round := 1; round <= len(byRound); round++ {
		m := byRound[round]
		p, u, off := m["patched/isolated"], m["upstream/isolated"], m["patched"]
		if p.runs == 0 || u.runs == 0 || off.runs == 0 {
			continue
		}
		fmt.Printf("BENCH ratios (round %d), patched engine on / upstream isolate: makespan %.2f×, controller CPU %.2f×, requests/run %.2f×, status writes/run %.2f×; "+
			"first pod running p50, engine on / engine off: %.2f× (upstream isolate / off: %.2f×)\n",
			round, ratio(p.makespan.Seconds(), u.makespan.Seconds()), ratio(p.cpuSeconds, u.cpuSeconds),
			ratio(p.perRun(p.requests), u.perRun(u.requests)), ratio(p.perRun(p.statusWrites), u.perRun(u.statusWrites)),
			ratio(float64(p.firstPodP50), float64(off.firstPodP50)),
			ratio(float64(u.firstPodP50), float64(m["upstream"].firstPodP50)))
	}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
