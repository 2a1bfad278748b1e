//go:build tools

// Package tools pins the Karpenter kwok cloud provider command
// (sigs.k8s.io/karpenter/kwok) that hack/build-binaries.sh builds as the
// "karpenter" component. v1.14.1 is the newest release whose go directive
// (1.26.6) the machine's go1.26.8 satisfies; v1.14.3 needs 1.26.10 and
// v1.15.0 needs 1.26.9.
package tools

import (
	_ "sigs.k8s.io/karpenter/kwok"
)
