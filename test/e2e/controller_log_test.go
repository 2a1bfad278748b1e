//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

// previousControllerLog is where keepControllerLogBeforeRestart keeps it.
func previousControllerLog() string {
	return filepath.Join(cluster.logDir(), "tekton-controller.before-restart.log")
}

// keepControllerLogBeforeRestart appends the controller's log to
// previousControllerLog, so that a restart loses none of the suite's.
func keepControllerLogBeforeRestart() error { return appendControllerLog(previousControllerLog()) }

// controllerLogSize is where the controller's log ends now.
func controllerLogSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(controllerLog())
	if err != nil {
		t.Fatalf("the Tekton controller's log: %v", err)
	}
	return fi.Size()
}

// controllerLogLines returns the lines of the controller's log from offset
// on that contain part.
func controllerLogLines(t *testing.T, offset int64, part string) []string {
	t.Helper()
	data, err := os.ReadFile(controllerLog())
	if err != nil {
		t.Fatalf("the Tekton controller's log: %v", err)
	}
	if offset > int64(len(data)) {
		t.Fatalf("the Tekton controller's log is shorter (%d bytes) than at offset %d: was it restarted?", len(data), offset)
	}
	var lines []string
	for _, line := range strings.Split(string(data[offset:]), "\n") {
		if strings.Contains(line, part) {
			lines = append(lines, line)
		}
	}
	return lines
}
