#!/usr/bin/env bash
# Usage: hack/test.sh [STAGE...]      (default: all stages but lts,
#                                      lts-prefixes, real and e2e-kueue,
#                                      overlapped: see run_default)
#
# Stages:
#   lint     gofmt and go vet over this module, hack/tools/provisioner and hack/tools/images
#   unit     go test ./... (the engine's unit tests), the provisioner's and the image packer's tests
#   patches  hack/verify-patches.sh: every line's committed series equals a
#            regeneration, and the older lines' hooks make the main line's
#            changes
#   tekton   applies the series to Tekton v1.15.0, builds the patched
#            controller and webhook, checks that Tekton's e2e scripts and
#            alpha features' table know the series' feature flag
#            (hack/check-e2e-flags.sh), and runs go vet and the patched
#            tree's tests for the areas the series touches
#            (PRA_TEKTON_LINE=LINE: the same for another line's series and
#            release; PRA_TEKTON_TESTS=touched: only the packages the series
#            changes, TEKTON_TOUCHED_PACKAGES); logs each phase's time
#   prefixes hack/verify-prefixes.sh: no v1.15 patch is larger than the
#            review limit (800 changed lines, docs apart), and every prefix
#            of the v1.15 series applies, builds, and passes go vet and the
#            tests of the packages its last patch touches; after the tekton
#            stage, whose build of Tekton's dependencies it reuses
#   lts      the tekton stage for every older line (v1.12.2, v1.9.2); not
#            run by default (make verify-lts)
#   lts-ci   the same with PRA_TEKTON_TESTS=touched, every line even after
#            one failed; make test runs it (in the background beside the
#            e2e suite, see lts_start) unless PRA_CI_LTS=0
#   lts-prefixes
#            hack/verify-prefixes.sh for every older line: every prefix of
#            patches/v1.12 and patches/v1.9 applies to its release, builds,
#            and passes go vet and its packages' tests; not run by default
#            (make verify-lts runs lts and lts-prefixes)
#   e2e-lts  a smoke run of the e2e suite on the line PRA_TEKTON_LINE
#            selects (make e2e-lts LINE=v1.12): starts the local cluster
#            with that line's patched controller, runs the E2E_LTS_TESTS
#            (co-location and hand-over, isolation, a wait for a node,
#            the reservation growing back, cleanup), and stops the
#            cluster; make test runs it for every older line after the
#            e2e suite (lts_smoke) unless PRA_CI_LTS=0
#   real     starts the local cluster with two real nodes (--real-nodes 2:
#            containerd and a kubelet each, root and cgroup v1 needed), runs
#            go test -tags='e2e realnode' -run RealNode ./test/e2e/..., and
#            stops the cluster; not run by default (make e2e-real)
#   e2e      starts the local cluster with the patched controller and
#            Karpenter's kwok provider, runs
#            go test -tags=e2e ./test/e2e/..., and stops the cluster
#   tekton-e2e
#            the Tekton-style e2e tests the series adds to Tekton's test/
#            (test/pod_affinity_test.go, build tag e2e): compiles them in
#            the patched tree hack/build-tekton.sh keeps, starts the local
#            cluster with the patched controller, sets the feature flags of
#            config/feature-flags.yaml, runs -run '^TestPodAffinity' with
#            Tekton's flags (-kubeconfig, SYSTEM_NAMESPACE), and stops the
#            cluster; a skipped test fails the stage (the flags are set);
#            on its own: make e2e-tekton; make test runs them on the e2e
#            suite's cluster
#
# Every stage prints a line when it starts; with STAGEs given, the first
# failure stops the run with a non-zero exit; make test reports every
# failed part, then exits non-zero.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_go
cd "${PRA_ROOT}"

# The areas of Tekton the series touches, plus the engine's own packages.
readonly TEKTON_TEST_PACKAGES=(
  ./pkg/apis/config/...
  ./pkg/reconciler/pipelinerun/...
  ./pkg/reconciler/taskrun/...
  ./pkg/pod/...
  ./pkg/internal/affinityassistant/...
  ./pkg/podaffinity/...
)
# Of those, the Go packages the series changes (its hooks and the engine):
# tested first; PRA_TEKTON_TESTS=touched tests only these (what make test
# does for the LTS lines, see run_default), as go vet checks only these.
readonly TEKTON_TOUCHED_PACKAGES=(
  ./pkg/apis/config/
  ./pkg/reconciler/pipelinerun/
  ./pkg/reconciler/taskrun/
  ./pkg/podaffinity/...
)

