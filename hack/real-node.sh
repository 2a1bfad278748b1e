# shellcheck shell=bash
# The real nodes of hack/cluster.sh up --real-nodes N (N = 1 or 2): for each,
# containerd (Debian's) and a kubelet built from the pinned Kubernetes
# module, beside the kwok nodes. Sourced by hack/cluster.sh, whose helpers
# (start_bg, stop_components, kubectl_, ...) it uses; not a command of its
# own.
#
# Each node has its own of everything (real_node_select sets the names):
# everything it makes lives below ${REAL_NODE_DIR} (containerd's root and
# state, the kubelet's root, pod logs, CNI state), in the cgroup
# ${REAL_NODE_CGROUP} of every hierarchy, on the bridge ${REAL_NODE_BRIDGE}
# and the interface ${REAL_NODE_LINK} that carries the node's IP (the kubelet
# refuses a loopback node IP; the machine's kernel has no "dummy" link type,
# so it is an empty bridge); its kubelet listens on its own ports and talks
# to its own containerd (a kubelet kills the pods it finds in its runtime
# that are not its own, so two cannot share one). real_node_down removes all
# of it. What the nodes share: the machine's CPUs and memory (each kubelet
# offers all of them), the local volumes' directory ${REAL_VOLUMES_DIR}, and
# the fixed /var/lib/kubelet/device-plugins (no device plugin is used).

readonly REAL_NODES_MAX=2
readonly REAL_NODE_TAINT_KEY="pra.dev/real-node"
readonly REAL_VOLUMES_DIR="${PRA_CLUSTER_DIR}/real-volumes"

# real_node_select I : make node I (1..REAL_NODES_MAX) the one the functions
# below work on. Node 1 keeps the names it had when it was the only one.
real_node_select() {
  local i="$1"
  ((i >= 1 && i <= REAL_NODES_MAX)) || die "no real node ${i} (1..${REAL_NODES_MAX})"
  REAL_NODE_INDEX="${i}"
  REAL_NODE_NAME="real-${i}"
  REAL_NODE_DIR="${PRA_CLUSTER_DIR}/${REAL_NODE_NAME}"
  REAL_NODE_CGROUP="pra-${REAL_NODE_NAME}"
  REAL_NODE_LINK="pra-real$((i - 1))"
  REAL_NODE_BRIDGE="pra-cni$((i - 1))"
  REAL_NODE_IP="10.254.0.${i}"
  REAL_NODE_POD_SUBNET="10.254.${i}.0/24"
  # The CNI network's name (libcni names its result caches after it).
  REAL_NODE_NETWORK="pra-real"
  ((i == 1)) || REAL_NODE_NETWORK="pra-real${i}"
  REAL_NODE_SOCKET="${REAL_NODE_DIR}/run/containerd.sock"
  # The kubelet's ports on ${REAL_NODE_IP} and 127.0.0.1: BASE+14 and
  # BASE+15 for node 1, BASE+16 and BASE+17 for node 2.
  PORT_KUBELET=$((PRA_PORT_BASE + 12 + 2 * i))
  PORT_KUBELET_HEALTHZ=$((PRA_PORT_BASE + 13 + 2 * i))
  # The components' names (pid and log files).
  REAL_NODE_CONTAINERD="containerd"
  REAL_NODE_KUBELET="kubelet"
  if ((i > 1)); then
    REAL_NODE_CONTAINERD="containerd-${i}"
    REAL_NODE_KUBELET="kubelet-${i}"
  fi
}
real_node_select 1

ctr_() { ctr --address "${REAL_NODE_SOCKET}" --namespace k8s.io "$@"; }

# real_node_prepare : install the packages, build the kubelet and the images
# (all cached after the first run). Timed, for hack/README.md's figures.
real_node_prepare() {
  local t=${SECONDS}
  require_packages "${REAL_NODE_PACKAGES[@]}"
  log "real node: packages ready in $((SECONDS - t))s"
  t=${SECONDS}
  bash "${PRA_HACK}/build-binaries.sh" kubelet || die "building the kubelet failed"
  log "real node: kubelet ready in $((SECONDS - t))s"
  t=${SECONDS}
  REAL_NODE_IMAGES="$(bash "${PRA_HACK}/build-images.sh")" || die "building the real node's images failed"
  log "real node: images ready in $((SECONDS - t))s"
  [[ -d /sys/fs/cgroup/cpu && -d /sys/fs/cgroup/memory ]] \
    || die "the real node needs the cgroup v1 cpu and memory hierarchies under /sys/fs/cgroup"
}

