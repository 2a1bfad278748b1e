# shellcheck shell=bash
# Helpers shared by patch-tekton.sh, update-patches.sh and verify-patches.sh.
# Source lib.sh first. They work on the line PRA_TEKTON_LINE selects (see
# TEKTON_LINES in lib.sh) unless given another.

# These scripts' git commands work on the Tekton trees they make, with
# git -C. Run from a git hook or `git rebase --exec`, git exports GIT_DIR
# (the repository being rebased), which -C does not override: git init would
# then re-initialise that repository as a bare one and the trees' commits
# would land on its branch.
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_COMMON_DIR GIT_OBJECT_DIRECTORY GIT_PREFIX

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
# The tag of the base commit of a tree of this line (patch-tekton.sh).
# shellcheck disable=SC2034 # used by patch-tekton.sh
readonly PATCH_BASE_TAG="base-${TEKTON_VERSION}"

# The engine: pkg/podaffinity and its reference page, at the same paths in
# this repository and in Tekton's tree. The first patches of every line's
# series add it, one group of files each, as ENGINE_MANIFEST lists them (the
# same patches on every line); the line's hook patches follow.
readonly ENGINE_DIR="pkg/podaffinity"
readonly ENGINE_DOC="docs/pipelinerun-pod-affinity.md"
# shellcheck disable=SC2034 # used by update-patches.sh
readonly ENGINE_MANIFEST="${PRA_HACK}/patches/engine/series"

# The most lines a patch of the series may add or remove, files under docs/
# apart: the size of a pull request Tekton reviews. update-patches.sh fails
# when an engine patch is larger; verify-prefixes.sh checks every patch of
# the series but those OVER_LIMIT lists.
readonly PATCH_LINE_LIMIT=800
# Patches of the main line larger than PATCH_LINE_LIMIT, each with why,
# named without their number ("0007-" apart), which moves when the engine's
# groups change.
# shellcheck disable=SC2034 # used by update-patches.sh and verify-prefixes.sh
readonly OVER_LIMIT=(
  # none: every patch of the main line is within the limit.
)

# Hook patches of an older line whose changes may differ from the main
# line's patch of the same name ("LINE/PATCH", the patch named without its
# number, which moves when the engine's groups change); verify-patches.sh
# checks that every other hook patch makes the same changes as the main
# line's, in the context of its own release (see hook_changes). Each entry
# says why.
# shellcheck disable=SC2034 # used by verify-patches.sh
readonly HOOKS_MAY_DIFFER=(
  # v1.12.2 and v1.9.2 pass no workspaces to child PipelineRuns
  # (getChildPipelineRunWorkspaces, v1.15 on): the hook has one reader of the
  # Affinity Assistant's behaviour fewer to turn to affinityAssistantBehavior.
  v1.12/pipelinerun-place-PipelineRuns-with-the-pod-affinity.patch
  # v1.9.2's Affinity Assistant never deletes volumeClaimTemplate PVCs with
  # coschedule: workspaces and has no AutoCleanupPVCAnnotation (v1.12 on):
  # deletesTemplatePVCs (in the hook's functions) and its test follow it;
  # the hook's call sites differ as on v1.12.
  v1.9/pipelinerun-what-the-reconcile-asks-the-pod-affinity.patch
  v1.9/pipelinerun-place-PipelineRuns-with-the-pod-affinity.patch
  v1.9/pipelinerun-test-the-decision-s-lifecycle-and-what-a.patch
)

# git_fixed ARGS... : git with the series' identity and dates.
git_fixed() {
  GIT_AUTHOR_NAME="${PATCH_IDENT_NAME}" GIT_AUTHOR_EMAIL="${PATCH_IDENT_EMAIL}" \
    GIT_COMMITTER_NAME="${PATCH_IDENT_NAME}" GIT_COMMITTER_EMAIL="${PATCH_IDENT_EMAIL}" \
    GIT_AUTHOR_DATE="${PATCH_DATE}" GIT_COMMITTER_DATE="${PATCH_DATE}" \
    git -c core.autocrlf=false -c commit.gpgsign=false -c advice.detachedHead=false "$@"
}

# make_base_tree DEST [VERSION] : a git repository at DEST holding Tekton
# VERSION (default ${TEKTON_VERSION}; from the Go module cache) as one commit
# tagged base-VERSION.
make_base_tree() {
  local dest="$1" version="${2:-${TEKTON_VERSION}}" src
  src="$(tekton_upstream_src "${version}")" || die "cannot download Tekton ${version} source"
  rm -rf "${dest}"
  mkdir -p "${dest}"
  cp -r "${src}/." "${dest}/"
  chmod -R u+w "${dest}"
  (
    cd "${dest}"
    git init -q -b main .
    git add -A
    git_fixed commit -q -m "Tekton Pipelines ${version}"
    git tag "base-${version}"
  )
}

