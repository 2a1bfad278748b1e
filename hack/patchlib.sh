# shellcheck shell=bash
# Helpers shared by patch-tekton.sh and update-patches.sh. Source lib.sh first.

# Every commit of the series is made with one identity, as author and
# committer, and fixed dates, so that regenerating the series from the same
# inputs gives the same bytes. The identity is PRA_PATCH_AUTHOR ("Name
# <email>"), by default the project's maintainers: set it to send the series
# under your own name (hack/update-patches.sh --out DIR), and set it the same
# way for hack/verify-patches.sh, which regenerates the committed series.
readonly PATCH_AUTHOR_DEFAULT="tekton-affinity maintainers <tekton-affinity@users.noreply.github.com>"
readonly PATCH_AUTHOR="${PRA_PATCH_AUTHOR:-${PATCH_AUTHOR_DEFAULT}}"
_pra_ident_re='^[[:space:]]*([^<>]*[^<>[:space:]])[[:space:]]+<([^<>[:space:]@]+@[^<>[:space:]@]+)>[[:space:]]*$'
[[ "${PATCH_AUTHOR}" =~ ${_pra_ident_re} ]] \
  || die "PRA_PATCH_AUTHOR must be \"Name <email>\", not \"${PATCH_AUTHOR}\""
readonly PATCH_IDENT_NAME="${BASH_REMATCH[1]}"
readonly PATCH_IDENT_EMAIL="${BASH_REMATCH[2]}"
unset _pra_ident_re
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
