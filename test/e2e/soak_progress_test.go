//go:build e2e && soak

package e2e

// What the soak counts as a run's progress, and the timeline it keeps of
// each run to explain a stall: when its longest wait began and ended, what
// changed at its end, when it got its node, and how many runs created after
// it got theirs first.

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// tektonCounts is the part of a running PipelineRun's Succeeded message that
// Tekton writes from the state of its tasks (pipelinerunstate.go). The
// engine may append why no new task starts; that text follows the
// scheduler's and the API's messages, which change without the run moving.
var tektonCounts = regexp.MustCompile(`^Tasks Completed: \d+ \(Failed: \d+( \(Ignored: \d+\))?, Cancelled \d+\), (Incomplete: \d+, )?Skipped: \d+`)

// progressSignature is what counts as progress of a run: a change of its
// Succeeded condition's status or reason, of Tekton's task counts, or of
// its child references (a TaskRun created). A new wording of why it waits
// (the scheduler's message with other node counts, say) is not progress:
// counted as one, it would hide a run that waits forever behind a message
// that keeps changing.
func progressSignature(pr *v1.PipelineRun) string {
	var b strings.Builder
	if c := succeeded(pr); c != nil {
		fmt.Fprintf(&b, "%s|%s|%s", c.Status, c.Reason, tektonCounts.FindString(c.Message))
	}
	children := make([]string, 0, len(pr.Status.ChildReferences))
	for _, cr := range pr.Status.ChildReferences {
		children = append(children, cr.Name)
	}
	sort.Strings(children)
	b.WriteString("|" + strings.Join(children, ","))
	return b.String()
}

// soakGap is a run's longest time without progress: from, to, and the
// progress signatures before and after it.
type soakGap struct {
	from, to      time.Time
	before, after string
	condition     string // the condition at its start
}

// progressed records a change of r's progress signature to sig at now.
// Called with s.mu held.
func (r *soakRun) progressed(sig, condition string, now time.Time) {
	if gap := now.Sub(r.lastChange); gap > r.maxGap {
		r.maxGap = gap
		r.gap = soakGap{from: r.lastChange, to: now, before: r.signature, after: sig, condition: r.lastCondition}
	}
	r.signature = sig
	r.lastChange = now
	r.lastCondition = condition
}

// overtakenBy counts the runs created after r that got their node (their
// first child) before r got its own, or while r still had none at end.
// Called with s.mu held.
func (s *soak) overtakenBy(r *soakRun) int {
	n := 0
	for _, o := range s.runs {
		if o == r || !o.created.After(r.created) || o.placed.IsZero() {
			continue
		}
		if r.placed.IsZero() || o.placed.Before(r.placed) {
			n++
		}
	}
	return n
}

// stuckDetail describes a stuck run's longest wait for the report.
func (s *soak) stuckDetail(r *soakRun, end time.Time) string {
	g := r.gap
	if !r.done && end.Sub(r.lastChange) >= r.maxGap {
		g = soakGap{from: r.lastChange, to: end, before: r.signature, after: "<end of the soak>", condition: r.lastCondition}
	}
	node := "never"
	if !r.placed.IsZero() {
		node = "after " + r.placed.Sub(r.created).Round(time.Second).String()
	}
	return fmt.Sprintf("created=%s node %s overtaken_by=%d gap=%s..%s before=%q after=%q condition_at_gap=%q",
		r.created.UTC().Format("15:04:05"), node, s.overtakenBy(r),
		g.from.UTC().Format("15:04:05"), g.to.UTC().Format("15:04:05"), g.before, g.after, g.condition)
}

// nodeWaits summarizes how long runs waited for their node (created to
// first child): median, 90th percentile and longest, and the most runs
// created later that got a node first. Called with s.mu held.
func (s *soak) nodeWaits() string {
	var waits []time.Duration
	most := 0
	for _, r := range s.runs {
		if !r.placed.IsZero() {
			waits = append(waits, r.placed.Sub(r.created))
		}
		if n := s.overtakenBy(r); n > most {
			most = n
		}
	}
	if len(waits) == 0 {
		return "node_wait none"
	}
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	at := func(q float64) time.Duration { return waits[int(q*float64(len(waits)-1))].Round(time.Second) }
	return fmt.Sprintf("node_wait p50=%s p90=%s max=%s most_overtaken=%d", at(0.5), at(0.9), waits[len(waits)-1].Round(time.Second), most)
}

// keepControllerLog appends the Tekton controller's log to
// $PRA_STATE_DIR/soak-tekton-controller.log: hack/tekton-controller.sh
// starts the next controller with a fresh log, and the soak's stalls are
// explained from the whole of it.
func keepControllerLog() error {
	return appendControllerLog(filepath.Join(cluster.stateDir, "soak-tekton-controller.log"))
}
