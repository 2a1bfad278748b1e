#!/usr/bin/env bash
# Check Karpenter on a running cluster started with
# 'hack/cluster.sh up --autoscaler karpenter' (any --nodes, --tekton):
#   1. fill every static node (one without the karpenter.sh/nodepool label)
#      with a pod bound to it that leaves 1 CPU free, so no static node fits
#      what follows;
#   2. one after the other, a Deployment of one pod asking for 1500m, 3 and 5
#      CPU: each must make Karpenter create a NodeClaim of the cheapest
#      instance type that fits (pra-2cpu, pra-4cpu, pra-8cpu: 100m of each is
#      kube-reserved), whose Node kwok makes Ready, and the pod must run on it;
#   3. delete the Deployments: consolidation must remove those nodes and
#      their NodeClaims (consolidateAfter 10s in hack/karpenter/nodepool.yaml).
# Prints how long each step took. Works in namespace pra-karpenter-smoke,
# deleted at the end unless --keep.
#
# Usage: hack/karpenter/smoke.sh [--keep]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NS="pra-karpenter-smoke"
KEEP=0
case "${1:-}" in
  "") ;;
  --keep) KEEP=1 ;;
  -h | --help)
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

KUBECONFIG_FILE="${PRA_CLUSTER_DIR}/kubeconfig"
[[ -f "${KUBECONFIG_FILE}" ]] || die "no cluster in ${PRA_STATE_DIR} (run hack/cluster.sh up --autoscaler karpenter)"
kubectl_() { "$(bin_path kubectl)" --kubeconfig "${KUBECONFIG_FILE}" "$@"; }

kubectl_ get nodepool default >/dev/null 2>&1 \
  || die "no NodePool 'default': was the cluster started with --autoscaler karpenter?"

cleanup() {
  if ((KEEP == 0)); then
    kubectl_ delete namespace "${NS}" --wait=false >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# millicores QUANTITY : a CPU quantity ("4", "3900m") in millicores.
millicores() {
  case "$1" in
    *m) printf '%s\n' "${1%m}" ;;
    *) printf '%s\n' "$(($1 * 1000))" ;;
  esac
}

# fillers_running : every filler pod is Running.
fillers_running() {
  ! kubectl_ -n "${NS}" get pods -l app=filler --no-headers | grep -v ' Running '
}

# node_gone NODE : the Node object no longer exists.
node_gone() {
  [[ -z "$(kubectl_ get node "$1" --ignore-not-found -o name)" ]]
}

# pod_node APP : the node the Running pod of Deployment APP is on.
pod_node() {
  kubectl_ -n "${NS}" get pods -l "app=$1" \
    -o jsonpath='{range .items[?(@.status.phase=="Running")]}{.spec.nodeName}{"\n"}{end}' | head -n1
}

kubectl_ create namespace "${NS}" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null

# 1. Fillers. Bound with nodeName, so neither the scheduler nor Karpenter
# places them; Karpenter counts their requests against the node.
mapfile -t static_nodes < <(kubectl_ get nodes -l '!karpenter.sh/nodepool' -o name)
((${#static_nodes[@]})) || die "no static node found"
for n in "${static_nodes[@]}"; do
  n="${n#node/}"
  alloc="$(millicores "$(kubectl_ get node "${n}" -o jsonpath='{.status.allocatable.cpu}')")"
  fill=$((alloc - 1000))
  ((fill > 0)) || continue
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: filler-${n}
  namespace: ${NS}
  labels:
    app: filler
spec:
  nodeName: ${n}
  terminationGracePeriodSeconds: 0
  containers:
  - name: filler
    image: images.invalid/filler
    resources:
      requests:
        cpu: ${fill}m
EOF
done
wait_for 30 "the filler pods to run" fillers_running || die "the filler pods did not start"
log "filled ${#static_nodes[@]} static node(s) up to 1 CPU short of their allocatable"

# 2. Scale-up, one size after the other.
declare -a made_nodes=()
for spec in small:1500m:pra-2cpu big:3:pra-4cpu huge:5:pra-8cpu; do
  IFS=: read -r app cpu want <<<"${spec}"
  start=${SECONDS}
  kubectl_ apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${app}
  namespace: ${NS}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${app}
  template:
    metadata:
      labels:
        app: ${app}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ${app}
        image: images.invalid/${app}
        resources:
          requests:
            cpu: "${cpu}"
EOF
  deadline=$((SECONDS + 60))
  node=""
  until [[ -n "${node}" ]]; do
    ((SECONDS < deadline)) || die "the ${cpu}-CPU pod of ${app} did not run within 60s; see $(dirname "${KUBECONFIG_FILE}")/logs/karpenter.log"
    sleep 0.5
    node="$(pod_node "${app}")"
  done
  took=$((SECONDS - start))
  got="$(kubectl_ get node "${node}" -o jsonpath='{.metadata.labels.node\.kubernetes\.io/instance-type}')"
  claim="$(kubectl_ get nodeclaims -o jsonpath="{range .items[?(@.status.nodeName==\"${node}\")]}{.metadata.name}{end}")"
  [[ -n "${claim}" ]] || die "${app} runs on ${node}, which no NodeClaim owns"
  [[ "${got}" == "${want}" ]] || die "${app} (${cpu} CPU) got instance type '${got}', want ${want}"
  kubectl_ wait --for=condition=Ready --timeout=5s "node/${node}" >/dev/null || die "node ${node} is not Ready"
  log "${app}: ${cpu} CPU -> NodeClaim ${claim} (${got}), node ${node} Ready, pod Running after ${took}s"
  made_nodes+=("${node}")
done

# 3. Scale-down.
start=${SECONDS}
kubectl_ -n "${NS}" delete deployment small big huge --wait=false >/dev/null
for node in "${made_nodes[@]}"; do
  wait_for 120 "node ${node} to be consolidated away" node_gone "${node}" \
    || die "node ${node} was not removed within 120s of its pod's deletion"
done
left="$(kubectl_ get nodeclaims --no-headers 2>/dev/null | wc -l)"
((left == 0)) || die "${left} NodeClaim(s) left after consolidation"
log "consolidation removed ${#made_nodes[@]} node(s) and their NodeClaims $((SECONDS - start))s after the pods were deleted"
log "karpenter smoke test passed"
