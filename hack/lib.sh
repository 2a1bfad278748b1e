# shellcheck shell=bash disable=SC2034
# (SC2034: the constants below are used by the scripts that source this file.)
# Common settings and helpers for the hack/ scripts. Source it, do not run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Versions of everything the local cluster is made of.
readonly K8S_VERSION="v1.35.4"
readonly ETCD_VERSION="v3.6.5"
readonly KWOK_VERSION="v0.8.0"
readonly TEKTON_MODULE="github.com/tektoncd/pipeline"
# The release lines of Tekton Pipelines the patch series is kept for, main
# line first. Each has its own series (tekton_line_patches), made against one
# release of the line (tekton_line_version). Every script works on the main
# line unless PRA_TEKTON_LINE names another: TEKTON_VERSION is that line's
# release.
readonly TEKTON_LINES=(v1.15 v1.12 v1.9)

# tekton_line_version LINE : the release of LINE the series is made against.
tekton_line_version() {
  case "$1" in
    v1.15) printf '%s\n' v1.15.0 ;;
    v1.12) printf '%s\n' v1.12.2 ;;
    v1.9) printf '%s\n' v1.9.2 ;;
    *)
      printf 'ERROR: unknown Tekton line "%s" (the series is kept for: %s)\n' "$1" "${TEKTON_LINES[*]}" >&2
      return 1
      ;;
  esac
}

PRA_TEKTON_LINE="${PRA_TEKTON_LINE:-${TEKTON_LINES[0]}}"
TEKTON_VERSION="$(tekton_line_version "${PRA_TEKTON_LINE}")" || exit 1
readonly PRA_TEKTON_LINE TEKTON_VERSION
# Karpenter's kwok cloud provider (hack/cluster.sh up --autoscaler karpenter).
# v1.14.1 is the newest release whose go directive (1.26.6) the machine's Go
# satisfies; keep it equal to the version in hack/tools/karpenter/go.mod.
readonly KARPENTER_VERSION="v1.14.1"
readonly KARPENTER_MODULE="sigs.k8s.io/karpenter"
# Kueue's manager (hack/cluster.sh up --kueue); keep it equal to the version
# in hack/tools/kueue/go.mod. Its go directive (1.25.0) the machine's Go
# satisfies.
readonly KUEUE_VERSION="v0.17.0"
readonly KUEUE_MODULE="sigs.k8s.io/kueue"
# Where the Kueue manager built by build-binaries.sh reads its visibility
# server's certificate (tls.crt, tls.key): relative to its working
# directory, in place of the release's /visibility. The build's cache key
# (bin_path kueue) names it, so that a binary built without it is not used.
readonly KUEUE_VISIBILITY_CERT_DIR="visibility"

PRA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly PRA_ROOT
readonly PRA_HACK="${PRA_ROOT}/hack"

# All build outputs and cluster run state live below PRA_STATE_DIR.
PRA_STATE_DIR="${PRA_STATE_DIR:-${HOME}/.cache/pipelinerun-affinity}"
PRA_BIN_DIR="${PRA_STATE_DIR}/bin"
PRA_CLUSTER_DIR="${PRA_STATE_DIR}/cluster"

