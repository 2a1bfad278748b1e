#!/usr/bin/env bash
# Usage: hack/check-e2e-flags.sh TREE BASE
#
# Checks that Tekton's own e2e machinery knows every per-feature flag the
# series adds, as it knows its other alpha per-feature flags
# (enable-param-enum, enable-artifacts, ...): for each "enable-*" key that
# the commits BASE..HEAD of the Tekton tree TREE add to
# config/config-feature-flags.yaml,
#   - test/e2e-tests.sh defaults its variable (ENABLE_PARAM_ENUM for
#     enable-param-enum) to "false" and patches the ConfigMap key from it;
#   - test/e2e-tests-kind-alpha.env, the alpha e2e job, sets it to true
#     (enable-api-fields: "alpha" turns no per-feature flag on);
#   - docs/additional-configs.md lists it as the individual flag of a row
#     of its alpha features' table.
# Fails naming what is missing. hack/test.sh's tekton stage runs it on
# every line's patched tree.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: $0 TREE BASE"
tree="$1"
base="$2"

keys="$(git -C "${tree}" diff "${base}" HEAD -- config/config-feature-flags.yaml \
  | sed -nE 's/^\+ +(enable-[a-z0-9-]+):.*/\1/p' | sort -u)"
[[ -n "${keys}" ]] || die "the series adds no enable-* key to config/config-feature-flags.yaml of ${tree}"

missing=()
while IFS= read -r key; do
  var="$(tr 'a-z-' 'A-Z_' <<<"${key}")"
  grep -qxF "${var}=\${${var}:=\"false\"}" "${tree}/test/e2e-tests.sh" \
    || missing+=("test/e2e-tests.sh: no default ${var}=\${${var}:=\"false\"}")
  grep -qF "\\\"${key}\\\": " "${tree}/test/e2e-tests.sh" \
    || missing+=("test/e2e-tests.sh: no patch of the feature-flags key ${key}")
  grep -qE "^set_[a-z_]+ \"\\\$${var}\"\$" "${tree}/test/e2e-tests.sh" \
    || missing+=("test/e2e-tests.sh: no call setting ${key} from \$${var}")
  grep -qxF "${var}=true" "${tree}/test/e2e-tests-kind-alpha.env" \
    || missing+=("test/e2e-tests-kind-alpha.env: no ${var}=true")
  awk -v flag="\`${key}\`" '
    /^### Alpha Features/ { alpha = 1; next }
    /^### / { alpha = 0 }
    alpha && /^\|/ && index($0, flag) { found = 1 }
    END { exit !found }
  ' "${tree}/docs/additional-configs.md" \
    || missing+=("docs/additional-configs.md: no row of the alpha features' table names ${key}")
done <<<"${keys}"

if ((${#missing[@]} > 0)); then
  printf '%s\n' "${missing[@]}" >&2
  die "Tekton's e2e machinery in ${tree} does not know the series' per-feature flags (${#missing[@]} problems above)"
fi
log "Tekton's e2e scripts and alpha features' table know the series' flags: ${keys//$'\n'/ }"
