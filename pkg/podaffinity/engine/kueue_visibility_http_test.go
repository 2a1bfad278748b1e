/*
Copyright 2026 The Tekton Authors

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"knative.dev/pkg/logging"
)

// The answers of a kube-apiserver (v1.35) to the engine's GET of the
// pending workloads, as they come over HTTP, through the discovery REST
// client the engine reads them with (readKueue): what TestQueueTextReads
// takes as errors already made.
const (
	// jsonStatus is an API server's error body.
	jsonStatus = "application/json"
	// textPlain is the body of http.Error and http.NotFound.
	textPlain = "text/plain; charset=utf-8"
)

// apiAnswer is one answer of the API server.
type apiAnswer struct {
	code        int
	contentType string
	body        string
}

var (
	// noAPIService: no APIService serves the group; the path falls
	// through to the end of the delegation chain (apiserver's
	// notfoundhandler: http.NotFound).
	noAPIService = apiAnswer{http.StatusNotFound, textPlain, "404 page not found\n"}
	// apiServiceUnavailable: the APIService is Available=False (the
	// aggregator's proxyHandler: proxyError).
	apiServiceUnavailable = apiAnswer{http.StatusServiceUnavailable, textPlain, "service unavailable\n"}
	// endpointRefused: the APIService is still marked Available, its
	// endpoint refuses the connection (the aggregator's responder.Error).
	endpointRefused = apiAnswer{http.StatusServiceUnavailable, textPlain, "dial tcp 10.254.0.254:28318: connect: connection refused\n"}
	// rbacForbidden: the controller may not get pendingworkloads.
	rbacForbidden = apiAnswer{http.StatusForbidden, jsonStatus, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
		`"message":"localqueues.visibility.kueue.x-k8s.io \"team-a-queue\" is forbidden: User \"system:serviceaccount:tekton-pipelines:tekton-pipelines-controller\" cannot get resource \"localqueues/pendingworkloads\"",` +
		`"reason":"Forbidden","details":{"name":"team-a-queue","group":"visibility.kueue.x-k8s.io","kind":"localqueues"},"code":403}`}
	// localQueueUnknown: Kueue's visibility server does not know the
	// LocalQueue (the API is served).
	localQueueUnknown = apiAnswer{http.StatusNotFound, jsonStatus, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
		`"message":"localqueue.visibility.kueue.x-k8s.io \"team-a-queue\" not found","reason":"NotFound",` +
		`"details":{"name":"team-a-queue","group":"visibility.kueue.x-k8s.io","kind":"localqueue"},"code":404}`}
	// internalError: any other failure.
	internalError = apiAnswer{http.StatusInternalServerError, jsonStatus, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",` +
		`"message":"Internal error occurred: etcd is sad","reason":"InternalError","details":{"causes":[{"message":"etcd is sad"}]},"code":500}`}
)

// Two reconciles, one after the other, of a run waiting for admission,
// the engine reading Kueue's visibility API over HTTP: what the run says,
// and whether the second one asks the API again.
func TestQueueTextOverHTTP(t *testing.T) {
	const countText = "; Kueue counts 3 workloads pending in LocalQueue " + kueueQueue + ", this one included"
	for _, tc := range []struct {
		name   string
		answer apiAnswer
		want   string
		// wantAgain: the second reconcile asks the API again.
		wantAgain bool
	}{{
		name:      "served",
		answer:    apiAnswer{http.StatusOK, jsonStatus, string(pendingWorkloadsJSON(0, phName()))},
		want:      "; position 1 of 1 pending in LocalQueue " + kueueQueue + ", 1 in its ClusterQueue",
		wantAgain: true,
	}, {
		name:   "no APIService: 404 page not found",
		answer: noAPIService,
		want:   countText,
	}, {
		name:   "APIService Available=False: 503 service unavailable",
		answer: apiServiceUnavailable,
		want:   countText,
	}, {
		name:   "APIService's endpoint refuses: 503 from the proxy",
		answer: endpointRefused,
		want:   countText,
	}, {
		name:   "no RBAC: 403",
		answer: rbacForbidden,
		want:   countText,
	}, {
		name:      "the LocalQueue unknown to Kueue: served, asked again",
		answer:    localQueueUnknown,
		want:      countText,
		wantAgain: true,
	}, {
		name:      "another error: said as such, asked again",
		answer:    internalError,
		want:      "; its position in LocalQueue " + kueueQueue + " is unknown: reading the pending workloads of LocalQueue team-a/" + kueueQueue + " from Kueue's visibility API: Internal error occurred: etcd is sad",
		wantAgain: true,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			reads := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if want := "/apis/visibility.kueue.x-k8s.io/v1beta2/namespaces/" + ns + "/localqueues/" + kueueQueue + "/pendingworkloads"; r.URL.Path != want {
					t.Errorf("GET %s, want %s", r.URL.Path, want)
				}
				reads++
				w.Header().Set("Content-Type", tc.answer.contentType)
				w.WriteHeader(tc.answer.code)
				_, _ = w.Write([]byte(tc.answer.body))
			}))
			defer srv.Close()
			e := &Engine{
				Clock:      clocktesting.NewFakePassiveClock(now),
				KubeClient: kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL}),
				LocalQueues: func(context.Context, string, string) ([]byte, error) {
					return []byte(`{"status":{"pendingWorkloads":3}}`), nil
				},
			}
			ctx := logging.WithLogger(context.Background(), logging.FromContext(context.Background()))
			for i := 0; i < 2; i++ {
				got := e.queueText(ctx, ns, kueueQueue, phName())
				if d := cmp.Diff(tc.want, strings.TrimSpace(got)); d != "" {
					t.Errorf("reconcile %d: queueText() (-want +got):\n%s", i, d)
				}
			}
			if want := map[bool]int{true: 2, false: 1}[tc.wantAgain]; reads != want {
				t.Errorf("the visibility API was read %d times in two reconciles, want %d", reads, want)
			}
		})
	}
}