# real_node_pki : the kubelet's client certificate (system:node:NAME in
# system:nodes, what the Node authorizer expects).
real_node_pki() {
  [[ -f "${PKI}/${REAL_NODE_NAME}.crt" ]] && return 0
  (
    set -euo pipefail
    cd "${PKI}"
    umask 077
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "${REAL_NODE_NAME}.key" 2>/dev/null
    openssl req -new -key "${REAL_NODE_NAME}.key" -subj "/O=system:nodes/CN=system:node:${REAL_NODE_NAME}" \
      -out "${REAL_NODE_NAME}.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
      >"${REAL_NODE_NAME}.ext"
    openssl x509 -req -in "${REAL_NODE_NAME}.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
      -extfile "${REAL_NODE_NAME}.ext" -out "${REAL_NODE_NAME}.crt" 2>/dev/null
    rm -f "${REAL_NODE_NAME}.csr" "${REAL_NODE_NAME}.ext"
  ) || die "making the kubelet's certificate failed"
}

# real_node_network : the interface with the node IP.
real_node_network() { host_address "${REAL_NODE_LINK}" "${REAL_NODE_IP}"; }

# real_node_cgroups : the node's cgroup in every v1 hierarchy (the kubelet's
# cgroupRoot must exist; a new cpuset needs its cpus and mems).
real_node_cgroups() {
  local h d
  for h in /sys/fs/cgroup/*/; do
    [[ -d "${h}" ]] || continue
    [[ "${h}" == */unified/ ]] && continue
    d="${h}${REAL_NODE_CGROUP}"
    mkdir -p "${d}" || die "creating the cgroup ${d} failed"
    if [[ -f "${h}cpuset.cpus" ]]; then
      [[ -n "$(cat "${d}/cpuset.cpus")" ]] || cat "${h}cpuset.cpus" >"${d}/cpuset.cpus"
      [[ -n "$(cat "${d}/cpuset.mems")" ]] || cat "${h}cpuset.mems" >"${d}/cpuset.mems"
    fi
  done
}

