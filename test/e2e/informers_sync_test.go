//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
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
	// rulesTakenAnnotation holds, on the controller's ClusterRole, the rules
	// it had before takeNodesListWatch took list and watch on nodes from it
	// (JSON), set in the same write: a run of the suite killed before its
	// cleanup gave them back leaves it, and the next run's TestMain gives
	// them back (restoreTakenRules).
	rulesTakenAnnotation = "e2e.pipelinerun-affinity.dev/rules-before-test"
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

// takeClusterRoleRules sets the rules of ClusterRole name to rules, and
// records in its annotation rulesTakenAnnotation the rules it had (those
// already recorded, if an earlier take was not given back), in one write.
func takeClusterRoleRules(ctx context.Context, name string, rules []rbacv1.PolicyRule) error {
	return updateClusterRole(ctx, name, func(cr *rbacv1.ClusterRole) error {
		if _, taken := cr.Annotations[rulesTakenAnnotation]; !taken {
			before, err := json.Marshal(cr.Rules)
			if err != nil {
				return fmt.Errorf("encoding the rules of ClusterRole %s: %w", name, err)
			}
			if cr.Annotations == nil {
				cr.Annotations = map[string]string{}
			}
			cr.Annotations[rulesTakenAnnotation] = string(before)
		}
		cr.Rules = rules
		return nil
	})
}

// giveClusterRoleRules sets the rules of ClusterRole name back to rules and
// removes its annotation rulesTakenAnnotation, in one write.
func giveClusterRoleRules(ctx context.Context, name string, rules []rbacv1.PolicyRule) error {
	return updateClusterRole(ctx, name, func(cr *rbacv1.ClusterRole) error {
		delete(cr.Annotations, rulesTakenAnnotation)
		cr.Rules = rules
		return nil
	})
}

// updateClusterRole applies change to ClusterRole name and writes it,
// again on a conflict.
func updateClusterRole(ctx context.Context, name string, change func(*rbacv1.ClusterRole) error) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cr, err := cluster.kube.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := change(cr); err != nil {
			return err
		}
		_, err = cluster.kube.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
		return err
	})
}

// rulesTaken returns the rules recorded in cr's annotation
// rulesTakenAnnotation, and whether it has one.
func rulesTaken(cr *rbacv1.ClusterRole) ([]rbacv1.PolicyRule, bool, error) {
	value, taken := cr.Annotations[rulesTakenAnnotation]
	if !taken {
		return nil, false, nil
	}
	var rules []rbacv1.PolicyRule
	if err := json.Unmarshal([]byte(value), &rules); err != nil {
		return nil, true, fmt.Errorf("ClusterRole %s's annotation %s: %w", cr.Name, rulesTakenAnnotation, err)
	}
	return rules, true, nil
}

// restoreTakenRules gives the controller's ClusterRole back the rules a
// run of the suite killed before its cleanup left taken (its annotation
// rulesTakenAnnotation), waits until the API server lets the controller
// list and watch nodes again, and restarts the controller, whose engine's
// informers then start afresh, as that cleanup would have. It does nothing
// to a ClusterRole without the annotation. For TestMain.
func restoreTakenRules(ctx context.Context) error {
	cr, err := cluster.kube.RbacV1().ClusterRoles().Get(ctx, controllerClusterRole, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading ClusterRole %s: %w", controllerClusterRole, err)
	}
	rules, taken, err := rulesTaken(cr)
	if err != nil || !taken {
		return err
	}
	fmt.Printf("e2e: ClusterRole %s has annotation %s: an interrupted run took rules from it; giving them back and restarting the Tekton controller\n",
		controllerClusterRole, rulesTakenAnnotation)
	if err := giveClusterRoleRules(ctx, controllerClusterRole, rules); err != nil {
		return fmt.Errorf("giving ClusterRole %s its rules back: %w", controllerClusterRole, err)
	}
	for _, verb := range []string{"list", "watch"} {
		if err := waitControllerMay(verb, "nodes", true); err != nil {
			return fmt.Errorf("after giving ClusterRole %s its rules back: %w", controllerClusterRole, err)
		}
	}
	if err := keepControllerLogBeforeRestart(); err != nil {
		return err
	}
	if err := startController("restart"); err != nil {
		return fmt.Errorf("restarting the Tekton controller with its rules back: %w", err)
	}
	return nil
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
// afresh for the tests that follow. The rules taken from are recorded on
// the ClusterRole (rulesTakenAnnotation) until given back, so that a run
// killed before its cleanup is mended by the next (restoreTakenRules).
func takeNodesListWatch(t *testing.T) (restore func()) {
	t.Helper()
	cr, err := cluster.kube.RbacV1().ClusterRoles().Get(bg(), controllerClusterRole, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading ClusterRole %s: %v", controllerClusterRole, err)
	}
	// TestMain gave back what an interrupted run took: only a run beside
	// this one takes them now.
	if _, taken, err := rulesTaken(cr); err != nil || taken {
		t.Fatalf("ClusterRole %s has annotation %s (%v): rules are taken from it already", controllerClusterRole, rulesTakenAnnotation, err)
	}
	saved := cr.DeepCopy().Rules
	restored := false
	restore = func() {
		if restored {
			return
		}
		if err := giveClusterRoleRules(bg(), controllerClusterRole, saved); err != nil {
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
	if err := takeClusterRoleRules(bg(), controllerClusterRole, withoutVerbs(saved, "nodes", "list", "watch")); err != nil {
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
// end Cancelled as Tekton ends them, the TaskRuns cancelled, and their
// placeholders are released at once (the engine reads them from the API
// server). With the rule back, and no restart, the fourth goes on and
// succeeds. Two more placed runs, past their first TaskRun, are not held
// by the informers: one whose task ends meanwhile succeeds, one cancelled
// gracefully ends Cancelled, its TaskRun cancelled; both free their nodes.
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
			// Alerts on Warning events see the wait, once.
			waitFor(t, run+": one Warning event naming the rule", 30*time.Second, func(context.Context) error {
				if evs := warningEvents(ns, run, reasonInformersNotSynced, why); len(evs) != 1 || evs[0].Count > 1 {
					return fmt.Errorf("Warning events %s: %q", reasonInformersNotSynced, eventMessages(evs))
				}
				return nil
			})
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
		// Done, they free their nodes for the waiting run (one run
		// per node, 4 nodes): the engine releases their placeholders
		// without its informers.
		for _, run := range []string{graceful, finishing} {
			waitNoPlaceholder(t, ns, run, 30*time.Second)
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
		// Done, they free their nodes without the informers.
		for _, run := range []string{placed, unrecorded} {
			waitNoPlaceholder(t, ns, run, 30*time.Second)
		}
		if trs, err := taskRuns(bg(), ns, fresh); err != nil || len(trs) != 0 {
			t.Errorf("%s: TaskRuns %v (%v), want none", fresh, taskRunNames(trs), err)
		}
	})

	t.Run("with the rule back the waiting run goes on", func(t *testing.T) {
		restore()
		restoredAt := time.Now()
		waitRunSucceeded(t, ns, patient, 120*time.Second)
		t.Logf("%s succeeded %s after the rule was back, without a restart", patient, time.Since(restoredAt).Round(time.Second))
	})
}

// warningEvents returns the run's Warning events of reason whose message
// contains substr.
func warningEvents(ns, run, reason, substr string) []corev1.Event {
	var out []corev1.Event
	for _, e := range findEvents(ns, run, reason, substr) {
		if e.Type == corev1.EventTypeWarning {
			out = append(out, e)
		}
	}
	return out
}
