#!/usr/bin/env bash
# Local Kubernetes cluster for pipelinerun-affinity: etcd, kube-apiserver,
# kube-scheduler, kube-controller-manager, kwok-simulated nodes and
# (optionally) the Tekton Pipelines controller run out of cluster, as plain
# processes on 127.0.0.1. Run state lives in $PRA_STATE_DIR/cluster/.
#
# Usage:
#   hack/cluster.sh up [--nodes N] [--node-cpu CPU] [--node-memory MEM]
#                      [--node-pods PODS] [--node-ephemeral-storage SIZE]
#                      [--zones Z] [--tekton patched|upstream|none]
#                      [--autoscaler none|karpenter] [--kueue] [--audit]
#                      [--real-nodes 0|1|2]
#       build what is missing, start everything, create nodes node-1..node-N,
#       wait until they are Ready. Defaults: 4 nodes, 4 CPU, 16Gi, 110 pods,
#       100Gi of ephemeral storage, 2 zones, --tekton patched. Node i is in
#       zone zone-K, K = (i-1) mod Z (a, b, ...). A dynamic volume
#       provisioner serves two WaitForFirstConsumer StorageClasses: "local"
#       (the default: a PV bound to the node the scheduler selected) and
#       "zonal" (a PV bound to that node's zone).
#       --autoscaler karpenter also runs Karpenter's kwok cloud provider
#       (built on first use, minutes): pods no node fits make it create a
#       NodeClaim and a kwok node of 2, 4 or 8 CPU (hack/karpenter/); empty
#       or underused autoscaled nodes are removed 10 s later.
#       --kueue also runs Kueue's manager (v0.17.0, built on first use,
#       minutes) with its plain-Pod integration, a ResourceFlavor "default"
#       and nothing else: tests make their ClusterQueues and LocalQueues
#       (hack/kueue/README.md).
#       --audit writes every request of the Tekton controller (its
#       ServiceAccount), when it is received and when it is answered
#       (with its status code), to the API server's audit log
#       logs/audit.log (JSON lines; see hack/bench.sh).
#       --real-nodes N adds the real nodes real-1 .. real-N (N <= 2; label
#       type=real, taint pra.dev/real-node=true:NoSchedule): for each, a
#       containerd and a kubelet on this machine, with locally built images
#       (hack/real-node.sh,
#       hack/build-images.sh; needs root, cgroup v1, apt-get on first use).
#       Fails (exit 1) if a cluster is already running.
#   hack/cluster.sh down      stop every process of the cluster, delete etcd data
#   hack/cluster.sh status    show processes, nodes, endpoints (exit 1 if down)
#   hack/cluster.sh env       print 'export KUBECONFIG=...'
#
# Environment: PRA_STATE_DIR (default ~/.cache/pipelinerun-affinity),
#              PRA_PORT_BASE (default 28300; ports BASE..BASE+9 are used,
#              BASE+10 and BASE+11 too with --autoscaler karpenter,
#              BASE+12 and BASE+13 with --kueue;
#              BASE+14 and BASE+15 with --real-nodes 1, up to
#              BASE+17 with --real-nodes 2;
#              the Tekton controller also needs *:8080),
#              PRA_KEEP_CRD_CONVERSION=1 (keep the Tekton CRDs' webhook
#              conversion; by default it is set to None, see hack/README.md).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  sed -n '2,41p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

PKI="${PRA_CLUSTER_DIR}/pki"
KUBECONFIG_FILE="${PRA_CLUSTER_DIR}/kubeconfig"
ETCD_DATA="${PRA_CLUSTER_DIR}/etcd-data"
RUN_DIR="${PRA_CLUSTER_DIR}/run"
LOG_DIR="${PRA_CLUSTER_DIR}/logs"
INFO_FILE="${PRA_CLUSTER_DIR}/cluster.env"
AUDIT_LOG="${LOG_DIR}/audit.log"
# The user the Tekton controller runs as (see controller_kubeconfig).
TEKTON_CONTROLLER_USER="system:serviceaccount:tekton-pipelines:tekton-pipelines-controller"
TEKTON_NS="tekton-pipelines"
KWOK_NODE_ANNOTATION="kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE="fake"
KARPENTER_NS="karpenter"
# Components in start order; down stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-scheduler kube-controller-manager provisioner kwok karpenter kueue containerd kubelet containerd-2 kubelet-2 tekton-controller)
KUEUE_NS="kueue-system"
# The name StorageClasses give to use hack/tools/provisioner.
PROVISIONER_NAME="pipelinerun-affinity.tekton.dev/local"

kubectl_() { "$(bin_path kubectl)" --kubeconfig "${KUBECONFIG_FILE}" "$@"; }

# How many real nodes (0 to REAL_NODES_MAX) cmd_up starts; read by start_apiserver and
# tekton_controller_args.
REAL_NODES=0
# Whether cmd_up runs Kueue (--kueue); read by start_apiserver, which then
# routes aggregated APIs to their Service's endpoints (Kueue's visibility
# API).
KUEUE=false
# shellcheck source-path=SCRIPTDIR source=real-node.sh
source "${PRA_HACK}/real-node.sh"

# port_in_use PORT : something accepts connections on 127.0.0.1:PORT.
port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# http_get PORT PATH : print the body of http://127.0.0.1:PORT/PATH; fail
# unless the status is 200. Uses bash's /dev/tcp (no curl needed).
http_get() {
  local port="$1" path="$2" status response
  exec 3<>"/dev/tcp/127.0.0.1/${port}" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "${path}" >&3
  response="$(timeout 10 cat <&3)" || true
  exec 3>&- 3<&-
  status="$(printf '%s\n' "${response}" | head -n1)"
  [[ "${status}" == *" 200 "* ]] || return 1
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}

# https_ok PORT PATH : GET https://127.0.0.1:PORT/PATH with the admin
# credentials (kube-scheduler and kube-controller-manager health).
https_ok() {
  "$(bin_path kubectl)" --kubeconfig "${KUBECONFIG_FILE}" --server "https://127.0.0.1:$1" \
    --insecure-skip-tls-verify=true get --raw "$2" >/dev/null 2>&1
}

pidfile() { printf '%s\n' "${RUN_DIR}/$1.pid"; }

# exe_name COMPONENT : file name of the executable a component runs.
exe_name() {
  case "$1" in
    tekton-controller) printf 'controller\n' ;;
    containerd-* | kubelet-*) printf '%s\n' "${1%-*}" ;;
    *) printf '%s\n' "$1" ;;
  esac
}

# component_alive COMPONENT : its recorded PID runs and (where /proc tells)
# still is that component's executable, so a recycled PID is never signalled.
component_alive() {
  local pf pid exe
  pf="$(pidfile "$1")"
  pid_alive "${pf}" || return 1
  pid="$(cat "${pf}")"
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null)" || return 0
  exe="$(basename "${exe% (deleted)}")"
  # Right after start_bg the child may still be bash, setsid or env on its
  # way to exec'ing the component.
  # Kueue starts through unshare and sh (start_kueue).
  [[ "${exe}" == "$(exe_name "$1")" || "${exe}" == bash || "${exe}" == setsid || "${exe}" == env ||
    "${exe}" == unshare || "${exe}" == dash || "${exe}" == sh ]]
}
logfile() { printf '%s\n' "${LOG_DIR}/$1.log"; }

