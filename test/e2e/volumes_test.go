//go:build e2e

package e2e

// Runs with volumes: workspaces on PersistentVolumeClaims that the local
// cluster's provisioner (hack/tools/provisioner) binds to one node (class
// "local", the default) or to one zone (class "zonal"), a claim bound
// beforehand to a volume on one node, and ephemeral storage. Each
// scenario asserts the patched controller's behaviour and, with
// E2E_COMPARE_UPSTREAM=1, logs what upstream does (except
// TestVolumeLocalClaimCannotMove, an engine-only contract).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tektoncd/pipeline/pkg/apis/pipeline/pod"
	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"knative.dev/pkg/apis"
)

const (
	// workspaceName is the workspace every task of a volume test shares.
	workspaceName = "data"
	// labelZone is the well-known zone label of nodes and zonal PVs.
	labelZone = corev1.LabelTopologyZone
	// classZonal is the provisioner's StorageClass of zonal volumes.
	classZonal = "zonal"
	// volumeNode is the node of the volume created by hand in
	// TestCompareClaimWithVolumeOnNode.
	volumeNode = "node-3"
)

// sharing makes every embedded task of spec declare the workspace ws and
// bind it to the pipeline's workspace of that name, which it declares.
func sharing(ws string, spec *v1.PipelineSpec) *v1.PipelineSpec {
	spec.Workspaces = append(spec.Workspaces, v1.PipelineWorkspaceDeclaration{Name: ws})
	for i := range spec.Tasks {
		pt := &spec.Tasks[i]
		if pt.TaskSpec == nil {
			continue
		}
		pt.TaskSpec.Workspaces = append(pt.TaskSpec.Workspaces, v1.WorkspaceDeclaration{Name: ws})
		pt.Workspaces = append(pt.Workspaces, v1.WorkspacePipelineTaskBinding{Name: ws, Workspace: ws})
	}
	return spec
}

// claimTemplate binds the workspace ws to a volumeClaimTemplate: 1Gi,
// ReadWriteOnce, of StorageClass class ("" for the default class).
func claimTemplate(ws, class string) v1.WorkspaceBinding {
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceStorage: resource.MustParse("1Gi"),
		}},
	}}
	if class != "" {
		pvc.Spec.StorageClassName = ptr.To(class)
	}
	return v1.WorkspaceBinding{Name: ws, VolumeClaimTemplate: pvc}
}

