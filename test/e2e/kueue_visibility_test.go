//go:build e2e && kueue

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	tektoninformers "github.com/tektoncd/pipeline/pkg/client/informers/externalversions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// notServedLog is what the engine logs, once per visibilityRecheck, when it
// finds Kueue's visibility API not served.
const notServedLog = "Kueue's visibility API is not served ("

// What a waiting run's message says of its place in its LocalQueue.
const (
	placePosition = "position" // from Kueue's visibility API
	placeCount    = "count"    // the LocalQueue's count of pending workloads
	placeUnknown  = "unknown"  // an error reading the position
)

// queuePlace classifies the end of a WaitingForAdmission message ("" when
// it says nothing of the run's place).
func queuePlace(msg string) string {
	switch {
	case strings.Contains(msg, "; position ") && strings.Contains(msg, " pending in LocalQueue "):
		return placePosition
	case strings.Contains(msg, "position in LocalQueue") && strings.Contains(msg, " is unknown"):
		return placeUnknown
	case strings.Contains(msg, "Kueue counts"):
		return placeCount
	}
	return ""
}

// runPlaces records, for each run of a namespace, the places its
// WaitingForAdmission messages said, in order, each change once.
type runPlaces struct {
	mu     sync.Mutex
	places map[string][]string
	last   map[string]string
}

func watchRunPlaces(t *testing.T, ns string) *runPlaces {
	t.Helper()
	r := &runPlaces{places: map[string][]string{}, last: map[string]string{}}
	observe := func(obj any) {
		pr, ok := obj.(*v1.PipelineRun)
		if !ok {
			return
		}
		c := succeeded(pr)
		if c == nil || c.Reason != reasonWaitingForAdmission {
			return
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if msg := c.Message; msg != r.last[pr.Name] {
			r.last[pr.Name] = msg
			if p := queuePlace(msg); p != "" {
				if ps := r.places[pr.Name]; len(ps) == 0 || ps[len(ps)-1] != p {
					r.places[pr.Name] = append(ps, p)
				}
			}
		}
	}
	factory := tektoninformers.NewSharedInformerFactoryWithOptions(cluster.tekton, 0, tektoninformers.WithNamespace(ns))
	inf := factory.Tekton().V1().PipelineRuns().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		t.Fatalf("PipelineRun informer: %v", err)
	}
	stop := make(chan struct{})
	factory.Start(stop)
	t.Cleanup(func() { close(stop) })
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatalf("PipelineRun informer did not sync")
	}
	return r
}

// of returns the places run said.
func (r *runPlaces) of(run string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.places[run]...)
}

// from returns the places run said from the first first on.
func (r *runPlaces) from(run, first string) []string {
	ps := r.of(run)
	for i, p := range ps {
		if p == first {
			return ps[i:]
		}
	}
	return nil
}

// waitFallback waits until run says want, the LocalQueue's count, and
// checks that the message reads as a wait, not as an error.
func waitFallback(t *testing.T, ns, run, want string) {
	t.Helper()
	pr := waitRunMessage(t, ns, run, reasonWaitingForAdmission, 90*time.Second, want)
	c := succeeded(pr)
	if c.Status != "Unknown" || !strings.HasSuffix(c.Message, want) {
		t.Errorf("%s: %s, want Unknown/%s ending %q", run, describeCondition(pr), reasonWaitingForAdmission, want)
	}
	for _, bad := range []string{"position", "unknown", "rror", "the server", "unavailable", "could not find", "visibility"} {
		if strings.Contains(c.Message, bad) {
			t.Errorf("%s: the message says %q: %s", run, bad, c.Message)
		}
	}
	t.Logf("%s: %s", run, describeCondition(pr))
}

// checkNotServedLogged checks that the engine logged, from offset on, that
// the API is not served, and did so once, or once for each of the runs
// waiting for admission (waiting: their reconciles may ask at the same
// moment) in each visibilityRecheck (5 minutes) since since: it does not
// ask the API at each reconcile of a waiting run.
func checkNotServedLogged(t *testing.T, offset int64, since time.Time, waiting int) {
	t.Helper()
	lines := controllerLogLines(t, offset, notServedLog)
	most := waiting * (1 + int(time.Since(since)/(5*time.Minute)))
	if len(lines) == 0 || len(lines) > most {
		t.Errorf("the controller logged %q %d times, want 1 to %d:\n%s", notServedLog, len(lines), most, strings.Join(lines, "\n"))
		return
	}
	for _, l := range lines {
		t.Logf("controller: %s", l)
	}
}

