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

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

// Name is the provisioner name StorageClasses give to use this provisioner.
const Name = "pipelinerun-affinity.tekton.dev/local"

// TopologyParameter is the StorageClass parameter that says what a volume
// is bound to: "node" (a local volume, only the node the scheduler
// selected can mount it) or "zone" (a zonal disk: any node of the selected
// node's zone can).
const TopologyParameter = "topology"

// Topologies.
const (
	TopologyNode = "node"
	TopologyZone = "zone"
)

// ZoneLabel is the well-known label of a node's zone.
const ZoneLabel = corev1.LabelTopologyZone

// nodeGetter reads a node by name.
type nodeGetter func(ctx context.Context, name string) (*corev1.Node, error)

// provisioner makes PersistentVolumes for the local cluster's kwok nodes.
// Nothing backs them (kwok never mounts a volume): what matters is the
// node affinity each PV gets, which the scheduler and the PV controller
// enforce as they would for real local volumes and zonal disks. The real
// node of cluster.sh up --real-nodes does mount them: for a node makeDirs
// selects, the PV's directory is made (and removed with the PV).
type provisioner struct {
	getNode nodeGetter
	// root is the directory a local PV's path is under.
	root string
	// makeDirs selects the nodes whose kubelet mounts the volumes; nil:
	// none.
	makeDirs k8slabels.Selector
}

var _ controller.Provisioner = (*provisioner)(nil)

// Provision returns the PV for a claim, bound to the node the scheduler
// selected (topology node) or to that node's zone (topology zone). It
// needs a selected node: its StorageClasses use WaitForFirstConsumer.
func (p *provisioner) Provision(ctx context.Context, opts controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	topology := TopologyNode
	if v, ok := opts.StorageClass.Parameters[TopologyParameter]; ok {
		topology = v
	}
	if topology != TopologyNode && topology != TopologyZone {
		return nil, controller.ProvisioningFinished, fmt.Errorf("StorageClass %s: parameter %s is %q; want %q or %q",
			opts.StorageClass.Name, TopologyParameter, topology, TopologyNode, TopologyZone)
	}
	if opts.SelectedNodeName == "" {
		return nil, controller.ProvisioningFinished, fmt.Errorf("StorageClass %s: no node selected for claim %s/%s; this provisioner needs volumeBindingMode WaitForFirstConsumer",
			opts.StorageClass.Name, opts.PVC.Namespace, opts.PVC.Name)
	}
	size, ok := opts.PVC.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil, controller.ProvisioningFinished, fmt.Errorf("claim %s/%s requests no storage", opts.PVC.Namespace, opts.PVC.Name)
	}

	node, err := p.getNode(ctx, opts.SelectedNodeName)
	if err != nil {
		// The node may come back (a read error, a node being replaced):
		// the library retries.
		return nil, controller.ProvisioningNoChange, fmt.Errorf("getting selected node %s: %w", opts.SelectedNodeName, err)
	}
	// A local volume is bound to the node's hostname label, as the
	// scheduler matches it: on nodes an autoscaler makes it need not be the
	// node's name.
	key, value := corev1.LabelHostname, node.Labels[corev1.LabelHostname]
	if value == "" && topology == TopologyNode {
		return nil, controller.ProvisioningFinished, fmt.Errorf("selected node %s has no %s label", node.Name, corev1.LabelHostname)
	}
	labels := map[string]string{}
	source := corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: path.Join(p.root, opts.PVName)}}
	if topology == TopologyZone {
		zone := node.Labels[ZoneLabel]
		if zone == "" {
			return nil, controller.ProvisioningFinished, fmt.Errorf("StorageClass %s provisions zonal volumes, and selected node %s has no %s label",
				opts.StorageClass.Name, node.Name, ZoneLabel)
		}
		key, value = ZoneLabel, zone
		labels[ZoneLabel] = zone
		source = corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path.Join(p.root, opts.PVName)}}
	}

	if p.makeDirs != nil && p.makeDirs.Matches(k8slabels.Set(node.Labels)) {
		dir := path.Join(p.root, opts.PVName)
		// Any step's user writes to it, as to a freshly formatted disk.
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, controller.ProvisioningNoChange, fmt.Errorf("making the directory of %s for node %s: %w", opts.PVName, node.Name, err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, controller.ProvisioningNoChange, fmt.Errorf("making the directory of %s writable: %w", opts.PVName, err)
		}
	}

	reclaim := corev1.PersistentVolumeReclaimDelete
	if opts.StorageClass.ReclaimPolicy != nil {
		reclaim = *opts.StorageClass.ReclaimPolicy
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: opts.PVName, Labels: labels},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   opts.PVC.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: reclaim,
			StorageClassName:              opts.StorageClass.Name,
			MountOptions:                  opts.StorageClass.MountOptions,
			VolumeMode:                    opts.PVC.Spec.VolumeMode,
			PersistentVolumeSource:        source,
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value},
				}}}},
			}},
		},
	}, controller.ProvisioningFinished, nil
}

// Delete releases a PV's storage: the directory Provision made for a real
// node, if any; nothing backs the other volumes. The library deletes the PV
// object itself once this returns.
func (p *provisioner) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	dir := ""
	switch {
	case pv.Spec.Local != nil:
		dir = pv.Spec.Local.Path
	case pv.Spec.HostPath != nil:
		dir = pv.Spec.HostPath.Path
	default:
		return errors.New("not a volume of this provisioner")
	}
	if p.makeDirs == nil {
		return nil
	}
	if filepath.Clean(dir) != filepath.Join(p.root, pv.Name) {
		return nil // not a path Provision made
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing the directory of %s: %w", pv.Name, err)
	}
	return nil
}