// waitBoundClaim waits until ns has exactly one PersistentVolumeClaim and
// it is bound, and returns it with its PersistentVolume. Each volume test
// runs one run with one volume in its namespace, so that claim is the
// run's, whoever made it (Tekton from a volumeClaimTemplate, or upstream's
// Affinity Assistant StatefulSet from its claim templates).
func waitBoundClaim(ns string, timeout time.Duration) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume, error) {
	var pvc *corev1.PersistentVolumeClaim
	var pv *corev1.PersistentVolume
	err := poll(fmt.Sprintf("one bound PersistentVolumeClaim in %s", ns), timeout, func(ctx context.Context) error {
		l, err := cluster.kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(l.Items) != 1 {
			return fmt.Errorf("%d PersistentVolumeClaims", len(l.Items))
		}
		c := l.Items[0]
		if c.Status.Phase != corev1.ClaimBound || c.Spec.VolumeName == "" {
			return fmt.Errorf("claim %s is %s", c.Name, c.Status.Phase)
		}
		v, err := cluster.kube.CoreV1().PersistentVolumes().Get(ctx, c.Spec.VolumeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("claim %s: PersistentVolume %s: %w", c.Name, c.Spec.VolumeName, err)
		}
		pvc, pv = &c, v
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return pvc, pv, nil
}

// volumeAffinity returns the key and values of a PersistentVolume's
// required node affinity when it is one term of one "In" requirement (what
// the provisioner writes), and false otherwise.
func volumeAffinity(pv *corev1.PersistentVolume) (string, []string, bool) {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return "", nil, false
	}
	terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 1 || len(terms[0].MatchFields) != 0 {
		return "", nil, false
	}
	r := terms[0].MatchExpressions[0]
	if r.Operator != corev1.NodeSelectorOpIn {
		return "", nil, false
	}
	return r.Key, r.Values, true
}

// volumeLeft describes what is left of a claim and its volume, "" when
// both are gone.
func volumeLeft(ctx context.Context, ns, claim, volume string) string {
	var left []string
	pvc, err := cluster.kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	switch {
	case err == nil:
		left = append(left, fmt.Sprintf("PersistentVolumeClaim %s (%s, deleting=%t, finalizers %v)",
			claim, pvc.Status.Phase, pvc.DeletionTimestamp != nil, pvc.Finalizers))
	case !apierrors.IsNotFound(err):
		left = append(left, fmt.Sprintf("PersistentVolumeClaim %s (%v)", claim, err))
	}
	pv, err := cluster.kube.CoreV1().PersistentVolumes().Get(ctx, volume, metav1.GetOptions{})
	switch {
	case err == nil:
		left = append(left, fmt.Sprintf("PersistentVolume %s (%s, deleting=%t)", volume, pv.Status.Phase, pv.DeletionTimestamp != nil))
	case !apierrors.IsNotFound(err):
		left = append(left, fmt.Sprintf("PersistentVolume %s (%v)", volume, err))
	}
	return strings.Join(left, " and ")
}

// nodeZone returns the zone label of node.
func nodeZone(t *testing.T, node string) string {
	t.Helper()
	n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting node %s: %v", node, err)
	}
	zone := n.Labels[labelZone]
	if zone == "" {
		t.Fatalf("test premise broken: node %s has no %s label (hack/cluster.sh up makes 2 zones)", node, labelZone)
	}
	return zone
}

// zoneSiblings returns the nodes of the suite other than node in its zone.
func zoneSiblings(t *testing.T, node string) []string {
	t.Helper()
	zone := nodeZone(t, node)
	var out []string
	for _, n := range cluster.nodes {
		if n != node && nodeZone(t, n) == zone {
			out = append(out, n)
		}
	}
	return out
}

// byTask maps the pipeline task of each pod record to it.
func byTask(recs []podRecord) map[string]podRecord {
	out := map[string]podRecord{}
	for _, r := range recs {
		out[r.Labels[labelPipelineTask]] = r
	}
	return out
}

// waitTaskBound waits until the pod of task of run is bound and returns its node.
func waitTaskBound(t *testing.T, rec *podRecorder, run, task string, timeout time.Duration) string {
	t.Helper()
	var node string
	waitFor(t, fmt.Sprintf("the pod of %s of %s to be bound", task, run), timeout, func(context.Context) error {
		var err error
		node, err = rec.boundNode(map[string]string{labelPipelineRun: run, labelPipelineTask: task})
		return err
	})
	return node
}

// (v1) A volumeClaimTemplate workspace shared by a diamond of four tasks
// (a, then b and c at once, then d): the volume is provisioned where the
// run's placeholder is, every pod of the run runs on that node, and the
// claim made from the template is deleted when the run completes, as
// upstream does in its per-PipelineRun coschedule modes. Upstream is also
// observed with "coschedule: workspaces".
func TestCompareVolumeClaimTemplateWorkspace(t *testing.T) {
	compare(t, func(s *scenario) {
		setFeatureFlags(s.t, scenarioFlags(nil))
		volumeClaimTemplateScenario(s)
		if !s.upstream {
			return
		}
		s.t.Run("coschedule-workspaces", func(t *testing.T) {
			setFeatureFlags(t, scenarioFlags(map[string]string{flagCoschedule: "workspaces"}))
			ws := &scenario{t: t, upstream: true}
			volumeClaimTemplateScenario(ws)
			if len(ws.defects) == 0 {
				t.Logf("UPSTREAM (coschedule: workspaces) SUMMARY: every expectation held")
			} else {
				t.Logf("UPSTREAM (coschedule: workspaces) SUMMARY: %s", strings.Join(ws.defects, "; "))
			}
		})
	})
}