// TestKueueVisibilityNotServed: a run waiting for admission says its
// position from Kueue's visibility API; when that API is not served the
// run says its LocalQueue's count instead, as a wait, not as an error, and
// the engine asks the API once, not at each reconcile. Both ways an
// operator meets it: the APIServices registered but their server not
// listening (Kueue without its visibility server: the API server answers
// 503, the APIService is Available=False), and no APIService (404). The
// run is still admitted once room frees up and succeeds. First, a run
// labelled for a LocalQueue Kueue does not know: the visibility server's
// own 404 for it does not make the engine take the API as not served.
//
// It restarts the Tekton controller to put the API back (the engine would
// ask again only after 5 minutes), and runs last of the Kueue tests (its
// file's name), so that those reading positions never follow it.
func TestKueueVisibilityNotServed(t *testing.T) {
	requireKueue(t)
	api := takeVisibilityAPI(t)
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "kueue-visibility")
	queue := kueueQueues(t, ns, "3")
	pods := watchPods(t, admissionInvariant(1), ns)
	places := watchRunPlaces(t, ns)

	// run-1 holds the ClusterQueue's 3 CPU until it is cancelled.
	createRun(t, oneTaskRun(ns, "run-1", queue, "20m"))
	waitFor(t, "run-1 admitted, its TaskRun made", 90*time.Second, taskRunMade(ns, "run-1"))
	createRun(t, oneTaskRun(ns, "run-2", queue, "5s"))
	position := "; position 1 of 1 pending in LocalQueue " + queue + ", 1 in its ClusterQueue"
	waitRunMessage(t, ns, "run-2", reasonWaitingForAdmission, 90*time.Second, position)
	if got := pendingWorkloadsStatus(bg(), ns, queue); got != http.StatusOK {
		t.Fatalf("the API server answers %d for the pending workloads of %s/%s, want 200", got, ns, queue)
	}

	t.Run("a LocalQueue Kueue does not know: its 404 is not the API's", func(t *testing.T) {
		offset := controllerLogSize(t)
		createRun(t, oneTaskRun(ns, "lost", "missing", "5s"))
		// Kueue makes the Workload, pending ("LocalQueue missing doesn't
		// exist"): the engine asks the API for its position, which
		// Kueue's visibility server answers 404, not the API server.
		pr := waitRunMessage(t, ns, "lost", reasonWaitingForAdmission, 90*time.Second, "is queued in LocalQueue missing: pending: ")
		t.Logf("lost: %s", describeCondition(pr))
		if got := pendingWorkloadsStatus(bg(), ns, "missing"); got != http.StatusNotFound {
			t.Errorf("the API server answers %d for the pending workloads of %s/missing, want 404", got, ns)
		}
		if lines := controllerLogLines(t, offset, notServedLog); len(lines) > 0 {
			t.Errorf("the engine took Kueue's 404 for LocalQueue missing as the API not served:\n%s", strings.Join(lines, "\n"))
		}
		pr, err := cluster.tekton.TektonV1().PipelineRuns(ns).Get(bg(), "run-2", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading run-2: %v", err)
		}
		if !conditionMentions(succeeded(pr), reasonWaitingForAdmission, position) {
			t.Errorf("run-2: %s, want its position", describeCondition(pr))
		}
	})

	only := "; it is the only workload Kueue counts pending in LocalQueue " + queue
	t.Run("registered, its server not listening: 503", func(t *testing.T) {
		offset, since := controllerLogSize(t), time.Now()
		api.makeUnavailable(t)
		waitPendingWorkloadsStatus(t, ns, queue, http.StatusServiceUnavailable)
		waitFallback(t, ns, "run-2", only)
		checkNotServedLogged(t, offset, since, 2) // run-2, lost
	})
	api.restore(t)
	waitRunMessage(t, ns, "run-2", reasonWaitingForAdmission, 90*time.Second, position)

	t.Run("no APIService: 404", func(t *testing.T) {
		offset, since := controllerLogSize(t), time.Now()
		api.unregister(t)
		waitPendingWorkloadsStatus(t, ns, queue, http.StatusNotFound)
		waitFallback(t, ns, "run-2", only)
		// A run queued meanwhile says the count at once, which follows.
		createRun(t, oneTaskRun(ns, "run-3", queue, "5s"))
		two := "; Kueue counts 2 workloads pending in LocalQueue " + queue + ", this one included"
		waitFallback(t, ns, "run-3", two)
		waitFallback(t, ns, "run-2", two)
		checkNotServedLogged(t, offset, since, 2) // run-2, lost; run-3 came after
	})

	// Room frees up: run-2, then run-3, are admitted and succeed.
	setRunSpecStatus(t, ns, "run-1", v1.PipelineRunSpecStatusCancelled)
	for _, name := range []string{"run-2", "run-3"} {
		waitRunSucceeded(t, ns, name, 3*time.Minute)
	}
	if pr, err := waitRunDone(ns, "run-1", time.Minute); err != nil {
		t.Errorf("cancelled run-1: %v", err)
	} else if succeeded(pr).Reason != "Cancelled" {
		t.Errorf("run-1: %s, want reason Cancelled", describeCondition(pr))
	}

	// The places said, each change once: no flapping, no error. (Before
	// Kueue's visibility API first lists run-2, its message may say the
	// count: that is left out.)
	want := map[string][]string{
		"run-2": {placePosition, placeCount, placePosition, placeCount},
		"run-3": {placeCount},
	}
	got := map[string][]string{"run-2": places.from("run-2", placePosition), "run-3": places.of("run-3")}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the places the runs' messages said (-want +got):\n%s", d)
	}
	if v := pods.getViolations(); len(v) > 0 {
		t.Errorf("invariant violated:\n  %v", v)
	}
}

// taskRunMade is a probe: nil once run has a TaskRun.
func taskRunMade(ns, run string) probe {
	return func(ctx context.Context) error {
		trs, err := taskRuns(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(trs) == 0 {
			return fmt.Errorf("no TaskRun of %s yet", run)
		}
		return nil
	}
}
