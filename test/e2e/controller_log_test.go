//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// controllerLog is the Tekton controller's log; hack/tekton-controller.sh
// restart starts it afresh.
func controllerLog() string { return filepath.Join(cluster.logDir(), "tekton-controller.log") }

// appendControllerLog appends the Tekton controller's log to the file at
// path, so that a restart of the controller loses none of it.
func appendControllerLog(path string) error {
	src, err := os.Open(controllerLog())
	if err != nil {
		return fmt.Errorf("keeping the Tekton controller's log: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("keeping the Tekton controller's log: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return fmt.Errorf("keeping the Tekton controller's log: %w", err)
	}
	return dst.Close()
}
