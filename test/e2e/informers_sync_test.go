//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"knative.dev/pkg/apis"
)

const (
	// controllerClusterRole is the Tekton controller's ClusterRole
	// (config/200-clusterrole.yaml of the patched tree, applied by
	// hack/cluster.sh), which grants the engine its nodes.
	controllerClusterRole = "tekton-pipelines-controller-cluster-access"
	// controllerUser is the user the controller runs as (cluster.sh's
	// controller_kubeconfig: a token of its ServiceAccount).
	controllerUser = "system:serviceaccount:" + tektonNamespace + ":tekton-pipelines-controller"
	// recordAnnotation is where the controller records its decision on a
	// run (selection.RecordAnnotationKey); a run an upstream controller
	// started has none.
	recordAnnotation = "tekton.dev/pod-affinity"
	// reasonInformersNotSynced is the reason of a run waiting for the
	// engine's informers (engine.ReasonInformersNotSynced).
	reasonInformersNotSynced = "InformersNotSynced"
)

// controllerMay asks the API server whether the Tekton controller may verb
// resource (core group, cluster-wide).
func controllerMay(ctx context.Context, verb, resource string) (bool, error) {
	sar, err := cluster.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               controllerUser,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + tektonNamespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Resource: resource},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

// withoutVerbs returns rules with verbs taken away on the core group's
// resource: a rule naming it with others is split in two.
func withoutVerbs(rules []rbacv1.PolicyRule, resource string, verbs ...string) []rbacv1.PolicyRule {
	var out []rbacv1.PolicyRule
	for _, r := range rules {
		if !slices.Contains(r.APIGroups, "") || !slices.Contains(r.Resources, resource) {
			out = append(out, r)
			continue
		}
		if others := slices.DeleteFunc(slices.Clone(r.Resources), func(s string) bool { return s == resource }); len(others) > 0 {
			o := *r.DeepCopy()
			o.Resources = others
			out = append(out, o)
		}
		kept := slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return slices.Contains(verbs, v) })
		if len(kept) > 0 {
			o := *r.DeepCopy()
			o.Resources, o.Verbs = []string{resource}, kept
			out = append(out, o)
		}
	}
	return out
}

// setClusterRoleRules sets the rules of ClusterRole name.
func setClusterRoleRules(ctx context.Context, name string, rules []rbacv1.PolicyRule) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cr, err := cluster.kube.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cr.Rules = rules
		_, err = cluster.kube.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
		return err
	})
}

// waitControllerMay waits until the API server answers allowed to whether
// the controller may verb resource.
func waitControllerMay(verb, resource string, allowed bool) error {
	return poll(fmt.Sprintf("the API server to answer %t to whether %s may %s %s", allowed, controllerUser, verb, resource), 30*time.Second, func(ctx context.Context) error {
		may, err := controllerMay(ctx, verb, resource)
		if err != nil {
			return err
		}
		if may != allowed {
			return fmt.Errorf("allowed: %t", may)
		}
		return nil
	})
}

// takeNodesListWatch takes away the controller's list and watch on nodes
// (as an operator's copy of the ClusterRole without the engine's rules) and
// returns what gives them back (it runs once). The cleanup gives them back
// too, and restarts the controller, whose engine's informers then start
// afresh for the tests that follow.
func takeNodesListWatch(t *testing.T) (restore func()) {
	t.Helper()
	cr, err := cluster.kube.RbacV1().ClusterRoles().Get(bg(), controllerClusterRole, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading ClusterRole %s: %v", controllerClusterRole, err)
	}
	saved := cr.DeepCopy().Rules
	restored := false
	restore = func() {
		if restored {
			return
		}
		if err := setClusterRoleRules(bg(), controllerClusterRole, saved); err != nil {
			t.Errorf("restoring the rules of ClusterRole %s: %v", controllerClusterRole, err)
			return
		}
		// Only once the rules are back: a failed restore is tried again
		// by the cleanup, before the controller restarts.
		restored = true
		for _, verb := range []string{"list", "watch"} {
			if err := waitControllerMay(verb, "nodes", true); err != nil {
				t.Errorf("after restoring ClusterRole %s: %v", controllerClusterRole, err)
			}
		}
	}
	t.Cleanup(func() {
		restore()
		if err := keepControllerLogBeforeRestart(); err != nil {
			t.Errorf("keeping the controller's log: %v", err)
		}
		if err := startController("restart"); err != nil {
			t.Errorf("restarting the Tekton controller with its nodes back: %v", err)
			return
		}
		t.Logf("ClusterRole %s restored; the Tekton controller restarted", controllerClusterRole)
	})
	if err := setClusterRoleRules(bg(), controllerClusterRole, withoutVerbs(saved, "nodes", "list", "watch")); err != nil {
		t.Fatalf("taking list and watch on nodes from ClusterRole %s: %v", controllerClusterRole, err)
	}
	for _, verb := range []string{"list", "watch"} {
		if err := waitControllerMay(verb, "nodes", false); err != nil {
			t.Fatalf("%v (does another role grant it?)", err)
		}
	}
	return restore
}