# running_components : print the components whose process is alive.
running_components() {
  local c
  for c in "${COMPONENTS[@]}"; do
    if component_alive "${c}"; then
      printf '%s\n' "${c}"
    fi
  done
}

# start_bg NAME BINARY ARGS... : start a background process in its own
# session, logging to logs/NAME.log, PID in run/NAME.pid. Extra environment
# can be passed as NAME_ENV array (see start_tekton).
start_bg() {
  local name="$1" binary="$2"
  shift 2
  local log pid
  log="$(logfile "${name}")"
  [[ -x "${binary}" ]] || die "${binary} is missing; run hack/build-binaries.sh"
  printf '### %s started %s\n### %s %s\n' "${name}" "$(date -u +%FT%TZ)" "${binary}" "$*" >"${log}"
  setsid "${binary}" "$@" </dev/null >>"${log}" 2>&1 &
  pid=$!
  printf '%s\n' "${pid}" >"$(pidfile "${name}")"
  log "started ${name} (pid ${pid}, log ${log})"
}

# check_alive NAME : die with the log tail if NAME's process has exited.
check_alive() {
  if ! component_alive "$1"; then
    tail -n 30 "$(logfile "$1")" >&2 || true
    die "$1 exited during start-up; see $(logfile "$1")"
  fi
}

