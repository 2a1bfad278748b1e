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
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// observeHandOver reads, into w, what the hand-over of a pod bound to a
// usable node decides on beyond the cache: when the pod's shrink was asked,
// while the node has not applied it and the cached copy does not say
// (withResizeRecord).
func (e *Engine) observeHandOver(ctx context.Context, w *world, s Settings) error {
	p := w.pod
	if p == nil || p.Spec.NodeName == "" || w.unusable != "" {
		return nil
	}
	if _, ok := resizeAsked(p); ok || !shrinkInFlight(w, planHandOver(w, s)) {
		return nil
	}
	live, err := e.withResizeRecord(ctx, p)
	if err != nil {
		return err
	}
	w.pod = live
	return nil
}

// withResizeRecord returns p, whose shrink the node has not applied yet,
// with the managed fields that say when the shrink was asked (resizeAsked),
// which Tekton's pod informer drops from v1.15 on: the shrink's bound
// counts from them. The engine's memory of its own resize (podResizedAt)
// gives them, at the whole second, as the API server records them: the
// node's PodResizePending condition records whole seconds too, and one
// set in the second of the resize is this resize's, not an earlier one's
// (resizeCheck). Without that memory (the controller restarted since),
// they are read from the API server. A read error is an error.
func (e *Engine) withResizeRecord(ctx context.Context, p *corev1.Pod) (*corev1.Pod, error) {
	if _, ok := resizeAsked(p); ok {
		return p, nil
	}
	if at := e.podResizedAt(p.UID, e.Clock.Now()); !at.IsZero() {
		out := p.DeepCopy()
		out.ManagedFields = append(out.ManagedFields, metav1.ManagedFieldsEntry{
			Operation: metav1.ManagedFieldsOperationUpdate, Subresource: resizeSubresource, Time: &metav1.Time{Time: at.Truncate(time.Second)}})
		return out, nil
	}
	live, err := e.KubeClient.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return p, nil
	case err != nil:
		return nil, fmt.Errorf("reading placeholder pod %s/%s for when its resize was asked: %w", p.Namespace, p.Name, err)
	case live.UID != p.UID:
		return p, nil
	}
	out := p.DeepCopy()
	out.ManagedFields = live.ManagedFields
	return out, nil
}
