//go:build tools

// Package tools pins Kueue's manager command (sigs.k8s.io/kueue/cmd/kueue)
// that hack/build-binaries.sh builds as the "kueue" component
// (hack/cluster.sh up --kueue). v0.17.0's go directive (1.25.0) is satisfied
// by the machine's Go, so no other toolchain is needed.
package tools

import (
	_ "sigs.k8s.io/kueue/cmd/kueue"
)