// waitTaskRunsCancelled waits until every TaskRun of run is done, and
// checks that each was cancelled.
func waitTaskRunsCancelled(t *testing.T, ns, run string, timeout time.Duration) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the TaskRuns of %s to be done", run), timeout, func(ctx context.Context) error {
		trs, err := taskRuns(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(trs) == 0 {
			return fmt.Errorf("no TaskRun")
		}
		for _, tr := range trs {
			if !tr.IsDone() {
				return fmt.Errorf("TaskRun %s: %s", tr.Name, conditionString(tr.Status.GetCondition(apis.ConditionSucceeded)))
			}
		}
		return nil
	})
	trs, _ := taskRuns(bg(), ns, run)
	for _, tr := range trs {
		if c := tr.Status.GetCondition(apis.ConditionSucceeded); c == nil || !c.IsFalse() || c.Reason != v1.TaskRunReasonCancelled.String() {
			t.Errorf("TaskRun %s of %s: %s, want it cancelled", tr.Name, run, conditionString(c))
		}
	}
}

// The controller may not list or watch nodes (an operator's ClusterRole
// without the engine's rules), so the engine's informers, which start when
// a run first needs them, do not sync. Two runs placed before (a long task
// running on their node) are on a controller started afresh without the
// permission: one as it was, one without the decision the controller
// recorded on it (as a run an upstream controller started), whose reconcile
// must sync the informers before anything else. Two runs created then wait
// (no TaskRun) and say why: Succeeded Unknown, InformersNotSynced, naming
// the rule the controller lacks, with a start time. Cancelled, three runs
// end Cancelled as Tekton ends them, the TaskRuns cancelled. With the rule
// back, and no restart, the fourth goes on and succeeds, and the
// placeholders of the cancelled runs are released. Two more placed runs,
// past their first TaskRun, are not held by the informers: one whose task
// ends meanwhile succeeds, one cancelled gracefully ends Cancelled, its
// TaskRun cancelled.
func TestReliabilityInformersCannotSync(t *testing.T) {
	setFeatureFlags(t, patchedFlags(nil))
	ns := newNamespace(t, "nosync")
	const placed, unrecorded, fresh, patient = "placed", "unrecorded", "fresh", "patient"
	// finishing's task ends while the informers cannot sync, graceful is
	// cancelled gracefully meanwhile: both past their first TaskRun.
	const finishing, graceful = "finishing", "graceful"
	for _, run := range []string{placed, unrecorded, graceful} {
		createRun(t, newRun(ns, run, oneTask(), runOpts{duration: "600s"}))
	}
	createRun(t, newRun(ns, finishing, oneTask(), runOpts{duration: "90s"}))
	for _, run := range []string{placed, unrecorded, graceful, finishing} {
		waitPlaced(t, ns, run, 60*time.Second)
	}

	restore := takeNodesListWatch(t)
	// The record is taken off while no controller runs, so that no
	// reconcile in flight writes it back. "restart" starts the same
	// controller again and installs nothing: the RBAC and the feature
	// flags stay as they are.
	if err := keepControllerLogBeforeRestart(); err != nil {
		t.Fatal(err)
	}
	if _, err := sigkillController(); err != nil {
		t.Fatal(err)
	}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:null}}}`, recordAnnotation)
	if _, err := cluster.tekton.TektonV1().PipelineRuns(ns).Patch(bg(), unrecorded, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("removing annotation %s from %s: %v", recordAnnotation, unrecorded, err)
	}
	if err := startController("restart"); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"list", "watch"} {
		if may, err := controllerMay(bg(), verb, "nodes"); err != nil || may {
			t.Fatalf("after the controller's restart, may it %s nodes: %t (%v); want false", verb, may, err)
		}
	}
	start := time.Now()
	for _, run := range []string{fresh, patient} {
		createRun(t, newRun(ns, run, oneTask(), runOpts{}))
	}

	const why = `"list" and "watch" on nodes`
	t.Run("runs created meanwhile wait and say why", func(t *testing.T) {
		for _, run := range []string{fresh, patient} {
			pr := waitRunMessage(t, ns, run, reasonInformersNotSynced, 90*time.Second, why)
			t.Logf("%s after %s: %s", run, time.Since(start).Round(time.Second), describeCondition(pr))
			if c := succeeded(pr); !c.IsUnknown() {
				t.Errorf("%s: %s, want Succeeded=Unknown", run, describeCondition(pr))
			}
			if pr.Status.StartTime == nil {
				t.Errorf("%s: no start time while it waits for the informers (timeouts.pipeline bounds that wait)", run)
			}
			if trs, err := taskRuns(bg(), ns, run); err != nil || len(trs) != 0 {
				t.Errorf("%s: TaskRuns %v (%v), want none while the engine cannot place it", run, taskRunNames(trs), err)
			}
		}
		for _, run := range []string{placed, unrecorded, graceful, finishing} {
			if pr := getRun(t, ns, run); pr.IsDone() {
				t.Errorf("%s: %s before it was cancelled, or its task ended", run, describeCondition(pr))
			}
		}
	})

	t.Run("runs past their first TaskRun end as their tasks did", func(t *testing.T) {
		cancelledAt := time.Now()
		setRunSpecStatus(t, ns, graceful, v1.PipelineRunSpecStatusCancelledRunFinally)
		pr := waitRunReason(t, ns, graceful, v1.PipelineRunReasonCancelled.String(), 150*time.Second)
		if c := succeeded(pr); !c.IsFalse() {
			t.Errorf("%s: %s, want Succeeded=False", graceful, describeCondition(pr))
		}
		t.Logf("%s ended %s after its graceful cancel: %s", graceful, time.Since(cancelledAt).Round(time.Second), describeCondition(pr))
		waitTaskRunsCancelled(t, ns, graceful, 60*time.Second)
		waitRunSucceeded(t, ns, finishing, 180*time.Second)
		t.Logf("%s succeeded %s after the controller's restart", finishing, time.Since(start).Round(time.Second))
		// Their placeholders cannot be released until the informers
		// sync: the runs are deleted (the garbage collector deletes
		// what they own), so that the nodes they held are free for the
		// waiting run (one run per node, 4 nodes).
		for _, run := range []string{graceful, finishing} {
			if err := cluster.tekton.TektonV1().PipelineRuns(ns).Delete(bg(), run, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("deleting %s: %v", run, err)
			}
		}
		for _, run := range []string{graceful, finishing} {
			waitNoPlaceholder(t, ns, run, 60*time.Second)
		}
	})

	t.Run("cancelled runs end Cancelled", func(t *testing.T) {
		cancelledAt := time.Now()
		for _, run := range []string{placed, unrecorded, fresh} {
			setRunSpecStatus(t, ns, run, v1.PipelineRunSpecStatusCancelled)
		}
		for _, run := range []string{placed, unrecorded, fresh} {
			pr := waitRunReason(t, ns, run, v1.PipelineRunReasonCancelled.String(), 150*time.Second)
			if c := succeeded(pr); !c.IsFalse() {
				t.Errorf("%s: %s, want Succeeded=False", run, describeCondition(pr))
			}
			t.Logf("%s ended %s after it was cancelled: %s", run, time.Since(cancelledAt).Round(time.Second), describeCondition(pr))
		}
		for _, run := range []string{placed, unrecorded} {
			waitTaskRunsCancelled(t, ns, run, 60*time.Second)
		}
		if trs, err := taskRuns(bg(), ns, fresh); err != nil || len(trs) != 0 {
			t.Errorf("%s: TaskRuns %v (%v), want none", fresh, taskRunNames(trs), err)
		}
	})

	t.Run("with the rule back the waiting run goes on and placeholders are released", func(t *testing.T) {
		restore()
		restoredAt := time.Now()
		waitRunSucceeded(t, ns, patient, 120*time.Second)
		t.Logf("%s succeeded %s after the rule was back, without a restart", patient, time.Since(restoredAt).Round(time.Second))
		// The done runs' cleanup failed while the informers could not
		// sync, and is retried with the queue's backoff, which by now may
		// be minutes: logged, then the controller restarted (as the
		// cleanup does anyway) and their release required.
		if err := poll("the cancelled runs' placeholders to be released without a restart", 30*time.Second, func(ctx context.Context) error {
			for _, run := range []string{placed, unrecorded, fresh} {
				if pods, err := placeholderPods(ctx, ns, run); err != nil || len(pods) > 0 {
					return fmt.Errorf("%s: placeholder pods %v (%v)", run, podNames(pods), err)
				}
			}
			return nil
		}); err != nil {
			t.Logf("%v; restarting the controller", err)
			if err := keepControllerLogBeforeRestart(); err != nil {
				t.Fatal(err)
			}
			if err := startController("restart"); err != nil {
				t.Fatal(err)
			}
		}
		for _, run := range []string{placed, unrecorded, fresh} {
			waitNoPlaceholder(t, ns, run, 60*time.Second)
		}
	})
}