func volumeClaimTemplateScenario(s *scenario) {
	t := s.t
	ns := newNamespace(t, "vct")
	rec := watchPods(t, nil, ns)
	const run = "shared"
	pr := newRun(ns, run, sharing(workspaceName, pipelineSpec(
		taskDef{name: "a"},
		taskDef{name: "b", after: []string{"a"}},
		taskDef{name: "c", after: []string{"a"}},
		taskDef{name: "d", after: []string{"b", "c"}},
	)), runOpts{duration: "2s"})
	pr.Spec.Workspaces = []v1.WorkspaceBinding{claimTemplate(workspaceName, "")}
	createRun(t, pr)

	// Read while the run runs: upstream deletes the claim at completion.
	claim, pv, err := waitBoundClaim(ns, 60*time.Second)
	if !s.require(err == nil, "%v", err) {
		return
	}
	key, values, ok := volumeAffinity(pv)
	t.Logf("claim %s is bound to PersistentVolume %s, node affinity %s", claim.Name, pv.Name, prettyJSON(pv.Spec.NodeAffinity))

	s.finish(ns, run, 90*time.Second)
	pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
	logPods(t, pods)
	holders := nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent(), labelPipelineRun: run}))
	t.Logf("observed: holder (%s) pods on %v, TaskRun pods on %v", s.holderComponent(), holders, nodesOf(pods))
	s.check(len(pods) == 4, "saw %d TaskRun pods, want 4", len(pods))
	if s.check(len(holders) == 1, "the %s pods ran on %v, want one node", s.holderComponent(), holders) {
		node := holders[0]
		s.check(ok && key == corev1.LabelHostname && len(values) == 1 && values[0] == node,
			"PersistentVolume %s has node affinity %s, want exactly %s in [%s]", pv.Name, prettyJSON(pv.Spec.NodeAffinity), corev1.LabelHostname, node)
		s.check(len(nodesOf(pods)) == 1 && nodesOf(pods)[0] == node, "TaskRun pods ran on %v, want only the holder's node %s", nodesOf(pods), node)
	}

	start := time.Now()
	err = poll("the claim made from the volumeClaimTemplate and its volume to be deleted at completion", 60*time.Second, func(ctx context.Context) error {
		if left := volumeLeft(ctx, ns, claim.Name, pv.Name); left != "" {
			return errors.New(left)
		}
		return nil
	})
	if s.check(err == nil, "%v", err) {
		t.Logf("observed: claim %s and PersistentVolume %s deleted %s after completion", claim.Name, pv.Name, time.Since(start).Round(time.Second))
	}
}