# Ports (all on 127.0.0.1). PRA_PORT_BASE moves the whole block. The default
# block lies below Linux's ephemeral port range (32768-60999): inside it, an
# outgoing connection of any process (the API server's own clients, say) can
# take one of these ports just before the component that needs it binds.
PRA_PORT_BASE="${PRA_PORT_BASE:-28300}"
readonly PORT_ETCD_CLIENT=$((PRA_PORT_BASE + 0))
readonly PORT_ETCD_PEER=$((PRA_PORT_BASE + 1))
readonly PORT_APISERVER=$((PRA_PORT_BASE + 2))
readonly PORT_SCHEDULER=$((PRA_PORT_BASE + 3))
readonly PORT_CONTROLLER_MANAGER=$((PRA_PORT_BASE + 4))
readonly PORT_KWOK=$((PRA_PORT_BASE + 5))
readonly PORT_TEKTON_METRICS=$((PRA_PORT_BASE + 6))
readonly PORT_TEKTON_PROBES=$((PRA_PORT_BASE + 7))
readonly PORT_TEKTON_PROFILING=$((PRA_PORT_BASE + 8))
readonly PORT_ETCD_METRICS=$((PRA_PORT_BASE + 9))
# Karpenter (only with --autoscaler karpenter) binds its metrics and health
# probe servers on every interface (":PORT"); it has no flag to narrow that
# or to turn them off, so they get ports of their own past the first ten.
readonly PORT_KARPENTER_METRICS=$((PRA_PORT_BASE + 10))
readonly PORT_KARPENTER_HEALTH=$((PRA_PORT_BASE + 11))
# Kueue (only with --kueue): its health probes, and its webhook server,
# which Kueue always starts (no webhook configuration points at it: the
# placeholders carry what Kueue's pod webhook would add; see
# hack/kueue/README.md). Both bind 127.0.0.1.
readonly PORT_KUEUE_HEALTH=$((PRA_PORT_BASE + 12))
readonly PORT_KUEUE_WEBHOOK=$((PRA_PORT_BASE + 13))
# Kueue's visibility server (only with --kueue) listens on BASE+18 (past the
# real nodes' kubelets, BASE+14 to BASE+17), on an address of its own:
# KUEUE_VISIBILITY_IP on the empty bridge KUEUE_VISIBILITY_LINK. The API
# server reaches it as the endpoint of the Service behind Kueue's
# APIService, and an endpoint may not be a loopback address.
readonly PORT_KUEUE_VISIBILITY=$((PRA_PORT_BASE + 18))
readonly KUEUE_VISIBILITY_IP="10.254.0.254"
readonly KUEUE_VISIBILITY_LINK="pra-kueue"
# knative.dev/pkg's sharedmain (used by the Tekton controller) always serves
# its own health probes on :8080; it cannot be moved without patching.
readonly PORT_TEKTON_KNATIVE_PROBES=8080

_pra_ts() { date -u +%H:%M:%S; }

# log MSG... : a progress line on stderr.
log() { printf '[%s] %s\n' "$(_pra_ts)" "$*" >&2; }

# warn MSG... : a warning line on stderr.
warn() { printf '[%s] WARNING: %s\n' "$(_pra_ts)" "$*" >&2; }

# die MSG... : print an error and exit non-zero.
die() {
  printf '[%s] ERROR: %s\n' "$(_pra_ts)" "$*" >&2
  exit 1
}

# require_go : make sure a Go toolchain is on PATH (adds /usr/local/go/bin).
require_go() {
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    PATH="/usr/local/go/bin:${PATH}"
    export PATH
  fi
  command -v go >/dev/null 2>&1 || die "go is not installed (expected it on PATH or at /usr/local/go/bin/go)"
}

# host_address LINK IP : IP on LINK, an empty bridge of its own (created
# when missing; the kernel has no "dummy" link type), up: an address of
# this machine that is not a loopback address (a node IP, or an endpoint an
# EndpointSlice may name) and that only this machine reaches.
host_address() {
  local link="$1" ip="$2"
  if ! ip link show "${link}" >/dev/null 2>&1; then
    ip link add "${link}" type bridge || die "creating the interface ${link} failed"
  fi
  ip addr replace "${ip}/32" dev "${link}" || die "adding ${ip} to ${link} failed"
  ip link set "${link}" up || die "bringing ${link} up failed"
}

# require_openssl : install openssl with apt-get when it is missing.
require_openssl() {
  command -v openssl >/dev/null 2>&1 && return 0
  log "openssl is missing; installing it with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "openssl is missing and apt-get is not available; install openssl"
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq openssl >/dev/null \
    || die "apt-get install openssl failed"
}

# module_dir MODULE@VERSION : print the module cache directory of a module
# (downloading it through the Go module proxy when needed).
module_dir() {
  require_go
  local json dir
  # Run outside any module so no go.mod/go.work is consulted or touched.
  json="$(cd / && GOFLAGS="" GOWORK=off go mod download -json "$1")" \
    || die "go mod download $1 failed"
  dir="$(printf '%s\n' "${json}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)"
  [[ -n "${dir}" && -d "${dir}" ]] || die "could not find the module cache directory of $1"
  printf '%s\n' "${dir}"
}

# tekton_upstream_src [VERSION] : print the (read-only) module cache
# directory holding the unmodified Tekton Pipelines source of VERSION
# (default ${TEKTON_VERSION}).
# shellcheck disable=SC2120 # patchlib.sh passes VERSION
tekton_upstream_src() { module_dir "${TEKTON_MODULE}@${1:-${TEKTON_VERSION}}"; }