stage_lint() {
  local unformatted
  unformatted="$(gofmt -l pkg test cmd hack/tools/provisioner hack/tools/images 2>/dev/null || true)"
  [[ -z "${unformatted}" ]] || die "gofmt needed on: ${unformatted}"
  go vet ./...
  # The e2e suite, and the soak, benchmark, Kueue and real-node tests,
  # which CI does not run but which must keep compiling: no file of
  # test/e2e excludes a tag, so one vet with all of them sees every file.
  go vet -tags='e2e soak bench kueue realnode' ./test/...
  (cd hack/tools/provisioner && go vet ./...)
  (cd hack/tools/images && go vet ./...)
}

stage_unit() {
  go test -count=1 ./...
  (cd hack/tools/provisioner && go test -count=1 ./...)
  (cd hack/tools/images && go test -count=1 ./...)
}

stage_patches() {
  bash "${PRA_HACK}/verify-patches.sh"
}

stage_prefixes() {
  bash "${PRA_HACK}/verify-prefixes.sh"
}

# stage_tekton: the tekton stage. Each phase logs its time: the build
# (hack/build-tekton.sh: the tree, its modules, the controller and webhook),
# fetching the test dependencies' modules (go list, no compiling), go vet
# and the tests of the touched packages, then (unless PRA_TEKTON_TESTS is
# touched) those of the rest of TEKTON_TEST_PACKAGES.
stage_tekton() {
  local out src goflags unformatted t scope="${PRA_TEKTON_TESTS:-areas}" touched rest
  [[ "${scope}" == areas || "${scope}" == touched ]] || die "PRA_TEKTON_TESTS is areas (default) or touched, not ${scope}"
  t=${SECONDS}
  out="$(bash "${PRA_HACK}/build-tekton.sh" patched)"
  log "<-- ${PRA_TEKTON_LINE}: patched tree and build in $((SECONDS - t))s"
  src="${out}/src"
  [[ -d "${src}" ]] || die "build-tekton.sh did not leave the patched source in ${src}"
  unformatted="$(cd "${src}" && git diff --name-only "base-${TEKTON_VERSION}" HEAD -- '*.go' | xargs -r gofmt -l)"
  [[ -z "${unformatted}" ]] || die "the series leaves Go files unformatted in Tekton's tree: ${unformatted}"
  bash "${PRA_HACK}/check-e2e-flags.sh" "${src}" "base-${TEKTON_VERSION}"
  goflags="$(tekton_goflags "${src}" "${out}/modfile")"
  t=${SECONDS}
  (cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go list -deps -test "${TEKTON_TEST_PACKAGES[@]}" >/dev/null)
  log "<-- ${PRA_TEKTON_LINE}: the tests' modules fetched in $((SECONDS - t))s"
  touched="$(cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go list "${TEKTON_TOUCHED_PACKAGES[@]}")"
  rest="$(cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go list "${TEKTON_TEST_PACKAGES[@]}")"
  rest="$(grep -vxF "${touched}" <<<"${rest}" || true)"
  t=${SECONDS}
  log "go vet and the tests of the packages the series changes in the patched Tekton ${TEKTON_VERSION} tree: ${TEKTON_TOUCHED_PACKAGES[*]}"
  (cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go vet "${TEKTON_TOUCHED_PACKAGES[@]}")
  log "<-- ${PRA_TEKTON_LINE}: go vet in $((SECONDS - t))s"
  t=${SECONDS}
  # shellcheck disable=SC2086 # one package a word
  (cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go test -count=1 ${touched})
  log "<-- ${PRA_TEKTON_LINE}: the touched packages' tests in $((SECONDS - t))s"
  if [[ "${scope}" == touched ]]; then
    log "PRA_TEKTON_TESTS=touched: not testing the rest of ${TEKTON_TEST_PACKAGES[*]}"
    return 0
  fi
  [[ -n "${rest}" ]] || return 0
  t=${SECONDS}
  # shellcheck disable=SC2086 # one package a word
  (cd "${src}" && GOFLAGS="${goflags}" GOWORK=off go test -count=1 ${rest})
  log "<-- ${PRA_TEKTON_LINE}: the other packages' tests of the touched areas in $((SECONDS - t))s"
}