# wait_component TIMEOUT NAME DESCRIPTION COMMAND... : wait_for that also
# fails fast when the process died.
wait_component() {
  local timeout="$1" name="$2" what="$3"
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    check_alive "${name}"
    if ((SECONDS >= deadline)); then
      tail -n 30 "$(logfile "${name}")" >&2 || true
      die "timed out after ${timeout}s waiting for ${what}; see $(logfile "${name}")"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- certs ----

gen_pki() {
  if [[ -f "${PKI}/.complete" ]]; then
    log "reusing certificates in ${PKI}"
    return 0
  fi
  require_openssl
  log "generating certificates and the service-account key in ${PKI}"
  rm -rf "${PKI}"
  mkdir -p "${PKI}"
  (
    set -euo pipefail
    cd "${PKI}"
    umask 077
    ossl() { openssl "$@" 2>/dev/null; }
    newkey() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
    # CAs
    for ca in ca front-proxy-ca; do
      newkey "${ca}.key"
      ossl req -x509 -new -key "${ca}.key" -subj "/CN=pra-${ca}" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -out "${ca}.crt"
    done
    # sign NAME CA SUBJECT EXT : key + certificate signed by CA.
    sign() {
      newkey "$1.key"
      ossl req -new -key "$1.key" -subj "$3" -out "$1.csr"
      printf '%s\n' "$4" >"$1.ext"
      ossl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 3650 -sha256 \
        -extfile "$1.ext" -out "$1.crt"
      rm -f "$1.csr" "$1.ext"
    }
    sign apiserver ca "/CN=kube-apiserver" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin ca "/O=system:masters/CN=pra-admin" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    sign front-proxy-client front-proxy-ca "/CN=front-proxy-client" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    newkey sa.key
    ossl pkey -in sa.key -pubout -out sa.pub
  ) || die "certificate generation failed"
  touch "${PKI}/.complete"
}

# kubeconfig_file FILE USER CREDENTIAL... : write a kubeconfig (mode 0600)
# for the local API server whose user USER authenticates with the given
# "key: value" credential lines.
kubeconfig_file() {
  local file="$1" user="$2" line
  shift 2
  (
    umask 077
    {
      cat <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pra
  cluster:
    server: https://127.0.0.1:${PORT_APISERVER}
    certificate-authority: ${PKI}/ca.crt
contexts:
- name: pra
  context:
    cluster: pra
    user: ${user}
current-context: pra
users:
- name: ${user}
  user:
EOF
      for line in "$@"; do
        printf '    %s\n' "${line}"
      done
    } >"${file}"
  )
}

write_kubeconfig() {
  kubeconfig_file "${KUBECONFIG_FILE}" pra-admin \
    "client-certificate: ${PKI}/admin.crt" "client-key: ${PKI}/admin.key"
}

# ------------------------------------------------------------ components ----

start_etcd() {
  rm -rf "${ETCD_DATA}"
  start_bg etcd "$(bin_path etcd)" \
    --name=pra \
    --data-dir="${ETCD_DATA}" \
    --listen-client-urls="http://127.0.0.1:${PORT_ETCD_CLIENT}" \
    --advertise-client-urls="http://127.0.0.1:${PORT_ETCD_CLIENT}" \
    --listen-peer-urls="http://127.0.0.1:${PORT_ETCD_PEER}" \
    --initial-advertise-peer-urls="http://127.0.0.1:${PORT_ETCD_PEER}" \
    --initial-cluster="pra=http://127.0.0.1:${PORT_ETCD_PEER}" \
    --listen-metrics-urls="http://127.0.0.1:${PORT_ETCD_METRICS}" \
    --unsafe-no-fsync=true \
    --log-level=warn
  wait_component 30 etcd "etcd health" http_get "${PORT_ETCD_METRICS}" /health
}

# audit_policy FILE : an audit policy that records the Tekton controller's
# requests (verb, resource, subresource, user) and nothing else: once when
# received, which counts every request, watches still open included, and
# once when answered, which says how each ended (its status code).
audit_policy() {
  cat >"$1" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [ResponseStarted, Panic]
rules:
- level: Metadata
  users: ["${TEKTON_CONTROLLER_USER}"]
- level: None
EOF
}

# start_apiserver [AUDIT] : AUDIT "true" enables the audit log (--audit).
start_apiserver() {
  local -a audit=()
  if [[ "${1:-false}" == true ]]; then
    audit_policy "${PRA_CLUSTER_DIR}/audit-policy.yaml"
    : >"${AUDIT_LOG}"
    # The log backend writes each event before the request goes on
    # (blocking mode), so a count taken after the requests is complete.
    # One file, never rotated: a maxsize of 0 means the log library's
    # default, 100 MB, which a 100-node benchmark passes in its last row
    # (hack/bench.sh reads audit.log only); the value is in megabytes.
    audit=(--audit-policy-file="${PRA_CLUSTER_DIR}/audit-policy.yaml"
      --audit-log-path="${AUDIT_LOG}" --audit-log-format=json --audit-log-mode=blocking
      --audit-log-maxsize=1048576 --audit-log-maxbackup=0)
  fi
  # A real node's kubelet authenticates as system:node:NAME: the Node
  # authorizer and NodeRestriction give it what a kubelet gets in a real
  # cluster; the API server reaches the kubelet (logs, exec) as admin.
  local -a real=(--authorization-mode=RBAC)
  if ((REAL_NODES > 0)); then
    real=(--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction
      --kubelet-client-certificate="${PKI}/admin.crt" --kubelet-client-key="${PKI}/admin.key")
  fi
  # Kueue's visibility server runs out of cluster, behind a Service without
  # a selector: without a kube-proxy, the aggregator must call the Service's
  # endpoint, not its cluster IP.
  local -a aggregator=()
  [[ "${KUEUE}" == false ]] || aggregator=(--enable-aggregator-routing=true)
  start_bg kube-apiserver "$(bin_path kube-apiserver)" \
    "${audit[@]}" "${real[@]}" "${aggregator[@]}" \
    --etcd-servers="http://127.0.0.1:${PORT_ETCD_CLIENT}" \
    --bind-address=127.0.0.1 \
    --advertise-address=127.0.0.1 \
    --secure-port="${PORT_APISERVER}" \
    --tls-cert-file="${PKI}/apiserver.crt" \
    --tls-private-key-file="${PKI}/apiserver.key" \
    --client-ca-file="${PKI}/ca.crt" \
    --service-account-key-file="${PKI}/sa.pub" \
    --service-account-signing-key-file="${PKI}/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range=10.96.0.0/16 \
    --endpoint-reconciler-type=none \
    --allow-privileged=true \
    --requestheader-client-ca-file="${PKI}/front-proxy-ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="${PKI}/front-proxy-client.crt" \
    --proxy-client-key-file="${PKI}/front-proxy-client.key" \
    --profiling=false \
    --v=1
  wait_component 90 kube-apiserver "kube-apiserver /readyz" kubectl_ get --raw /readyz
}

start_scheduler() {
  start_bg kube-scheduler "$(bin_path kube-scheduler)" \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --authentication-kubeconfig="${KUBECONFIG_FILE}" \
    --authorization-kubeconfig="${KUBECONFIG_FILE}" \
    --bind-address=127.0.0.1 \
    --secure-port="${PORT_SCHEDULER}" \
    --leader-elect=false \
    --profiling=false \
    --v=1
}

start_controller_manager() {
  mkdir -p "${PRA_CLUSTER_DIR}/flexvolume"
  start_bg kube-controller-manager "$(bin_path kube-controller-manager)" \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --authentication-kubeconfig="${KUBECONFIG_FILE}" \
    --authorization-kubeconfig="${KUBECONFIG_FILE}" \
    --bind-address=127.0.0.1 \
    --secure-port="${PORT_CONTROLLER_MANAGER}" \
    --leader-elect=false \
    --controllers='*' \
    --use-service-account-credentials=true \
    --service-account-private-key-file="${PKI}/sa.key" \
    --root-ca-file="${PKI}/ca.crt" \
    --cluster-signing-cert-file="${PKI}/ca.crt" \
    --cluster-signing-key-file="${PKI}/ca.key" \
    --flex-volume-plugin-dir="${PRA_CLUSTER_DIR}/flexvolume" \
    --allocate-node-cidrs=false \
    --profiling=false \
    --v=1
}

# start_provisioner : the local volume provisioner (hack/tools/provisioner)
# and its two StorageClasses.
start_provisioner() {
  # A real node's kubelet mounts the local volumes: their directories are
  # made below the node's directory (and go with it at down).
  local -a real=()
  ((REAL_NODES == 0)) || real=(-make-dirs-on=type=real -root="${REAL_VOLUMES_DIR}")
  start_bg provisioner "$(bin_path provisioner)" \
    --kubeconfig="${KUBECONFIG_FILE}" \
    "${real[@]}" \
    --v=1
  kubectl_ apply -f - >/dev/null <<EOF || die "creating the StorageClasses failed"
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: ${PROVISIONER_NAME}
parameters:
  topology: node
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: zonal
provisioner: ${PROVISIONER_NAME}
parameters:
  topology: zone
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
}

start_kwok() {
  local home="${PRA_CLUSTER_DIR}/kwok-home"
  mkdir -p "${home}"
  # HOME is pointed at an empty directory so a user's ~/.kwok/kwok.yaml
  # cannot change the simulation.
  HOME="${home}" start_bg kwok "$(bin_path kwok)" \
    --config="${PRA_HACK}/kwok/stages.yaml" \
    --kubeconfig="${KUBECONFIG_FILE}" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector="${KWOK_NODE_ANNOTATION}=${KWOK_NODE_ANNOTATION_VALUE}" \
    --node-lease-duration-seconds=40 \
    --cidr=10.0.0.0/16 \
    --node-ip=10.255.0.1 \
    --server-address="127.0.0.1:${PORT_KWOK}"
  wait_component 30 kwok "kwok /healthz" http_get "${PORT_KWOK}" /healthz
}

create_nodes() {
  local n="$1" cpu="$2" mem="$3" pods="$4" storage="$5" zones="$6" i manifest zone
  local letters=abcdefghijklmnopqrstuvwxyz
  manifest="${PRA_CLUSTER_DIR}/nodes.yaml"
  : >"${manifest}"
  for ((i = 1; i <= n; i++)); do
    zone="zone-${letters:$(((i - 1) % zones)):1}"
    cat >>"${manifest}" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: node-${i}
  annotations:
    ${KWOK_NODE_ANNOTATION}: ${KWOK_NODE_ANNOTATION_VALUE}
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: node-${i}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    topology.kubernetes.io/zone: ${zone}
    type: kwok
spec: {}
status:
  allocatable:
    cpu: "${cpu}"
    memory: "${mem}"
    pods: "${pods}"
    ephemeral-storage: "${storage}"
  capacity:
    cpu: "${cpu}"
    memory: "${mem}"
    pods: "${pods}"
    ephemeral-storage: "${storage}"
EOF
  done
  log "creating ${n} kwok nodes (cpu=${cpu} memory=${mem} pods=${pods} ephemeral-storage=${storage}) in ${zones} zone(s)"
  kubectl_ apply -f "${manifest}" >/dev/null || die "creating nodes failed"
  log "waiting for the nodes to become Ready"
  kubectl_ wait --for=condition=Ready node --all --timeout=90s >/dev/null \
    || die "nodes did not become Ready; see $(logfile kwok)"
}

# tekton_controller_args CONTROLLER_YAML : print the image flags of
# config/controller.yaml, one argument per line. ko:// references (resolved
# by ko at release time) become plausible image names; kwok never pulls them.
# With a real node they become the images hack/build-images.sh built and
# real_node_up imported (tagged, so the kubelet never pulls them), and the
# shell image is the local busybox.
tekton_controller_args() {
  local prefix="images.invalid/tektoncd/pipeline"
  ((REAL_NODES == 0)) || prefix="$(dirname "$(tekton_image x)")"
  grep -E '^[[:space:]]*"-[a-z-]+",[[:space:]]*"[^"]+"' "$1" \
    | sed -E 's/^[[:space:]]*"(-[a-z-]+)",[[:space:]]*"([^"]+)".*$/\1\n\2/' \
    | sed -E "s#^ko://github.com/tektoncd/pipeline/cmd/([a-z-]+)\$#${prefix}/\\1:${TEKTON_VERSION}#" \
    | if ((REAL_NODES == 0)); then cat; else awk -v bb="${BUSYBOX_IMAGE}" '
        prev == "-shell-image" { print bb; prev = ""; next }
        { print; prev = $0 }'; fi
}

# tekton_controller_env CONTROLLER_YAML : print NAME=VALUE for every literal
# env entry of the controller container (valueFrom entries and the
# in-container certificate paths are skipped).
tekton_controller_env() {
  awk '
    /^---/ { doc++ }
    doc > 0 { exit }
    /^[[:space:]]*- name:[[:space:]]/ { name = $3; next }
    /^[[:space:]]*value:[[:space:]]/ && name != "" {
      v = $0; sub(/^[[:space:]]*value:[[:space:]]*/, "", v); gsub(/^"|"$/, "", v)
      print name "=" v
    }
    { name = "" }
  ' "$1" | grep -vE '^(SSL_CERT_FILE|SSL_CERT_DIR)='
}

install_tekton() {
  local src="$1" f
  [[ -d "${src}/config/300-crds" ]] || die "${src}/config/300-crds not found"
  log "installing Tekton CRDs and configuration from ${src}/config"
  local -a files=(-f "${src}/config/100-namespace")
  for f in "${src}"/config/config-*.yaml; do
    files+=(-f "${f}")
  done
  kubectl_ apply --server-side --force-conflicts -f "${src}/config/300-crds" >/dev/null \
    || die "installing the Tekton CRDs failed"
  # The namespace comes first in the list, so the ConfigMaps find it.
  kubectl_ apply --server-side --force-conflicts "${files[@]}" >/dev/null \
    || die "applying the Tekton namespace and ConfigMaps failed"
  kubectl_ wait --for=condition=Established --timeout=60s -f "${src}/config/300-crds" >/dev/null \
    || die "the Tekton CRDs did not become Established"
  # The controller's ServiceAccount and RBAC, as a release installs them:
  # the controller runs with that identity (see controller_kubeconfig), so a
  # permission the tree's ClusterRole lacks fails here as it would in a
  # real cluster.
  kubectl_ apply --server-side --force-conflicts \
    -f "${src}/config/200-serviceaccount.yaml" -f "${src}/config/200-clusterrole.yaml" \
    -f "${src}/config/200-role.yaml" -f "${src}/config/201-clusterrolebinding.yaml" \
    -f "${src}/config/201-rolebinding.yaml" >/dev/null \
    || die "applying the Tekton ServiceAccounts and RBAC failed"
  # Only the Tekton controller and the StatefulSet controller may make pods
  # with the placeholders' label (config/placeholder-label-policy.yaml).
  kubectl_ apply --server-side --force-conflicts -f "${PRA_ROOT}/config/placeholder-label-policy.yaml" >/dev/null \
    || die "applying the placeholder label policy failed"
  # The CRDs name Tekton's webhook as conversion webhook, but no webhook runs.
  # v1 objects (the storage version) need no conversion, yet the apiserver's
  # watch cache of every other served version (v1beta1) fails to list them
  # and retries every second, flooding its log and burning CPU. Declaring
  # "no conversion" stops that; v1beta1 reads then return unconverted v1
  # objects, so use tekton.dev/v1 only. PRA_KEEP_CRD_CONVERSION=1 keeps the
  # upstream setting.
  if [[ "${PRA_KEEP_CRD_CONVERSION:-0}" != 1 ]]; then
    local -a crds
    mapfile -t crds < <(kubectl_ get crd \
      -o jsonpath='{range .items[?(@.spec.conversion.strategy=="Webhook")]}{.metadata.name}{"\n"}{end}')
    if ((${#crds[@]})); then
      kubectl_ patch crd "${crds[@]}" --type=merge \
        -p '{"spec":{"conversion":{"strategy":"None","webhook":null}}}' >/dev/null \
        || die "patching the conversion strategy of ${crds[*]} failed"
    fi
  fi
}

# controller_kubeconfig : write a kubeconfig that authenticates as the
# tekton-pipelines-controller ServiceAccount (a bound token from the
# TokenRequest API) and print its path.
controller_kubeconfig() {
  local file="${PRA_CLUSTER_DIR}/tekton-controller.kubeconfig" token
  token="$(kubectl_ -n "${TEKTON_NS}" create token tekton-pipelines-controller --duration=48h)" \
    || die "creating a token for the tekton-pipelines-controller ServiceAccount failed"
  kubeconfig_file "${file}" tekton-pipelines-controller "token: ${token}"
  printf '%s\n' "${file}"
}

start_tekton() {
  local flavor="$1" bindir src
  bindir="$(bash "${PRA_HACK}/build-tekton.sh" "${flavor}")" || die "building Tekton (${flavor}) failed"
  src="$(tekton_src_dir "${flavor}")"
  install_tekton "${src}"
  local kubeconfig
  kubeconfig="$(controller_kubeconfig)"
  run_tekton_controller "${bindir}" "${src}" "${kubeconfig}"
  printf 'TEKTON_FLAVOR=%s\nTEKTON_SRC=%s\nTEKTON_BIN=%s\n' "${flavor}" "${src}" "${bindir}" >>"${INFO_FILE}"
}

# run_tekton_controller BINDIR SRC KUBECONFIG : start the controller built in
# BINDIR with the environment and flags of SRC/config/controller.yaml, and
# wait until it is ready. Installs nothing: start_tekton does that first;
# hack/tekton-controller.sh restart starts the same controller again, as a
# kubelet restarts a crashed container.
run_tekton_controller() {
  local bindir="$1" src="$2" kubeconfig="$3" controller_yaml
  controller_yaml="${src}/config/controller.yaml"
  [[ -f "${controller_yaml}" ]] || die "${controller_yaml} not found"
  local -a env_args args
  mapfile -t env_args < <(tekton_controller_env "${controller_yaml}")
  mapfile -t args < <(tekton_controller_args "${controller_yaml}")
  ((${#args[@]})) || die "no image flags found in ${controller_yaml}"
  env_args+=(
    "SYSTEM_NAMESPACE=${TEKTON_NS}"
    "METRICS_PROMETHEUS_HOST=127.0.0.1"
    "METRICS_PROMETHEUS_PORT=${PORT_TEKTON_METRICS}"
    "PROBES_PORT=${PORT_TEKTON_PROBES}"
    "PROFILING_PORT=${PORT_TEKTON_PROFILING}"
    "KUBECONFIG=${kubeconfig}"
  )
  start_bg tekton-controller /usr/bin/env "${env_args[@]}" "${bindir}/controller" \
    -kubeconfig="${kubeconfig}" \
    -disable-ha \
    "${args[@]}"
  wait_component 60 tekton-controller "the Tekton controller (http://127.0.0.1:${PORT_TEKTON_KNATIVE_PROBES}/readiness)" \
    http_get "${PORT_TEKTON_KNATIVE_PROBES}" /readiness
}

# ------------------------------------------------------------ karpenter ----

# install_karpenter SRC : Karpenter's CRDs from the module cache (the kwok
# chart's karpenter.sh CRDs, which also allow the karpenter.kwok.sh labels,
# and the KWOKNodeClass CRD), then its ServiceAccount and RBAC.
install_karpenter() {
  local src="$1" d
  local -a crds=()
  for d in "${src}/kwok/charts/crds" "${src}/kwok/apis/crds"; do
    [[ -d "${d}" ]] || die "${d} not found"
    crds+=(-f "${d}")
  done
  log "installing Karpenter's CRDs from ${src}/kwok"
  # All four karpenter.sh/autoscaling.x-k8s.io CRDs, as the chart installs
  # them: NodeOverlay and CapacityBuffer are only used once their feature
  # gates (FEATURE_GATES) are turned on, but then need no reinstall.
  kubectl_ apply --server-side --force-conflicts "${crds[@]}" >/dev/null \
    || die "installing the Karpenter CRDs failed"
  kubectl_ wait --for=condition=Established --timeout=60s "${crds[@]}" >/dev/null \
    || die "the Karpenter CRDs did not become Established"
  kubectl_ apply --server-side --force-conflicts -f "${PRA_HACK}/karpenter/rbac.yaml" >/dev/null \
    || die "applying Karpenter's ServiceAccount and RBAC failed"
}

# karpenter_kubeconfig : write a kubeconfig that authenticates as the
# karpenter ServiceAccount (so it has exactly the chart's permissions) and
# print its path.
karpenter_kubeconfig() {
  local file="${PRA_CLUSTER_DIR}/karpenter.kubeconfig" token
  token="$(kubectl_ -n "${KARPENTER_NS}" create token karpenter --duration=48h)" \
    || die "creating a token for the karpenter ServiceAccount failed"
  kubeconfig_file "${file}" karpenter "token: ${token}"
  printf '%s\n' "${file}"
}

# start_karpenter : Karpenter's kwok cloud provider out of cluster, then the
# NodePool and KWOKNodeClass of hack/karpenter/nodepool.yaml.
start_karpenter() {
  local src kubeconfig
  src="$(karpenter_src)"
  install_karpenter "${src}"
  kubeconfig="$(karpenter_kubeconfig)"
  # Options are environment variables (each also has a flag). Karpenter parses
  # its own flag set, which has no --kubeconfig: controller-runtime reads
  # KUBECONFIG. One replica, so no leader election. v1.14.1 runs no webhooks
  # (KARPENTER_SERVICE is unused) and reads neither SYSTEM_NAMESPACE nor
  # KUBERNETES_MIN_VERSION, so those chart settings are left out.
  start_bg karpenter /usr/bin/env \
    "KUBECONFIG=${kubeconfig}" \
    "DISABLE_LEADER_ELECTION=true" \
    "METRICS_PORT=${PORT_KARPENTER_METRICS}" \
    "HEALTH_PROBE_PORT=${PORT_KARPENTER_HEALTH}" \
    "INSTANCE_TYPES_FILE_PATH=${PRA_HACK}/karpenter/instance-types.json" \
    "LOG_LEVEL=info" \
    "$(bin_path karpenter)"
  # /readyz checks that the caches synced and the NodePool/NodeClaim CRDs map.
  wait_component 60 karpenter "Karpenter /readyz (http://127.0.0.1:${PORT_KARPENTER_HEALTH}/readyz)" \
    http_get "${PORT_KARPENTER_HEALTH}" /readyz
  kubectl_ apply -f "${PRA_HACK}/karpenter/nodepool.yaml" >/dev/null \
    || die "applying hack/karpenter/nodepool.yaml failed"
  # The NodePool is Ready once Karpenter has seen the KWOKNodeClass Ready
  # (its CRD defaults the status to Ready) and resolved instance types;
  # before that Karpenter provisions nothing.
  wait_component 60 karpenter "the Karpenter NodePool to become Ready" \
    kubectl_ wait --for=condition=Ready --timeout=5s nodepool/default
  printf 'AUTOSCALER=karpenter\nKARPENTER_BIN=%s\n' "$(bin_path karpenter)" >>"${INFO_FILE}"
}

# ---------------------------------------------------------------- kueue ----

# install_kueue SRC : Kueue's CRDs from the module cache
# (config/components/crd/bases), its ClusterRole (config/components/rbac/
# role.yaml, as a release has it), then the namespace, ServiceAccount and
# binding of hack/kueue/rbac.yaml.
install_kueue() {
  local src="$1" crds="$1/config/components/crd/bases"
  [[ -d "${crds}" ]] || die "${crds} not found"
  log "installing Kueue's CRDs from ${crds}"
  kubectl_ apply --server-side --force-conflicts -f "${crds}" >/dev/null \
    || die "installing the Kueue CRDs failed"
  kubectl_ wait --for=condition=Established --timeout=60s -f "${crds}" >/dev/null \
    || die "the Kueue CRDs did not become Established"
  kubectl_ apply --server-side --force-conflicts -f "${src}/config/components/rbac/role.yaml" \
    -f "${PRA_HACK}/kueue/rbac.yaml" >/dev/null \
    || die "applying Kueue's ClusterRole, ServiceAccount and binding failed"
}

# kueue_certs DIR : a self-signed serving certificate for 127.0.0.1 in
# DIR/tls.crt and DIR/tls.key (Kueue's webhook server and metrics
# certificate watcher both need one to start; nothing calls them).
kueue_certs() {
  local dir="$1"
  [[ -f "${dir}/tls.crt" && -f "${dir}/tls.key" ]] && return 0
  require_openssl
  mkdir -p "${dir}"
  (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
    -subj "/CN=kueue-local" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "${dir}/tls.key" -out "${dir}/tls.crt" 2>/dev/null) \
    || die "generating Kueue's serving certificate failed"
}

# kueue_visibility_network : the address of Kueue's visibility server,
# KUEUE_VISIBILITY_IP, on an interface of its own (host_address): not a
# loopback address, so that an EndpointSlice may name it.
kueue_visibility_network() { host_address "${KUEUE_VISIBILITY_LINK}" "${KUEUE_VISIBILITY_IP}"; }

# kueue_visibility_down : remove the visibility server's interface, if any.
kueue_visibility_down() {
  if ip link show "${KUEUE_VISIBILITY_LINK}" >/dev/null 2>&1; then
    ip link del "${KUEUE_VISIBILITY_LINK}" || warn "removing the interface ${KUEUE_VISIBILITY_LINK} failed"
  fi
}

# kueue_visibility_api : Kueue's APIServices (v1beta2 and v1beta1 of
# visibility.kueue.x-k8s.io, as a release has them: insecureSkipTLSVerify)
# and their Service visibility-server, without a selector, whose
# EndpointSlice names KUEUE_VISIBILITY_IP:PORT_KUEUE_VISIBILITY; then waits
# for the API to be Available.
kueue_visibility_api() {
  local v
  {
    for v in v1beta2 v1beta1; do
      cat <<EOF
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: ${v}.visibility.kueue.x-k8s.io
spec:
  group: visibility.kueue.x-k8s.io
  version: ${v}
  groupPriorityMinimum: 100
  versionPriority: 100
  insecureSkipTLSVerify: true
  service:
    name: visibility-server
    namespace: ${KUEUE_NS}
---
EOF
    done
    cat <<EOF
apiVersion: v1
kind: Service
metadata:
  name: visibility-server
  namespace: ${KUEUE_NS}
spec:
  ports:
    - name: https
      port: 443
      protocol: TCP
      targetPort: ${PORT_KUEUE_VISIBILITY}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: visibility-server
  namespace: ${KUEUE_NS}
  labels:
    kubernetes.io/service-name: visibility-server
    endpointslice.kubernetes.io/managed-by: pra-cluster.sh
addressType: IPv4
ports:
  - name: https
    port: ${PORT_KUEUE_VISIBILITY}
    protocol: TCP
endpoints:
  - addresses: ["${KUEUE_VISIBILITY_IP}"]
    conditions:
      ready: true
EOF
  } | kubectl_ apply -f - >/dev/null || die "applying Kueue's APIServices, Service and EndpointSlice failed"
  wait_component 60 kueue "the APIService v1beta2.visibility.kueue.x-k8s.io to become Available" \
    kubectl_ wait --for=condition=Available --timeout=5s apiservice/v1beta2.visibility.kueue.x-k8s.io
}

# start_kueue : Kueue's manager out of cluster, with a token of its
# ServiceAccount, the plain-Pod integration only, fair sharing on (Kueue's
# default preemption strategies), no leader election, no internal
# certificate management, its visibility server on
# KUEUE_VISIBILITY_IP:PORT_KUEUE_VISIBILITY behind Kueue's APIServices
# (kueue_visibility_api); then the ResourceFlavor "default" that the
# tests' ClusterQueues name.
#
# The visibility server reads its certificate from the directory
# KUEUE_VISIBILITY_CERT_DIR, relative to its working directory (set by
# build-binaries.sh), which is the state directory of Kueue here; it is
# the self-signed certificate of the webhook server (the API server does
# not verify it: insecureSkipTLSVerify, as in a release). It authenticates
# the API server's requests by the front proxy's client certificate and
# asks the API server whether their user may (a SubjectAccessReview): the
# ServiceAccount is bound to system:auth-delegator and may read the
# extension-apiserver-authentication ConfigMap (hack/kueue/rbac.yaml), and
# the manager gets --kubeconfig (the visibility server's delegated
# authentication reads that flag, not KUBECONFIG).
#
# With internal certificate management off, Kueue v0.17.0 reads its metrics
# certificate from the fixed path /etc/kueue/metrics/certs (and exits when
# it is missing), even when metrics are off. Rather than write to the
# machine's /etc, the manager runs in a mount namespace of its own
# (unshare, as root) where an overlay on /etc adds that directory from the
# state directory.
start_kueue() {
  local src dir kubeconfig token
  src="$(kueue_src)"
  install_kueue "${src}"
  dir="${PRA_CLUSTER_DIR}/kueue"
  mkdir -p "${dir}"
  kueue_certs "${dir}/certs"
  rm -rf "${dir}/etc-upper" "${dir}/etc-work"
  mkdir -p "${dir}/etc-upper/kueue/metrics/certs" "${dir}/etc-work"
  cp "${dir}/certs/tls.crt" "${dir}/certs/tls.key" "${dir}/etc-upper/kueue/metrics/certs/"
  rm -rf "${dir:?}/${KUEUE_VISIBILITY_CERT_DIR}"
  mkdir -p "${dir}/${KUEUE_VISIBILITY_CERT_DIR}"
  cp "${dir}/certs/tls.crt" "${dir}/certs/tls.key" "${dir}/${KUEUE_VISIBILITY_CERT_DIR}/"
  kueue_visibility_network
  token="$(kubectl_ -n "${KUEUE_NS}" create token kueue-controller-manager --duration=48h)" \
    || die "creating a token for the kueue-controller-manager ServiceAccount failed"
  kubeconfig="${PRA_CLUSTER_DIR}/kueue.kubeconfig"
  kubeconfig_file "${kubeconfig}" kueue "token: ${token}"
  cat >"${dir}/config.yaml" <<EOF
apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: ${KUEUE_NS}
health:
  healthProbeBindAddress: 127.0.0.1:${PORT_KUEUE_HEALTH}
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: ${PORT_KUEUE_WEBHOOK}
  certDir: ${dir}/certs
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: false
featureGates:
  VisibilityOnDemand: true
visibilityServer:
  bindAddress: ${KUEUE_VISIBILITY_IP}
  bindPort: ${PORT_KUEUE_VISIBILITY}
fairSharing:
  preemptionStrategies: [LessThanOrEqualToFinalShare, LessThanInitialShare]
integrations:
  frameworks:
    - pod
EOF
  command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) is needed to run Kueue (see start_kueue)"
  # shellcheck disable=SC2016 # expanded by the inner sh
  start_bg kueue "$(command -v unshare)" --mount --propagation private /bin/sh -c \
    'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc || exit 1; cd "$3" || exit 1; shift 3; exec "$@"' \
    sh "${dir}/etc-upper" "${dir}/etc-work" "${dir}" /usr/bin/env "KUBECONFIG=${kubeconfig}" \
    "$(bin_path kueue)" --config "${dir}/config.yaml" --kubeconfig="${kubeconfig}" --zap-log-level=info
  wait_component 90 kueue "Kueue /readyz (http://127.0.0.1:${PORT_KUEUE_HEALTH}/readyz)" \
    http_get "${PORT_KUEUE_HEALTH}" /readyz
  kueue_visibility_api
  kubectl_ apply -f "${PRA_HACK}/kueue/resourceflavor.yaml" >/dev/null \
    || die "applying hack/kueue/resourceflavor.yaml failed"
  # The Tekton controller's ServiceAccount may read Workloads (the message
  # of a run waiting for admission); its namespace exists before Tekton.
  kubectl_ create namespace "${TEKTON_NS}" --dry-run=client -o yaml | kubectl_ apply -f - >/dev/null \
    || die "creating namespace ${TEKTON_NS} failed"
  kubectl_ apply -f "${PRA_ROOT}/config/kueue-rbac.yaml" >/dev/null \
    || die "applying config/kueue-rbac.yaml failed"
  printf 'KUEUE=%s\nKUEUE_BIN=%s\n' "${KUEUE_VERSION}" "$(bin_path kueue)" >>"${INFO_FILE}"
}

# ----------------------------------------------------------------- stop -----

# stop_components TIMEOUT NAME... : SIGTERM the named components at once,
# wait up to TIMEOUT s for all of them, then SIGKILL what is left.
stop_components() {
  local timeout="$1"
  shift
  local name pf deadline
  local -a names=() pids=()
  for name in "$@"; do
    pf="$(pidfile "${name}")"
    [[ -f "${pf}" ]] || continue
    if component_alive "${name}"; then
      names+=("${name}")
      pids+=("$(cat "${pf}")")
    else
      rm -f "${pf}"
    fi
  done
  ((${#pids[@]})) || return 0
  log "stopping ${names[*]} (pids ${pids[*]})"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  deadline=$((SECONDS + timeout))
  local i alive
  while :; do
    alive=()
    for i in "${!pids[@]}"; do
      if kill -0 "${pids[i]}" 2>/dev/null; then
        alive+=("${i}")
      fi
    done
    ((${#alive[@]})) || break
    if ((SECONDS >= deadline)); then
      for i in "${alive[@]}"; do
        warn "${names[i]} (pid ${pids[i]}) did not exit within ${timeout}s; sending SIGKILL"
        kill -KILL "${pids[i]}" 2>/dev/null || true
      done
      sleep 0.5
      break
    fi
    sleep 0.1
  done
  for name in "${names[@]}"; do
    rm -f "$(pidfile "${name}")"
  done
}

cmd_down() {
  local start=${SECONDS}
  # Clients first (together), then the apiserver (which otherwise waits for
  # their watches to end), then etcd.
  # A real node first: its kubelet, containers and containerd, and what
  # they leave (mounts, cgroups, interfaces).
  real_node_down
  stop_components 15 tekton-controller kueue karpenter kwok provisioner kube-controller-manager kube-scheduler
  kueue_visibility_down
  stop_components 30 kube-apiserver
  stop_components 15 etcd
  rm -rf "${ETCD_DATA}" "${RUN_DIR}" "${INFO_FILE}"
  log "cluster stopped in $((SECONDS - start))s (logs kept in ${LOG_DIR})"
}

# ------------------------------------------------------------------ up ------

cmd_up() {
  local nodes=4 cpu=4 mem=16Gi pods=110 storage=100Gi zones=2 tekton=patched autoscaler=none audit=false kueue=false real=0
  while (($#)); do
    case "$1" in
      --nodes) nodes="${2:?--nodes needs a value}"; shift ;;
      --node-cpu) cpu="${2:?--node-cpu needs a value}"; shift ;;
      --node-memory) mem="${2:?--node-memory needs a value}"; shift ;;
      --node-pods) pods="${2:?--node-pods needs a value}"; shift ;;
      --node-ephemeral-storage) storage="${2:?--node-ephemeral-storage needs a value}"; shift ;;
      --zones) zones="${2:?--zones needs a value}"; shift ;;
      --tekton) tekton="${2:?--tekton needs a value}"; shift ;;
      --autoscaler) autoscaler="${2:?--autoscaler needs a value}"; shift ;;
      --nodes=*) nodes="${1#*=}" ;;
      --node-cpu=*) cpu="${1#*=}" ;;
      --node-memory=*) mem="${1#*=}" ;;
      --node-pods=*) pods="${1#*=}" ;;
      --node-ephemeral-storage=*) storage="${1#*=}" ;;
      --zones=*) zones="${1#*=}" ;;
      --tekton=*) tekton="${1#*=}" ;;
      --autoscaler=*) autoscaler="${1#*=}" ;;
      --real-nodes) real="${2:?--real-nodes needs a value}"; shift ;;
      --real-nodes=*) real="${1#*=}" ;;
      --audit) audit=true ;;
      --kueue) kueue=true ;;
      -h | --help) usage; exit 0 ;;
      *) die "unknown argument '$1' for up (see --help)" ;;
    esac
    shift
  done
  [[ "${nodes}" =~ ^[0-9]+$ && "${nodes}" -ge 1 ]] || die "--nodes must be a positive integer"
  [[ "${pods}" =~ ^[0-9]+$ ]] || die "--node-pods must be an integer"
  [[ "${zones}" =~ ^[0-9]+$ && "${zones}" -ge 1 && "${zones}" -le 26 ]] || die "--zones must be an integer from 1 to 26"
  [[ "${storage}" =~ ^[0-9]+(Ki|Mi|Gi|Ti|k|M|G|T)?$ ]] || die "--node-ephemeral-storage must be a quantity such as 100Gi"
  case "${tekton}" in patched | upstream | none) ;; *) die "--tekton must be patched, upstream or none" ;; esac
  case "${autoscaler}" in none | karpenter) ;; *) die "--autoscaler must be none or karpenter" ;; esac
  [[ "${real}" =~ ^[0-9]+$ && "${real}" -le "${REAL_NODES_MAX}" ]] || die "--real-nodes must be 0 to ${REAL_NODES_MAX}"
  [[ "${real}" == 0 || "$(id -u)" -eq 0 ]] || die "--real-nodes needs root (containerd, the kubelet, cgroups, interfaces)"
  REAL_NODES="${real}"
  KUEUE="${kueue}"
  # hack/karpenter/instance-types.json offers zone-a and zone-b only.
  if [[ "${autoscaler}" == karpenter && "${zones}" != 2 ]]; then
    warn "--zones ${zones}: Karpenter's instance types (hack/karpenter/instance-types.json) are offered in zone-a and zone-b only"
  fi

  local running
  running="$(running_components | tr '\n' ' ')"
  if [[ -n "${running}" ]]; then
    die "a cluster is already running (${running% }); use 'hack/cluster.sh down' first, or 'export KUBECONFIG=${KUBECONFIG_FILE}' to use it"
  fi

  local start_total=${SECONDS}
  log "step 1/7: binaries"
  bash "${PRA_HACK}/build-binaries.sh" || die "building the cluster binaries failed"
  if [[ "${autoscaler}" == karpenter ]]; then
    # Not built by default (a cold build takes minutes); cached afterwards.
    bash "${PRA_HACK}/build-binaries.sh" karpenter || die "building karpenter failed"
  fi
  if [[ "${kueue}" == true ]]; then
    # Not built by default either; cached afterwards.
    bash "${PRA_HACK}/build-binaries.sh" kueue || die "building kueue failed"
  fi
  if ((REAL_NODES > 0)); then
    real_node_prepare
  fi
  if [[ "${tekton}" != none ]]; then
    # Build Tekton before starting anything: a cold build takes minutes.
    bash "${PRA_HACK}/build-tekton.sh" "${tekton}" >/dev/null || die "building Tekton (${tekton}) failed"
  fi

  local -a ports=("${PORT_ETCD_CLIENT}" "${PORT_ETCD_PEER}" "${PORT_ETCD_METRICS}" "${PORT_APISERVER}"
    "${PORT_SCHEDULER}" "${PORT_CONTROLLER_MANAGER}" "${PORT_KWOK}")
  [[ "${tekton}" == none ]] || ports+=("${PORT_TEKTON_METRICS}" "${PORT_TEKTON_PROBES}"
    "${PORT_TEKTON_PROFILING}" "${PORT_TEKTON_KNATIVE_PROBES}")
  [[ "${autoscaler}" == none ]] || ports+=("${PORT_KARPENTER_METRICS}" "${PORT_KARPENTER_HEALTH}")
  [[ "${kueue}" == false ]] || ports+=("${PORT_KUEUE_HEALTH}" "${PORT_KUEUE_WEBHOOK}")
  local p
  for ((p = 1; p <= REAL_NODES; p++)); do
    real_node_select "${p}"
    ports+=("${PORT_KUBELET_HEALTHZ}")
  done
  real_node_select 1
  for p in "${ports[@]}"; do
    port_in_use "${p}" && die "port 127.0.0.1:${p} is already in use (set PRA_PORT_BASE to move the cluster's ports; 8080 is fixed by the Tekton controller)"
  done

  mkdir -p "${PRA_CLUSTER_DIR}" "${RUN_DIR}" "${LOG_DIR}"
  # If anything below fails, take down what was started.
  trap 'rc=$?; if ((rc != 0)); then warn "up failed; stopping what was started"; cmd_down; fi' EXIT

  local start_cluster=${SECONDS}
  log "step 2/7: certificates and kubeconfig"
  gen_pki
  write_kubeconfig
  printf 'KUBECONFIG=%s\nNODES=%s\n' "${KUBECONFIG_FILE}" "${nodes}" >"${INFO_FILE}"
  [[ "${audit}" == false ]] || printf 'AUDIT_LOG=%s\nAUDIT_USER=%s\n' "${AUDIT_LOG}" "${TEKTON_CONTROLLER_USER}" >>"${INFO_FILE}"

  log "step 3/7: etcd and kube-apiserver"
  start_etcd
  start_apiserver "${audit}"

  log "step 4/7: kube-scheduler, kube-controller-manager and the volume provisioner"
  start_scheduler
  start_controller_manager
  wait_component 60 kube-scheduler "kube-scheduler /healthz" https_ok "${PORT_SCHEDULER}" /healthz
  wait_component 60 kube-controller-manager "kube-controller-manager /healthz" https_ok "${PORT_CONTROLLER_MANAGER}" /healthz
  # Pods are only admitted once their namespace has a default ServiceAccount,
  # which proves the serviceaccount controller works.
  wait_component 60 kube-controller-manager "the default ServiceAccount" kubectl_ -n default get serviceaccount default
  start_provisioner

  log "step 5/7: kwok and ${nodes} nodes"
  start_kwok
  create_nodes "${nodes}" "${cpu}" "${mem}" "${pods}" "${storage}" "${zones}"
  ((REAL_NODES == 0)) || real_nodes_up "${REAL_NODES}"

  if [[ "${autoscaler}" == karpenter ]]; then
    log "step 6/7: Karpenter (kwok cloud provider) and its NodePool"
    start_karpenter
  else
    log "step 6/7: no autoscaler (--autoscaler none)"
    printf 'AUTOSCALER=none\n' >>"${INFO_FILE}"
  fi
  if [[ "${kueue}" == true ]]; then
    log "step 6/7: Kueue (plain-Pod integration)"
    start_kueue
  fi

  if [[ "${tekton}" == none ]]; then
    log "step 7/7: Tekton skipped (--tekton none)"
    printf 'TEKTON_FLAVOR=none\n' >>"${INFO_FILE}"
  else
    log "step 7/7: Tekton Pipelines controller (${tekton})"
    start_tekton "${tekton}"
  fi
  trap - EXIT

  log "cluster is up: start to ready $((SECONDS - start_cluster))s (total $((SECONDS - start_total))s)"
  cat <<EOF

  export KUBECONFIG=${KUBECONFIG_FILE}
  kubectl: $(bin_path kubectl)
  status:  hack/cluster.sh status
  stop:    hack/cluster.sh down