# tekton_line_patches LINE : the directory of LINE's patch series: patches/
# for the main line, patches/LINE for the others.
tekton_line_patches() {
  tekton_line_version "$1" >/dev/null || exit 1
  if [[ "$1" == "${TEKTON_LINES[0]}" ]]; then
    printf '%s\n' "${PRA_ROOT}/patches"
  else
    printf '%s\n' "${PRA_ROOT}/patches/$1"
  fi
}

# tekton_replacements : the module replacements Tekton ${TEKTON_VERSION}
# needs to build on this machine, one "MODULE VERSION H1 GO_MOD_H1" a line
# (the module is replaced by its VERSION; the hashes are its go.sum lines).
# They never go into the series: tekton_goflags applies them.
tekton_replacements() {
  case "${TEKTON_VERSION}" in
    v1.12.2)
      # v1.12.2 requires spire-api-sdk v1.14.7, whose zip the module proxy
      # here refuses (403). v1.15.2, what v1.15.0 requires, is compatible
      # (same major, newer) and builds v1.12.2's pkg/spire unchanged.
      printf '%s\n' "github.com/spiffe/spire-api-sdk v1.15.2 h1:CZmG2kYc9G1u2MDK8M/C8Gjdez4qkvgDgOUmBbltOhA= h1:9hXJcMzatM1KwAtBDO3s6HccDCic++/5c2yOc5Iln8Y="
      ;;
  esac
}

# tekton_goflags SRC DIR : print the GOFLAGS to build, vet and test the
# Tekton tree SRC with. Where tekton_replacements lists replacements, they are
# written into DIR/go.mod and DIR/go.sum (SRC's, plus the replacements) and
# used with -modfile, so SRC stays as released or patched.
tekton_goflags() {
  local src="$1" dir="$2" flags="-buildvcs=false" r mod version h1 gomodh1
  local -a replacements
  mapfile -t replacements < <(tekton_replacements)
  if ((${#replacements[@]})); then
    mkdir -p "${dir}"
    cp "${src}/go.mod" "${dir}/go.mod"
    cp "${src}/go.sum" "${dir}/go.sum"
    chmod u+w "${dir}/go.mod" "${dir}/go.sum"
    for r in "${replacements[@]}"; do
      read -r mod version h1 gomodh1 <<<"${r}"
      (cd "${src}" && GOFLAGS="" go mod edit -modfile="${dir}/go.mod" -replace="${mod}=${mod}@${version}") \
        || die "go mod edit -replace ${mod}=${mod}@${version} failed"
      printf '%s %s %s\n%s %s/go.mod %s\n' "${mod}" "${version}" "${h1}" "${mod}" "${version}" "${gomodh1}" >>"${dir}/go.sum"
    done
    flags+=" -modfile=${dir}/go.mod"
  fi
  printf '%s\n' "${flags}"
}

# kwok_src : print the module cache directory of kwok.
kwok_src() { module_dir "sigs.k8s.io/kwok@${KWOK_VERSION}"; }

# karpenter_src : print the (read-only) module cache directory of Karpenter
# (its CRDs: kwok/charts/crds and kwok/apis/crds).
karpenter_src() { module_dir "${KARPENTER_MODULE}@${KARPENTER_VERSION}"; }

# kueue_src : print the (read-only) module cache directory of Kueue (its
# CRDs: config/components/crd/bases; its RBAC: config/components/rbac).
kueue_src() { module_dir "${KUEUE_MODULE}@${KUEUE_VERSION}"; }

# wait_for TIMEOUT_SECONDS DESCRIPTION COMMAND... : run COMMAND every 0.5 s
# until it succeeds; fail with DESCRIPTION after TIMEOUT_SECONDS.
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      warn "timed out after ${timeout}s waiting for ${what}"
      return 1
    fi
    sleep 0.5
  done
}

# patches_key : sha256 (first 16 hex digits) of the series of the line
# (its directory's files: names and bytes, not the other lines' below it) and
# of the module replacements its build uses, so a changed series gets a new
# key.
patches_key() {
  local dir
  dir="$(tekton_line_patches "${PRA_TEKTON_LINE}")"
  [[ -d "${dir}" ]] || die "patches directory ${dir} does not exist"
  (
    cd "${dir}" || exit 1
    find . -maxdepth 1 -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    tekton_replacements
  ) | sha256sum | cut -c1-16
}

# provisioner_key : sha256 (first 16 hex digits) of the local volume
# provisioner's source (hack/tools/provisioner), so a change rebuilds it.
provisioner_key() {
  (
    cd "${PRA_HACK}/tools/provisioner" || exit 1
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  ) | sha256sum | cut -c1-16
}

# tekton_bin_dir FLAVOR : directory holding the Tekton binaries of a flavor.
tekton_bin_dir() {
  case "$1" in
    upstream) printf '%s\n' "${PRA_BIN_DIR}/tekton-upstream-${TEKTON_VERSION}" ;;
    patched) printf '%s\n' "${PRA_BIN_DIR}/tekton-patched-${TEKTON_VERSION}-$(patches_key)" ;;
    *) die "unknown Tekton flavor '$1' (want upstream or patched)" ;;
  esac
}

