#!/usr/bin/env bash
# Usage: hack/verify-patches.sh
#
# Fails when the committed series of any Tekton line (patches/ for the main
# line, patches/LINE for the others) differs from a regeneration from pkg/
# (for example after a change to pkg/ without hack/update-patches.sh), or
# when an older line's hook patch makes other changes than the main line's
# patch of the same name (a hook changed on one line and not ported to the
# others: hack/update-patches.sh --port LINE), unless HOOKS_MAY_DIFFER in
# hack/patchlib.sh lists it. The regeneration uses PRA_PATCH_AUTHOR like
# hack/update-patches.sh: leave it unset to check the committed series, which
# has the default author.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${PRA_HACK}/patchlib.sh"

out="$(mktemp -d)"
trap 'rm -rf "${out}" "${out}.diff"' EXIT
"${PRA_HACK}/update-patches.sh" --out "${out}"
if ! diff -ru "${PRA_ROOT}/patches" "${out}" > "${out}.diff"; then
  head -100 "${out}.diff" >&2
  [[ -z "${PRA_PATCH_AUTHOR:-}" ]] \
    || log "PRA_PATCH_AUTHOR is set (${PRA_PATCH_AUTHOR}): the committed series has the default author; unset it to verify"
  die "patches/ is stale: run hack/update-patches.sh and commit the result"
fi
log "every line's series is up to date with pkg/: ${TEKTON_LINES[*]}"

main_dir="$(tekton_line_patches "${TEKTON_LINES[0]}")"
mapfile -t main_series < <(series_patches "${main_dir}")
drift=0
for line in "${TEKTON_LINES[@]:1}"; do
  dir="$(tekton_line_patches "${line}")"
  mapfile -t series < <(series_patches "${dir}")
  if [[ "${series[*]}" != "${main_series[*]}" ]]; then
    warn "the ${line} series has other patches than the ${TEKTON_LINES[0]} series: ${series[*]} (want ${main_series[*]})"
    drift=1
    continue
  fi
  mapfile -t hooks < <(hook_patches "${dir}")
  for p in "${hooks[@]}"; do
    [[ " ${HOOKS_MAY_DIFFER[*]} " == *" ${line}/$(unnumbered "${p}") "* ]] && continue
    if ! diff -u <(hook_changes "${main_dir}/${p}") <(hook_changes "${dir}/${p}") > "${out}.diff"; then
      head -40 "${out}.diff" >&2
      warn "${line}/${p} changes other lines than ${TEKTON_LINES[0]}'s ${p} (above: -${TEKTON_LINES[0]} +${line})"
      drift=1
    fi
  done
done
((drift == 0)) || die "the lines' hooks differ: port the main line's hooks (hack/update-patches.sh --port LINE), or list a patch that must differ in HOOKS_MAY_DIFFER (hack/patchlib.sh)"
log "every line's hook patches make the ${TEKTON_LINES[0]} hooks' changes${HOOKS_MAY_DIFFER[*]:+, but ${HOOKS_MAY_DIFFER[*]} (HOOKS_MAY_DIFFER)}"
