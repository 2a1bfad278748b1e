#!/usr/bin/env bash
# Usage: hack/bench.sh [NODES [RUNS]]      (make bench [N=50] [R=2N]; not part of CI)
#
# The side-by-side cost of placing PipelineRuns (issue 11): starts a local
# cluster of NODES kwok nodes (default 50, 4 CPU each) whose API server
# audits the Tekton controller's requests (hack/cluster.sh up --audit), then
# runs test/e2e/bench_test.go (build tags "e2e bench"): the same burst of RUNS
# PipelineRuns (default 2 x NODES) of a -> (b, c) -> d, under upstream v1.15.0
# and the patched controller, coschedule off and one run per node
# (isolate-pipelinerun), interleaved, a fresh controller process per phase.
# Prints one table (the lines starting with "BENCH "): makespan, time to the
# first TaskRun pod Running (p50/p95, from watch events), controller CPU
# seconds and peak RSS, the controller's API requests and status writes per
# run (from the audit log), runs split over nodes, most runs on one node,
# placeholders left. Stops the cluster whatever happened.
#
# Environment: BENCH_ROUNDS (default 1), BENCH_TASK_CPU (default 1),
# BENCH_TASK_DURATION (default 5s), BENCH_PHASE_TIMEOUT (default 30m),
# BENCH_ONLY (run only the rows whose name contains it, e.g. "isolate"),
# BENCH_PROFILE (a directory: every row's controller is profiled into it,
# CPU and allocations; see test/e2e/README.md#benchmark), plus
# PRA_STATE_DIR and PRA_PORT_BASE as for hack/cluster.sh. The full log is
# $PRA_STATE_DIR/bench.log. Refuses to run when a local cluster is already
# running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_go
cd "${PRA_ROOT}"

nodes="${1:-50}"
[[ "${nodes}" =~ ^[0-9]+$ && "${nodes}" -ge 2 ]] || die "NODES=${nodes}: want an integer >= 2"
runs="${2:-$((2 * nodes))}"
[[ "${runs}" =~ ^[0-9]+$ && "${runs}" -ge 1 ]] || die "RUNS=${runs}: want a positive integer"

if bash "${PRA_HACK}/cluster.sh" status >/dev/null 2>&1; then
  die "a local cluster is already running (hack/cluster.sh status): the benchmark starts and stops its own; stop that one first with hack/cluster.sh down"
fi
# Both controllers are built before the cluster starts (cached afterwards).
bash "${PRA_HACK}/build-tekton.sh" upstream >/dev/null || die "building Tekton (upstream) failed"
bash "${PRA_HACK}/cluster.sh" up --nodes "${nodes}" --tekton patched --audit \
  || die "hack/cluster.sh up failed (see above)"
trap 'log "stopping the benchmark cluster"; bash "${PRA_HACK}/cluster.sh" down || true' EXIT
eval "$(bash "${PRA_HACK}/cluster.sh" env)"

export PRA_STATE_DIR BENCH_RUNS="${runs}"
# go test runs in the package's directory: a relative BENCH_PROFILE means
# one relative to where make bench was called.
if [[ -n "${BENCH_PROFILE:-}" ]]; then
  export BENCH_PROFILE="$(realpath -m -- "${BENCH_PROFILE}")"
fi
bench_log="${PRA_STATE_DIR}/bench.log"
log "benchmark: ${runs} runs per phase on ${nodes} nodes (log ${bench_log})"
set +e
go test -count=1 -tags='e2e bench' -run '^TestBench$' -timeout 240m -v ./test/e2e/... 2>&1 | tee "${bench_log}" \
  | grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic|BENCH row)|_test\.go'
rc=${PIPESTATUS[0]}
set -e

echo
echo "==== benchmark ($(date -u +%Y-%m-%d), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); log ${bench_log}) ===="
grep -E '^BENCH ' "${bench_log}" | grep -v '^BENCH row' | sed 's/^BENCH //' || echo "no table: the benchmark did not get that far (see ${bench_log})"
echo
((rc == 0)) || die "the benchmark failed (go test exit ${rc}); full log: ${bench_log}"
