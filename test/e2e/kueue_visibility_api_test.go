//go:build e2e && kueue

package e2e

// Kueue's visibility API as hack/cluster.sh up --kueue serves it (see
// hack/kueue/README.md): the APIServices v1beta2 and v1beta1 of
// visibility.kueue.x-k8s.io name the Service kueue-system/visibility-server,
// whose EndpointSlice names the address where Kueue's visibility server
// listens. A test takes it away in the two ways an operator meets it, and
// puts it back.

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

const (
	kueueNamespace     = "kueue-system"
	visibilityEndpoint = "visibility-server"
)

var (
	apiServices = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	// visibilityAPIServices are Kueue's APIServices, the one the engine
	// reads first.
	visibilityAPIServices = []string{"v1beta2.visibility.kueue.x-k8s.io", "v1beta1.visibility.kueue.x-k8s.io"}
)

// visibilityAPI is Kueue's visibility API as the cluster served it when
// the test took it, to put back.
type visibilityAPI struct {
	saved   []*unstructured.Unstructured
	port    int32
	address string
	broken  bool
}

// takeVisibilityAPI records Kueue's visibility API, which must be served,
// and puts it back when the test ends (after the cleanups registered later,
// so that a failed test's diagnostics read the controller's log first):
// the APIServices and the EndpointSlice as they were, Available again, and
// the Tekton controller restarted, so that the engine asks the API at once
// again rather than once its visibilityRecheck of 5 minutes has passed.
func takeVisibilityAPI(t *testing.T) *visibilityAPI {
	t.Helper()
	v := &visibilityAPI{}
	for _, name := range visibilityAPIServices {
		u, err := cluster.dynamic.Resource(apiServices).Get(bg(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading APIService %s (hack/cluster.sh up --kueue makes it): %v", name, err)
		}
		if ok, msg := apiServiceAvailable(u); !ok {
			t.Fatalf("APIService %s is not Available: %s", name, msg)
		}
		v.saved = append(v.saved, u)
	}
	es, err := cluster.kube.DiscoveryV1().EndpointSlices(kueueNamespace).Get(bg(), visibilityEndpoint, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading EndpointSlice %s/%s: %v", kueueNamespace, visibilityEndpoint, err)
	}
	if len(es.Ports) != 1 || es.Ports[0].Port == nil || len(es.Endpoints) != 1 || len(es.Endpoints[0].Addresses) != 1 {
		t.Fatalf("EndpointSlice %s/%s has not one port and one address: %+v", kueueNamespace, visibilityEndpoint, es)
	}
	v.port, v.address = *es.Ports[0].Port, es.Endpoints[0].Addresses[0]
	t.Cleanup(func() {
		if v.broken {
			v.restore(t)
		}
	})
	return v
}

// pendingWorkloadsStatus is the HTTP status of the API server's answer to
// what the engine asks: the pending workloads of LocalQueue ns/queue.
func pendingWorkloadsStatus(ctx context.Context, ns, queue string) int {
	var code int
	cluster.kube.Discovery().RESTClient().Get().
		AbsPath(fmt.Sprintf("/apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/%s/localqueues/%s/pendingworkloads", ns, queue)).
		Do(ctx).StatusCode(&code)
	return code
}

// waitPendingWorkloadsStatus waits until the API server answers code for
// the pending workloads of LocalQueue ns/queue.
func waitPendingWorkloadsStatus(t *testing.T, ns, queue string, code int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the API server to answer %d for the pending workloads of LocalQueue %s/%s", code, ns, queue), 60*time.Second, func(ctx context.Context) error {
		if got := pendingWorkloadsStatus(ctx, ns, queue); got != code {
			return fmt.Errorf("it answers %d", got)
		}
		return nil
	})
}

// makeUnavailable leaves the APIServices registered and points their
// Service's endpoint at a port where nothing listens, as a Kueue manager
// started without its visibility server (feature gate VisibilityOnDemand
// off) leaves them: the aggregator finds the endpoint closed, marks the
// APIService Available=False and answers 503.
func (v *visibilityAPI) makeUnavailable(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(v.address, "0"))
	if err != nil {
		t.Fatalf("finding a free port on %s: %v", v.address, err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("closing %s: %v", l.Addr(), err)
	}
	v.broken = true
	v.setPort(t, int32(closed))
	t.Logf("EndpointSlice %s/%s now names %s:%d, where nothing listens", kueueNamespace, visibilityEndpoint, v.address, closed)
	waitFor(t, "APIService "+visibilityAPIServices[0]+" to be Available=False", 90*time.Second, func(ctx context.Context) error {
		u, err := cluster.dynamic.Resource(apiServices).Get(ctx, visibilityAPIServices[0], metav1.GetOptions{})
		if err != nil {
			return err
		}
		if ok, msg := apiServiceAvailable(u); ok {
			return fmt.Errorf("still Available: %s", msg)
		}
		return nil
	})
}

// unregister deletes the APIServices, as on a cluster whose Kueue was
// installed without them: the API server answers 404.
func (v *visibilityAPI) unregister(t *testing.T) {
	t.Helper()
	v.broken = true
	for _, name := range visibilityAPIServices {
		if err := cluster.dynamic.Resource(apiServices).Delete(bg(), name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("deleting APIService %s: %v", name, err)
		}
	}
}

// restore puts the APIServices and the EndpointSlice back, waits until
// they are Available and restarts the Tekton controller (keeping its log).
func (v *visibilityAPI) restore(t *testing.T) {
	t.Helper()
	for _, u := range v.saved {
		fresh := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": u.GetAPIVersion(), "kind": u.GetKind(),
			"metadata": map[string]any{"name": u.GetName(), "labels": toAny(u.GetLabels())},
			"spec":     u.Object["spec"],
		}}
		if _, err := cluster.dynamic.Resource(apiServices).Create(bg(), fresh, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Errorf("re-creating APIService %s: %v", u.GetName(), err)
		}
	}
	v.setPort(t, v.port)
	for _, name := range visibilityAPIServices {
		if err := poll("APIService "+name+" to be Available again", 90*time.Second, func(ctx context.Context) error {
			u, err := cluster.dynamic.Resource(apiServices).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if ok, msg := apiServiceAvailable(u); !ok {
				return fmt.Errorf("not Available: %s", msg)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	if err := keepControllerLogBeforeRestart(); err != nil {
		t.Error(err)
	}
	if err := startController("restart"); err != nil {
		t.Errorf("restarting the Tekton controller: %v", err)
		return
	}
	v.broken = false
	t.Logf("Kueue's visibility API is served again; the Tekton controller restarted (its earlier log: %s)", previousControllerLog())
}

// setPort sets the port of the visibility server's EndpointSlice.
func (v *visibilityAPI) setPort(t *testing.T, port int32) {
	t.Helper()
	patch := fmt.Sprintf(`[{"op":"replace","path":"/ports/0/port","value":%d}]`, port)
	if _, err := cluster.kube.DiscoveryV1().EndpointSlices(kueueNamespace).Patch(bg(), visibilityEndpoint, types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Errorf("setting the port of EndpointSlice %s/%s to %d: %v", kueueNamespace, visibilityEndpoint, port, err)
	}
}

// apiServiceAvailable returns whether an APIService is Available, and its
// condition's reason and message.
func apiServiceAvailable(u *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Available" {
			return m["status"] == "True", fmt.Sprintf("%v: %v", m["reason"], m["message"])
		}
	}
	return false, "no Available condition"
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
