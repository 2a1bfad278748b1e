# shellcheck shell=bash
# Helpers shared by patch-tekton.sh and update-patches.sh. Source lib.sh first.

# Every commit of the series is made with this identity and these dates, so
# that regenerating the series from the same inputs gives the same bytes.
readonly PATCH_IDENT_NAME="pipelinerun-affinity"
readonly PATCH_IDENT_EMAIL="maintainers@pipelinerun-affinity.invalid"
readonly PATCH_DATE="2026-01-01T00:00:00Z"
readonly PATCH_BASE_TAG="base-${TEKTON_VERSION}"

# git_fixed ARGS... : git with the series' identity and dates.
git_fixed() {
  GIT_AUTHOR_NAME="${PATCH_IDENT_NAME}" GIT_AUTHOR_EMAIL="${PATCH_IDENT_EMAIL}" \
    GIT_COMMITTER_NAME="${PATCH_IDENT_NAME}" GIT_COMMITTER_EMAIL="${PATCH_IDENT_EMAIL}" \
    GIT_AUTHOR_DATE="${PATCH_DATE}" GIT_COMMITTER_DATE="${PATCH_DATE}" \
    git -c core.autocrlf=false -c commit.gpgsign=false -c advice.detachedHead=false "$@"
}

# make_base_tree DEST : a git repository at DEST holding Tekton ${TEKTON_VERSION}
# (from the Go module cache) as one commit tagged ${PATCH_BASE_TAG}.
make_base_tree() {
  local dest="$1" src
  src="$(tekton_upstream_src)" || die "cannot download Tekton ${TEKTON_VERSION} source"
  rm -rf "${dest}"
  mkdir -p "${dest}"
  cp -r "${src}/." "${dest}/"
  chmod -R u+w "${dest}"
  (
    cd "${dest}"
    git init -q -b main .
    git add -A
    git_fixed commit -q -m "Tekton Pipelines ${TEKTON_VERSION}"
    git tag "${PATCH_BASE_TAG}"
  )
}

# series_patches : the patch file names listed in patches/series, in order.
series_patches() {
  local series="${PRA_ROOT}/patches/series"
  [[ -f "${series}" ]] || return 0
  grep -Ev '^[[:space:]]*(#|$)' "${series}"
}

# apply_series DEST [SKIP] : git am the series onto DEST, skipping the first SKIP patches.
apply_series() {
  local dest="$1" skip="${2:-0}" n=0 p
  while read -r p; do
    n=$((n + 1))
    [[ "${n}" -le "${skip}" ]] && continue
    git_fixed -C "${dest}" am -q --committer-date-is-author-date "${PRA_ROOT}/patches/${p}" \
      || die "patches/${p} does not apply to Tekton ${TEKTON_VERSION} (see git -C ${dest} am --show-current-patch)"
  done < <(series_patches)
}
