#!/usr/bin/env bash
# Usage: hack/update-patches.sh [--from TREE] [--out DIR]
#
# Regenerates the patch series from pkg/ and the hook patches:
#   1. a fresh Tekton tree at the pinned tag;
#   2. patch 0001: a copy of pkg/podaffinity at pkg/podaffinity, with this
#      module's import path rewritten to Tekton's, and of
#      docs/pipelinerun-pod-affinity.md;
#   3. the hook patches (every later patch of patches/series, or, with
#      --from, the hook commits of TREE: a tree made by hack/patch-tekton.sh
#      in which you edited and committed the hooks);
#   4. `git format-patch` of the result into patches/ (or --out DIR).
# The output is byte-for-byte reproducible; hack/verify-patches.sh relies on it.
# Every patch has the author PRA_PATCH_AUTHOR ("Name <email>"; by default the
# project's maintainers, see patchlib.sh), whoever wrote the hook commits.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${PRA_HACK}/patchlib.sh"

from="" out="${PRA_ROOT}/patches"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) from="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) die "usage: $0 [--from TREE] [--out DIR]" ;;
  esac
done
require_go

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
hooks="${work}/hooks"
mkdir -p "${hooks}"
if [[ -n "${from}" ]]; then
  # The hook commits of TREE are everything after its first patch.
  first="$(git -C "${from}" rev-list --reverse "${PATCH_BASE_TAG}..HEAD" | head -1)"
  [[ -n "${first}" ]] || die "${from} has no commits after ${PATCH_BASE_TAG}"
  git -C "${from}" format-patch -q --zero-commit --no-signature -o "${hooks}" "${first}..HEAD"
  # Authorship dates of local commits are noise in the series: fix them.
  sed -i '0,/^Date: /s/^Date: .*/Date: Thu, 1 Jan 2026 00:00:00 +0000/' "${hooks}"/*.patch
else
  n=0
  while read -r p; do
    n=$((n + 1))
    [[ "${n}" -eq 1 ]] && continue
    cp "${PRA_ROOT}/patches/${p}" "${hooks}/"
  done < <(series_patches)
fi

tree="${work}/tekton"
log "Creating Tekton ${TEKTON_VERSION} tree"
make_base_tree "${tree}"

log "Copying pkg/podaffinity into Tekton's tree"
mkdir -p "${tree}/pkg/podaffinity"
cp -r "${PRA_ROOT}/pkg/podaffinity/." "${tree}/pkg/podaffinity/"
find "${tree}/pkg/podaffinity" -name '*.go' -exec \
  sed -i 's#github.com/tekton-affinity/pipelinerun-affinity/pkg/#github.com/tektoncd/pipeline/pkg/#g' {} +
# The new import path sorts elsewhere among the imports: format again.
gofmt -w "${tree}/pkg/podaffinity"
cp "${PRA_ROOT}/docs/pipelinerun-pod-affinity.md" "${tree}/docs/pipelinerun-pod-affinity.md"
git -C "${tree}" add pkg/podaffinity docs/pipelinerun-pod-affinity.md
git_fixed -C "${tree}" commit -q -F "${PRA_HACK}/patches/0001-message.txt"

log "Applying $(find "${hooks}" -name '*.patch' | wc -l) hook patches"
for p in "${hooks}"/*.patch; do
  [[ -e "${p}" ]] || continue
  git_fixed -C "${tree}" am -q --committer-date-is-author-date "${p}" \
    || die "hook patch $(basename "${p}") does not apply on top of the regenerated engine patch"
  # git am keeps the patch's own author (a --from tree's, or the committed
  # series'): the whole series gets the one of patchlib.sh (PRA_PATCH_AUTHOR).
  git_fixed -C "${tree}" commit -q --amend --no-edit --cleanup=verbatim --reset-author
done

log "Writing the series to ${out}"
mkdir -p "${out}"
rm -f "${out}"/*.patch "${out}/series"
git -C "${tree}" format-patch -q --zero-commit --no-signature --no-numbered \
  --subject-prefix=PATCH -o "${out}" "${PATCH_BASE_TAG}..HEAD"
{
  echo "# Apply in this order with: git am \$(sed 's|^|patches/|' patches/series)"
  (cd "${out}" && ls -1 ./*.patch | sed 's|^\./||')
} > "${out}/series"
ls -1 "${out}" >&2
