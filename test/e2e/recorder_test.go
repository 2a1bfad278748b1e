//go:build e2e

package e2e

// podRecorder: a pod informer that remembers every pod of a test's
// namespaces and checks an invariant at each change.

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// podRecord is everything a podRecorder saw of one pod.
type podRecord struct {
	Namespace, Name string
	UID             types.UID
	Labels          map[string]string
	Node            string
	FirstSeen       time.Time
	BoundAt         time.Time
	Unschedulable   []string // PodScheduled=False messages seen
	Phases          []corev1.PodPhase
	Deleted         bool
}

// podRecorder watches the pods of some namespaces for the duration of a
// test and remembers every pod it saw, and checks an invariant on each change.
type podRecorder struct {
	mu         sync.Mutex
	namespaces map[string]bool
	pods       map[types.UID]*podRecord
	order      []types.UID
	violations []string
	invariant  func(live []*corev1.Pod) string
	store      cache.Store
	stop       chan struct{}
}

// watchPods starts a podRecorder on namespaces; it stops at test cleanup.
// invariant, when not nil, is checked against the live pods of those
// namespaces after every change; what it returns is recorded as a violation.
func watchPods(t *testing.T, invariant func(live []*corev1.Pod) string, namespaces ...string) *podRecorder {
	t.Helper()
	r := &podRecorder{namespaces: map[string]bool{}, pods: map[types.UID]*podRecord{}, invariant: invariant, stop: make(chan struct{})}
	for _, ns := range namespaces {
		r.namespaces[ns] = true
	}
	factory := informers.NewSharedInformerFactory(cluster.kube, 0)
	inf := factory.Core().V1().Pods().Informer()
	r.store = inf.GetStore()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj interface{}) { r.observe(obj, false) },
		UpdateFunc: func(_, obj interface{}) { r.observe(obj, false) },
		DeleteFunc: func(obj interface{}) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			r.observe(obj, true)
		},
	})
	if err != nil {
		t.Fatalf("pod informer: %v", err)
	}
	factory.Start(r.stop)
	t.Cleanup(func() { close(r.stop) })
	for _, ok := range factory.WaitForCacheSync(r.stop) {
		if !ok {
			t.Fatalf("pod informer did not sync")
		}
	}
	return r
}

func (r *podRecorder) observe(obj interface{}, deleted bool) {
	p, ok := obj.(*corev1.Pod)
	if !ok || !r.namespaces[p.Namespace] {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.pods[p.UID]
	if rec == nil {
		rec = &podRecord{Namespace: p.Namespace, Name: p.Name, UID: p.UID, FirstSeen: time.Now()}
		r.pods[p.UID] = rec
		r.order = append(r.order, p.UID)
	}
	rec.Labels = p.Labels
	if p.Spec.NodeName != "" && rec.Node == "" {
		rec.Node = p.Spec.NodeName
		rec.BoundAt = time.Now()
	}
	if msg, ok := podScheduledFalse(p); ok {
		if len(rec.Unschedulable) == 0 || rec.Unschedulable[len(rec.Unschedulable)-1] != msg {
			rec.Unschedulable = append(rec.Unschedulable, msg)
		}
	}
	if len(rec.Phases) == 0 || rec.Phases[len(rec.Phases)-1] != p.Status.Phase {
		rec.Phases = append(rec.Phases, p.Status.Phase)
	}
	if deleted {
		rec.Deleted = true
	}
	if r.invariant != nil {
		var live []*corev1.Pod
		for _, o := range r.store.List() {
			lp := o.(*corev1.Pod)
			if r.namespaces[lp.Namespace] && lp.DeletionTimestamp == nil && !(deleted && lp.UID == p.UID) {
				live = append(live, lp)
			}
		}
		if v := r.invariant(live); v != "" {
			if len(r.violations) == 0 || r.violations[len(r.violations)-1] != v {
				r.violations = append(r.violations, v)
			}
		}
	}
}

// all returns a copy of the records in order of first observation.
func (r *podRecorder) all() []podRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []podRecord
	for _, uid := range r.order {
		rec := *r.pods[uid]
		rec.Unschedulable = append([]string(nil), rec.Unschedulable...)
		out = append(out, rec)
	}
	return out
}

// matching returns the records whose labels contain every key=value of sel
// (a value "*" only requires the key).
func (r *podRecorder) matching(sel map[string]string) []podRecord {
	var out []podRecord
	for _, rec := range r.all() {
		ok := true
		for k, v := range sel {
			got, has := rec.Labels[k]
			if !has || (v != "*" && got != v) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out
}

func (r *podRecorder) getViolations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

// boundNode returns the node of the first pod matching sel (see matching)
// that was bound, or an error saying what the recorder saw of those pods.
func (r *podRecorder) boundNode(sel map[string]string) (string, error) {
	recs := r.matching(sel)
	for _, p := range recs {
		if p.Node != "" {
			return p.Node, nil
		}
	}
	if len(recs) == 0 {
		return "", fmt.Errorf("no pod with labels %v seen", sel)
	}
	var seen []string
	for _, p := range recs {
		seen = append(seen, fmt.Sprintf("%s phases %v unschedulable %q", p.Name, p.Phases, p.Unschedulable))
	}
	return "", fmt.Errorf("not bound: %s", strings.Join(seen, "; "))
}

// nodesOf returns the distinct nodes of recs, in order.
func nodesOf(recs []podRecord) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Node != "" && !seen[r.Node] {
			seen[r.Node] = true
			out = append(out, r.Node)
		}
	}
	return out
}

func logPods(t *testing.T, recs []podRecord) {
	t.Helper()
	for _, r := range recs {
		t.Logf("  pod %-55s node=%-8s task=%-8s unschedulable=%v", r.Name, r.Node, r.Labels[labelPipelineTask], r.Unschedulable)
	}
}