// (v2) A claim bound beforehand to a local PersistentVolume on one node
// that another isolated run holds: the run waits without creating TaskRuns,
// its condition quoting the scheduler (anti-affinity on that node, the
// PersistentVolume's node affinity on the others); once the other run is
// done it is placed on the volume's node and every one of its pods runs
// there.
func TestCompareClaimWithVolumeOnNode(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "claimnode")
		found := false
		for _, n := range cluster.nodes {
			found = found || n == volumeNode
		}
		if !found {
			t.Fatalf("test premise broken: node %s is not among the Ready nodes %v", volumeNode, cluster.nodes)
		}
		claim := createLocalVolume(t, ns, volumeNode)
		rec := watchPods(t, nil, ns)

		const holder, user = "holder", "user"
		createRun(t, newRun(ns, holder, oneTask(), runOpts{
			duration:    "20s",
			podTemplate: &pod.PodTemplate{NodeSelector: map[string]string{corev1.LabelHostname: volumeNode}},
		}))
		node, ok := s.waitBound(ns, holder, 60*time.Second)
		if !ok {
			return
		}
		if node != volumeNode {
			t.Fatalf("test premise broken: run %s (nodeSelector %s) runs on %s", holder, volumeNode, node)
		}

		pr := newRun(ns, user, sharing(workspaceName, chain(2)), runOpts{duration: "1s"})
		pr.Spec.Workspaces = []v1.WorkspaceBinding{{
			Name: workspaceName, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
		}}
		createRun(t, pr)
		if !s.upstream {
			// The scheduler's words (v1.35): "0/4 nodes are available: 1
			// node(s) didn't match pod anti-affinity rules, 3 node(s)
			// didn't match PersistentVolume's node affinity. ..."
			waiting := waitRunMessage(t, ns, user, reasonWaiting, 30*time.Second,
				"didn't match pod anti-affinity rules", "didn't match PersistentVolume's node affinity")
			t.Logf("while %s runs: %s", holder, describeCondition(waiting))
		} else {
			time.Sleep(5 * time.Second)
			t.Logf("observed 5s after its creation, while %s runs: %s: %s", holder, user, describeCondition(getRun(t, ns, user)))
		}
		trs, err := taskRuns(bg(), ns, user)
		s.check(err == nil && len(trs) == 0, "%s has %d TaskRuns (err %v) while %s holds the node of its volume", user, len(trs), err, holder)

		hpr, err := waitRunDone(ns, holder, 60*time.Second)
		if !s.require(err == nil, "%v", err) {
			return
		}
		var holderDone time.Time
		if hpr.Status.CompletionTime != nil {
			holderDone = hpr.Status.CompletionTime.Time
		}
		upr, _ := s.finish(ns, user, 90*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: user, labelTaskRun: "*"})
		logPods(t, pods)
		holders := nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent(), labelPipelineRun: user}))
		t.Logf("observed: %s done at %s; %s: %s; its %s pods on %v, TaskRun pods on %v",
			holder, holderDone.UTC().Format("15:04:05"), user, describeCondition(upr), s.holderComponent(), holders, nodesOf(pods))
		s.check(len(pods) == 2, "%s ran %d TaskRun pods, want 2", user, len(pods))
		s.check(len(holders) == 1 && holders[0] == volumeNode, "the %s pods of %s ran on %v, want only %s", s.holderComponent(), user, holders, volumeNode)
		for _, p := range pods {
			s.check(p.Node == volumeNode, "TaskRun pod %s (task %s) ran on %q, want %s", p.Name, p.Labels[labelPipelineTask], p.Node, volumeNode)
			s.check(len(p.Unschedulable) == 0, "TaskRun pod %s (task %s) was Pending unschedulable: %v", p.Name, p.Labels[labelPipelineTask], p.Unschedulable)
			s.check(p.BoundAt.IsZero() || !p.BoundAt.Before(holderDone.Truncate(time.Second)),
				"TaskRun pod %s was bound at %s, before %s was done (%s)", p.Name, p.BoundAt.UTC().Format("15:04:05"), holder, holderDone.UTC().Format("15:04:05"))
		}
	})
}

// createLocalVolume creates a 1Gi ReadWriteOnce local PersistentVolume on
// node (StorageClass "manual-<ns>", reclaim Retain; deleted at cleanup) and
// the claim "claim" in ns bound to it, and waits until they are bound.
func createLocalVolume(t *testing.T, ns, node string) string {
	t.Helper()
	class := "manual-" + ns
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-pv"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/vol/x"}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
	if _, err := cluster.kube.CoreV1().PersistentVolumes().Create(bg(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating PersistentVolume %s: %v", pv.Name, err)
	}
	t.Cleanup(func() {
		if err := cluster.kube.CoreV1().PersistentVolumes().Delete(bg(), pv.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting PersistentVolume %s: %v", pv.Name, err)
		}
	})
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "claim", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			StorageClassName: ptr.To(class),
			VolumeName:       pv.Name,
		},
	}
	if _, err := cluster.kube.CoreV1().PersistentVolumeClaims(ns).Create(bg(), pvc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating PersistentVolumeClaim %s/%s: %v", ns, pvc.Name, err)
	}
	if _, _, err := waitBoundClaim(ns, 30*time.Second); err != nil {
		t.Fatalf("claim %s/%s and PersistentVolume %s: %v", ns, pvc.Name, pv.Name, err)
	}
	t.Logf("claim %s/%s bound to local PersistentVolume %s on %s", ns, pvc.Name, pv.Name, node)
	return pvc.Name
}

