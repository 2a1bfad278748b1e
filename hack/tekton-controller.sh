#!/usr/bin/env bash
# Switch the Tekton controller of a running local cluster (hack/cluster.sh up)
# between the patched and the upstream flavor: stops only the running Tekton
# controller process, then starts the other flavor against the same cluster
# exactly as `hack/cluster.sh up --tekton FLAVOR` does (same environment,
# flags, ports and log file). Everything else keeps running; existing objects
# are kept. Installing the flavor's config/ re-applies its CRDs and its
# config-*.yaml ConfigMaps, so feature-flags go back to that flavor's defaults.
#
# Usage: hack/tekton-controller.sh patched|upstream
#        hack/tekton-controller.sh restart    start the running flavor's controller
#                                             again (after it crashed or was killed),
#                                             as a kubelet restarts a container:
#                                             nothing is built or installed, the
#                                             feature flags stay as they are
#        hack/tekton-controller.sh status     print the running flavor
set -euo pipefail

# cluster.sh only defines functions when sourced (its main runs when executed).
# shellcheck source-path=SCRIPTDIR source=cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"

flavor="${1:-}"
case "${flavor}" in
  patched | upstream) ;;
  restart)
    component_alive kube-apiserver || die "no cluster is running (start one with hack/cluster.sh up)"
    bindir="$(sed -n 's/^TEKTON_BIN=//p' "${INFO_FILE}" 2>/dev/null | tail -n1)"
    src="$(sed -n 's/^TEKTON_SRC=//p' "${INFO_FILE}" 2>/dev/null | tail -n1)"
    kubeconfig="${PRA_CLUSTER_DIR}/tekton-controller.kubeconfig"
    [[ -n "${bindir}" && -n "${src}" && -f "${kubeconfig}" ]] \
      || die "no Tekton controller was started on this cluster (${INFO_FILE}, ${kubeconfig})"
    start=${SECONDS}
    stop_components 15 tekton-controller
    for port in "${PORT_TEKTON_KNATIVE_PROBES}" "${PORT_TEKTON_METRICS}" "${PORT_TEKTON_PROBES}" "${PORT_TEKTON_PROFILING}"; do
      wait_for 15 "port ${port} to be free" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null" \
        || die "port 127.0.0.1:${port} is still in use"
    done
    run_tekton_controller "${bindir}" "${src}" "${kubeconfig}"
    log "Tekton controller restarted in $((SECONDS - start))s (log $(logfile tekton-controller))"
    exit 0
    ;;
  status)
    if component_alive tekton-controller; then
      sed -n 's/^TEKTON_FLAVOR=//p' "${INFO_FILE}" 2>/dev/null | tail -n1
    else
      echo none
    fi
    exit 0
    ;;
  -h | --help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "usage: $0 patched|upstream|restart|status" ;;
esac

component_alive kube-apiserver || die "no cluster is running (start one with hack/cluster.sh up)"
[[ -f "${INFO_FILE}" ]] || die "${INFO_FILE} is missing; is the cluster running?"

start=${SECONDS}
# Build first, so the old controller keeps running during a long build.
bash "${PRA_HACK}/build-tekton.sh" "${flavor}" >/dev/null || die "building Tekton (${flavor}) failed"
stop_components 15 tekton-controller
for port in "${PORT_TEKTON_KNATIVE_PROBES}" "${PORT_TEKTON_METRICS}" "${PORT_TEKTON_PROBES}" "${PORT_TEKTON_PROFILING}"; do
  wait_for 15 "port ${port} to be free" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null" \
    || die "port 127.0.0.1:${port} is still in use"
done
# start_tekton appends the new TEKTON_* lines.
sed -i '/^TEKTON_/d' "${INFO_FILE}"
start_tekton "${flavor}"
log "Tekton controller switched to ${flavor} in $((SECONDS - start))s (log $(logfile tekton-controller))"
