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

// Command provisioner is the local cluster's dynamic volume provisioner,
// built on sigs.k8s.io/sig-storage-lib-external-provisioner. It runs out of
// cluster, as the other controllers of hack/cluster.sh do, and provisions
// for StorageClasses whose provisioner is pipelinerun-affinity.tekton.dev/local:
// PVs bound to the node the scheduler selected (a local volume) or to its
// zone (a zonal disk).
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"
)

func main() {
	klog.InitFlags(nil)
	kubeconfig := flag.String("kubeconfig", "", "path to the kubeconfig")
	root := flag.String("root", "/var/lib/pipelinerun-affinity/volumes", "directory local volume paths are under")
	makeDirs := flag.String("make-dirs-on", "", "label selector of the nodes that really mount volumes (a real kubelet): their volumes' directories are made under -root and removed with the PV")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	logger := klog.FromContext(ctx)

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		logger.Error(err, "loading kubeconfig")
		os.Exit(1)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		logger.Error(err, "creating client")
		os.Exit(1)
	}
	p := &provisioner{
		root: *root,
		getNode: func(ctx context.Context, name string) (*corev1.Node, error) {
			return client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		},
	}
	if *makeDirs != "" {
		sel, err := labels.Parse(*makeDirs)
		if err != nil {
			logger.Error(err, "parsing -make-dirs-on")
			os.Exit(1)
		}
		p.makeDirs = sel
	}
	pc := controller.NewProvisionController(ctx, client, Name, p,
		controller.LeaderElection(false),
		// No metrics endpoint: the cluster's ports are all taken by name.
		controller.MetricsPort(0),
	)
	logger.Info("provisioner started", "name", Name)
	pc.Run(ctx)
}
