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
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tekton-affinity/pipelinerun-affinity/pkg/podaffinity/placeholder"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/logging"
)

// A run labelled for a Kueue LocalQueue (placeholder.KueueQueue) waits for
// Kueue to admit its placeholder pod, the run's workload at its peak
// demand, before it looks for a node; no TaskRun starts before (the run is
// Ready only once its placeholder is bound). That wait is deliberate
// queueing, not a lack of nodes: pipelinerun-pod-affinity-max-node-wait
// does not count it. The wait for a node starts when Kueue admits the pod
// (placeholder.AwaitingAdmissionAnnotation gives way to
// placeholder.WaitingSinceAnnotation). The run's own timeout still bounds
// the whole.
//
// When Kueue takes the admission back (it preempts the workload for one of
// higher priority, say), it deletes the placeholder pod; the StatefulSet
// makes a new one, gated again. If the template was pinned to the node the
// old pod held and none of the run's pods run there, the run is requeued
// as a whole: the template is unpinned and asks for the run's remaining
// peak again, and the pinned pod is replaced, so that the run does not come
// back to a node it no longer holds (decideAdmission).

// kueueWorkloadPath and kueueLocalQueuePath are where the API server
// serves a Kueue Workload and LocalQueue.
const (
	kueueWorkloadPath   = "/apis/kueue.x-k8s.io/v1beta2/namespaces/%s/workloads/%s"
	kueueLocalQueuePath = "/apis/kueue.x-k8s.io/v1beta2/namespaces/%s/localqueues/%s"
)

// kueueLocalQueue is what the engine reads of a Kueue LocalQueue: how many
// of its workloads Kueue counts as pending (not admitted). The count is not
// a position: Kueue serves that only through its visibility API, which the
// engine reads first (kueue_visibility.go).
type kueueLocalQueue struct {
	Status struct {
		PendingWorkloads int32 `json:"pendingWorkloads"`
	} `json:"status"`
}

// kueueWorkload is what the engine reads of a Kueue Workload.
type kueueWorkload struct {
	Status struct {
		Conditions []metav1.Condition `json:"conditions"`
	} `json:"status"`
}

// admitted records, once Kueue has admitted the placeholder pod, that the
// run's wait for a node starts now, in place of its wait for admission.
// It returns sts as written, or sts itself when it has no record of a wait
// for admission.
func (e *Engine) admitted(ctx context.Context, sts *appsv1.StatefulSet) (*appsv1.StatefulSet, error) {
	if _, ok := sts.Annotations[placeholder.AwaitingAdmissionAnnotation]; !ok {
		return sts, nil
	}
	return e.patchAnnotations(ctx, sts, map[string]any{
		placeholder.AwaitingAdmissionAnnotation: nil,
		placeholder.WaitingSinceAnnotation:      e.Clock.Now().UTC().Format(time.RFC3339),
	})
}

// workloadState says where Kueue's Workload of a placeholder stands, from
// its conditions, or "" when the engine cannot read it (no Kueue CRDs, or
// no permission to get Workloads: see config/kueue-rbac.yaml). While the
// Workload is pending, it adds where it stands in the run's LocalQueue,
// queue: its position, or how many workloads Kueue counts pending there
// (queueText).
func (e *Engine) workloadState(ctx context.Context, namespace, name, queue string) string {
	raw, err := e.readKueue(ctx, e.Workloads, kueueWorkloadPath, namespace, name)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("Kueue has not made Workload %s yet (is Kueue running, with its pod integration?)", name)
	case err != nil:
		logging.FromContext(ctx).Debugf("Reading Kueue Workload %s/%s: %v", namespace, name, err)
		return ""
	case raw == nil:
		return ""
	}
	var wl kueueWorkload
	if err := json.Unmarshal(raw, &wl); err != nil {
		logging.FromContext(ctx).Debugf("Decoding Kueue Workload %s/%s: %v", namespace, name, err)
		return ""
	}
	msg := workloadMessage(wl.Status.Conditions)
	if pendingWorkload(wl.Status.Conditions) {
		msg += e.queueText(ctx, namespace, queue, name)
	}
	return msg
}