# tekton_src_dir FLAVOR : Tekton source tree of a flavor. For "patched" it is
# the tree hack/build-tekton.sh created with hack/patch-tekton.sh.
tekton_src_dir() {
  case "$1" in
    upstream) tekton_upstream_src ;;
    patched) printf '%s\n' "$(tekton_bin_dir patched)/src" ;;
    *) die "unknown Tekton flavor '$1' (want upstream or patched)" ;;
  esac
}

# bin_path COMPONENT : path of a cached binary.
# kwok_key names the patch the kwok build applies (hack/tools/kwok), so that
# a changed patch is a new build.
kwok_key() {
  sha256sum "${PRA_HACK}/tools/kwok/delete-by-uid.patch" | cut -c1-12
}

bin_path() {
  case "$1" in
    etcd) printf '%s\n' "${PRA_BIN_DIR}/etcd-${ETCD_VERSION}/etcd" ;;
    kwok) printf '%s\n' "${PRA_BIN_DIR}/kwok-${KWOK_VERSION}-$(kwok_key)/kwok" ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet)
      printf '%s\n' "${PRA_BIN_DIR}/$1-${K8S_VERSION}/$1"
      ;;
    provisioner) printf '%s\n' "${PRA_BIN_DIR}/provisioner-$(provisioner_key)/provisioner" ;;
    karpenter) printf '%s\n' "${PRA_BIN_DIR}/karpenter-${KARPENTER_VERSION}/karpenter" ;;
    kueue) printf '%s\n' "${PRA_BIN_DIR}/kueue-${KUEUE_VERSION}-certdir-${KUEUE_VISIBILITY_CERT_DIR}/kueue" ;;
    *) die "unknown component '$1'" ;;
  esac
}

# pid_alive PIDFILE : true when the process named in PIDFILE runs.
pid_alive() {
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  kill -0 "${pid}" 2>/dev/null
}

# ------------------------------------------------------------ real nodes ----
# hack/cluster.sh up --real-nodes: a kubelet and containerd beside the kwok
# nodes. No registry is reachable, so every image such a node runs is built
# here (hack/build-images.sh) and imported into its containerd under these
# names; tagged names make the kubelet's default pull policy IfNotPresent.
readonly REAL_NODE_PACKAGES=(containerd runc containernetworking-plugins busybox-static)
readonly PAUSE_IMAGE="pra.local/pause:3.10"
readonly BUSYBOX_IMAGE="pra.local/busybox:1.35"
# The Tekton images (cmd/NAME of the line's release) the controller names
# when it runs beside a real node.
readonly TEKTON_IMAGE_COMMANDS=(entrypoint nop workingdirinit sidecarlogresults)
tekton_image() { printf 'pra.local/tekton/%s:%s\n' "$1" "${TEKTON_VERSION}"; }

# require_packages PACKAGE... : install the Debian packages that are missing
# with apt-get.
require_packages() {
  local p
  local -a missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q 'install ok installed' || missing+=("${p}")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "${missing[*]} missing and apt-get is not available; install them"
  local sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

# images_key : sha256 (first 16 hex digits) of what the real nodes' images
# are made of: the image tool's source, the Tekton release and the busybox
# package's version.
images_key() {
  (
    cd "${PRA_HACK}/tools/images" || exit 1
    find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    printf '%s\n' "${TEKTON_VERSION}"
    dpkg-query -W -f='${Version}\n' busybox-static 2>/dev/null || true
  ) | sha256sum | cut -c1-16
}

# images_dir : directory of the real nodes' image archives.
images_dir() { printf '%s\n' "${PRA_BIN_DIR}/images-${TEKTON_VERSION}-$(images_key)"; }