real_node_containerd_config() {
  local dir="${REAL_NODE_DIR}"
  mkdir -p "${dir}/run" "${dir}/cni/net.d" "${dir}/cni/ipam"
  cat >"${dir}/cni/net.d/10-${REAL_NODE_NETWORK}.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "${REAL_NODE_NETWORK}",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${REAL_NODE_BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${dir}/cni/ipam",
        "ranges": [[{"subnet": "${REAL_NODE_POD_SUBNET}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF
  cat >"${dir}/containerd.toml" <<EOF
version = 2
root = "${dir}/containerd/root"
state = "${dir}/containerd/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${REAL_NODE_SOCKET}"

[ttrpc]
  address = "${REAL_NODE_SOCKET}.ttrpc"

[debug]
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  # The machine's root has no CAP_SYS_RESOURCE (not in the bounding set):
  # lowering a process's oom_score_adj is refused, and runc then fails every
  # sandbox (-998) and Guaranteed container (-997) with "can't get final
  # child's PID from pipe: EOF". This caps the kubelet's values at
  # containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${dir}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
EOF
}

real_node_kubelet_config() {
  local dir="${REAL_NODE_DIR}"
  mkdir -p "${dir}/kubelet" "${dir}/pod-logs" "${dir}/kubelet-pki"
  kubeconfig_file "${dir}/kubelet.kubeconfig" "system:node:${REAL_NODE_NAME}" \
    "client-certificate: ${PKI}/${REAL_NODE_NAME}.crt" "client-key: ${PKI}/${REAL_NODE_NAME}.key"
  cat >"${dir}/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The machine has cgroup v1 only; Kubernetes 1.35 refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${REAL_NODE_CGROUP}
containerRuntimeEndpoint: unix://${REAL_NODE_SOCKET}
address: ${REAL_NODE_IP}
port: ${PORT_KUBELET}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${PORT_KUBELET_HEALTHZ}
podLogsDir: ${dir}/pod-logs
volumePluginDir: ${dir}/volume-plugins
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: ${PKI}/ca.crt
# Only the API server (with the admin certificate) reaches the kubelet, on
# the node's address (a local interface).
authorization:
  mode: AlwaysAllow
failSwapOn: false
registerNode: true
registerWithTaints:
- key: ${REAL_NODE_TAINT_KEY}
  value: "true"
  effect: NoSchedule
maxPods: 30
serializeImagePulls: false
nodeStatusUpdateFrequency: 10s
# The disk is shared with everything else on the machine: evict only when it
# is really full, and never garbage-collect the imported images (they
# cannot be pulled again).
evictionHard:
  memory.available: 100Mi
  nodefs.available: 2%
  imagefs.available: 2%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
EOF
}

# real_node_up : start containerd and the kubelet, import the images and
# wait for the node to be Ready.
real_node_up() {
  local dir="${REAL_NODE_DIR}" i
  [[ -d "${REAL_NODE_IMAGES:-}" ]] || die "real_node_prepare was not run"
  if [[ -e "${dir}" ]]; then
    warn "${dir} is left from an earlier run; cleaning it up first"
    real_node_clean
  fi
  local t=${SECONDS}
  real_node_pki
  real_node_network
  real_node_cgroups
  real_node_containerd_config
  real_node_kubelet_config
  # containerd runs in the node's cgroup, so down finds every process the
  # node started (shims and containers included) there.
  # shellcheck disable=SC2016 # expanded by the inner bash
  start_bg "${REAL_NODE_CONTAINERD}" /usr/bin/env "PATH=/usr/sbin:/usr/bin:/sbin:/bin" bash -c \
    'for h in /sys/fs/cgroup/*/"$0"/cgroup.procs; do echo $$ >"$h"; done; exec "$@"' \
    "${REAL_NODE_CGROUP}" /usr/bin/containerd --config "${dir}/containerd.toml"
  wait_component 30 "${REAL_NODE_CONTAINERD}" "containerd (${REAL_NODE_SOCKET})" ctr_ version
  for i in pause busybox "${TEKTON_IMAGE_COMMANDS[@]}"; do
    ctr_ images import --no-unpack=false "${REAL_NODE_IMAGES}/${i}.tar" >/dev/null \
      || die "importing ${REAL_NODE_IMAGES}/${i}.tar into containerd failed"
  done
  log "real node ${REAL_NODE_NAME}: containerd up and images imported in $((SECONDS - t))s"
  start_bg "${REAL_NODE_KUBELET}" "$(bin_path kubelet)" \
    --config="${dir}/kubelet.yaml" \
    --kubeconfig="${dir}/kubelet.kubeconfig" \
    --root-dir="${dir}/kubelet" \
    --cert-dir="${dir}/kubelet-pki" \
    --hostname-override="${REAL_NODE_NAME}" \
    --node-ip="${REAL_NODE_IP}" \
    --node-labels="type=real,topology.kubernetes.io/zone=zone-a" \
    --v=1
  wait_component 120 "${REAL_NODE_KUBELET}" "the node ${REAL_NODE_NAME} to be Ready" \
    kubectl_ wait --for=condition=Ready --timeout=2s "node/${REAL_NODE_NAME}"
  log "real node ${REAL_NODE_NAME} Ready in $((SECONDS - t))s"
}

# real_nodes_up N : start real nodes 1..N, one after the other, and record
# their names in the cluster's info file.
real_nodes_up() {
  local n="$1" i
  local -a names=()
  for ((i = 1; i <= n; i++)); do
    real_node_select "${i}"
    log "step 5/7: the real node ${REAL_NODE_NAME} (containerd and kubelet)"
    real_node_up
    names+=("${REAL_NODE_NAME}")
  done
  real_node_select 1
  (
    IFS=,
    printf 'REAL_NODES=%s\n' "${names[*]}"
  ) >>"${INFO_FILE}"
}

# real_node_stop_pods : kill and delete every container containerd runs for
# the node (the kubelet is stopped first, so nothing restarts them).
real_node_stop_pods() {
  [[ -S "${REAL_NODE_SOCKET}" ]] || return 0
  local id
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks kill --signal SIGKILL "${id}" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ tasks ls -q 2>/dev/null); do
    ctr_ tasks delete --force "${id}" >/dev/null 2>&1 || true
  done
  for id in $(ctr_ containers ls -q 2>/dev/null); do
    ctr_ containers delete "${id}" >/dev/null 2>&1 || true
  done
}

# real_node_clean : what remains once the kubelet and containerd are gone:
# processes left in the node's cgroups, mounts below the node's directory
# (container root filesystems, network namespaces, pod volumes), the
# cgroups, the kubelet's and CNI's files in fixed places, the bridge and the
# node IP's interface, and the directory itself.
real_node_clean() {
  local dir="${REAL_NODE_DIR}" h pids m
  for h in /sys/fs/cgroup/*/"${REAL_NODE_CGROUP}"; do
    [[ -d "${h}" ]] || continue
    pids="$(find "${h}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | tr '\n' ' ')"
    if [[ -n "${pids// /}" ]]; then
      warn "killing processes left in the cgroup ${h}: ${pids}"
      # shellcheck disable=SC2086 # a list of PIDs
      kill -KILL ${pids} 2>/dev/null || true
    fi
  done
  sleep 0.2
  if [[ -d "${dir}" ]]; then
    # Deepest first; lazily where something still holds a mount.
    while read -r m; do
      umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || warn "could not unmount ${m}"
    done < <(awk -v d="${dir}/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  fi
  for h in /sys/fs/cgroup/*/"${REAL_NODE_CGROUP}"; do
    [[ -d "${h}" ]] || continue
    find "${h}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d "${h}" ]] && warn "could not remove the cgroup ${h}"
  done
  # What the kubelet, containerd and libcni keep in fixed places: container
  # log links (into the node's directory), the device plugin socket and
  # checkpoint, CNI result caches (named after the network).
  find /var/log/containers -maxdepth 1 -type l -lname "${dir}/*" -delete 2>/dev/null || true
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
  rmdir /var/lib/kubelet/device-plugins /var/lib/kubelet 2>/dev/null || true
  local f id
  for f in "/var/lib/cni/results/${REAL_NODE_NETWORK}-"*-eth0; do
    [[ -e "${f}" ]] || continue
    id="${f#/var/lib/cni/results/"${REAL_NODE_NETWORK}"-}"
    id="${id%-eth0}"
    rm -f "${f}" "/var/lib/cni/results/cni-loopback-${id}-lo"
  done
  ip link del "${REAL_NODE_BRIDGE}" >/dev/null 2>&1 || true
  ip link del "${REAL_NODE_LINK}" >/dev/null 2>&1 || true
  rm -rf "${dir}" 2>/dev/null || warn "could not remove ${dir} completely"
}

# real_node_down : stop the kubelet, the node's containers and containerd,
# then clean up, for every real node. Safe to call when none ever started.
real_node_down() {
  local i
  local -a kubelets=()
  # Every kubelet first (nothing restarts a container then), together.
  for ((i = 1; i <= REAL_NODES_MAX; i++)); do
    real_node_select "${i}"
    kubelets+=("${REAL_NODE_KUBELET}")
  done
  stop_components 15 "${kubelets[@]}"
  for ((i = 1; i <= REAL_NODES_MAX; i++)); do
    real_node_select "${i}"
    if component_alive "${REAL_NODE_CONTAINERD}"; then
      real_node_stop_pods
    fi
    stop_components 15 "${REAL_NODE_CONTAINERD}"
    if [[ -e "${REAL_NODE_DIR}" ]] || ip link show "${REAL_NODE_LINK}" >/dev/null 2>&1; then
      real_node_clean
    fi
  done
  real_node_select 1
  rm -rf "${REAL_VOLUMES_DIR}" 2>/dev/null || warn "could not remove ${REAL_VOLUMES_DIR} completely"
}
