//go:build e2e

package e2e

// The cluster settings a test changes and restores: the feature-flags
// ConfigMap, cordoned nodes and deleted nodes.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// --------------------------------------------------------- feature flags ----

// setFeatureFlags updates the feature-flags ConfigMap (a value "" deletes
// the key), registers the restoration of the previous data, and gives the
// controller's ConfigMap watch time to apply the change.
func setFeatureFlags(t *testing.T, kv map[string]string) {
	t.Helper()
	cm, err := cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Get(bg(), featureFlagsConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading feature flags: %v", err)
	}
	before := copyMap(cm.Data)
	t.Cleanup(func() {
		if err := restoreFeatureFlags(bg(), before); err != nil {
			t.Errorf("restoring feature flags: %v", err)
		}
	})
	if err := updateFeatureFlags(bg(), func(data map[string]string) {
		for k, v := range kv {
			if v == "" {
				delete(data, k)
			} else {
				data[k] = v
			}
		}
	}); err != nil {
		t.Fatalf("setting feature flags %v: %v", kv, err)
	}
	time.Sleep(2 * time.Second)
}

// patchedFlags are the flags of most tests: engine on, isolate-pipelinerun,
// defaults for the rest, plus overrides.
func patchedFlags(overrides map[string]string) map[string]string {
	kv := map[string]string{
		flagEnable:      "true",
		flagCoschedule:  "isolate-pipelinerun",
		flagScope:       "",
		flagReservation: "",
		flagMaxNodeWait: "",
		flagTopology:    "",
		flagKueueQueue:  "",
	}
	for k, v := range overrides {
		kv[k] = v
	}
	return kv
}

func updateFeatureFlags(ctx context.Context, mutate func(map[string]string)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cm, err := cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Get(ctx, featureFlagsConfigMap, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		mutate(cm.Data)
		_, err = cluster.kube.CoreV1().ConfigMaps(tektonNamespace).Update(ctx, cm, metav1.UpdateOptions{})
		return err
	})
}

func restoreFeatureFlags(ctx context.Context, data map[string]string) error {
	return updateFeatureFlags(ctx, func(current map[string]string) {
		for k := range current {
			delete(current, k)
		}
		for k, v := range data {
			current[k] = v
		}
	})
}

func setUnschedulable(ctx context.Context, kube kubernetes.Interface, node string, unschedulable bool) error {
	label := `"` + cordonedByLabel + `":"true"`
	if !unschedulable {
		label = `"` + cordonedByLabel + `":null`
	}
	patch := fmt.Sprintf(`{"metadata":{"labels":{%s}},"spec":{"unschedulable":%t}}`, label, unschedulable)
	_, err := kube.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}

// cordon cordons node and registers its uncordon.
func cordon(t *testing.T, node string) {
	t.Helper()
	t.Cleanup(func() {
		if err := setUnschedulable(bg(), cluster.kube, node, false); err != nil {
			t.Errorf("uncordoning %s: %v", node, err)
		}
	})
	if err := setUnschedulable(bg(), cluster.kube, node, true); err != nil {
		t.Fatalf("cordoning %s: %v", node, err)
	}
	t.Logf("cordoned %s", node)
}

// deleteNode deletes node, as a cloud provider does with a machine that is
// gone, and registers its recreation from a copy (nodeForRecreation) and a
// wait until it is Ready again. Pods still bound to the node are the
// test's to delete: they would run again on the recreated node.
func deleteNode(t *testing.T, node string) {
	t.Helper()
	n, err := cluster.kube.CoreV1().Nodes().Get(bg(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading node %s: %v", node, err)
	}
	copyNode := nodeForRecreation(n)
	t.Cleanup(func() {
		if _, err := cluster.kube.CoreV1().Nodes().Create(bg(), copyNode.DeepCopy(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("creating node %s again: %v", node, err)
			return
		}
		if err := poll("node "+node+" to be Ready again", 60*time.Second, nodeBack(node)); err != nil {
			t.Error(err)
		}
	})
	if err := cluster.kube.CoreV1().Nodes().Delete(bg(), node, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting node %s: %v", node, err)
	}
	t.Logf("deleted node %s", node)
}

// nodeForRecreation is a copy of n to create again after its deletion: all
// labels and annotations (kwok manages the nodes by an annotation), its
// spec without cordon, the taints the node lifecycle controller manages
// or those of keys drop, and the capacity of its status; kwok initializes
// the rest as for a new node.
func nodeForRecreation(n *corev1.Node, drop ...string) *corev1.Node {
	c := n.DeepCopy()
	c.ResourceVersion = ""
	c.UID = ""
	c.CreationTimestamp = metav1.Time{}
	c.DeletionTimestamp = nil
	c.DeletionGracePeriodSeconds = nil
	c.ManagedFields = nil
	c.Generation = 0
	delete(c.Labels, cordonedByLabel)
	c.Spec.Unschedulable = false
	var taints []corev1.Taint
	for _, x := range c.Spec.Taints {
		if !strings.HasPrefix(x.Key, "node.kubernetes.io/") && !slices.Contains(drop, x.Key) {
			taints = append(taints, x)
		}
	}
	c.Spec.Taints = taints
	c.Status = corev1.NodeStatus{Capacity: n.Status.Capacity, Allocatable: n.Status.Allocatable}
	return c
}