// (v3) The node of a run with a zonal volume is cordoned while its first
// of three tasks runs: the run moves, within the volume's zone, to the
// other node of that zone, and completes there.
func TestCompareZonalVolumeMove(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "zonal")
		rec := watchPods(t, nil, ns)
		const run = "zonal"
		pr := newRun(ns, run, sharing(workspaceName, chain(3)), runOpts{duration: "6s"})
		pr.Spec.Workspaces = []v1.WorkspaceBinding{claimTemplate(workspaceName, classZonal)}
		createRun(t, pr)
		if _, ok := s.waitBound(ns, run, 60*time.Second); !ok {
			return
		}
		first := waitTaskBound(t, rec, run, "t1", 60*time.Second)
		zone := nodeZone(t, first)
		siblings := zoneSiblings(t, first)
		if len(siblings) != 1 {
			t.Fatalf("test premise broken: zone %s of %s has the other nodes %v, want exactly one", zone, first, siblings)
		}
		claim, pv, err := waitBoundClaim(ns, 30*time.Second)
		if !s.require(err == nil, "%v", err) {
			return
		}
		key, values, ok := volumeAffinity(pv)
		s.check(ok && key == labelZone && len(values) == 1 && values[0] == zone,
			"PersistentVolume %s of claim %s has node affinity %s, want %s in [%s]", pv.Name, claim.Name, prettyJSON(pv.Spec.NodeAffinity), labelZone, zone)
		cordon(t, first)

		s.finish(ns, run, 90*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		logPods(t, pods)
		tasks := byTask(pods)
		holders := nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent(), labelPipelineRun: run}))
		t.Logf("observed: t1 on %s (%s), t2 on %q, t3 on %q; %s pods on %v", first, zone, tasks["t2"].Node, tasks["t3"].Node, s.holderComponent(), holders)
		s.check(tasks["t1"].Node == first, "t1 ran on %q, want %s", tasks["t1"].Node, first)
		for _, task := range []string{"t2", "t3"} {
			p, found := tasks[task]
			if !s.check(found, "task %s has no pod", task) {
				continue
			}
			s.check(p.Node == siblings[0], "task %s pod %s is on %q, want %s, the other node of zone %s (unschedulable: %v)",
				task, p.Name, p.Node, siblings[0], zone, p.Unschedulable)
		}
		if !s.upstream {
			s.check(hasEvent(ns, "PipelineRun", run, eventMoving), "no %s event", eventMoving)
		}
	})
}

