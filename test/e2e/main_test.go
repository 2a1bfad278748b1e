//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tektonclient "github.com/tektoncd/pipeline/pkg/client/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// cluster is the cluster every test talks to; set up by TestMain.
var cluster *clusterEnv

type clusterEnv struct {
	cfg    *rest.Config
	kube   kubernetes.Interface
	tekton tektonclient.Interface
	// nodes are the schedulable, Ready nodes at start-up, sorted.
	nodes []string
	// metricsURL is the Tekton controller's Prometheus endpoint.
	metricsURL string
	// repoRoot is the repository root (for hack/ scripts).
	repoRoot string
	// stateDir is PRA_STATE_DIR (cluster logs, cluster.env).
	stateDir string
	// flagsSnapshot is the feature-flags data at start-up, restored at the end.
	flagsSnapshot map[string]string
	// dynamic reads and writes Karpenter's objects.
	dynamic dynamic.Interface
	// autoscaler is what hack/cluster.sh started ("karpenter" or "none").
	autoscaler string
	// nodePoolLimit is the CPU limit of Karpenter's NodePool at start-up:
	// the suite pauses the autoscaler (limit 0) so that runs that wait for a
	// node keep waiting, and restores it at the end.
	nodePoolLimit string
}

func TestMain(m *testing.M) {
	if err := setUp(); err != nil {
		fmt.Fprintf(os.Stderr, "\nE2E SET-UP FAILED: %v\n\n"+
			"The e2e tests need a running local cluster with the patched Tekton controller:\n"+
			"  hack/cluster.sh up --tekton patched\n"+
			"  eval \"$(hack/cluster.sh env)\"\n"+
			"  go test -tags=e2e -v -timeout 60m ./test/e2e/...\n\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := restoreFeatureFlags(context.Background(), cluster.flagsSnapshot); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: restoring the feature flags failed: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	if cluster.autoscaler == autoscalerKarpenter {
		if err := setNodePoolLimit(context.Background(), cluster.nodePoolLimit); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: restoring the NodePool's CPU limit failed: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

func setUp() error {
	kubeconfig := os.Getenv("KUBECONFIG")
	if kubeconfig == "" {
		return fmt.Errorf("KUBECONFIG is not set")
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		return fmt.Errorf("KUBECONFIG=%s: %w", kubeconfig, err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading KUBECONFIG=%s: %w", kubeconfig, err)
	}
	cfg.Timeout = 20 * time.Second
	cfg.QPS, cfg.Burst = 100, 200
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	tk, err := tektonclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	env := &clusterEnv{cfg: cfg, kube: kube, tekton: tk, dynamic: dyn}
	env.repoRoot, err = filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	env.stateDir = os.Getenv("PRA_STATE_DIR")
	if env.stateDir == "" {
		home, _ := os.UserHomeDir()
		env.stateDir = filepath.Join(home, ".cache", "pipelinerun-affinity")
	}
	env.metricsURL = os.Getenv("E2E_METRICS_URL")
	if env.metricsURL == "" {
		base := 28300
		if v := os.Getenv("PRA_PORT_BASE"); v != "" {
			if base, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("PRA_PORT_BASE=%q: %w", v, err)
			}
		}
		env.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", base+6)
	}

	// A cluster that has just come up on a machine busy compiling (CI runs
	// lint and the LTS builds beside the suite) can take longer than one
	// request's timeout to answer its first list: the first reads are retried
	// within one bound, and only its end fails the suite.
	ctx, cancel := context.WithTimeout(context.Background(), setupWait+30*time.Second)
	defer cancel()
	var nodes *corev1.NodeList
	if err := eventually(ctx, fmt.Sprintf("the API server at %s (KUBECONFIG=%s) to list nodes", cfg.Host, kubeconfig), time.Second, setupWait, func(ctx context.Context) error {
		if _, err := kube.Discovery().ServerVersion(); err != nil {
			return err
		}
		var err error
		nodes, err = kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("no cluster reachable: %w", err)
	}
	for _, n := range nodes.Items {
		// Only the static kwok nodes: one an autoscaler made may go at any
		// time, and the real node of cluster.sh up --real-nodes is tainted
		// for the real-node subset (realnode_test.go) alone.
		_, autoscaled := n.Labels[labelNodePool]
		if nodeReady(&n) && !n.Spec.Unschedulable && !autoscaled && n.Labels["type"] != "real" {
			env.nodes = append(env.nodes, n.Name)
		}
	}
	sort.Strings(env.nodes)
	if len(env.nodes) < 2 {
		return fmt.Errorf("need at least 2 Ready schedulable nodes, found %d: %v", len(env.nodes), env.nodes)
	}
	if _, err := tk.TektonV1().PipelineRuns("default").List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return fmt.Errorf("the tekton.dev/v1 PipelineRun API is not available (is Tekton installed?): %w", err)
	}
	cm, err := kube.CoreV1().ConfigMaps(tektonNamespace).Get(ctx, featureFlagsConfigMap, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s/%s: %w", tektonNamespace, featureFlagsConfigMap, err)
	}
	env.flagsSnapshot = copyMap(cm.Data)
	if _, err := env.scrapeMetrics(ctx); err != nil {
		return fmt.Errorf("the Tekton controller's metrics endpoint is not reachable (is the controller running?): %w", err)
	}
	if f := env.controllerFlavor(); f != "" && f != "patched" {
		return fmt.Errorf("the running Tekton controller is %q (from %s); the e2e tests need the patched one: hack/tekton-controller.sh patched", f, env.clusterEnvFile())
	}
	cluster = env
	env.autoscaler = env.clusterSetting("AUTOSCALER")
	if env.autoscaler == autoscalerKarpenter {
		if env.nodePoolLimit, err = pauseAutoscaler(ctx); err != nil {
			return err
		}
	}
	if err := env.removeLeftovers(ctx); err != nil {
		return err
	}
	fmt.Printf("e2e: cluster %s, %d nodes %v, Tekton controller %q, metrics %s\n",
		cfg.Host, len(env.nodes), env.nodes, env.controllerFlavor(), env.metricsURL)
	return nil
}

// removeLeftovers deletes the namespaces an interrupted earlier run of the
// suite left behind and waits until their pods are gone: leftover
// placeholders would repel the new ones. It also gives the controller's
// ClusterRole back the rules such a run took, and uncordons the nodes it
// cordoned.
func (c *clusterEnv) removeLeftovers(ctx context.Context) error {
	// Rules a killed run left taken from the controller's ClusterRole
	// (first: the controller restarts).
	if err := restoreTakenRules(ctx); err != nil {
		return err
	}
	nss, err := c.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: suiteLabel})
	if err != nil {
		return err
	}
	for _, ns := range nss.Items {
		fmt.Printf("e2e: deleting leftover namespace %s\n", ns.Name)
		if err := c.kube.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	for _, ns := range nss.Items {
		if err := c.waitNamespacePodsGone(ctx, ns.Name, 90*time.Second); err != nil {
			return err
		}
	}
	// Nodes a killed run left cordoned.
	for _, n := range c.nodes {
		node, err := c.kube.CoreV1().Nodes().Get(ctx, n, metav1.GetOptions{})
		if err == nil && node.Labels[cordonedByLabel] != "" {
			_ = setUnschedulable(ctx, c.kube, n, false)
		}
	}
	return nil
}

func (c *clusterEnv) waitNamespacePodsGone(ctx context.Context, ns string, timeout time.Duration) error {
	return eventually(ctx, fmt.Sprintf("the pods of namespace %s to be gone", ns), pollInterval, timeout, func(ctx context.Context) error {
		pods, err := c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left: %v", len(pods.Items), podNames(pods.Items))
		}
		return nil
	})
}

func (c *clusterEnv) clusterEnvFile() string {
	return filepath.Join(c.stateDir, "cluster", "cluster.env")
}

// controllerFlavor returns "patched" or "upstream" as recorded by
// hack/cluster.sh (or hack/tekton-controller.sh), or "" when unknown.
func (c *clusterEnv) controllerFlavor() string { return c.clusterSetting("TEKTON_FLAVOR") }

// clusterSetting returns the last value of KEY=value in cluster.env, or "".
func (c *clusterEnv) clusterSetting(key string) string {
	data, err := os.ReadFile(c.clusterEnvFile())
	if err != nil {
		return ""
	}
	value := ""
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			value = strings.TrimSpace(v)
		}
	}
	return value
}

func (c *clusterEnv) logDir() string { return filepath.Join(c.stateDir, "cluster", "logs") }

// scrapeMetrics returns the body of the controller's metrics endpoint.
func (c *clusterEnv) scrapeMetrics(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.metricsURL, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", c.metricsURL, resp.Status)
	}
	return string(body), nil
}

// setupWait bounds how long the suite waits for a freshly started cluster to
// answer its first reads before it gives up with the last error it saw.
const setupWait = 3 * time.Minute

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
