//go:build e2e

package e2e

// The cluster settings a test changes and restores: the feature-flags
// ConfigMap and cordoned nodes.

import (
	"context"
	"fmt"
	"testing"
	"time"

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
