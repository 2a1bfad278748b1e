#!/usr/bin/env bash
# Usage: hack/update-patches.sh [--from TREE] [--port LINE]... [--out DIR]
#
# Regenerates the patch series of every Tekton line (TEKTON_LINES in
# hack/lib.sh: v1.15, the main line, then v1.12 and v1.9) from pkg/ and the
# hook patches. For each line:
#   1. a fresh Tekton tree at the line's release;
#   2. the engine patches (the same on every line): a copy of pkg/podaffinity
#      at pkg/podaffinity, with this module's import path rewritten to
#      Tekton's, and of docs/pipelinerun-pod-affinity.md, committed one group
#      of files at a time as hack/patches/engine/series lists them, each with
#      its message. It fails when a file of pkg/podaffinity is in no group or
#      in two, when a group names no file, or when a group's patch adds or
#      removes more than PATCH_LINE_LIMIT lines (hack/patchlib.sh; files under
#      docs/ apart);
#   3. the line's hook patches: the patches after the engine's in the line's
#      series, or
#      - with --from TREE, if TREE is of that line: the hook commits of TREE
#        (a tree made by hack/patch-tekton.sh, with PRA_TEKTON_LINE=LINE for
#        an older line, in which you edited and committed the hooks; its
#        commits after those that change only the engine's files);
#      - with --port LINE: the main line's hook patches, as just regenerated,
#        carried onto LINE's release by git rebase (a three-way merge). When
#        that conflicts the script stops and keeps the tree: resolve the
#        conflicts there, git rebase --continue, then run
#        hack/update-patches.sh --from TREE;
#   4. `git format-patch` of the result into the line's directory: patches/
#      for the main line, patches/LINE for the others (with --out DIR: DIR
#      and DIR/LINE).
# The output is byte-for-byte reproducible; hack/verify-patches.sh relies on it.
# Every patch has the author PRA_PATCH_AUTHOR ("Name <email>"; by default the
# project's maintainers, see patchlib.sh), whoever wrote the hook commits.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "${PRA_HACK}/patchlib.sh"