EOF
}

# ---------------------------------------------------------------- status ----

cmd_status() {
  local c pf any=0
  printf '%-26s %-8s %s\n' COMPONENT PID STATE
  for c in "${COMPONENTS[@]}"; do
    pf="$(pidfile "${c}")"
    if component_alive "${c}"; then
      printf '%-26s %-8s %s\n' "${c}" "$(cat "${pf}")" running
      any=1
    elif [[ -f "${pf}" ]]; then
      printf '%-26s %-8s %s\n' "${c}" "$(cat "${pf}")" "DEAD (see $(logfile "${c}"))"
    else
      printf '%-26s %-8s %s\n' "${c}" - stopped
    fi
  done
  if ((any == 0)); then
    echo "cluster is down"
    return 1
  fi
  echo
  echo "KUBECONFIG:          ${KUBECONFIG_FILE}"
  echo "kube-apiserver:      https://127.0.0.1:${PORT_APISERVER}"
  echo "etcd:                http://127.0.0.1:${PORT_ETCD_CLIENT}"
  echo "logs:                ${LOG_DIR}"
  if component_alive tekton-controller; then
    local flavor
    flavor="$(sed -n 's/^TEKTON_FLAVOR=//p' "${INFO_FILE}" 2>/dev/null || true)"
    echo "tekton controller:   ${flavor:-?} ($(sed -n 's/^TEKTON_BIN=//p' "${INFO_FILE}" 2>/dev/null || true))"
    echo "tekton metrics:      http://127.0.0.1:${PORT_TEKTON_METRICS}/metrics"
    echo "tekton probes:       http://127.0.0.1:${PORT_TEKTON_KNATIVE_PROBES}/readiness (knative), http://127.0.0.1:${PORT_TEKTON_PROBES}/readiness"
  fi
  if component_alive kueue; then
    echo "kueue:               $(sed -n 's/^KUEUE_BIN=//p' "${INFO_FILE}" 2>/dev/null || true)"
    echo "kueue probes:        http://127.0.0.1:${PORT_KUEUE_HEALTH}/readyz"
  fi
  if component_alive karpenter; then
    echo "karpenter:           $(sed -n 's/^KARPENTER_BIN=//p' "${INFO_FILE}" 2>/dev/null || true)"
    echo "karpenter metrics:   http://127.0.0.1:${PORT_KARPENTER_METRICS}/metrics"
    echo "karpenter probes:    http://127.0.0.1:${PORT_KARPENTER_HEALTH}/readyz"
  fi
  echo
  kubectl_ get nodes -o wide 2>&1 || true
  if component_alive karpenter; then
    echo
    kubectl_ get nodepools,nodeclaims 2>&1 || true
  fi
}

cmd_env() {
  printf 'export KUBECONFIG=%s\n' "${KUBECONFIG_FILE}"
  # shellcheck disable=SC2016 # $PATH is meant to expand where this is eval'd
  printf 'export PATH=%s:$PATH\n' "$(dirname "$(bin_path kubectl)")"
}

main() {
  local cmd="${1:-}"
  (($#)) && shift
  case "${cmd}" in
    up) cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h | --help | help) usage ;;
    "") usage >&2; exit 2 ;;
    *) die "unknown command '${cmd}' (want up, down, status or env)" ;;
  esac
}

# Allow sourcing the functions (for debugging) without running main.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  main "$@"
fi
