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
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"knative.dev/pkg/logging"
)

// Kueue serves the position of a pending workload in its queues only
// through its visibility API: an aggregated API (APIService
// v1beta2.visibility.kueue.x-k8s.io) that Kueue's manager serves itself
// when its feature gate VisibilityOnDemand is on (the default since Kueue
// v0.9). A run waiting for admission says its placeholder's position when
// that API answers, and otherwise the count of its LocalQueue's pending
// workloads (pendingText).

// kueueVisibilityGroup is the API group of Kueue's visibility API, and
// kueuePendingWorkloadsPath where it lists the pending workloads of a
// LocalQueue, in Kueue's order (up to 1000, Kueue's default limit).
const (
	kueueVisibilityGroup      = "visibility.kueue.x-k8s.io"
	kueuePendingWorkloadsPath = "/apis/" + kueueVisibilityGroup + "/v1beta2/namespaces/%s/localqueues/%s/pendingworkloads"
)

// queuePosition is where Kueue's visibility API puts a pending workload.
type queuePosition struct {
	// Local and Cluster are its positions in its LocalQueue and
	// ClusterQueue, counted from 1 (Kueue counts from 0).
	Local, Cluster int32
	// Pending is how many workloads the API listed in the LocalQueue.
	Pending int
}

// kueuePendingWorkloads is what the engine reads of Kueue's
// PendingWorkloadsSummary.
type kueuePendingWorkloads struct {
	Items []struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		PositionInClusterQueue int32 `json:"positionInClusterQueue"`
		PositionInLocalQueue   int32 `json:"positionInLocalQueue"`
	} `json:"items"`
}

// decodePosition finds workload in the pending workloads raw lists; found
// is false when it is not listed.
func decodePosition(raw []byte, workload string) (pos queuePosition, found bool, err error) {
	var list kueuePendingWorkloads
	if err := json.Unmarshal(raw, &list); err != nil {
		return queuePosition{}, false, err
	}
	for _, w := range list.Items {
		if w.Metadata.Name == workload {
			return queuePosition{Local: w.PositionInLocalQueue + 1, Cluster: w.PositionInClusterQueue + 1, Pending: len(list.Items)}, true, nil
		}
	}
	return queuePosition{}, false, nil
}

// positionText says a workload's position in LocalQueue queue.
func positionText(p queuePosition, queue string) string {
	return fmt.Sprintf("; position %d of %d pending in LocalQueue %s, %d in its ClusterQueue", p.Local, p.Pending, queue, p.Cluster)
}

// visibilityNotServed reports whether err means that the API server does
// not serve Kueue's visibility API to the controller: no APIService (404),
// its server does not answer (503), or no permission (403). A 404 of the
// visibility server itself (a LocalQueue Kueue does not know) is served.
func visibilityNotServed(err error) bool {
	var status apierrors.APIStatus
	if apierrors.IsNotFound(err) && errors.As(err, &status) {
		if d := status.Status().Details; d != nil && d.Group == kueueVisibilityGroup {
			return false
		}
		return true
	}
	return apierrors.IsServiceUnavailable(err) || apierrors.IsForbidden(err)
}

// queueText says where the pending Workload workload stands in LocalQueue
// namespace/queue: its position when Kueue's visibility API lists it, the
// LocalQueue's count when the API is not served (or does not list it), and
// that its position is unknown when reading it fails otherwise. The API is
// read at most once per call, and not while it is taken as not served.
func (e *Engine) queueText(ctx context.Context, namespace, queue, workload string) string {
	pos, found, err := e.position(ctx, namespace, queue, workload)
	switch {
	case err != nil:
		logging.FromContext(ctx).Errorf("Placeholder Workload %s/%s: %v", namespace, workload, err)
		return fmt.Sprintf("; its position in LocalQueue %s is unknown: %v", queue, err)
	case found:
		return positionText(pos, queue)
	}
	return pendingText(e.pendingIn(ctx, namespace, queue), queue)
}

// position reads workload's position from Kueue's visibility API; found is
// false when the API is not served or does not list it.
func (e *Engine) position(ctx context.Context, namespace, queue, workload string) (pos queuePosition, found bool, err error) {
	now := e.Clock.Now()
	if e.visibility.absent(now) {
		return queuePosition{}, false, nil
	}
	raw, err := e.readKueue(ctx, e.PendingWorkloads, kueuePendingWorkloadsPath, namespace, queue)
	switch {
	case visibilityNotServed(err):
		e.visibility.noteAbsent(now)
		logging.FromContext(ctx).Infof("Kueue's visibility API is not served (%v): runs waiting for admission say their LocalQueue's count, not their position, for %v", err, visibilityRecheck)
		return queuePosition{}, false, nil
	case apierrors.IsNotFound(err):
		return queuePosition{}, false, nil
	case err != nil:
		return queuePosition{}, false, fmt.Errorf("reading the pending workloads of LocalQueue %s/%s from Kueue's visibility API: %w", namespace, queue, err)
	case raw == nil:
		return queuePosition{}, false, nil
	}
	pos, found, err = decodePosition(raw, workload)
	if err != nil {
		return queuePosition{}, false, fmt.Errorf("decoding the pending workloads of LocalQueue %s/%s from Kueue's visibility API: %w", namespace, queue, err)
	}
	return pos, found, nil
}
