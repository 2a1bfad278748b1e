#!/usr/bin/env bash
# Usage: hack/verify-patches.sh
#
# Fails when the committed patch series differs from a regeneration from
# pkg/ (for example after a change to pkg/ without hack/update-patches.sh).
# The regeneration uses PRA_PATCH_AUTHOR like hack/update-patches.sh: leave it
# unset to check the committed series, which has the default author.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT
"${PRA_HACK}/update-patches.sh" --out "${out}"
if ! diff -ru "${PRA_ROOT}/patches" "${out}" > "${out}.diff"; then
  head -100 "${out}.diff" >&2
  rm -f "${out}.diff"
  [[ -z "${PRA_PATCH_AUTHOR:-}" ]] \
    || log "PRA_PATCH_AUTHOR is set (${PRA_PATCH_AUTHOR}): the committed series has the default author; unset it to verify"
  die "patches/ is stale: run hack/update-patches.sh and commit the result"
fi
rm -f "${out}.diff"
log "patches/ is up to date with pkg/"
