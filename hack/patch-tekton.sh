#!/usr/bin/env bash
# Usage: [PRA_TEKTON_LINE=LINE] hack/patch-tekton.sh DEST
#
# Creates a git checkout of Tekton Pipelines at the release of the line
# (default the main line, v1.15: v1.15.0; v1.12: v1.12.2; v1.9: v1.9.2) in
# DEST, from the Go module cache (a real user would `git clone` the tag
# instead), tagged base-<release>, and applies the line's series (patches/,
# patches/v1.12, patches/v1.9) with `git am`, one commit per patch.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${PRA_HACK}/patchlib.sh"

[[ $# -eq 1 ]] || die "usage: $0 DEST"
require_go
dest="$1"
log "Creating Tekton ${TEKTON_VERSION} tree in ${dest}"
make_base_tree "${dest}"
log "Applying $(series_patches | wc -l) patches with git am"
apply_series "${dest}"
git -C "${dest}" log --oneline "${PATCH_BASE_TAG}..HEAD" >&2
