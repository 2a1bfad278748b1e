//go:build e2e

package e2e

// The Tekton controller process: SIGKILL as a crash, restart, and the
// switch between the patched and the upstream controller.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sigkillController SIGKILLs the local cluster's Tekton controller, as a
// crash would, and waits until the process is gone.
func sigkillController() (int, error) {
	pidFile := filepath.Join(cluster.stateDir, "cluster", "run", "tekton-controller.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", pidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s holds %q, not a PID", pidFile, strings.TrimSpace(string(data)))
	}
	// As hack/cluster.sh's component_alive: never signal a recycled PID.
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil {
		if name := filepath.Base(strings.TrimSuffix(exe, " (deleted)")); name != "controller" {
			return 0, fmt.Errorf("PID %d (from %s) runs %s, not the Tekton controller", pid, pidFile, name)
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("SIGKILL to the Tekton controller (PID %d): %w", pid, err)
	}
	if err := poll(fmt.Sprintf("the Tekton controller (PID %d) to be gone after SIGKILL", pid), 10*time.Second, func(context.Context) error {
		if !processGone(pid) {
			return fmt.Errorf("PID %d still runs", pid)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	return pid, nil
}

// processGone is true when pid no longer runs (exited, or a zombie nobody
// reaped yet).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// startController runs hack/tekton-controller.sh MODE and waits until the
// controller serves metrics. MODE "patched" or "upstream" stops what is left
// of the controller, re-applies that flavor's configuration, which resets
// the feature flags to the release's values, and starts it; "restart"
// starts the running flavor again and installs nothing.
func startController(flavor string) error {
	ctx, cancel := context.WithTimeout(bg(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "hack/tekton-controller.sh", flavor)
	cmd.Dir = cluster.repoRoot
	cmd.Env = append(os.Environ(), "PRA_STATE_DIR="+cluster.stateDir)
	cmd.WaitDelay = 10 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("hack/tekton-controller.sh %s: %v\n%s", flavor, err, out)
	}
	if err := poll(fmt.Sprintf("the %s controller to serve metrics at %s", flavor, cluster.metricsURL), 60*time.Second, func(ctx context.Context) error {
		_, err := cluster.scrapeMetrics(ctx)
		return err
	}); err != nil {
		return err
	}
	return nil
}

// switchController switches the Tekton controller to flavor, unless it
// runs already (see restartController).
func switchController(t testing.TB, flavor string) {
	t.Helper()
	if cluster.controllerFlavor() == flavor {
		return
	}
	start := time.Now()
	restartController(t, flavor)
	t.Logf("switched the Tekton controller to %s in %s", flavor, time.Since(start).Round(100*time.Millisecond))
}

// restartController runs hack/tekton-controller.sh FLAVOR, which stops the
// running controller, whatever its flavor, and starts a fresh one, and waits
// until the new controller serves metrics.
func restartController(t testing.TB, flavor string) {
	t.Helper()
	if err := startController(flavor); err != nil {
		t.Fatal(err)
	}
}