# add_base_commit REPO VERSION : a root commit in the git repository REPO
# holding Tekton VERSION, tagged base-VERSION; the work tree is not touched.
# With two releases in one repository, git rebase can carry commits from one
# to the other with a three-way merge.
add_base_commit() {
  local repo="$1" version="$2" src index tree commit
  src="$(tekton_upstream_src "${version}")" || die "cannot download Tekton ${version} source"
  index="$(mktemp)"
  rm -f "${index}"
  tree="$(GIT_INDEX_FILE="${index}" git -C "${repo}" --work-tree="${src}" add -A \
    && GIT_INDEX_FILE="${index}" git -C "${repo}" write-tree)" || die "recording Tekton ${version} in ${repo} failed"
  rm -f "${index}"
  commit="$(git_fixed -C "${repo}" commit-tree -m "Tekton Pipelines ${version}" "${tree}")" \
    || die "committing Tekton ${version} in ${repo} failed"
  git -C "${repo}" tag "base-${version}" "${commit}"
}

# series_patches [DIR] : the patch file names listed in DIR/series (default:
# the series of PRA_TEKTON_LINE), in order.
series_patches() {
  local series
  series="${1:-$(tekton_line_patches "${PRA_TEKTON_LINE}")}/series"
  [[ -f "${series}" ]] || return 0
  grep -Ev '^[[:space:]]*(#|$)' "${series}"
}

# apply_series DEST [SKIP] : git am the series of PRA_TEKTON_LINE onto DEST,
# skipping the first SKIP patches.
apply_series() {
  local dest="$1" skip="${2:-0}" n=0 p dir
  dir="$(tekton_line_patches "${PRA_TEKTON_LINE}")"
  while read -r p; do
    n=$((n + 1))
    [[ "${n}" -le "${skip}" ]] && continue
    git_fixed -C "${dest}" am -q --committer-date-is-author-date "${dir}/${p}" \
      || die "${dir#"${PRA_ROOT}/"}/${p} does not apply to Tekton ${TEKTON_VERSION} (see git -C ${dest} am --show-current-patch)"
  done < <(series_patches "${dir}")
}

# tree_line TREE : the line of a Tekton tree made by patch-tekton.sh (or by
# update-patches.sh --port): the line whose base-<release> tag HEAD descends
# from.
tree_line() {
  local line
  for line in "${TEKTON_LINES[@]}"; do
    if git -C "$1" merge-base --is-ancestor "base-$(tekton_line_version "${line}")" HEAD 2>/dev/null; then
      printf '%s\n' "${line}"
      return 0
    fi
  done
  return 1
}

# hook_changes PATCH : what PATCH changes, without its message, context lines,
# hunk positions or blob ids: per file, the lines it removes and adds. Two
# lines' versions of a hook patch make the same changes when these are equal.
hook_changes() {
  awk '
    /^diff --git / { indiff = 1; print; next }
    !indiff { next }
    /^(---|\+\+\+) / { next }
    /^[-+]/ { print }
  ' "$1"
}

# engine_path PATH : true when PATH (relative to a tree's root) belongs to
# the engine: under ENGINE_DIR, or ENGINE_DOC.
engine_path() { [[ "$1" == "${ENGINE_DIR}/"* || "$1" == "${ENGINE_DOC}" ]]; }

# engine_paths : true when the paths read from stdin, one a line, are at
# least one and all the engine's.
engine_paths() {
  local path n=0
  while IFS= read -r path; do
    [[ -n "${path}" ]] || continue
    engine_path "${path}" || return 1
    n=$((n + 1))
  done
  ((n > 0))
}

# patch_paths PATCH : the paths a patch file changes, one a line.
patch_paths() { sed -n 's|^diff --git a/\([^ ]*\) b/.*$|\1|p' "$1"; }

# commit_paths REPO COMMIT : the paths a commit changes, one a line.
commit_paths() { git -C "$1" diff-tree --no-commit-id --name-only -r --root "$2"; }

# hook_patches DIR : the hook patches of the series in DIR, in order: the
# patches after the leading ones that change only the engine's files. Both
# the series of this layout (several engine patches) and the older one (one)
# are read right, so --from and --port work on trees made from either.
hook_patches() {
  local p hooks=0
  while read -r p; do
    if ((hooks == 0)) && patch_paths "$1/${p}" | engine_paths; then
      continue
    fi
    hooks=1
    printf '%s\n' "${p}"
  done < <(series_patches "$1")
}

# changed_lines PATCH : the lines PATCH adds or removes, files under docs/
# apart (the hunks' "+" and "-" lines; not the message or file headers).
changed_lines() {
  awk '
    /^diff --git / { docs = ($3 ~ /^a\/docs\//); inhunk = 0; next }
    /^@@ / { inhunk = 1; next }
    inhunk && !docs && /^[-+]/ { n++ }
    END { print n + 0 }
  ' "$1"
}

# unnumbered PATCH : the patch file name without its "NNNN-" number.
unnumbered() { printf '%s\n' "${1#[0-9][0-9][0-9][0-9]-}"; }
