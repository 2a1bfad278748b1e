#!/usr/bin/env bash
# Build the local-cluster binaries that are missing from the cache:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok,
#   provisioner (the local volume provisioner of hack/tools/provisioner)
# into $PRA_STATE_DIR/bin/<component>-<version>/<component>.
# A binary already in the cache is reused; a second run builds nothing.
#
# Usage: hack/build-binaries.sh [--force] [COMPONENT...]
#   COMPONENT limits the build to some of the components listed above, or
#   names "karpenter" (Karpenter's kwok cloud provider, hack/tools/karpenter),
#   "kueue" (Kueue's manager, hack/tools/kueue) or "kubelet" (hack/tools/kube),
#   which are only built when asked for (cluster.sh up --autoscaler karpenter,
#   cluster.sh up --kueue, cluster.sh up --real-nodes N).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

ALL_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok provisioner)
# karpenter and kubelet are not in ALL_COMPONENTS: a cold build takes minutes
# and only clusters started with --autoscaler karpenter or --real-nodes need
# them.
FORCE=0
WANTED=()
while (($#)); do
  case "$1" in
    --force) FORCE=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kwok | provisioner | karpenter | kueue | kubelet) WANTED+=("$1") ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done
((${#WANTED[@]})) || WANTED=("${ALL_COMPONENTS[@]}")

require_go
mkdir -p "${PRA_BIN_DIR}"

# Serialise builds: two concurrent Kubernetes builds on a small machine are
# slower than one after the other, and must not write the same files.
exec 9>"${PRA_BIN_DIR}/.build.lock"
if ! flock -n 9; then
  log "another build holds ${PRA_BIN_DIR}/.build.lock; waiting for it"
  flock 9
fi

KUBE_COMPONENTS=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)

# needs_build COMPONENT : true when COMPONENT was asked for and its cached
# binary is missing (or --force).
needs_build() {
  local path
  [[ " ${WANTED[*]} " == *" $1 "* ]] || return 1
  path="$(bin_path "$1")"
  if ((FORCE == 0)) && [[ -x "${path}" ]]; then
    log "reusing $1 (${path})"
    return 1
  fi
  return 0
}

# install_bin TMPFILE COMPONENT : move a fresh build into its cache slot.
install_bin() {
  local dest
  dest="$(bin_path "$2")"
  mkdir -p "$(dirname "${dest}")"
  mv -f "$1" "${dest}"
  log "built $2 -> ${dest}"
}

TMP_BUILD="$(mktemp -d "${PRA_BIN_DIR}/.build.XXXXXX")"
trap 'rm -rf "${TMP_BUILD}"' EXIT

# --- etcd ------------------------------------------------------------------
if needs_build etcd; then
  log "building etcd ${ETCD_VERSION} (hack/tools/etcd)"
  start=${SECONDS}
  (cd "${PRA_HACK}/tools/etcd" && go build -ldflags "-s -w" -o "${TMP_BUILD}/etcd" go.etcd.io/etcd/server/v3) \
    || die "building etcd failed"
  install_bin "${TMP_BUILD}/etcd" etcd
  log "etcd built in $((SECONDS - start))s"
fi

# --- Kubernetes --------------------------------------------------------------
missing_kube=()
for c in "${KUBE_COMPONENTS[@]}"; do
  if needs_build "${c}"; then
    missing_kube+=("${c}")
  fi
done
if ((${#missing_kube[@]})); then
  log "building ${missing_kube[*]} ${K8S_VERSION} (hack/tools/kube; a cold build takes 20-40 minutes on 2 cores)"
  start=${SECONDS}
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  # The version ldflags matter: without them the apiserver reports
  # v0.0.0-master and clients with a minimum-version check (Tekton) refuse it.
  kube_ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    kube_ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
    kube_ldflags+=" -X ${pkg}.gitTreeState=clean"
  done
  pkgs=()
  for c in "${missing_kube[@]}"; do
    pkgs+=("k8s.io/kubernetes/cmd/${c}")
  done
  (cd "${PRA_HACK}/tools/kube" && go build -ldflags "${kube_ldflags}" -o "${TMP_BUILD}/" "${pkgs[@]}") \
    || die "building ${missing_kube[*]} failed"
  for c in "${missing_kube[@]}"; do
    install_bin "${TMP_BUILD}/${c}" "${c}"
  done
  log "Kubernetes binaries built in $((SECONDS - start))s"
fi

# --- kwok --------------------------------------------------------------------
if needs_build kwok; then
  log "building kwok ${KWOK_VERSION} with hack/tools/kwok/delete-by-uid.patch (hack/tools/kwok)"
  start=${SECONDS}
  # kwok deletes a pod by name alone: a delete it retries can remove the
  # next pod a StatefulSet makes under the same name, which no kubelet does
  # (its deletes carry the pod's UID). The build applies
  # delete-by-uid.patch to a copy of kwok's module source.
  kwok_src="$(cd "${PRA_HACK}/tools/kwok" && go mod download -json sigs.k8s.io/kwok | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "${kwok_src}" ]] || die "finding kwok's module source failed"
  cp -r "${kwok_src}" "${TMP_BUILD}/kwok-src" && chmod -R u+w "${TMP_BUILD}/kwok-src"
  (cd "${TMP_BUILD}/kwok-src" && git apply "${PRA_HACK}/tools/kwok/delete-by-uid.patch") \
    || die "applying hack/tools/kwok/delete-by-uid.patch to kwok ${KWOK_VERSION} failed"
  mkdir -p "${TMP_BUILD}/kwok-mod" \
    && cp "${PRA_HACK}/tools/kwok/go.mod" "${PRA_HACK}/tools/kwok/go.sum" "${PRA_HACK}/tools/kwok/tools.go" "${TMP_BUILD}/kwok-mod/"
  (cd "${TMP_BUILD}/kwok-mod" && go mod edit -replace "sigs.k8s.io/kwok=${TMP_BUILD}/kwok-src" \
    && go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
      -o "${TMP_BUILD}/kwok" sigs.k8s.io/kwok/cmd/kwok) \
    || die "building kwok failed"
  install_bin "${TMP_BUILD}/kwok" kwok
  log "kwok built in $((SECONDS - start))s"
fi

# --- the local volume provisioner ----------------------------------------------
if needs_build provisioner; then
  log "building the local volume provisioner (hack/tools/provisioner)"
  start=${SECONDS}
  (cd "${PRA_HACK}/tools/provisioner" && go build -ldflags "-s -w" -o "${TMP_BUILD}/provisioner" .) \
    || die "building the provisioner failed"
  install_bin "${TMP_BUILD}/provisioner" provisioner
  log "provisioner built in $((SECONDS - start))s"
fi

# --- Karpenter's kwok cloud provider (only when asked for) ---------------------
if needs_build karpenter; then
  log "building karpenter ${KARPENTER_VERSION} (hack/tools/karpenter; a cold build takes ~4 minutes on 2 cores)"
  start=${SECONDS}
  # GOTOOLCHAIN=local: the pinned release must build with the installed Go;
  # fail rather than download another toolchain behind the user's back.
  (cd "${PRA_HACK}/tools/karpenter" && GOTOOLCHAIN=local go build \
    -ldflags "-s -w -X ${KARPENTER_MODULE}/pkg/operator.Version=${KARPENTER_VERSION}" \
    -o "${TMP_BUILD}/karpenter" "${KARPENTER_MODULE}/kwok") \
    || die "building karpenter failed"
  install_bin "${TMP_BUILD}/karpenter" karpenter
  log "karpenter built in $((SECONDS - start))s"
fi

# --- Kueue's manager (only when asked for) ------------------------------------
if needs_build kueue; then
  log "building kueue ${KUEUE_VERSION} (hack/tools/kueue; a cold build takes ~8 minutes on 2 cores)"
  start=${SECONDS}
  # GOTOOLCHAIN=local as for Karpenter. The version variables are the ones
  # Kueue's Makefile sets (pkg/version), so the manager logs its release.
  # Its visibility server reads its certificate from a fixed directory,
  # /visibility, at the root of the machine; the build makes it
  # "visibility", relative to the manager's working directory (start_kueue
  # in cluster.sh), so that nothing is written outside the state directory.
  (cd "${PRA_HACK}/tools/kueue" && GOTOOLCHAIN=local go build \
    -ldflags "-s -w -X ${KUEUE_MODULE}/pkg/version.GitVersion=${KUEUE_VERSION} -X ${KUEUE_MODULE}/pkg/visibility.certDir=${KUEUE_VISIBILITY_CERT_DIR}" \
    -o "${TMP_BUILD}/kueue" "${KUEUE_MODULE}/cmd/kueue") \
    || die "building kueue failed"
  install_bin "${TMP_BUILD}/kueue" kueue
  log "kueue built in $((SECONDS - start))s"
fi

log "all cluster binaries are in ${PRA_BIN_DIR}"