stage_lts() {
  local line
  for line in "${TEKTON_LINES[@]:1}"; do
    log "--> the ${line} line"
    env PRA_TEKTON_LINE="${line}" bash "${PRA_HACK}/test.sh" tekton
  done
}

# stage_lts-ci: what make test runs of the older lines beside the
# end-to-end suite: the lts stage with the tests of the packages the series
# changes only (PRA_TEKTON_TESTS=touched), every line even after a failure;
# fails when a line failed.
stage_lts-ci() {
  local line failed=()
  for line in "${TEKTON_LINES[@]:1}"; do
    log "--> the ${line} line (apply, build, vet, the touched packages' tests)"
    env PRA_TEKTON_LINE="${line}" PRA_TEKTON_TESTS=touched bash "${PRA_HACK}/test.sh" tekton || failed+=("${line}")
  done
  ((${#failed[@]} == 0)) || die "the tekton stage failed on ${failed[*]}"
}

stage_lts-prefixes() {
  local line
  for line in "${TEKTON_LINES[@]:1}"; do
    log "--> the ${line} line"
    env PRA_TEKTON_LINE="${line}" bash "${PRA_HACK}/verify-prefixes.sh"
  done
}

# cluster_up ARG... : starts the local cluster (hack/cluster.sh up ARG...)
# and points kubectl and the tests at it; refuses when a cluster is already
# running. Until cluster_down, the script stops the cluster when it exits.
cluster_up() {
  if bash "${PRA_HACK}/cluster.sh" status >/dev/null 2>&1; then
    die "a local cluster is already running: stop it with hack/cluster.sh down first"
  fi
  trap 'bash "${PRA_HACK}/cluster.sh" down || true' EXIT
  bash "${PRA_HACK}/cluster.sh" up "$@"
  eval "$(bash "${PRA_HACK}/cluster.sh" env)"
}

# cluster_down : stops the cluster cluster_up started.
cluster_down() {
  bash "${PRA_HACK}/cluster.sh" down
  trap - EXIT
}

# The lines of a verbose go test run the e2e stages show: what runs, the
# top-level results, the package's verdict and a panic; each stage adds the
# lines of its test files (the failures' locations).
readonly GO_TEST_LINES='^(=== RUN|--- |PASS|FAIL|ok|panic)'

# run_go_e2e LOG WHAT SHOWN FINISHED COMMAND... : runs the tests
# (show_go_e2e LOG SHOWN COMMAND...), then checks LOG (check_go_e2e LOG
# WHAT FINISHED).
run_go_e2e() {
  local log="$1" what="$2" shown="$3" finished="$4"
  shift 4
  show_go_e2e "${log}" "${shown}" "$@"
  check_go_e2e "${log}" "${what}" "${finished}"
}

# show_go_e2e LOG SHOWN COMMAND... : runs COMMAND (go test -v, or a
# compiled test binary with -test.v, which env -C DIR runs in its
# package's directory) with its whole output in LOG, and shows the lines
# that match the extended regexp SHOWN. Whether the tests passed is for
# check_go_e2e to say.
show_go_e2e() {
  local log="$1" shown="$2"
  shift 2
  "$@" 2>&1 | tee "${log}" | grep -E "${shown}" || true
}

# check_go_e2e LOG WHAT FINISHED : dies, naming WHAT and LOG, when a test
# of the run LOG holds failed or a test panicked, or when no line matches
# FINISHED (^ok  of go test, ^PASS$ of a test binary): the run did not
# finish.
check_go_e2e() {
  local log="$1" what="$2" finished="$3"
  if grep -qE '^(\s*--- FAIL|FAIL|panic)' "${log}"; then
    failed_tests "${log}" >&2
    die "${what} failed (full log: ${log})"
  fi
  grep -qE "${finished}" "${log}" || die "${what} did not finish (full log: ${log})"
}

# failed_tests LOG : for each test that failed in the go test -v output
# LOG, its name and the last three lines it logged (file_test.go:N: ...,
# cut at 400 characters), and any panic: what the tail of a CI log must
# show, as the full log stays on the machine that ran it.
failed_tests() {
  awk '
    /^=== (RUN|NAME|CONT) / { cur = $3; next }
    /^[ \t]+[A-Za-z0-9_]+_test\.go:[0-9]+: / {
      if (cur != "") { n[cur]++; logged[cur, n[cur] % 3] = substr($0, 1, 400) }
      next
    }
    /^[ \t]*--- FAIL: / { failed[++f] = $3; next }
    /^panic: / { panics[++p] = substr($0, 1, 400) }
    END {
      for (i = 1; i <= f; i++) {
        t = failed[i]
        print "failed: " t
        for (k = n[t] - 2; k <= n[t]; k++) if (k > 0) print "    " logged[t, k % 3]
      }
      for (i = 1; i <= p; i++) print panics[i]
    }
  ' "$1"
}

# The e2e tests of the LTS smoke run (stage e2e-lts): a four-task diamond
# on its placeholder's node with the hand-over events, isolation and the
# wait of the run that finds no node, a wait longer than timeouts.pipeline
# and the bound on the wait, the reservation growing back between waves,
# and the placeholder's cleanup.
readonly E2E_LTS_TESTS=(TestFourTaskPipelineOnPlaceholderNode TestIsolation TestNodeWait TestCompareReservationGrowsBack TestPlaceholderCleanup)

stage_e2e-lts() {
  local log="${PRA_STATE_DIR}/e2e-lts-${PRA_TEKTON_LINE}.log" bin="${PRA_STATE_DIR}/e2e-lts.test" run
  run="^($(IFS='|'; echo "${E2E_LTS_TESTS[*]}"))\$"
  bash "${PRA_HACK}/build-binaries.sh"
  bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null
  # Compiled before the cluster starts: the cluster is up only while the
  # tests run.
  go test -c -tags=e2e -o "${bin}" ./test/e2e/
  cluster_up --tekton patched
  log "Tekton ${TEKTON_VERSION} (${PRA_TEKTON_LINE}, patched): ${E2E_LTS_TESTS[*]}"
  run_go_e2e "${log}" "the ${PRA_TEKTON_LINE} smoke e2e tests" "${GO_TEST_LINES}|e2e\.go|_test\.go" '^PASS$' \
    env -C test/e2e "${bin}" -test.v -test.count=1 -test.timeout 30m -test.run "${run}"
  local t
  for t in "${E2E_LTS_TESTS[@]}"; do
    grep -qE "^--- PASS: ${t} " "${log}" || die "${t} did not pass on ${PRA_TEKTON_LINE} (full log: ${log})"
  done
  cluster_down
}

# The e2e stage in parts, so that the default run can overlap them with
# the other stages (run_default).
e2e_up() {
  # With Karpenter's kwok provider: the suite pauses it (NodePool CPU limit
  # 0) except in the tests of the scale-up scenario.
  cluster_up --tekton patched --autoscaler karpenter
}

e2e_suite() {
  run_go_e2e "${PRA_STATE_DIR}/e2e.log" "end-to-end tests" "${GO_TEST_LINES}|e2e\.go|_test\.go" '^ok ' \
    go test -count=1 -tags=e2e -timeout 60m -v ./test/e2e/...
}

e2e_bench() {
  log "benchmark: PipelineRun created -> first TaskRun pod Running (figures only)"
  go test -count=1 -tags=e2e -run '^$' -bench FirstTaskRunPodRunning -benchtime 3x -timeout 20m ./test/e2e/... 2>&1 \
    | tee "${PRA_STATE_DIR}/e2e-bench.log" | grep -E '^(Benchmark|ok|FAIL|PASS)' \
    || die "the latency benchmark failed (full log: ${PRA_STATE_DIR}/e2e-bench.log)"
}

stage_e2e() {
  bash "${PRA_HACK}/build-binaries.sh"
  bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null
  e2e_up
  e2e_suite
  e2e_bench
  cluster_down
}

# The Tekton-style e2e tests the series adds (test/pod_affinity_test.go of
# Tekton's tree), run as a maintainer runs Tekton's e2e tests: go test
# -tags=e2e in the patched tree, against the local cluster's kubeconfig.
# The test binary is compiled before the cluster starts, so the cluster
# lock is held only while the tests run.
# tekton_e2e_paths : sets TEKTON_E2E_SRC (the patched tree build-tekton.sh
# keeps), TEKTON_E2E_BIN (the test binary's path) and TEKTON_E2E_GOFLAGS.
tekton_e2e_paths() {
  local out
  out="$(bash "${PRA_HACK}/build-tekton.sh" patched)"
  TEKTON_E2E_SRC="${out}/src"
  [[ -f "${TEKTON_E2E_SRC}/test/pod_affinity_test.go" ]] \
    || die "${TEKTON_E2E_SRC}/test/pod_affinity_test.go is missing: the patched tree does not carry the series' e2e tests"
  TEKTON_E2E_GOFLAGS="$(tekton_goflags "${TEKTON_E2E_SRC}" "${out}/modfile")"
  TEKTON_E2E_BIN="${out}/tekton-e2e.test"
}

# tekton_e2e_compile : compiles the Tekton-style e2e tests.
tekton_e2e_compile() {
  tekton_e2e_paths
  log "compiling Tekton's e2e tests: go test -c -tags=e2e ./test in ${TEKTON_E2E_SRC}"
  (cd "${TEKTON_E2E_SRC}" && GOFLAGS="${TEKTON_E2E_GOFLAGS}" GOWORK=off go test -c -tags=e2e -o "${TEKTON_E2E_BIN}" ./test)
}

# tekton_e2e_run : runs them on the running local cluster (KUBECONFIG set),
# with the feature flags of config/feature-flags.yaml.
tekton_e2e_run() {
  local log
  tekton_e2e_paths
  [[ -x "${TEKTON_E2E_BIN}" ]] || die "${TEKTON_E2E_BIN} is missing: compile it first (tekton_e2e_compile)"
  kubectl -n tekton-pipelines patch configmap feature-flags --type merge \
    --patch-file "${PRA_ROOT}/config/feature-flags.yaml" >/dev/null
  # The controller applies a ConfigMap change through its watch, within
  # moments; a run it reconciled before would be recorded as not placed.
  sleep 2
  log="${PRA_STATE_DIR}/tekton-e2e.log"
  # TestPodAffinity_WaitingForNode asks for more than any node has: with
  # Karpenter running (make test's cluster) it would rightly get a bigger
  # node. Pause it (its NodePool's CPU limit at 0, as the e2e suite does)
  # while the tests run, and restore the limit after.
  local limit=""
  if kubectl get nodepools.karpenter.sh default >/dev/null 2>&1; then
    limit="$(kubectl get nodepools.karpenter.sh default -o jsonpath='{.spec.limits.cpu}')"
    kubectl patch nodepools.karpenter.sh default --type merge -p '{"spec":{"limits":{"cpu":"0"}}}' >/dev/null
    log "Karpenter paused for the Tekton-style tests (NodePool default: CPU limit 0, was ${limit:-none})"
  fi
  # Run in the package's directory, as go test does: Tekton's TestMain
  # reads the test annotations of the files there.
  # Checked once Karpenter is back (check_go_e2e, below).
  show_go_e2e "${log}" '^(=== RUN|\s*--- |PASS|FAIL|ok|panic)|pod_affinity_test\.go' \
    env -C "${TEKTON_E2E_SRC}/test" SYSTEM_NAMESPACE=tekton-pipelines "${TEKTON_E2E_BIN}" -test.v -test.count=1 -test.timeout=20m \
    -test.run '^TestPodAffinity' -kubeconfig "${KUBECONFIG}"
  if kubectl get nodepools.karpenter.sh default >/dev/null 2>&1; then
    if [[ -n "${limit}" ]]; then
      kubectl patch nodepools.karpenter.sh default --type merge -p "{\"spec\":{\"limits\":{\"cpu\":\"${limit}\"}}}" >/dev/null
    else
      kubectl patch nodepools.karpenter.sh default --type merge -p '{"spec":{"limits":{"cpu":null}}}' >/dev/null
    fi
  fi
  grep -qE '^\s*--- SKIP' "${log}" && die "Tekton-style e2e tests skipped although the stage sets their feature flags (full log: ${log})"
  check_go_e2e "${log}" "Tekton-style e2e tests" '^PASS$'
  grep -qE '^--- PASS: TestPodAffinity' "${log}" || die "no Tekton-style e2e test ran (full log: ${log})"
}

stage_tekton-e2e() {
  bash "${PRA_HACK}/build-binaries.sh"
  tekton_e2e_compile
  cluster_up --tekton patched
  tekton_e2e_run
  cluster_down
}

# e2e-kueue (make e2e-kueue; not a default stage: Kueue's cold build takes
# long): the contract test of hack/tools/kueue-contract (the placeholder
# against Kueue's pod reconciler), then a cluster with Kueue
# (hack/cluster.sh up --kueue) and the tests of test/e2e/kueue*_test.go
# (build tag kueue).
stage_e2e-kueue() {
  # The placeholder against Kueue's own pod reconciler (no cluster).
  (cd "${PRA_HACK}/tools/kueue-contract" && GOTOOLCHAIN=local go test -count=1 ./...)
  bash "${PRA_HACK}/build-binaries.sh"
  bash "${PRA_HACK}/build-binaries.sh" kueue
  bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null
  cluster_up --tekton patched --kueue
  run_go_e2e "${PRA_STATE_DIR}/e2e-kueue.log" "Kueue end-to-end tests" "${GO_TEST_LINES}|e2e\.go|_test\.go" '^ok ' \
    go test -count=1 -tags='e2e kueue' -run 'Kueue' -timeout 20m -v ./test/e2e/...
  cluster_down
}

stage_real() {
  bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null
  cluster_up --tekton patched --real-nodes 2
  run_go_e2e "${PRA_STATE_DIR}/e2e-real.log" "real-node tests" "${GO_TEST_LINES}|realnode(_[a-z]+)?_test\.go" '^ok ' \
    go test -count=1 -tags='e2e realnode' -run RealNode -timeout 20m -v ./test/e2e/...
  cluster_down
}

# lts_start DIR : starts, in the background at nice 19, the older lines'
# tekton stage with the touched packages' tests (PRA_TEKTON_TESTS=touched),
# one line after another (its lines start with [lts]); each line's exit
# status goes to DIR/LINE when it is done. Sets lts_pid. Each line builds
# its own versions of nearly every dependency, so it is CPU work that fills
# what the end-to-end suite, the Tekton-style tests and the first smoke run
# (lts_smoke) leave idle, and its module downloads overlap the other stages.
lts_start() {
  local dir="$1"
  (
    local line rc
    for line in "${TEKTON_LINES[@]:1}"; do
      rc=0
      log "==> lts: the ${line} line's series applied, built, vetted and its touched packages tested"
      env PRA_TEKTON_LINE="${line}" PRA_TEKTON_TESTS=touched nice -n 19 bash "${PRA_HACK}/test.sh" tekton || rc=$?
      echo "${rc}" >"${dir}/${line}.tmp" && mv "${dir}/${line}.tmp" "${dir}/${line}"
    done
  ) 2>&1 | sed -u 's/^/[lts] /' &
  lts_pid=$!
}

# lts_smoke DIR : for each older line, once lts_start has built it (DIR/LINE
# holds its status), the e2e-lts stage: a cluster of its own with that
# line's patched controller, the smoke tests, the cluster stopped. Dies
# naming every line whose build, tests or smoke run failed.
lts_smoke() {
  local dir="$1" line failed=() rc t
  for line in "${TEKTON_LINES[@]:1}"; do
    if [[ ! -f "${dir}/${line}" ]]; then
      log "waiting for the ${line} line's tekton stage (lts, in the background)"
      while [[ ! -f "${dir}/${line}" ]] && kill -0 "${lts_pid}" 2>/dev/null; do sleep 5; done
    fi
    rc="$(cat "${dir}/${line}" 2>/dev/null || echo 1)"
    if [[ "${rc}" != 0 ]]; then
      log "the ${line} line's tekton stage failed (see the [lts] lines): no smoke run"
      failed+=("${line}")
      continue
    fi
    log "==> e2e-lts: the ${line} line's smoke run"
    t=${SECONDS}
    if env PRA_TEKTON_LINE="${line}" bash "${PRA_HACK}/test.sh" e2e-lts; then
      log "<== e2e-lts ${line} passed in $((SECONDS - t))s"
    else
      failed+=("${line}")
    fi
  done
  ((${#failed[@]} == 0)) || die "make test failed: the older lines ${failed[*]} (tekton stage or smoke run)"
}

# run_default : what make test runs (no STAGE given). The end-to-end suite
# spends most of its 20 minutes waiting for the cluster, and the other
# stages are compile-bound; so the cluster's binaries and the patched
# Tekton are built first, the suite starts on the local cluster in the
# background, and lint, unit, patches, tekton and prefixes run meanwhile
# at the lowest CPU priority (nice 19), so that the cluster and the
# controller get the CPU whenever they want it. The Tekton-style e2e tests
# are compiled the same way, then run on the same cluster after the
# suite, and the latency benchmark last. The older lines' tekton stage
# (touched packages) starts in the background with the suite (lts_start)
# and fills what the suite leaves idle; after the benchmark each older
# line's smoke run (e2e-lts) follows once that line is built (lts_smoke);
# PRA_CI_LTS=0 leaves both out. Each part's failure is reported; the run
# fails if any part failed. PRA_SERIAL=1 runs the stages one after another
# instead (without the older lines).
run_default() {
  local rcfile e2e_pid fg=0 bg=0 lts_dir="" lts_pid="" start=${SECONDS}
  log "==> build: the local cluster's binaries and the patched Tekton"
  bash "${PRA_HACK}/build-binaries.sh"
  bash "${PRA_HACK}/build-tekton.sh" patched >/dev/null
  log "<== build passed in $((SECONDS - start))s"
  log "==> e2e, in the background (its lines start with [e2e])"
  e2e_up
  rcfile="$(mktemp)"
  (
    rc=0
    (
      SECONDS=0
      e2e_suite
      log "<== e2e suite passed in ${SECONDS}s"
    ) || rc=$?
    echo "${rc}" >"${rcfile}"
  ) 2>&1 | sed -u 's/^/[e2e] /' &
  e2e_pid=$!
  if [[ "${PRA_CI_LTS:-1}" == 1 ]]; then
    lts_dir="$(mktemp -d)"
    lts_start "${lts_dir}"
  fi
  nice -n 19 bash "${PRA_HACK}/test.sh" lint unit patches tekton prefixes || fg=$?
  if ((fg == 0)); then
    log "==> tekton-e2e: compiling its tests (nice 19)"
    (renice -n 19 -p "${BASHPID}" >/dev/null && tekton_e2e_compile) || fg=$?
  fi
  log "waiting for the end-to-end suite"
  wait "${e2e_pid}" || true
  bg="$(cat "${rcfile}" 2>/dev/null || echo 1)"
  [[ -n "${bg}" ]] || bg=1
  rm -f "${rcfile}"
  ((bg == 0)) || log "the end-to-end suite failed (full log: ${PRA_STATE_DIR}/e2e.log)"
  ((fg == 0)) || log "a stage beside the end-to-end suite failed (see above)"
  if ((fg != 0 || bg != 0)); then
    if [[ -n "${lts_pid}" ]]; then
      log "waiting for the older lines' tekton stage (lts, in the background) before failing"
      wait "${lts_pid}" 2>/dev/null || true
      local line
      for line in "${TEKTON_LINES[@]:1}"; do
        [[ "$(cat "${lts_dir}/${line}" 2>/dev/null || echo 1)" == 0 ]] || log "the ${line} line's tekton stage failed (see the [lts] lines)"
      done
      rm -rf "${lts_dir}"
    fi
    die "make test failed"
  fi
  log "==> tekton-e2e: the Tekton-style e2e tests, on the same cluster"
  tekton_e2e_run
  e2e_bench
  cluster_down
  if [[ -n "${lts_dir}" ]]; then
    lts_smoke "${lts_dir}"
    wait "${lts_pid}" 2>/dev/null || true
    rm -rf "${lts_dir}"
  fi
  if [[ "${PRA_CI_LTS:-1}" == 1 ]]; then
    log "all stages passed: build lint unit patches tekton prefixes lts-ci e2e tekton-e2e e2e-lts, in $((SECONDS - start))s"
  else
    log "all stages passed: build lint unit patches tekton prefixes e2e tekton-e2e (PRA_CI_LTS=0: no older line), in $((SECONDS - start))s"
  fi
}

stages=("$@")
if [[ ${#stages[@]} -eq 0 && "${PRA_SERIAL:-0}" != 1 ]]; then
  run_default
  exit 0
fi
[[ ${#stages[@]} -gt 0 ]] || stages=(lint unit patches tekton prefixes e2e tekton-e2e)
for s in "${stages[@]}"; do
  declare -F "stage_${s}" >/dev/null || die "unknown stage ${s} (lint, unit, patches, tekton, prefixes, lts, lts-ci, lts-prefixes, e2e-lts, e2e, tekton-e2e, e2e-kueue, real)"
  log "==> ${s}"
  SECONDS=0
  "stage_${s}"
  log "<== ${s} passed in ${SECONDS}s"
done
log "all stages passed: ${stages[*]}"
