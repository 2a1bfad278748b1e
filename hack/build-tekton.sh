#!/usr/bin/env bash
# Build the Tekton Pipelines controller and webhook of one flavor into
# $PRA_STATE_DIR/bin/tekton-<flavor>-.../ and print that directory on stdout.
#
# Usage: [PRA_TEKTON_LINE=LINE] hack/build-tekton.sh upstream|patched [--force]
#   upstream  unmodified Tekton from the Go module cache
#             -> bin/tekton-upstream-<version>/{controller,webhook}
#   patched   Tekton with the line's series applied by hack/patch-tekton.sh
#             -> bin/tekton-patched-<version>-<sha256(series)[:16]>/{controller,webhook,src/}
# <version> is the release of the line PRA_TEKTON_LINE names (default the
# main line, v1.15: v1.15.0; v1.12: v1.12.2; v1.9: v1.9.2). A build whose
# binaries are cached is reused (a changed patch series has a different key
# and is rebuilt).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

FLAVOR=""
FORCE=0
while (($#)); do
  case "$1" in
    upstream | patched) FLAVOR="$1" ;;
    --force) FORCE=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
[[ -n "${FLAVOR}" ]] || {
  usage >&2
  die "missing flavor: upstream or patched"
}

require_go
if [[ "${FLAVOR}" == patched ]]; then
  [[ -d "${PRA_ROOT}/patches" ]] || die "patches/ does not exist; cannot build the patched flavor"
  [[ -f "${PRA_HACK}/patch-tekton.sh" ]] \
    || die "hack/patch-tekton.sh does not exist yet: it is needed to create the patched Tekton tree (use 'upstream' meanwhile)"
fi

OUT="$(tekton_bin_dir "${FLAVOR}")"
mkdir -p "${PRA_BIN_DIR}"
# A build already made is reused without waiting for the lock: builds of
# other trees (the older lines' series, in CI beside the e2e suite, take
# minutes each) hold it, and a caller such as hack/tekton-controller.sh,
# restarting the controller in the middle of a test, must not wait for
# them. A build installs its binaries by rename, controller then webhook,
# so both there means both complete.
if ((FORCE == 0)) && [[ -x "${OUT}/controller" && -x "${OUT}/webhook" ]]; then
  log "reusing Tekton ${FLAVOR} binaries in ${OUT}"
  printf '%s\n' "${OUT}"
  exit 0
fi
exec 9>"${PRA_BIN_DIR}/.build-tekton.lock"
if ! flock -n 9; then
  log "another Tekton build is running; waiting for it"
  flock 9
fi

if ((FORCE == 0)) && [[ -x "${OUT}/controller" && -x "${OUT}/webhook" ]]; then
  log "reusing Tekton ${FLAVOR} binaries in ${OUT}"
  printf '%s\n' "${OUT}"
  exit 0
fi

mkdir -p "${OUT}"
case "${FLAVOR}" in
  upstream)
    SRC="$(tekton_upstream_src)"
    ;;
  patched)
    SRC="${OUT}/src"
    rm -rf "${SRC}"
    log "creating the patched Tekton tree in ${SRC} (hack/patch-tekton.sh)"
    bash "${PRA_HACK}/patch-tekton.sh" "${SRC}" >&2 || die "hack/patch-tekton.sh ${SRC} failed"
    [[ -f "${SRC}/go.mod" ]] || die "hack/patch-tekton.sh did not create a Tekton tree in ${SRC}"
    ;;
esac

log "building Tekton ${TEKTON_VERSION} ${FLAVOR} controller and webhook from ${SRC} (a cold build takes several minutes)"
start=${SECONDS}
TMP_OUT="$(mktemp -d "${OUT}/.build.XXXXXX")"
trap 'rm -rf "${TMP_OUT}"' EXIT
# The module cache copy is read-only; building in place works since nothing
# is written to the source tree. GOFLAGS is pinned so a user's -mod=vendor or
# -mod=mod does not leak in; where this machine needs module replacements
# (tekton_replacements), they come in through a -modfile kept in ${OUT}/modfile.
goflags="$(tekton_goflags "${SRC}" "${OUT}/modfile")"
# The modules first (go list loads, compiles nothing), so that the log tells
# a fresh machine's download apart from the compile.
fetch=${SECONDS}
(cd "${SRC}" && GOFLAGS="${goflags}" GOWORK=off go list -deps ./cmd/controller ./cmd/webhook >/dev/null) \
  || die "fetching the modules of Tekton ${FLAVOR} failed"
log "the modules of Tekton ${TEKTON_VERSION} ${FLAVOR}'s controller and webhook are in the module cache ($((SECONDS - fetch))s)"
(cd "${SRC}" && GOFLAGS="${goflags}" GOWORK=off go build -ldflags "-s -w" -o "${TMP_OUT}/" ./cmd/controller ./cmd/webhook) \
  || die "building Tekton ${FLAVOR} failed"
mv -f "${TMP_OUT}/controller" "${TMP_OUT}/webhook" "${OUT}/"
log "Tekton ${TEKTON_VERSION} ${FLAVOR} built in $((SECONDS - start))s -> ${OUT}"
printf '%s\n' "${OUT}"
