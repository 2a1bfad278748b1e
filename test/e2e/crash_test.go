//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The controller may crash between any two writes of a placement and of a
// hand-over; the next controller must finish the job from what it finds,
// without a second placeholder, a second placement, or a split run.
//
// A crash right after write k is made deterministic with real parts: a
// ValidatingAdmissionPolicy refuses write k+1 in the test's namespace, so
// the controller stops exactly there (it retries, and is refused); the
// test then SIGKILLs it, lifts the refusal and starts a new controller.
// A shrink the node has not applied yet, with the first TaskRun already
// created with it, is no write the controller waits to make: the test
// holds the shrink (crash_shrink_test.go), kills the controller, lets the
// node apply it and starts a new controller.
func TestReliabilityControllerKilledBetweenWrites(t *testing.T) {
	// a (100m) then b (500m): the placeholder reserves 500m, hands 100m over
	// to a, keeps 400m for b while a runs, and hands it over when b starts.
	type state = func(pinned bool, cpu string, taskRuns, done int) bool
	// A hand-over is a resize in place or, where that is refused, the
	// replacement of the pod: refuse both. (Refusing the creation of a
	// TaskRun makes no crash point: Tekton fails the run with
	// CreateRunFailed, as upstream does.)
	handOver := rules(rule("", "pods/resize", admissionv1.Update), rule("", "pods", admissionv1.Delete))
	for _, tc := range []struct {
		name string
		// refuse are the writes that never happen before the crash.
		refuse []admissionv1.NamedRuleWithOperations
		// armAt, when set, is the state in which the refusal is put in
		// place; otherwise before the run is created.
		armAt state
		// reached is the state right before that write.
		reached state
		// holdShrink: instead of a refusal, the node holds the
		// placeholder pod's first shrink unanswered until the kill.
		holdShrink bool
	}{{
		name:    "after the placeholder is created, before it is pinned to its node",
		refuse:  rules(rule("apps", "statefulsets", admissionv1.Update)),
		reached: func(pinned bool, cpu string, taskRuns, done int) bool { return !pinned && taskRuns == 0 },
	}, {
		name:   "after the placeholder is pinned, before it is shrunk for the first task",
		refuse: handOver,
		reached: func(pinned bool, cpu string, taskRuns, done int) bool {
			return pinned && cpu == "500m" && taskRuns == 0
		},
	}, {
		name:   "after the first task, before the placeholder hands the rest over to the second",
		refuse: handOver,
		armAt:  func(pinned bool, cpu string, taskRuns, done int) bool { return taskRuns == 1 && done == 0 },
		reached: func(pinned bool, cpu string, taskRuns, done int) bool {
			return cpu == "400m" && taskRuns == 1 && done == 1
		},
	}, {
		name:       "after the placeholder is shrunk for the first task and its TaskRun created, before the node applies the shrink",
		holdShrink: true,
		reached: func(pinned bool, cpu string, taskRuns, done int) bool {
			return pinned && cpu == "400m" && taskRuns == 1
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			setFeatureFlags(t, patchedFlags(nil))
			ns := newNamespace(t, "crash")
			rec := watchPods(t, nil, ns)
			const run = "crashed"
			spec := pipelineSpec(taskDef{name: "a", cpu: "100m", duration: "4s"}, taskDef{name: "b", cpu: "500m", after: []string{"a"}, duration: "1s"})
			var lift func()
			opts := runOpts{}
			if tc.holdShrink {
				opts = heldShrinkOpts(ns)
			} else if tc.armAt == nil {
				lift = refuseInNamespace(t, ns, tc.refuse)
			}
			createRun(t, newRun(ns, run, spec, opts))
			var held *heldShrink
			if tc.holdShrink {
				held = holdShrink(t, ns, run)
				lift = func() { held.release(t) }
			}
			if tc.armAt != nil {
				waitFor(t, "the run to reach the state where the refusal starts", 60*time.Second, placeholderState(ns, run, tc.armAt))
				lift = refuseInNamespace(t, ns, tc.refuse)
			}
			last := ""
			waitFor(t, "the run to stand right before the refused write", 60*time.Second, placeholderState(ns, run, func(pinned bool, cpu string, taskRuns, done int) bool {
				last = fmt.Sprintf("pinned=%t cpu=%s taskRuns=%d done=%d", pinned, cpu, taskRuns, done)
				return tc.reached(pinned, cpu, taskRuns, done)
			}))
			t.Logf("stands right before the refused write: %s", last)
			// Let the controller try the refused write at least once (or
			// look at the held shrink again).
			time.Sleep(2 * time.Second)
			if held != nil {
				held.checkHeld(t)
			}
			killAndRestartController(t, lift)

			pr := waitRunSucceeded(t, ns, run, 90*time.Second)
			t.Logf("%s: %s", run, describeCondition(pr))
			if evs := findEvents(ns, run, eventRecreated, ""); len(evs) > 0 {
				t.Errorf("placeholder created more than once: %v", eventMessages(evs))
			}
			if evs := findEvents(ns, run, eventPlaced, ""); len(evs) != 1 || evs[0].Count > 1 {
				t.Errorf("placed more than once: %v", eventMessages(evs))
			}
			pods := rec.matching(map[string]string{labelPipelineRun: run, labelTaskRun: "*"})
			if nodes := nodesOf(pods); len(pods) != 2 || len(nodes) != 1 {
				t.Errorf("TaskRun pods %d on nodes %v, want 2 on one node", len(pods), nodes)
			}
			if held != nil {
				held.checkOutcome(t, pods)
			}
			waitNoPlaceholder(t, ns, run, 30*time.Second)
		})
	}
}