// (v4) The node of a run whose volume is local to it (class "local") is
// cordoned while its first task runs: the run cannot move, and says so
// (WaitingToMove, "cannot move", naming the claim and its volume) instead
// of making a placeholder no node can take. Uncordoned in time, it
// finishes where it was; kept cordoned, it fails NodeWaitTimeout once
// max-node-wait has passed, with no TaskRun left running. No TaskRun pod
// ever runs on another node. (Engine contract only: upstream has no
// max-node-wait nor WaitingToMove.)
func TestVolumeLocalClaimCannotMove(t *testing.T) {
	const maxNodeWait = 25 * time.Second
	for _, tc := range []struct {
		name string
		// uncordonAfter is when the node is uncordoned, counted from the
		// cordon; 0 keeps it cordoned.
		uncordonAfter time.Duration
	}{
		{name: "uncordoned after 8s", uncordonAfter: 8 * time.Second},
		{name: "kept cordoned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setFeatureFlags(t, patchedFlags(map[string]string{flagMaxNodeWait: maxNodeWait.String()}))
			ns := newNamespace(t, "pinned")
			rec := watchPods(t, nil, ns)
			const run = "pinned"
			pr := newRun(ns, run, sharing(workspaceName, chain(3)), runOpts{duration: "6s"})
			pr.Spec.Workspaces = []v1.WorkspaceBinding{claimTemplate(workspaceName, "")}
			createRun(t, pr)
			node := waitTaskBound(t, rec, run, "t1", 60*time.Second)
			claim, pv, err := waitBoundClaim(ns, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			cordon(t, node)
			cordoned := time.Now()

			waiting := waitRunMessage(t, ns, run, reasonWaitingToMove, 30*time.Second, "cannot move", claim.Name, pv.Name)
			t.Logf("after the cordon: %s", describeCondition(waiting))

			if tc.uncordonAfter > 0 {
				time.Sleep(time.Until(cordoned.Add(tc.uncordonAfter)))
				if err := setUnschedulable(bg(), cluster.kube, node, false); err != nil {
					t.Fatalf("uncordoning %s: %v", node, err)
				}
				t.Logf("uncordoned %s %s after the cordon", node, time.Since(cordoned).Round(time.Second))
				waitRunSucceeded(t, ns, run, 90*time.Second)
			} else {
				// The wait starts when the node is found unusable and t1
				// is done; t1 runs 6s.
				bound := maxNodeWait + 6*time.Second + 30*time.Second
				failed := waitRunMessage(t, ns, run, reasonNodeWait, time.Until(cordoned.Add(bound)), "cannot move", claim.Name, pv.Name)
				elapsed := time.Since(cordoned)
				t.Logf("%s after the cordon: %s", elapsed.Round(time.Second), describeCondition(failed))
				if c := succeeded(failed); !c.IsFalse() {
					t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(failed))
				}
				if elapsed < maxNodeWait-time.Second {
					t.Errorf("failed %s after the cordon, before max-node-wait %s", elapsed.Round(time.Second), maxNodeWait)
				}
				err := poll(fmt.Sprintf("the TaskRuns of %s to end after it failed", run), 30*time.Second, func(ctx context.Context) error {
					trs, err := taskRuns(ctx, ns, run)
					if err != nil {
						return err
					}
					var running []string
					for _, tr := range trs {
						if c := tr.Status.GetCondition(apis.ConditionSucceeded); c == nil || c.IsUnknown() {
							running = append(running, tr.Name)
						}
					}
					if len(running) > 0 {
						return fmt.Errorf("TaskRuns %v still running", running)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
				trs, _ := taskRuns(bg(), ns, run)
				var tasks []string
				for _, tr := range trs {
					tasks = append(tasks, tr.Labels[labelPipelineTask])
					t.Logf("TaskRun %s (task %s): %v", tr.Name, tr.Labels[labelPipelineTask], tr.Status.GetCondition(apis.ConditionSucceeded))
				}
				if len(trs) != 1 {
					t.Errorf("%s has TaskRuns of tasks %v, want only t1's: no task starts while the run cannot move", run, tasks)
				}
			}
			if evs := findEvents(ns, run, eventMoving, ""); len(evs) > 0 {
				t.Errorf("%s has %s events although its volume keeps it on %s: %v", run, eventMoving, node, eventMessages(evs))
			}

			pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
			logPods(t, pods)
			for _, p := range pods {
				if p.Node != "" && p.Node != node {
					t.Errorf("TaskRun pod %s (task %s) ran on %s: the run moved away from its local volume on %s", p.Name, p.Labels[labelPipelineTask], p.Node, node)
				}
			}
			if holders := nodesOf(rec.matching(map[string]string{labelComponent: componentHolder, labelPipelineRun: run})); len(holders) != 1 || holders[0] != node {
				t.Errorf("placeholder pods of %s were bound on %v, want only %s", run, holders, node)
			}
			if tc.uncordonAfter > 0 && len(pods) != 3 {
				t.Errorf("saw %d TaskRun pods, want 3", len(pods))
			}
		})
	}
}

// (v5) Tasks that request ephemeral storage: a (10Gi), then b and c (40Gi
// each) at once, then d (60Gi), on nodes of 100Gi. The placeholder holds
// the peak, 80Gi, and must hand it over to the tasks although ephemeral
// storage cannot be resized in place; every task runs on the placeholder's
// node and the run succeeds. A second isolated run at the same time never
// shares a node with it.
func TestCompareEphemeralStorageHandover(t *testing.T) {
	compare(t, func(s *scenario) {
		t := s.t
		setFeatureFlags(t, scenarioFlags(nil))
		ns := newNamespace(t, "ephemeral")
		rec := watchPods(t, sharedHolderNodes, ns)
		const run, neighbour = "scratch", "neighbour"
		createRun(t, newRun(ns, run, pipelineSpec(
			taskDef{name: "a", cpu: "100m", storage: "10Gi"},
			taskDef{name: "b", cpu: "100m", storage: "40Gi", after: []string{"a"}},
			taskDef{name: "c", cpu: "100m", storage: "40Gi", after: []string{"a"}},
			taskDef{name: "d", cpu: "100m", storage: "60Gi", after: []string{"b", "c"}},
		), runOpts{duration: "3s"}))
		createRun(t, newRun(ns, neighbour, pipelineSpec(
			taskDef{name: "n1", cpu: "100m", storage: "30Gi"},
			taskDef{name: "n2", cpu: "100m", storage: "30Gi", after: []string{"n1"}},
		), runOpts{duration: "5s"}))
		if !s.upstream {
			got := createdRequest(t, ns, run, corev1.ResourceEphemeralStorage)
			s.check(got.Cmp(resource.MustParse("80Gi")) == 0, "the placeholder of %s was created requesting ephemeral-storage %s, want the peak 80Gi (b and c)", run, got.String())
			t.Logf("the placeholder of %s was created requesting ephemeral-storage %s", run, got.String())
		}

		_, ok := s.finish(ns, run, 90*time.Second)
		s.finish(ns, neighbour, 60*time.Second)
		pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
		others := rec.matching(map[string]string{labelPipelineRun: neighbour, labelTaskRun: "*"})
		logPods(t, append(append([]podRecord{}, pods...), others...))
		holders := nodesOf(rec.matching(map[string]string{labelComponent: s.holderComponent(), labelPipelineRun: run}))
		t.Logf("observed: %s pods of %s on %v, its TaskRun pods on %v; TaskRun pods of %s on %v",
			s.holderComponent(), run, holders, nodesOf(pods), neighbour, nodesOf(others))
		for _, p := range append(append([]podRecord{}, pods...), others...) {
			s.check(len(p.Unschedulable) == 0, "TaskRun pod %s (task %s) was Pending unschedulable on %q: %v",
				p.Name, p.Labels[labelPipelineTask], p.Node, p.Unschedulable)
		}
		if s.check(len(holders) == 1, "the %s pods of %s ran on %v, want one node", s.holderComponent(), run, holders) {
			s.check(len(nodesOf(pods)) == 1 && nodesOf(pods)[0] == holders[0], "TaskRun pods of %s ran on %v, want only %s", run, nodesOf(pods), holders[0])
			for _, n := range nodesOf(others) {
				s.check(n != holders[0], "a TaskRun pod of %s ran on %s, the node of %s", neighbour, n, run)
			}
		}
		if ok {
			s.check(len(pods) == 4, "saw %d TaskRun pods of %s, want 4", len(pods), run)
		}
		v := rec.getViolations()
		s.check(len(v) == 0, "placeholders of different runs shared a node: %s", strings.Join(v, " | "))
		if !s.upstream {
			t.Logf("hand-overs of %s: %v", run, eventMessages(findEvents(ns, run, eventHandedOver, "")))
		}
	})
}
