#!/usr/bin/env bash
# Usage: hack/soak.sh            (make soak; not part of CI)
#
# Starts a local cluster of SOAK_NODES (default 20) nodes with the patched
# Tekton controller, runs the soak test (test/e2e/soak_test.go, build tags
# "e2e soak"): SOAK_RUNS (default 300) PipelineRuns while random faults are
# injected, then prints its report (the lines starting with "SOAK ") and
# stops the cluster, whatever happened. Exits non-zero when the soak failed.
#
# Environment: SOAK_RUNS, SOAK_NODES, SOAK_SEED (math/rand seed of the run
# mix and the faults; default: the clock), SOAK_UNFINISHED (most unfinished
# runs at once; default: the nodes no fault takes, SOAK_NODES - SOAK_NODES/5), plus PRA_STATE_DIR and
# PRA_PORT_BASE as for hack/cluster.sh. The full log is
# $PRA_STATE_DIR/soak.log; the Tekton controller's log, across every restart
# the soak makes, is $PRA_STATE_DIR/soak-tekton-controller.log, and the other
# components' logs are kept in $PRA_STATE_DIR/soak-logs/. Refuses to run (exit 1) when a local cluster is
# already running: it would not be stopped, nor left alone by the soak.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_go
cd "${PRA_ROOT}"

nodes="${SOAK_NODES:-20}"
runs="${SOAK_RUNS:-300}"
[[ "${nodes}" =~ ^[0-9]+$ && "${nodes}" -ge 2 ]] || die "SOAK_NODES=${nodes}: want an integer >= 2 (the soak is meant for >= 20)"
[[ "${runs}" =~ ^[0-9]+$ && "${runs}" -ge 1 ]] || die "SOAK_RUNS=${runs}: want a positive integer"
[[ -z "${SOAK_SEED:-}" || "${SOAK_SEED}" =~ ^-?[0-9]+$ ]] || die "SOAK_SEED=${SOAK_SEED}: want an integer"
[[ -z "${SOAK_UNFINISHED:-}" || "${SOAK_UNFINISHED}" =~ ^[1-9][0-9]*$ ]] || die "SOAK_UNFINISHED=${SOAK_UNFINISHED}: want a positive integer"
((nodes >= 20)) || warn "SOAK_NODES=${nodes}: the soak is meant for 20 nodes or more"

if bash "${PRA_HACK}/cluster.sh" status >/dev/null 2>&1; then
  die "a local cluster is already running (hack/cluster.sh status): the soak starts and stops its own; stop that one first with hack/cluster.sh down"
fi
# Built before the cluster starts: the cluster (one per machine) is held only
# while the soak runs.
soak_bin="${PRA_STATE_DIR}/soak.test"
log "building the soak test (${soak_bin})"
go test -c -tags='e2e soak' -o "${soak_bin}" ./test/e2e || die "building the soak test failed"
log "building the patched Tekton controller (cached when unchanged)"
bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null || die "building Tekton (patched) failed"

# No trap yet: when up fails it stops what it started itself, and a cluster
# someone else started in the meantime must not be stopped from here.
bash "${PRA_HACK}/cluster.sh" up --nodes "${nodes}" --tekton patched \
  || die "hack/cluster.sh up failed (see above; if a cluster is already running, stop it first)"
# The soak appends each controller's log to soak-tekton-controller.log before
# it restarts it (hack/tekton-controller.sh starts a fresh log); the last one
# is appended here. The next hack/cluster.sh up starts fresh logs too.
controller_log="${PRA_STATE_DIR}/soak-tekton-controller.log"
: >"${controller_log}"
keep_logs() {
  local logs="${PRA_STATE_DIR}/cluster/logs"
  cat "${logs}/tekton-controller.log" >>"${controller_log}" 2>/dev/null || true
  rm -rf "${PRA_STATE_DIR}/soak-logs"
  mkdir -p "${PRA_STATE_DIR}/soak-logs"
  cp "${logs}"/*.log "${PRA_STATE_DIR}/soak-logs/" 2>/dev/null || true
  log "soak logs: ${controller_log}, ${PRA_STATE_DIR}/soak-logs/"
}
trap 'log "stopping the soak cluster"; bash "${PRA_HACK}/cluster.sh" down || true; keep_logs' EXIT
eval "$(bash "${PRA_HACK}/cluster.sh" env)"

export PRA_STATE_DIR SOAK_RUNS="${runs}"
[[ -z "${SOAK_SEED:-}" ]] || export SOAK_SEED
[[ -z "${SOAK_UNFINISHED:-}" ]] || export SOAK_UNFINISHED
soak_log="${PRA_STATE_DIR}/soak.log"
log "soak: ${runs} runs on ${nodes} nodes (log ${soak_log})"
set +e
# Run from the package's directory, as go test does (the test finds the
# repository from there).
(cd test/e2e && "${soak_bin}" -test.count=1 -test.run '^TestSoak$' -test.timeout 90m -test.v) 2>&1 | tee "${soak_log}" \
  | grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic|soak: )|_test\.go'
rc=${PIPESTATUS[0]}
set -e

echo
echo "==== soak report (${soak_log}) ===="
grep -E '^SOAK ' "${soak_log}" || echo "no report: the soak did not get that far (see ${soak_log})"
echo
if ((rc != 0)); then
  die "the soak failed (go test exit ${rc}); full log: ${soak_log}"
fi
grep -qE '^SOAK runs=' "${soak_log}" || die "the soak printed no report; full log: ${soak_log}"
log "soak passed"
