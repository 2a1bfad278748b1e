#!/usr/bin/env bash
# Usage: [PRA_TEKTON_LINE=LINE] hack/verify-prefixes.sh [--keep DIR]
#
# Checks that the line's committed series (default the main line, v1.15:
# patches/) can be reviewed and merged one patch at a time:
#   1. no patch adds or removes more than PATCH_LINE_LIMIT lines (files under
#      docs/ apart; hack/patchlib.sh), but those OVER_LIMIT lists with a
#      reason;
#   2. every prefix of the series applies, builds and passes: on one Tekton
#      tree of the line's release, each patch in turn is applied with git am,
#      then the Go packages it adds or changes are built, vetted and tested
#      (go build, go vet, go test). One tree, commit by commit, so every
#      build after the first is incremental; test and vet results come from
#      Go's caches when nothing they depend on changed since a run that
#      passed.
# The tree is made in ${PRA_STATE_DIR}/prefixes-LINE, at the same path on
# every run (Go's caches key on it), and removed at the end; with --keep DIR
# it is made in DIR (which must not exist) and kept.
# Needs only Go, gcc and git; Tekton's source comes from the Go module cache.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${PRA_HACK}/patchlib.sh"

keep=""
case "$#:${1:-}" in
  0:) ;;
  2:--keep) keep="$2" ;;
  *) die "usage: $0 [--keep DIR]" ;;
esac
require_go
dir="$(tekton_line_patches "${PRA_TEKTON_LINE}")"
mapfile -t series < <(series_patches "${dir}")
((${#series[@]})) || die "${dir#"${PRA_ROOT}/"}/series lists no patch"

# 1. Sizes.
over=0 largest=0 largest_patch=""
log "changed lines per patch (docs/ apart; limit ${PATCH_LINE_LIMIT}):"
for p in "${series[@]}"; do
  n="$(changed_lines "${dir}/${p}")"
  note=""
  if ((n > PATCH_LINE_LIMIT)); then
    if [[ " ${OVER_LIMIT[*]} " == *" $(unnumbered "${p}") "* ]]; then
      note="  over the limit, listed in OVER_LIMIT (hack/patchlib.sh)"
    else
      note="  OVER THE LIMIT"
      over=1
    fi
  elif ((n > largest)); then
    largest="${n}" largest_patch="${p}"
  fi
  printf '  %5d  %s%s\n' "${n}" "${p}" "${note}" >&2
done
((over == 0)) || die "patches of the ${PRA_TEKTON_LINE} series add or remove more than ${PATCH_LINE_LIMIT} lines (docs/ apart): split them (engine patches: hack/patches/engine/series)"
log "the largest patch within the limit: ${largest_patch} (${largest} lines)"

# 2. Prefixes.
if [[ -n "${keep}" ]]; then
  [[ ! -e "${keep}" ]] || die "${keep} exists"
  tree="${keep}"
else
  tree="${PRA_STATE_DIR}/prefixes-${PRA_TEKTON_LINE}"
  mkdir -p "${PRA_STATE_DIR}"
  exec 9>"${tree}.lock"
  if ! flock -n 9; then
    log "another hack/verify-prefixes.sh of ${PRA_TEKTON_LINE} is running; waiting for it"
    flock 9
  fi
  trap 'rm -rf "${tree}" "${tree}.mod" "${tree}.test.log" "${tree}.vet.log"' EXIT
fi
log "${PRA_TEKTON_LINE}: a Tekton ${TEKTON_VERSION} tree in ${tree}"
make_base_tree "${tree}"
goflags="$(tekton_goflags "${tree}" "${tree}.mod")"
total=${SECONDS}
i=0
for p in "${series[@]}"; do
  i=$((i + 1))
  start=${SECONDS}
  git_fixed -C "${tree}" am -q --committer-date-is-author-date "${dir}/${p}" \
    || die "${p} does not apply to Tekton ${TEKTON_VERSION} after the patches before it (see git -C ${tree} am --show-current-patch)"
  # The packages the patch adds or changes: the directories of its Go files
  # that still hold Go files.
  mapfile -t pkgs < <(commit_paths "${tree}" HEAD | sed -n 's|^\(.*\)/[^/]*\.go$|\1|p' | LC_ALL=C sort -u |
    while read -r d; do compgen -G "${tree}/${d}/*.go" >/dev/null && printf './%s\n' "${d}"; done)
  if ((${#pkgs[@]} == 0)); then
    log "[${i}/${#series[@]}] ${p}: no Go package"
    continue
  fi
  (
    cd "${tree}"
    export GOFLAGS="${goflags}" GOWORK=off
    go build "${pkgs[@]}" || die "${p}: go build ${pkgs[*]} fails with the patches up to it"
    # go vet beside the tests (two cores); the tests skip go test's own vet
    # subset, and their binaries carry no debug information (faster links).
    # Results come from Go's caches when nothing they depend on changed
    # since a run that passed: the same tree, the same result.
    go vet "${pkgs[@]}" >"${tree}.vet.log" 2>&1 &
    vet=$!
    if ! go test -vet=off -ldflags='-s -w' "${pkgs[@]}" >"${tree}.test.log" 2>&1; then
      cat "${tree}.test.log" >&2
      wait "${vet}" || true
      die "${p}: go test ${pkgs[*]} fails with the patches up to it"
    fi
    wait "${vet}" || { cat "${tree}.vet.log" >&2; die "${p}: go vet ${pkgs[*]} fails with the patches up to it"; }
  )
  rm -f "${tree}.test.log" "${tree}.vet.log"
  log "[${i}/${#series[@]}] ${p}: ${pkgs[*]} build, vet and pass their tests ($((SECONDS - start))s)"
done
log "${PRA_TEKTON_LINE}: every prefix of the ${#series[@]}-patch series applies to Tekton ${TEKTON_VERSION}, builds and passes go vet and its packages' tests ($((SECONDS - total))s)"
