//go:build e2e && soak

package e2e

// The soak's lost node: a node whose kubelet stops answering (it stopped,
// or a network partition) while its Node object stays, taken offline the
// way TestReliabilityLostNodeStays does (stopKubelet): its lease is taken
// from kwok, which then leaves the node and its pods alone, and the node
// lifecycle controller finds it unreachable once its grace period (50 s)
// has passed without a renewal. The node then comes back, or is deleted
// for good, as the other node faults end.

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// faultLoseNode is the fault kind of a lost node (see faultKinds).
	faultLoseNode = "lose_node"
	// lostNodeMin and lostNodeMax bound how long a node stays lost: past
	// the node lifecycle controller's grace period (50 s), so that the
	// node is found unreachable and the engine acts, and short enough that
	// a run whose task is frozen there, which makes no progress until the
	// node is back (about 20 s more), is not stuck (soakStuckAfter).
	lostNodeMin = 60 * time.Second
	lostNodeMax = 70 * time.Second
	// lostNodeBack bounds the wait for a node that is back to be Ready
	// again without the taints of an unreachable node.
	lostNodeBack = 90 * time.Second
)

// loseNode takes node's lease from kwok for 60-70 s; then the node comes
// back (comeBack) or, one time in three, is deleted (deleteLostNode) and
// created again later. The node counts as busy until it is back.
func (f *faultInjector) loseNode(ctx context.Context, id, node string) (string, error) {
	n, err := cluster.kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return node, fmt.Errorf("reading node %s: %w", node, err)
	}
	copyNode := nodeForRecreation(n, soakTaintKey)
	f.holdNode(node, id)
	if err := takeNodeLease(ctx, node, 3600, time.Now()); err != nil {
		// It may have been taken all the same: give it back.
		if rerr := restartKubelet(ctx, node); rerr == nil {
			f.releaseNode(node)
		}
		return node, err
	}
	after := soakDuration(f.rng, lostNodeMin, lostNodeMax)
	if f.rng.Intn(3) == 0 {
		f.schedule(after, fmt.Sprintf("%s delete lost node %s (after %s)", id, node, after), func(ctx context.Context) error {
			return f.deleteLostNode(ctx, id, node, copyNode)
		})
		return fmt.Sprintf("%s unreachable for %s, then deleted", node, after), nil
	}
	f.schedule(after, fmt.Sprintf("%s lost node %s back (after %s)", id, node, after), func(ctx context.Context) error {
		return f.comeBack(ctx, id, node)
	})
	return fmt.Sprintf("%s unreachable for %s, then back", node, after), nil
}

// comeBack gives a lost node's lease back to kwok and waits for the node
// to be Ready again. The runs with pods on the node then were touched by
// the fault: their pods were frozen while it was lost.
func (f *faultInjector) comeBack(ctx context.Context, id, node string) error {
	s := f.s
	if left, err := s.podsOnNode(ctx, node); err == nil {
		s.touch(id, soakRunsOf(left)...)
	}
	if err := restartKubelet(ctx, node); err != nil {
		return err
	}
	if err := poll("node "+node+" to be Ready again", lostNodeBack, nodeBack(node)); err != nil {
		return err
	}
	f.releaseNode(node)
	return nil
}

// deleteLostNode deletes a lost node, as a cloud provider's node
// controller does when its machine is gone, and force-deletes the soak's
// pods bound to it, as an operator does for a node that will not come
// back (the pod garbage collector would, 40-60 s later); the node is
// created again 10-30 s later (scheduleRecreate). Its lease goes too: held
// by deadKubelet, it would keep the node created again from kwok.
func (f *faultInjector) deleteLostNode(ctx context.Context, id, node string, copyNode *corev1.Node) error {
	s := f.s
	left, err := s.podsOnNode(ctx, node)
	if err != nil {
		return err
	}
	// Marked deleted first, so the invariants never count its pods.
	s.mu.Lock()
	s.deletedNodes[node] = copyNode
	for _, q := range left {
		s.lostPods[q.UID] = true
	}
	s.mu.Unlock()
	s.touch(id, soakRunsOf(left)...)
	if err := cluster.kube.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting node %s: %w", node, err)
	}
	if err := cluster.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Delete(ctx, node, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the lease of node %s: %w", node, err)
	}
	grace := int64(0)
	for _, q := range left {
		err := cluster.kube.CoreV1().Pods(q.Namespace).Delete(ctx, q.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("force-deleting pod %s/%s of lost node %s: %w", q.Namespace, q.Name, node, err)
		}
	}
	f.scheduleRecreate(id, node, copyNode, soakDuration(f.rng, 10*time.Second, 30*time.Second))
	return nil
}
