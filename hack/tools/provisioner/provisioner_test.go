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
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

func TestProvision(t *testing.T) {
	nodes := map[string]*corev1.Node{
		"node-1": {ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{ZoneLabel: "zone-a", corev1.LabelHostname: "node-1"}}},
		"node-2": {ObjectMeta: metav1.ObjectMeta{Name: "node-2", Labels: map[string]string{corev1.LabelHostname: "host-2"}}},
		"node-3": {ObjectMeta: metav1.ObjectMeta{Name: "node-3"}},
	}
	p := &provisioner{root: "/vol", getNode: func(_ context.Context, name string) (*corev1.Node, error) {
		if n, ok := nodes[name]; ok {
			return n, nil
		}
		return nil, fmt.Errorf("node %s not found", name)
	}}
	retain := corev1.PersistentVolumeReclaimRetain
	class := func(topology string) *storagev1.StorageClass {
		c := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sc"}, Provisioner: Name}
		if topology != "" {
			c.Parameters = map[string]string{TopologyParameter: topology}
		}
		return c
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pvc"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
	affinity := func(key, value string) *corev1.VolumeNodeAffinity {
		return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}},
		}}}}
	}
	pv := func(labels map[string]string, reclaim corev1.PersistentVolumeReclaimPolicy, source corev1.PersistentVolumeSource, na *corev1.VolumeNodeAffinity) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-1", Labels: labels},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: reclaim,
				StorageClassName:              "sc",
				PersistentVolumeSource:        source,
				NodeAffinity:                  na,
			},
		}
	}
	for _, tc := range []struct {
		name      string
		class     *storagev1.StorageClass
		node      string
		want      *corev1.PersistentVolume
		wantState controller.ProvisioningState
		wantErr   string
	}{{
		name:      "local volume on the selected node by default, by its hostname label",
		class:     class(""),
		node:      "node-2",
		want:      pv(map[string]string{}, corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/vol/pv-1"}}, affinity(corev1.LabelHostname, "host-2")),
		wantState: controller.ProvisioningFinished,
	}, {
		name:      "local volume on a node without a hostname label",
		class:     class(TopologyNode),
		node:      "node-3",
		wantState: controller.ProvisioningFinished,
		wantErr:   "has no kubernetes.io/hostname label",
	}, {
		name:      "local volume, the node cannot be read: retried",
		class:     class(TopologyNode),
		node:      "node-9",
		wantState: controller.ProvisioningNoChange,
		wantErr:   "getting selected node node-9",
	}, {
		name: "zonal volume in the selected node's zone, reclaim policy of the class",
		class: func() *storagev1.StorageClass {
			c := class(TopologyZone)
			c.ReclaimPolicy = &retain
			return c
		}(),
		node:      "node-1",
		want:      pv(map[string]string{ZoneLabel: "zone-a"}, retain, corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/vol/pv-1"}}, affinity(ZoneLabel, "zone-a")),
		wantState: controller.ProvisioningFinished,
	}, {
		name:      "zonal volume on a node without a zone",
		class:     class(TopologyZone),
		node:      "node-3",
		wantState: controller.ProvisioningFinished,
		wantErr:   "has no topology.kubernetes.io/zone label",
	}, {
		name:      "zonal volume, the node cannot be read: retried",
		class:     class(TopologyZone),
		node:      "node-9",
		wantState: controller.ProvisioningNoChange,
		wantErr:   "getting selected node node-9",
	}, {
		name:      "no selected node (Immediate binding)",
		class:     class(TopologyNode),
		wantState: controller.ProvisioningFinished,
		wantErr:   "needs volumeBindingMode WaitForFirstConsumer",
	}, {
		name:      "unknown topology",
		class:     class("region"),
		node:      "node-1",
		wantState: controller.ProvisioningFinished,
		wantErr:   `parameter topology is "region"`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, state, err := p.Provision(context.Background(), controller.ProvisionOptions{
				StorageClass: tc.class, PVName: "pv-1", PVC: claim, SelectedNodeName: tc.node,
			})
			if state != tc.wantState {
				t.Errorf("state = %q, want %q", state, tc.wantState)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PV (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProvisionRealNodeDirectories: on nodes the makeDirs selector matches
// (the real node of cluster.sh up --real-nodes), a kubelet mounts the local
// volume, so its directory must exist, writable by any step's user, and
// goes with the PV. Other nodes' volumes get no directory.
func TestProvisionRealNodeDirectories(t *testing.T) {
	nodes := map[string]*corev1.Node{
		"real-1": {ObjectMeta: metav1.ObjectMeta{Name: "real-1", Labels: map[string]string{"type": "real", corev1.LabelHostname: "real-1", ZoneLabel: "zone-a"}}},
		"node-1": {ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"type": "kwok", corev1.LabelHostname: "node-1", ZoneLabel: "zone-a"}}},
	}
	getNode := func(_ context.Context, name string) (*corev1.Node, error) { return nodes[name], nil }
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "claim"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		}},
	}
	for _, tc := range []struct {
		name     string
		selector string
		node     string
		topology string
		wantDir  bool
	}{
		{name: "real node", selector: "type=real", node: "real-1", topology: TopologyNode, wantDir: true},
		{name: "real node, zonal class", selector: "type=real", node: "real-1", topology: TopologyZone, wantDir: true},
		{name: "kwok node", selector: "type=real", node: "node-1", topology: TopologyNode},
		{name: "no selector", node: "real-1", topology: TopologyNode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			p := &provisioner{root: root, getNode: getNode}
			if tc.selector != "" {
				sel, err := labels.Parse(tc.selector)
				if err != nil {
					t.Fatal(err)
				}
				p.makeDirs = sel
			}
			class := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "c"}, Parameters: map[string]string{TopologyParameter: tc.topology}}
			pv, _, err := p.Provision(context.Background(), controller.ProvisionOptions{
				StorageClass: class, PVName: "pv-1", PVC: claim, SelectedNodeName: tc.node,
			})
			if err != nil {
				t.Fatalf("Provision: %v", err)
			}
			dir := filepath.Join(root, "pv-1")
			fi, statErr := os.Stat(dir)
			if got := statErr == nil; got != tc.wantDir {
				t.Fatalf("directory %s exists = %v, want %v (%v)", dir, got, tc.wantDir, statErr)
			}
			if tc.wantDir && fi.Mode().Perm() != 0o777 {
				t.Errorf("directory mode = %v, want 0777", fi.Mode().Perm())
			}
			if err := os.WriteFile(filepath.Join(root, "other"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := p.Delete(context.Background(), pv); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("directory %s after Delete: %v, want it gone", dir, err)
			}
			if _, err := os.Stat(filepath.Join(root, "other")); err != nil {
				t.Errorf("Delete touched what is not the PV's: %v", err)
			}
		})
	}
}
