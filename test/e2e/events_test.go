//go:build e2e

package e2e

// Events: listing, waiting for and matching the events of an object.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// events returns the events of an object (by kind and name) in ns.
func events(ctx context.Context, ns, kind, name string) ([]corev1.Event, error) {
	l, err := cluster.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
		FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(l.Items, func(i, j int) bool { return eventTime(&l.Items[i]).Before(eventTime(&l.Items[j])) })
	return l.Items, nil
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// waitEvent waits for an event with reason on the object and returns it.
func waitEvent(t *testing.T, ns, kind, name, reason string, timeout time.Duration) corev1.Event {
	t.Helper()
	var found corev1.Event
	waitFor(t, fmt.Sprintf("event %s on %s %s/%s", reason, kind, ns, name), timeout, func(ctx context.Context) error {
		evs, err := events(ctx, ns, kind, name)
		if err != nil {
			return err
		}
		var reasons []string
		for _, e := range evs {
			if e.Reason == reason {
				found = e
				return nil
			}
			reasons = append(reasons, e.Reason)
		}
		return fmt.Errorf("events %v", reasons)
	})
	return found
}

func hasEvent(ns, kind, name, reason string) bool {
	evs, err := events(bg(), ns, kind, name)
	if err != nil {
		return false
	}
	for _, e := range evs {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

// placedNode returns the node named by the run's last Placed event.
func placedNode(ns, run string) string {
	evs, _ := events(bg(), ns, "PipelineRun", run)
	node := ""
	for _, e := range evs {
		if e.Reason != eventPlaced {
			continue
		}
		// "All pods of this PipelineRun run on node X (placeholder ...)"
		if _, rest, ok := strings.Cut(e.Message, " on node "); ok {
			node, _, _ = strings.Cut(rest, " ")
		}
	}
	return node
}

// hasRunEvent is a probe: nil once the run has an event with reason whose
// message contains substr; otherwise an error listing the run's events.
func hasRunEvent(ctx context.Context, ns, run, reason, substr string) error {
	evs, err := events(ctx, ns, "PipelineRun", run)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Reason == reason && strings.Contains(e.Message, substr) {
			return nil
		}
	}
	return fmt.Errorf("no %s event mentioning %q among %q", reason, substr, eventMessages(evs))
}

// findEvents returns the run's events with reason whose message contains substr.
func findEvents(ns, run, reason, substr string) []corev1.Event {
	return objectEvents(ns, "PipelineRun", run, reason, substr)
}

// objectEvents returns the events of reason whose message contains substr
// on the object kind ns/name.
func objectEvents(ns, kind, name, reason, substr string) []corev1.Event {
	evs, _ := events(bg(), ns, kind, name)
	var out []corev1.Event
	for _, e := range evs {
		if e.Reason == reason && strings.Contains(e.Message, substr) {
			out = append(out, e)
		}
	}
	return out
}

func eventMessages(evs []corev1.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, fmt.Sprintf("%s %s (count %d): %s", eventTime(&e).UTC().Format("15:04:05"), e.Reason, e.Count, e.Message))
	}
	return out
}
