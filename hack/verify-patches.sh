#!/usr/bin/env bash
# Usage: hack/verify-patches.sh
#
# Fails when the committed patch series differs from a regeneration from
# pkg/ (for example after a change to pkg/ without hack/update-patches.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="$(mktemp -d)"
trap 'rm -rf "${out}"' EXIT
"${PRA_HACK}/update-patches.sh" --out "${out}"
if ! diff -ru "${PRA_ROOT}/patches" "${out}" > "${out}.diff"; then
  head -100 "${out}.diff" >&2
  rm -f "${out}.diff"
  die "patches/ is stale: run hack/update-patches.sh and commit the result"
fi
rm -f "${out}.diff"
log "patches/ is up to date with pkg/"