// pendingText says how many workloads Kueue counts pending in a run's
// LocalQueue, its own included ("" for none: the count is unknown).
func pendingText(n int32, queue string) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return fmt.Sprintf("; it is the only workload Kueue counts pending in LocalQueue %s", queue)
	}
	return fmt.Sprintf("; Kueue counts %d workloads pending in LocalQueue %s, this one included", n, queue)
}

// pendingIn returns how many workloads Kueue counts pending in LocalQueue
// namespace/queue, or 0 when the engine cannot read it.
func (e *Engine) pendingIn(ctx context.Context, namespace, queue string) int32 {
	raw, err := e.readKueue(ctx, e.LocalQueues, kueueLocalQueuePath, namespace, queue)
	if err != nil || raw == nil {
		if err != nil {
			logging.FromContext(ctx).Debugf("Reading Kueue LocalQueue %s/%s: %v", namespace, queue, err)
		}
		return 0
	}
	var lq kueueLocalQueue
	if err := json.Unmarshal(raw, &lq); err != nil {
		logging.FromContext(ctx).Debugf("Decoding Kueue LocalQueue %s/%s: %v", namespace, queue, err)
		return 0
	}
	return lq.Status.PendingWorkloads
}

// readKueue GETs a Kueue object as JSON: through read when set, otherwise
// at path through the discovery REST client of KubeClient (the engine has
// no Kueue client). A nil answer means there is no way to read it.
func (e *Engine) readKueue(ctx context.Context, read func(context.Context, string, string) ([]byte, error), path, namespace, name string) ([]byte, error) {
	if read != nil {
		return read(ctx, namespace, name)
	}
	rc := e.KubeClient.Discovery().RESTClient()
	if rc == nil {
		return nil, nil
	}
	raw, err := rc.Get().AbsPath(fmt.Sprintf(path, namespace, name)).DoRaw(ctx)
	if err != nil {
		return nil, statusError(raw, err)
	}
	return raw, nil
}

// statusError is err, a failed GET through DoRaw, as the Status that the
// API server (or the aggregated API server behind it) answered in body,
// when it answered one. DoRaw does not decode it: its error keeps only the
// HTTP code, so a 404 of Kueue's visibility server (a LocalQueue it does
// not know: the API is served) would read as a 404 of the API server (no
// APIService), and any other error would lose its message.
func statusError(body []byte, err error) error {
	var st metav1.Status
	if json.Unmarshal(body, &st) != nil || st.Kind != "Status" || st.Status != metav1.StatusFailure {
		return err
	}
	return apierrors.FromObject(&st)
}

// pendingWorkload reports whether a Workload's conditions say Kueue has
// not reserved quota for it: it is one of its LocalQueue's pending
// workloads.
func pendingWorkload(conditions []metav1.Condition) bool {
	for _, c := range conditions {
		if c.Type == "QuotaReserved" {
			return c.Status == metav1.ConditionFalse
		}
	}
	return false
}

// workloadMessage turns a Workload's conditions into what the run says.
func workloadMessage(conditions []metav1.Condition) string {
	get := func(t string) *metav1.Condition {
		for i := range conditions {
			if conditions[i].Type == t {
				return &conditions[i]
			}
		}
		return nil
	}
	var parts []string
	if c := get("Evicted"); c != nil && c.Status == metav1.ConditionTrue {
		parts = append(parts, fmt.Sprintf("evicted by Kueue (%s: %s)", c.Reason, strings.TrimSpace(c.Message)))
	}
	switch c := get("QuotaReserved"); {
	case get("Admitted") != nil && get("Admitted").Status == metav1.ConditionTrue:
		parts = append(parts, "admitted; Kueue lifts the scheduling gate next")
	case c != nil && c.Status == metav1.ConditionFalse && c.Message != "":
		parts = append(parts, "pending: "+strings.TrimSpace(c.Message))
	case c != nil && c.Status == metav1.ConditionTrue:
		parts = append(parts, "quota reserved, waiting for its admission checks")
	case len(parts) == 0:
		parts = append(parts, "not evaluated by Kueue yet")
	}
	return strings.Join(parts, "; ")
}
