//go:build e2e && bench

package e2e

// Profiles of the controller during the benchmark (BENCH_PROFILE=DIR): the
// figures say what a row costs, the profiles say where it goes. Every row is
// profiled alike, so the sampling's own small cost falls on all of them.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	observabilityConfigMap = "config-observability"
	// profilingKey is knative's switch for the controller's pprof server
	// (observability/runtime: "enabled" or "disabled").
	profilingKey = "runtime-profiling"
	// profileWindow is the length of one CPU profile: a phase is covered by
	// consecutive windows, which `go tool pprof` merges when given them all.
	profileWindow = 10 * time.Second
)

// profilingURL is the controller's pprof endpoint (hack/lib.sh's
// PORT_TEKTON_PROFILING, the port base plus 8).
func profilingURL() (string, error) {
	base := 28300
	if v := os.Getenv("PRA_PORT_BASE"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return "", fmt.Errorf("PRA_PORT_BASE=%q: %w", v, err)
		}
		base = n
	}
	return fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", base+8), nil
}

// enableProfiling turns on the controller's pprof server through
// config-observability, so that each controller the phases start serves it,
// and restores the ConfigMap when the test ends.
func enableProfiling(t *testing.T) {
	t.Helper()
	cms := cluster.kube.CoreV1().ConfigMaps(tektonNamespace)
	cm, err := cms.Get(bg(), observabilityConfigMap, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading %s: %v", observabilityConfigMap, err)
	}
	before, had := cm.Data[profilingKey]
	set := func(value string, present bool) error {
		cm, err := cms.Get(bg(), observabilityConfigMap, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if present {
			cm.Data[profilingKey] = value
		} else {
			delete(cm.Data, profilingKey)
		}
		_, err = cms.Update(bg(), cm, metav1.UpdateOptions{})
		return err
	}
	if err := set("enabled", true); err != nil {
		t.Fatalf("enabling profiling in %s: %v", observabilityConfigMap, err)
	}
	t.Cleanup(func() {
		if err := set(before, had); err != nil {
			t.Errorf("restoring %s: %v", observabilityConfigMap, err)
		}
	})
}

// benchProfiler collects one phase's profiles into dir: consecutive CPU
// profiles while the phase runs, then the allocations since the
// controller started (each phase starts its own controller).
type benchProfiler struct {
	url, dir, prefix string
	stop             chan struct{}
	stopOnce         sync.Once
	done             chan struct{}
	mu               sync.Mutex
	cpu              []string
	errs             []error
}

// startProfiler starts collecting CPU profiles of the row named name, or
// returns nil when dir is empty.
func startProfiler(t *testing.T, dir, name string) *benchProfiler {
	t.Helper()
	if dir == "" {
		return nil
	}
	url, err := profilingURL()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("BENCH_PROFILE: %v", err)
	}
	p := &benchProfiler{url: url, dir: dir, prefix: profilePrefix(name), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	// A phase that fails before finish still ends its windows.
	t.Cleanup(p.halt)
	return p
}

// halt ends the CPU windows and waits for the loop to return.
func (p *benchProfiler) halt() {
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// profilePrefix turns a row's name into a file name prefix.
func profilePrefix(name string) string {
	return strings.Trim(strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(name), "-")
}

func (p *benchProfiler) loop() {
	defer close(p.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-p.done:
		}
	}()
	for i := 1; ctx.Err() == nil; i++ {
		file := filepath.Join(p.dir, fmt.Sprintf("%s-cpu-%03d.pb.gz", p.prefix, i))
		// A window cut short by the phase's end is dropped: the handler
		// writes a profile only when its time is up.
		err := fetchProfile(ctx, fmt.Sprintf("%s/profile?seconds=%d", p.url, int(profileWindow.Seconds())), file)
		p.mu.Lock()
		switch {
		case err == nil:
			p.cpu = append(p.cpu, file)
		case ctx.Err() == nil:
			p.errs = append(p.errs, err)
		}
		p.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			// The controller may not serve yet: try again shortly.
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
			}
		}
	}
}

// finish stops the CPU windows, fetches the allocation profile and returns
// a line that says where the profiles are.
func (p *benchProfiler) finish() string {
	if p == nil {
		return ""
	}
	p.halt()
	allocs := filepath.Join(p.dir, p.prefix+"-allocs.pb.gz")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	allocErr := fetchProfile(ctx, p.url+"/allocs", allocs)
	p.mu.Lock()
	defer p.mu.Unlock()
	msg := fmt.Sprintf("%d CPU windows of %s: go tool pprof -top %s", len(p.cpu), profileWindow,
		filepath.Join(p.dir, p.prefix+"-cpu-*.pb.gz"))
	if allocErr == nil {
		msg += "; allocations: " + allocs
	} else {
		msg += fmt.Sprintf("; no allocation profile: %v", allocErr)
	}
	if len(p.errs) > 0 {
		msg += fmt.Sprintf("; %d windows failed, the first: %v", len(p.errs), p.errs[0])
	}
	return msg
}

// fetchProfile writes the body of a GET of url to file.
func fetchProfile(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s (is %s %q set to enabled?)", url, resp.Status,
			strings.TrimSpace(string(body)), observabilityConfigMap, profilingKey)
	}
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	_, copyErr := io.Copy(out, resp.Body)
	return errors.Join(copyErr, out.Close())
}