usage() { die "usage: $0 [--from TREE] [--port LINE]... [--out DIR]"; }
from="" from_line="" out="${PRA_ROOT}/patches"
declare -A port=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) [[ $# -ge 2 ]] || usage; from="$2"; shift 2 ;;
    --port)
      [[ $# -ge 2 ]] || usage
      tekton_line_version "$2" >/dev/null || exit 1
      [[ "$2" != "${TEKTON_LINES[0]}" ]] || die "--port carries the main line's hooks to another line; ${2} is the main line"
      port["$2"]=1
      shift 2
      ;;
    --out) [[ $# -ge 2 ]] || usage; out="$2"; shift 2 ;;
    *) usage ;;
  esac
done
require_go
if [[ -n "${from}" ]]; then
  from_line="$(tree_line "${from}")" || die "${from} is not a Tekton tree made by hack/patch-tekton.sh (no base-<release> tag below HEAD)"
  [[ -z "${port[${from_line}]:-}" ]] || die "--from ${from} and --port ${from_line} both give the hooks of ${from_line}"
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

# line_out LINE : where LINE's series is written.
line_out() {
  if [[ "$1" == "${TEKTON_LINES[0]}" ]]; then
    printf '%s\n' "${out}"
  else
    printf '%s\n' "${out}/$1"
  fi
}

# hooks_from_tree TREE HOOKS : the hook commits of TREE (its commits after
# the leading ones that change only the engine's files) as patches in HOOKS.
hooks_from_tree() {
  local tree="$1" hooks="$2" base c first=""
  local -a commits
  base="base-$(tekton_line_version "$(tree_line "${tree}")")"
  mapfile -t commits < <(git -C "${tree}" rev-list --reverse "${base}..HEAD")
  ((${#commits[@]})) || die "${tree} has no commits after ${base}"
  for c in "${commits[@]}"; do
    if ! commit_paths "${tree}" "${c}" | engine_paths; then
      first="${c}"
      break
    fi
  done
  [[ -n "${first}" ]] || die "${tree} has no hook commits: every commit after ${base} changes only ${ENGINE_DIR}/ and ${ENGINE_DOC}"
  git -C "${tree}" format-patch -q --zero-commit --no-signature -o "${hooks}" "${first}^..HEAD"
  # Authorship dates of local commits are noise in the series: fix them.
  local p
  for p in "${hooks}"/*.patch; do
    [[ -e "${p}" ]] || continue
    sed -i '0,/^Date: /s/^Date: .*/Date: Thu, 1 Jan 2026 00:00:00 +0000/' "${p}"
  done
}

# hooks_ported LINE HOOKS : the main line's series, as written to
# $(line_out main), rebased onto LINE's release; its hook commits into HOOKS.
hooks_ported() {
  local line="$1" hooks="$2" main version tree p
  main="$(tekton_line_version "${TEKTON_LINES[0]}")"
  version="$(tekton_line_version "${line}")"
  tree="$(mktemp -d "${TMPDIR:-/tmp}/pra-port-${line}.XXXXXX")"
  log "${line}: porting the ${TEKTON_LINES[0]} hooks onto Tekton ${version} in ${tree}"
  make_base_tree "${tree}" "${main}"
  while read -r p; do
    git_fixed -C "${tree}" am -q --committer-date-is-author-date "$(line_out "${TEKTON_LINES[0]}")/${p}" \
      || die "$(line_out "${TEKTON_LINES[0]}")/${p} does not apply to Tekton ${main}"
  done < <(series_patches "$(line_out "${TEKTON_LINES[0]}")")
  add_base_commit "${tree}" "${version}"
  if ! git_fixed -C "${tree}" rebase -q --onto "base-${version}" "base-${main}" main >&2; then
    die "the ${TEKTON_LINES[0]} hooks do not apply cleanly to Tekton ${version}: resolve the conflicts in ${tree} (git -C ${tree} status; edit, git add, git rebase --continue), then run hack/update-patches.sh --from ${tree}"
  fi
  hooks_from_tree "${tree}" "${hooks}"
  rm -rf "${tree}"
}

# read_manifest : reads ENGINE_MANIFEST into GROUP_MESSAGES (the message
# file of each group, in order) and GROUP_FILES (its files, relative to the
# repository root, space-separated), expanding the globs in this repository.
# Dies when the manifest is malformed, a message file is missing, a glob
# matches no file, a file is in two groups, or a file of the engine is in
# none.
declare -a GROUP_MESSAGES=() GROUP_FILES=()
read_manifest() {
  local raw lineno=0 message globs glob f i
  local -a entries=() matches
  local -A group_of=()
  [[ -f "${ENGINE_MANIFEST}" ]] || die "${ENGINE_MANIFEST} is missing"
  # Groups: "MESSAGE: GLOB...", continued on indented lines.
  while IFS= read -r raw || [[ -n "${raw}" ]]; do
    lineno=$((lineno + 1))
    [[ "${raw}" =~ ^[[:space:]]*(#|$) ]] && continue
    if [[ "${raw}" =~ ^[[:space:]] ]]; then
      ((${#entries[@]})) || die "${ENGINE_MANIFEST}:${lineno}: a continuation line before any group"
      entries[-1]+=" ${raw}"
    elif [[ "${raw}" == *:* ]]; then
      entries+=("${raw}")
    else
      die "${ENGINE_MANIFEST}:${lineno}: want \"MESSAGE_FILE: GLOB...\" or an indented line of globs, not \"${raw}\""
    fi
  done < "${ENGINE_MANIFEST}"
  ((${#entries[@]})) || die "${ENGINE_MANIFEST} lists no group"
  shopt -s nullglob
  for i in "${!entries[@]}"; do
    message="${entries[i]%%:*}"
    message="${message//[[:space:]]/}"
    globs="${entries[i]#*:}"
    [[ -f "$(dirname "${ENGINE_MANIFEST}")/${message}" ]] \
      || die "${ENGINE_MANIFEST}: group $((i + 1)): its message file ${message} is not beside it"
    [[ -n "${globs//[[:space:]]/}" ]] || die "${ENGINE_MANIFEST}: group $((i + 1)) (${message}) lists no file"
    local files=""
    for glob in ${globs}; do
      # shellcheck disable=SC2206 # the glob expands here, in the repository
      matches=(${PRA_ROOT}/${glob})
      ((${#matches[@]})) || die "${ENGINE_MANIFEST}: ${glob} (group ${message}) matches no file"
      for f in "${matches[@]}"; do
        f="${f#"${PRA_ROOT}/"}"
        [[ -f "${PRA_ROOT}/${f}" ]] && engine_path "${f}" \
          || die "${ENGINE_MANIFEST}: ${glob} (group ${message}) matches ${f}, which is not a file of ${ENGINE_DIR}/ or ${ENGINE_DOC}"
        [[ -z "${group_of[${f}]:-}" ]] \
          || die "${ENGINE_MANIFEST}: ${f} is in two groups, ${group_of[${f}]} and ${message}"
        group_of["${f}"]="${message}"
        files+=" ${f}"
      done
    done
    GROUP_MESSAGES+=("${message}")
    GROUP_FILES+=("${files# }")
  done
  shopt -u nullglob
  local -a missing=()
  while IFS= read -r f; do
    [[ -n "${group_of[${f}]:-}" ]] || missing+=("${f}")
  done < <(cd "${PRA_ROOT}" && { find "${ENGINE_DIR}" -type f; echo "${ENGINE_DOC}"; } | LC_ALL=C sort)
  ((${#missing[@]} == 0)) || die "these files are in no group of ${ENGINE_MANIFEST}, so no patch would add them: ${missing[*]}. Add each to the group of the patch that should carry it (mind the ${PATCH_LINE_LIMIT}-line limit), or to a new group"
}

# commit_engine TREE : commits the engine's files, copied into TREE, one
# group of GROUP_FILES at a time; dies when a commit adds or removes more
# than PATCH_LINE_LIMIT lines, files under docs/ apart.
commit_engine() {
  local tree="$1" i n subject name left
  local -a files
  for i in "${!GROUP_MESSAGES[@]}"; do
    read -r -a files <<<"${GROUP_FILES[i]}"
    git -C "${tree}" add -- "${files[@]}"
    git_fixed -C "${tree}" commit -q -F "$(dirname "${ENGINE_MANIFEST}")/${GROUP_MESSAGES[i]}"
    n="$(git -C "${tree}" diff --numstat HEAD^ HEAD | awk '$3 !~ /^docs\// { n += $1 + $2 } END { print n + 0 }')"
    if ((n > PATCH_LINE_LIMIT)); then
      subject="$(git -C "${tree}" log -1 --format=%s)"
      name="$(git -C "${tree}" format-patch -1 --zero-commit --no-signature -o "${work}/names" HEAD)"
      if [[ " ${OVER_LIMIT[*]} " == *" $(unnumbered "$(basename "${name}")") "* ]]; then
        warn "engine patch $((i + 1)) (\"${subject}\") adds or removes ${n} lines, more than ${PATCH_LINE_LIMIT}: OVER_LIMIT (hack/patchlib.sh) lets it"
        continue
      fi
      die "engine patch $((i + 1)) (\"${subject}\", group ${GROUP_MESSAGES[i]}) adds or removes ${n} lines, more than ${PATCH_LINE_LIMIT} (docs/ apart): split its group in ${ENGINE_MANIFEST}. Its files, by size: $(git -C "${tree}" diff --numstat HEAD^ HEAD | sort -rn | awk '{ printf "%s%s (%d)", sep, $3, $1 + $2; sep = ", " }')"
    fi
  done
  left="$(git -C "${tree}" status --porcelain -- "${ENGINE_DIR}" "${ENGINE_DOC}")"
  [[ -z "${left}" ]] || die "files of the engine left out of every engine patch: ${left}"
}

# regenerate LINE : writes LINE's series.
regenerate() {
  local line="$1" version dest hooks tree n p
  version="$(tekton_line_version "${line}")"
  dest="$(line_out "${line}")"
  hooks="${work}/hooks-${line}"
  mkdir -p "${hooks}"
  if [[ "${line}" == "${from_line}" ]]; then
    hooks_from_tree "${from}" "${hooks}"
  elif [[ -n "${port[${line}]:-}" ]]; then
    hooks_ported "${line}" "${hooks}"
  else
    while read -r p; do
      cp "$(tekton_line_patches "${line}")/${p}" "${hooks}/"
    done < <(hook_patches "$(tekton_line_patches "${line}")")
  fi

  tree="${work}/tekton-${line}"
  log "${line}: creating a Tekton ${version} tree"
  make_base_tree "${tree}" "${version}"

  log "${line}: copying pkg/podaffinity into Tekton's tree"
  mkdir -p "${tree}/pkg/podaffinity"
  cp -r "${PRA_ROOT}/pkg/podaffinity/." "${tree}/pkg/podaffinity/"
  find "${tree}/pkg/podaffinity" -name '*.go' -exec \
    sed -i 's#github.com/tekton-affinity/pipelinerun-affinity/pkg/#github.com/tektoncd/pipeline/pkg/#g' {} +
  # The new import path sorts elsewhere among the imports: format again.
  gofmt -w "${tree}/pkg/podaffinity"
  cp "${PRA_ROOT}/docs/pipelinerun-pod-affinity.md" "${tree}/docs/pipelinerun-pod-affinity.md"
  commit_engine "${tree}"

  log "${line}: applying $(find "${hooks}" -name '*.patch' | wc -l) hook patches"
  for p in "${hooks}"/*.patch; do
    [[ -e "${p}" ]] || continue
    git_fixed -C "${tree}" am -q --committer-date-is-author-date "${p}" \
      || die "${line}: hook patch $(basename "${p}") does not apply to Tekton ${version} on top of the regenerated engine patches"
    # git am keeps the patch's own author (a --from tree's, or the committed
    # series'): the whole series gets the one of patchlib.sh (PRA_PATCH_AUTHOR).
    git_fixed -C "${tree}" commit -q --amend --no-edit --cleanup=verbatim --reset-author
  done

  log "${line}: writing the series to ${dest}"
  mkdir -p "${dest}"
  rm -f "${dest}"/*.patch "${dest}/series"
  git -C "${tree}" format-patch -q --zero-commit --no-signature --no-numbered \
    --subject-prefix=PATCH -o "${dest}" "base-${version}..HEAD"
  {
    echo "# The ${line} line: git am these patches, in this order, onto Tekton ${version}."
    (cd "${dest}" && ls -1 ./*.patch | sed 's|^\./||')
  } > "${dest}/series"
}

read_manifest
for line in "${TEKTON_LINES[@]}"; do
  regenerate "${line}"
done
(cd "${out}" && find . -name '*.patch' -o -name series) | LC_ALL=C sort | sed 's|^\./||' >&2