func rules(r ...admissionv1.NamedRuleWithOperations) []admissionv1.NamedRuleWithOperations { return r }

func rule(group, resource string, op admissionv1.OperationType) admissionv1.NamedRuleWithOperations {
	return admissionv1.NamedRuleWithOperations{RuleWithOperations: admissionv1.RuleWithOperations{
		Operations: []admissionv1.OperationType{op},
		Rule:       admissionv1.Rule{APIGroups: []string{group}, APIVersions: []string{"*"}, Resources: []string{resource}},
	}}
}

// placeholderState reads the run's placeholder (pinned or not, the CPU its
// pod asks for) and its TaskRuns (created, done), and asks at whether that
// is the state wanted; a probe that reports that state until it is.
func placeholderState(ns, run string, at func(pinned bool, cpu string, taskRuns, done int) bool) probe {
	return func(ctx context.Context) error {
		sts, err := placeholderStatefulSets(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(sts) != 1 {
			return fmt.Errorf("placeholder StatefulSets %v, want one", stsNames(sts))
		}
		pods, err := placeholderPods(ctx, ns, run)
		if err != nil {
			return err
		}
		if len(pods) != 1 || pods[0].Spec.NodeName == "" {
			var seen []string
			for i := range pods {
				seen = append(seen, fmt.Sprintf("%s %s on %q", pods[i].Name, podStatus(&pods[i]), pods[i].Spec.NodeName))
			}
			return fmt.Errorf("placeholder pods %v, want one bound", seen)
		}
		trs, err := taskRuns(ctx, ns, run)
		if err != nil {
			return err
		}
		done := 0
		for i := range trs {
			if trs[i].IsDone() {
				done++
			}
		}
		// The run has no pod template: any node affinity is the pin.
		affinity := sts[0].Spec.Template.Spec.Affinity
		pinned := affinity != nil && affinity.NodeAffinity != nil
		cpu := pods[0].Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]
		if !at(pinned, cpu.String(), len(trs), done) {
			return fmt.Errorf("pinned=%t cpu=%s taskRuns=%d done=%d", pinned, cpu.String(), len(trs), done)
		}
		return nil
	}
}

// refuseInNamespace makes the API server refuse the writes r matches in
// namespace ns, and returns the function that lifts the refusal (also run
// at cleanup).
func refuseInNamespace(t *testing.T, ns string, r []admissionv1.NamedRuleWithOperations) func() {
	t.Helper()
	return refuseInNamespaceWith(t, ns, "e2e: the controller crashes before this write", r)
}

// refuseInNamespaceWith is refuseInNamespace with the refusal's message.
func refuseInNamespaceWith(t *testing.T, ns, message string, r []admissionv1.NamedRuleWithOperations) func() {
	t.Helper()
	return refuseInNamespaceUnless(t, ns, nil, "false", message, r)
}

// refuseInNamespaceUnless makes the API server refuse, with message, the
// writes r matches in namespace ns for which the CEL expression admit
// (over variables vars) is false; it returns the function that lifts the
// refusal (also run at cleanup).
func refuseInNamespaceUnless(t *testing.T, ns string, vars []admissionv1.Variable, admit, message string, r []admissionv1.NamedRuleWithOperations) func() {
	t.Helper()
	name := "e2e-refuse-" + ns
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: r},
			Variables:        vars,
			Validations: []admissionv1.Validation{{
				Expression: admit,
				Message:    message,
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	vap := cluster.kube.AdmissionregistrationV1()
	if _, err := vap.ValidatingAdmissionPolicies().Create(bg(), policy, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the refusal: %v", err)
	}
	if _, err := vap.ValidatingAdmissionPolicyBindings().Create(bg(), binding, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the refusal's binding: %v", err)
	}
	lifted := false
	lift := func() {
		if lifted {
			return
		}
		lifted = true
		for _, err := range []error{
			vap.ValidatingAdmissionPolicyBindings().Delete(bg(), name, metav1.DeleteOptions{}),
			vap.ValidatingAdmissionPolicies().Delete(bg(), name, metav1.DeleteOptions{}),
		} {
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("lifting the refusal: %v", err)
			}
		}
		// The API server applies policy changes within about a second.
		time.Sleep(2 * time.Second)
	}
	t.Cleanup(lift)
	// Let the API server load the policy before the test relies on it.
	time.Sleep(2 * time.Second)
	return lift
}

// killAndRestartController SIGKILLs the Tekton controller, runs between
// (if set) while no controller runs, and starts a new one.
func killAndRestartController(t testing.TB, between func()) {
	t.Helper()
	flavor := cluster.controllerFlavor()
	pid, err := sigkillController()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILLed the Tekton controller (pid %d)", pid)
	if between != nil {
		between()
	}
	if err := startController(flavor); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted the Tekton controller (%s)", flavor)
}
