#!/usr/bin/env bash
# Check a running local cluster (hack/cluster.sh up) end to end:
#   nodes Ready; a plain pod with requests and a 1-replica StatefulSet run;
#   deleting the StatefulSet pod recreates it; unless --no-tekton, a
#   tekton.dev/v1 PipelineRun of two tasks (one runAfter the other) succeeds.
# Uses the namespace pra-smoke, deleted at the end.
#
# Usage: hack/smoke-test.sh [--no-tekton] [--keep]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TEKTON=1
KEEP=0
while (($#)); do
  case "$1" in
    --no-tekton) TEKTON=0 ;;
    --keep) KEEP=1 ;;
    -h | --help)
      sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done

KUBECONFIG_FILE="${PRA_CLUSTER_DIR}/kubeconfig"
[[ -f "${KUBECONFIG_FILE}" ]] || die "no cluster: ${KUBECONFIG_FILE} is missing (run hack/cluster.sh up)"
k() { "$(bin_path kubectl)" --kubeconfig "${KUBECONFIG_FILE}" "$@"; }
NS=pra-smoke
start=${SECONDS}

cleanup() {
  ((KEEP)) || k delete namespace "${NS}" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "nodes Ready"
k wait --for=condition=Ready node --all --timeout=30s >/dev/null || die "nodes are not Ready"

log "plain pod and StatefulSet"
k apply -f - >/dev/null <<EOF || die "creating the test objects failed"
apiVersion: v1
kind: Namespace
metadata:
  name: ${NS}
---
apiVersion: v1
kind: Pod
metadata:
  name: plain
  namespace: ${NS}
spec:
  containers:
  - name: c
    image: busybox
    resources:
      requests: {cpu: 500m, memory: 1Gi}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: placeholder
  namespace: ${NS}
spec:
  replicas: 1
  serviceName: placeholder
  selector:
    matchLabels: {app: placeholder}
  template:
    metadata:
      labels: {app: placeholder}
    spec:
      containers:
      - name: c
        image: busybox
        resources:
          requests: {cpu: 100m, memory: 128Mi}
EOF
k -n "${NS}" wait --for=condition=Ready pod/plain --timeout=60s >/dev/null || die "pod plain is not Ready"
wait_for 60 "pod placeholder-0" k -n "${NS}" get pod placeholder-0 || die "StatefulSet pod placeholder-0 was not created"
k -n "${NS}" wait --for=condition=Ready pod/placeholder-0 --timeout=60s >/dev/null || die "pod placeholder-0 is not Ready"
k -n "${NS}" get pods -o wide

log "StatefulSet pod is recreated after deletion"
uid="$(k -n "${NS}" get pod placeholder-0 -o jsonpath='{.metadata.uid}')"
k -n "${NS}" delete pod placeholder-0 --wait=false >/dev/null
new_uid() { [[ "$(k -n "${NS}" get pod placeholder-0 -o jsonpath='{.metadata.uid}')" != "${uid}" ]]; }
wait_for 60 "a new placeholder-0" new_uid || die "placeholder-0 was not recreated"
k -n "${NS}" wait --for=condition=Ready pod/placeholder-0 --timeout=60s >/dev/null || die "recreated placeholder-0 is not Ready"

if ((TEKTON)); then
  log "Tekton PipelineRun (two tasks, 2s each)"
  k apply -f - >/dev/null <<EOF || die "creating the Task and PipelineRun failed"
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: echo
  namespace: ${NS}
spec:
  steps:
  - name: one
    image: busybox
    script: |
      echo one
  - name: two
    image: busybox
    command: ["echo", "two"]
---
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: smoke
  namespace: ${NS}
  annotations:
    pipelinerun-affinity.dev/kwok-duration: "2s"
spec:
  pipelineSpec:
    tasks:
    - name: first
      taskRef: {name: echo}
    - name: second
      runAfter: [first]
      taskRef: {name: echo}
EOF
  if ! k -n "${NS}" wait --for=condition=Succeeded pipelinerun/smoke --timeout=120s >/dev/null; then
    k -n "${NS}" get pipelinerun,taskrun,pods -o wide >&2 || true
    k -n "${NS}" get pipelinerun smoke -o yaml >&2 || true
    die "PipelineRun smoke did not succeed"
  fi
  k -n "${NS}" get pipelinerun,taskrun -o wide
fi

log "smoke test passed in $((SECONDS - start))s"
