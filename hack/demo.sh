#!/usr/bin/env bash
# The PipelineRun pod affinity demo (`make demo`): the 2023 prototype's
# scenarios, run against the patched Tekton controller on a local kwok
# cluster, with the manifests in examples/.
#
#   0. build what is missing, start a 4-node cluster (hack/cluster.sh up
#      --tekton patched), enable the engine with "coschedule:
#      isolate-pipelinerun" (examples/feature-flags.yaml)
#   1. a four-task pipeline (clone -> build+test -> deploy) sharing a
#      ReadWriteOnce volumeClaimTemplate workspace: all its pods, the
#      placeholder included, on one node, its volume provisioned there by
#      the default WaitForFirstConsumer StorageClass, and deleted with the run
#   2. four long-running runs on four nodes: one node each
#   3. a fifth run waits (placeholder Pending, FailedScheduling on
#      anti-affinity, reason WaitingForNode, no TaskRun) until a node is
#      freed, then runs there
#   4. the per-run opt-in label (examples/opt-in-pipelinerun.yaml) with
#      "coschedule: workspaces": only the labelled run is placed
#   5. the prototype's scale-up with a real autoscaler (Karpenter's kwok
#      provider, paused until then): every node holds a run, run N+1's
#      placeholder is Pending, Karpenter adds a node and the run goes there
#   and finally no placeholder is left once the runs are done.
#
# Every check prints a "verdict:" line; the script exits non-zero when one
# fails. The cluster is always torn down at the end (also on failure or
# Ctrl-C), unless --keep is given. Refuses to run when a cluster is up.
#
# Usage: hack/demo.sh [--keep] [--skip-opt-in]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=0
OPT_IN=1
while (($#)); do
  case "$1" in
    --keep) KEEP=1 ;;
    --skip-opt-in) OPT_IN=0 ;;
    -h | --help)
      sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
  shift
done

readonly NS=demo
readonly NODES=4
readonly EXAMPLES="${PRA_ROOT}/examples"
readonly PH_LABEL="app.kubernetes.io/component=pipelinerun-placeholder"
readonly MEMBER_LABEL="tekton.dev/pod-affinity-placeholder"
readonly CONTROLLER_LOG="${PRA_CLUSTER_DIR}/logs/tekton-controller.log"

START=${SECONDS}
STARTED_CLUSTER=0
FAILED_VERDICTS=()

# ---------------------------------------------------------------- output

step() { printf '\n==> [%3ds] %s\n' "$((SECONDS - START))" "$*"; }
note() { printf '    %s\n' "$*"; }

# show ARGS... : print "$ kubectl ARGS" (quoted so it can be pasted) and run
# it (a table for the reader).
show() {
  local a line="$ kubectl"
  for a in "$@"; do
    if [[ "${a}" =~ ^[][A-Za-z0-9_./:=,@%+-]+$ ]]; then
      line+=" ${a}"
    else
      line+=" '${a}'"
    fi
  done
  printf '%s\n' "${line}"
  kubectl "$@" 2>&1 || true
}

# verdict OK|FAIL TEXT : one line per check; failures are collected.
verdict() {
  if [[ "$1" == OK ]]; then
    printf 'verdict: OK   %s\n' "$2"
  else
    printf 'verdict: FAIL %s\n' "$2"
    FAILED_VERDICTS+=("$2")
  fi
}

# diagnostics : object states and the controller's engine log lines, for a
# failed wait or verdict.
diagnostics() {
  printf '\n---- diagnostics ----\n'
  kubectl -n "${NS}" get pipelineruns,taskruns,statefulsets,pods -o wide 2>&1 || true
  kubectl -n "${NS}" get pipelineruns -o custom-columns='NAME:.metadata.name,REASON:.status.conditions[0].reason,MESSAGE:.status.conditions[0].message' 2>&1 || true
  kubectl -n "${NS}" get events --sort-by=.lastTimestamp 2>&1 | tail -n 40 || true
  if [[ -f "${CONTROLLER_LOG}" ]]; then
    printf -- '---- %s (engine lines, last 40) ----\n' "${CONTROLLER_LOG}"
    grep -iE 'placeholder|affinity|WaitingForNode|error' "${CONTROLLER_LOG}" | tail -n 40 | cut -c1-600 || true
  fi
  printf -- '---- end of diagnostics ----\n'
}

# fatal MSG : a wait failed; nothing after it can be shown meaningfully.
fatal() {
  printf '\nERROR: %s\n' "$*"
  diagnostics
  exit 1
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((STARTED_CLUSTER)); then
    if ((KEEP)); then
      step "--keep: leaving the cluster running (stop it with hack/cluster.sh down)"
    else
      step "tearing the cluster down"
      "${PRA_HACK}/cluster.sh" down || warn "hack/cluster.sh down failed"
    fi
  fi
  printf '\ndemo finished in %ds\n' "$((SECONDS - START))"
  if ((rc != 0)); then
    printf 'DEMO FAILED (exit %d)\n' "${rc}"
  fi
  exit "${rc}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- queries

k() { kubectl -n "${NS}" "$@"; }

# create FILE : create an object of FILE (generateName) and print its name.
create() { k create -f "$1" -o jsonpath='{.metadata.name}'; }

# placeholder_pods RUN : "<pod> <node>" of the run's placeholder pod(s).
placeholder_pods() {
  k get pods -l "${PH_LABEL},tekton.dev/pipelineRun=$1" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{"\n"}{end}'
}

# placeholder_node RUN : the node of the run's placeholder pod, or "".
placeholder_node() { placeholder_pods "$1" | awk 'NF == 2 {print $2; exit}'; }

# task_pods RUN : "<pod> <node> <placeholder label>" of the run's TaskRun pods.
task_pods() {
  k get pods -l "tekton.dev/pipelineRun=$1,tekton.dev/taskRun" \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.nodeName}{" "}{.metadata.labels.tekton\.dev/pod-affinity-placeholder}{"\n"}{end}'
}

# count_bound_task_pods RUN : how many TaskRun pods of RUN are bound to a node.
count_bound_task_pods() { task_pods "$1" | awk 'NF >= 2' | wc -l; }

# started_on RUN : print the node of RUN's placeholder once it has one and a
# bound TaskRun pod; fail before.
started_on() {
  local n
  n="$(placeholder_node "$1")"
  [[ -n "${n}" && "$(count_bound_task_pods "$1")" -ge 1 ]] && printf '%s\n' "${n}"
}

# run_condition RUN : "<status> <reason>" of the run's Succeeded condition.
run_condition() {
  k get pipelinerun "$1" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].status}{" "}{.status.conditions[?(@.type=="Succeeded")].reason}'
}
run_message() {
  k get pipelinerun "$1" -o jsonpath='{.status.conditions[?(@.type=="Succeeded")].message}'
}
run_done() { [[ "$(run_condition "$1")" == True* || "$(run_condition "$1")" == False* ]]; }
run_succeeded() { [[ "$(run_condition "$1")" == "True "* ]]; }

# wait_succeeded TIMEOUT RUN... : wait until every RUN succeeded.
wait_succeeded() {
  local timeout="$1" r
  shift
  for r in "$@"; do
    wait_for "${timeout}" "PipelineRun ${r} to finish" run_done "${r}" || fatal "PipelineRun ${r} did not finish within ${timeout}s"
    run_succeeded "${r}" || fatal "PipelineRun ${r} finished but did not succeed: $(run_condition "${r}"): $(run_message "${r}")"
  done
}

no_placeholders_of() { [[ -z "$(k get statefulsets,pods -l "${PH_LABEL},tekton.dev/pipelineRun=$1" -o name 2>/dev/null)" ]]; }
no_placeholders() { [[ -z "$(k get statefulsets,pods -l "${PH_LABEL}" -o name 2>/dev/null)" ]]; }

# ---------------------------------------------------------------- setup

step "building what is missing (hack/build-binaries.sh, hack/build-tekton.sh patched)"
"${PRA_HACK}/build-binaries.sh"
"${PRA_HACK}/build-tekton.sh" patched >/dev/null

step "starting a ${NODES}-node cluster with the patched Tekton controller"
if "${PRA_HACK}/cluster.sh" status >/dev/null 2>&1; then
  die "a local cluster is already running (hack/cluster.sh status); stop it with hack/cluster.sh down first"
fi
# up stops what it started when it fails, so only a successful up is ours to
# tear down (never someone else's cluster that appeared meanwhile).
"${PRA_HACK}/cluster.sh" up --nodes "${NODES}" --tekton patched --autoscaler karpenter \
  || die "hack/cluster.sh up failed (it stopped what it had started; logs in ${PRA_CLUSTER_DIR}/logs)"
STARTED_CLUSTER=1
eval "$("${PRA_HACK}/cluster.sh" env)"
command -v kubectl >/dev/null || die "the built kubectl is not on PATH"
note "kubectl: $(command -v kubectl)"

step "the nodes"
# Karpenter runs from the start but adds no node until scenario 5: its
# NodePool's CPU limit is 0 meanwhile (scenario 3 shows a run that waits).
kubectl patch nodepool default --type merge -p '{"spec":{"limits":{"cpu":"0"}}}' >/dev/null \
  || fatal "pausing Karpenter's NodePool failed"
note "Karpenter's NodePool is paused (limits.cpu 0) until scenario 5"
show get nodes -o wide
show get nodes -o custom-columns='NAME:.metadata.name,CPU:.status.allocatable.cpu,MEMORY:.status.allocatable.memory,PODS:.status.allocatable.pods'

step "the default StorageClass: WaitForFirstConsumer (the prototype's first installation step), so a run's volume is provisioned on the node its placeholder is scheduled to"
show get storageclass
show get storageclass -o custom-columns='NAME:.metadata.name,DEFAULT:.metadata.annotations.storageclass\.kubernetes\.io/is-default-class,BINDING:.volumeBindingMode,TOPOLOGY:.parameters.topology'

step "enabling the engine: kubectl patch feature-flags with examples/feature-flags.yaml (coschedule: isolate-pipelinerun)"
show -n tekton-pipelines patch configmap feature-flags --type merge --patch-file "${EXAMPLES}/feature-flags.yaml"
# shellcheck disable=SC2016 # a go-template, not shell
kubectl -n tekton-pipelines get configmap feature-flags \
  -o go-template='{{range $k, $v := .data}}{{if or (eq $k "coschedule") (eq $k "enable-pipelinerun-pod-affinity")}}    {{$k}}: {{$v}}{{"\n"}}{{end}}{{end}}'
# The controller watches the ConfigMap; give its informer a moment.
sleep 3

step "namespace ${NS} and the pipelines (examples/four-task-pipeline.yaml, examples/long-running-pipeline.yaml)"
kubectl create namespace "${NS}" >/dev/null
wait_for 30 "service account default in ${NS}" k get serviceaccount default || fatal "namespace ${NS} has no default service account"
show -n "${NS}" apply -f "${EXAMPLES}/four-task-pipeline.yaml" -f "${EXAMPLES}/long-running-pipeline.yaml"

# ---------------------------------------------------------------- scenario 1

step "scenario 1: a four-task pipeline (clone -> build + test -> deploy) sharing a ReadWriteOnce workspace, all pods on one node"
RUN1="$(create "${EXAMPLES}/four-task-pipelinerun.yaml")"
note "created PipelineRun ${RUN1} (kubectl create -f examples/four-task-pipelinerun.yaml)"

# The placeholder is deleted when the run is done: note its node while the
# run goes, and take the table while the last task (deploy) runs.
PH1_NODE=""
PH1_NAME=""
all_four_bound() {
  local line
  line="$(placeholder_pods "${RUN1}" | awk 'NF == 2' | head -n1)"
  if [[ -n "${line}" ]]; then
    PH1_NAME="${line%% *}"
    PH1_NODE="${line##* }"
  fi
  [[ "$(count_bound_task_pods "${RUN1}")" -ge 4 ]]
}
wait_for 90 "the four TaskRun pods of ${RUN1}" all_four_bound || fatal "the four TaskRun pods of ${RUN1} were not all scheduled within 90s"
note "while deploy runs:"
show -n "${NS}" get pods -l "tekton.dev/pipelineRun=${RUN1}" -o wide
# The workspace's claim and its volume, with the node the volume is bound to.
PVC1="$(k get pvc -o jsonpath="{range .items[?(@.metadata.ownerReferences[0].name==\"${RUN1}\")]}{.metadata.name}{end}")"
PV1="$(k get pvc "${PVC1}" -o jsonpath='{.spec.volumeName}' 2>/dev/null || true)"
PV1_NODE="$(kubectl get pv "${PV1}" -o jsonpath='{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}' 2>/dev/null || true)"
show -n "${NS}" get pvc,pv
show get pv -o custom-columns='NAME:.metadata.name,CLAIM:.spec.claimRef.name,STORAGECLASS:.spec.storageClassName,NODE:.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]'
wait_succeeded 90 "${RUN1}"

step "scenario 1: ${RUN1} finished"
show -n "${NS}" get pipelinerun "${RUN1}"
show -n "${NS}" get taskruns -l "tekton.dev/pipelineRun=${RUN1}"
show -n "${NS}" get pods -l "tekton.dev/pipelineRun=${RUN1}" -o wide -L "${MEMBER_LABEL}"
show -n "${NS}" get events --field-selector "involvedObject.name=${RUN1}" --sort-by=.lastTimestamp

mapfile -t pods1 < <(task_pods "${RUN1}")
nodes1="$({
  for l in "${pods1[@]}"; do awk '{print $2}' <<<"${l}"; done
  if [[ -n "${PH1_NODE}" ]]; then printf '%s\n' "${PH1_NODE}"; fi
} | sort -u)"
unlabelled1="$(for l in "${pods1[@]}"; do awk -v ph="${PH1_NAME%-0}" 'NF < 3 || $3 != ph {print $1}' <<<"${l}"; done)"
npods1=$((${#pods1[@]} + (${#PH1_NODE} > 0 ? 1 : 0)))
if [[ -z "${PH1_NODE}" ]]; then
  verdict FAIL "scenario 1: ${RUN1} never had a placeholder pod on a node (is the engine on?)"
elif [[ "$(wc -l <<<"${nodes1}")" -ne 1 || "${npods1}" -ne 5 ]]; then
  verdict FAIL "scenario 1: the ${npods1} pods of ${RUN1} are on several nodes: $(tr '\n' ' ' <<<"${nodes1}")"
elif [[ -n "${unlabelled1}" ]]; then
  verdict FAIL "scenario 1: TaskRun pods without ${MEMBER_LABEL}=${PH1_NAME%-0}: $(tr '\n' ' ' <<<"${unlabelled1}")"
else
  verdict OK "scenario 1: all 5 pods on ${PH1_NODE} (4 TaskRun pods + placeholder ${PH1_NAME})"
fi
if [[ -z "${PVC1}" || -z "${PV1}" ]]; then
  verdict FAIL "scenario 1: the source workspace of ${RUN1} has no bound claim (claim '${PVC1}', volume '${PV1}')"
elif [[ "${PV1_NODE}" != "${PH1_NODE}" ]]; then
  verdict FAIL "scenario 1: volume ${PV1} of claim ${PVC1} is bound to node '${PV1_NODE}', the run ran on ${PH1_NODE}"
else
  verdict OK "scenario 1: the workspace's volume ${PV1} (claim ${PVC1}) was provisioned on ${PV1_NODE}, the run's node"
fi
pvc_gone() { ! k get pvc "${PVC1}" >/dev/null 2>&1 && ! kubectl get pv "${PV1}" >/dev/null 2>&1; }
if [[ -n "${PVC1}" ]] && wait_for 60 "claim ${PVC1} and volume ${PV1} to be deleted" pvc_gone; then
  verdict OK "scenario 1: claim ${PVC1} was deleted with the run (as the Affinity Assistant does with isolate-pipelinerun) and volume ${PV1} reclaimed (policy Delete)"
  show -n "${NS}" get pvc,pv
else
  verdict FAIL "scenario 1: claim '${PVC1}' or volume '${PV1}' still exists 60s after the run finished"
fi
if wait_for 30 "the placeholder of ${RUN1} to be deleted" no_placeholders_of "${RUN1}"; then
  verdict OK "scenario 1: the placeholder of ${RUN1} was deleted when the run finished"
else
  verdict FAIL "scenario 1: the placeholder of ${RUN1} still exists 30s after the run finished"
fi

# ---------------------------------------------------------------- scenario 2

step "scenario 2: ${NODES} long-running runs (examples/long-running-pipelinerun.yaml) on ${NODES} nodes"
LONG=()
for _ in $(seq "${NODES}"); do
  LONG+=("$(create "${EXAMPLES}/long-running-pipelinerun.yaml")")
done
note "created ${LONG[*]}"
declare -A LONG_NODE=()
all_long_running() {
  local r n
  for r in "${LONG[@]}"; do
    n="$(placeholder_node "${r}")"
    [[ -n "${n}" ]] && LONG_NODE[${r}]="${n}"
    [[ -n "${LONG_NODE[${r}]:-}" && "$(count_bound_task_pods "${r}")" -ge 1 ]] || return 1
  done
}
wait_for 60 "the TaskRun pods of ${LONG[*]}" all_long_running || fatal "not all ${NODES} long-running runs started within 60s"
long_sel="tekton.dev/pipelineRun in ($(IFS=,; echo "${LONG[*]}"))"
show -n "${NS}" get pods -l "${long_sel}" -o wide --sort-by=.spec.nodeName
show -n "${NS}" get pipelineruns "${LONG[@]}"

bad2=""
for r in "${LONG[@]}"; do
  while read -r pod node _; do
    [[ "${node}" == "${LONG_NODE[${r}]}" ]] || bad2+=" ${pod}@${node}(placeholder@${LONG_NODE[${r}]})"
  done < <(task_pods "${r}")
done
distinct2="$(printf '%s\n' "${LONG_NODE[@]}" | sort -u)"
if [[ -n "${bad2}" ]]; then
  verdict FAIL "scenario 2: TaskRun pods not on their placeholder's node:${bad2}"
elif [[ "$(wc -l <<<"${distinct2}")" -ne "${NODES}" ]]; then
  verdict FAIL "scenario 2: ${NODES} runs share nodes: $(for r in "${LONG[@]}"; do printf '%s=%s ' "${r}" "${LONG_NODE[${r}]}"; done)"
else
  verdict OK "scenario 2: ${NODES} runs on ${NODES} distinct nodes: $(for r in "${LONG[@]}"; do printf '%s=%s ' "${r}" "${LONG_NODE[${r}]}"; done)"
fi

# ---------------------------------------------------------------- scenario 3

step "scenario 3: run $((NODES + 1)) while all ${NODES} nodes are taken"
RUN5="$(create "${EXAMPLES}/long-running-pipelinerun.yaml")"
note "created ${RUN5}"
PH5_POD=""
run5_waiting() {
  PH5_POD="$(placeholder_pods "${RUN5}" | awk '{print $1; exit}')"
  [[ -n "${PH5_POD}" ]] || return 1
  k get events --field-selector "involvedObject.name=${PH5_POD},reason=FailedScheduling" -o name | grep -q . || return 1
  [[ "$(run_message "${RUN5}")" == *unschedulable* ]]
}
wait_for 45 "the placeholder of ${RUN5} to be reported unschedulable" run5_waiting \
  || fatal "the placeholder of ${RUN5} was not reported unschedulable within 45s"

show -n "${NS}" get pods -l "${PH_LABEL}" -o wide --sort-by=.spec.nodeName
note "the FailedScheduling events of ${PH5_POD}:"
show -n "${NS}" get events --field-selector "involvedObject.name=${PH5_POD},reason=FailedScheduling"
phase5="$(k get pod "${PH5_POD}" -o jsonpath='{.status.phase}')"
node5="$(k get pod "${PH5_POD}" -o jsonpath='{.spec.nodeName}')"
fs_msg="$(k get events --field-selector "involvedObject.name=${PH5_POD},reason=FailedScheduling" -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')"
reason5="$(run_condition "${RUN5}")"
message5="$(run_message "${RUN5}")"
trs5="$(k get taskruns -l "tekton.dev/pipelineRun=${RUN5}" -o name)"
note "${RUN5} condition: status/reason=${reason5}"
note "${RUN5} message:    ${message5}"
note "TaskRuns for run $((NODES + 1)) (${RUN5}): ${trs5:-none}"
show -n "${NS}" get events --field-selector "involvedObject.name=${RUN5}" --sort-by=.lastTimestamp

if [[ "${phase5}" == Pending && -z "${node5}" ]]; then
  verdict OK "scenario 3: placeholder ${PH5_POD} is Pending (no node)"
else
  verdict FAIL "scenario 3: placeholder ${PH5_POD} is ${phase5} on '${node5}', expected Pending"
fi
if grep -qi 'anti-affinity' <<<"${fs_msg}"; then
  verdict OK "scenario 3: FailedScheduling names the anti-affinity rules"
else
  verdict FAIL "scenario 3: FailedScheduling does not mention anti-affinity: ${fs_msg}"
fi
if [[ "${reason5}" == "Unknown WaitingForNode" ]]; then
  verdict OK "scenario 3: ${RUN5} has reason WaitingForNode with the scheduler's message"
else
  verdict FAIL "scenario 3: ${RUN5} condition is '${reason5}', expected Unknown/WaitingForNode"
fi
if [[ -z "${trs5}" ]]; then
  verdict OK "scenario 3: no TaskRun for ${RUN5} while it waits"
else
  verdict FAIL "scenario 3: ${RUN5} has TaskRuns while waiting: ${trs5}"
fi

step "scenario 3: waiting for one of the first ${NODES} runs to finish"
FREED_RUN=""
one_long_done() {
  local r
  for r in "${LONG[@]}"; do
    if run_done "${r}"; then
      FREED_RUN="${r}"
      return 0
    fi
  done
  return 1
}
wait_for 90 "one of ${LONG[*]} to finish" one_long_done || fatal "none of ${LONG[*]} finished within 90s"
note "${FREED_RUN} finished ($(run_condition "${FREED_RUN}")); it ran on ${LONG_NODE[${FREED_RUN}]}"

wait_for 60 "${RUN5} to get a node and start its TaskRun" started_on "${RUN5}" || fatal "${RUN5} did not start within 60s of a node being freed"
PH5_NODE="$(started_on "${RUN5}" || true)"
# Whose node did run 5 get, and was that run done when run 5 got it?
PREV5=""
for r in "${LONG[@]}"; do
  if [[ "${LONG_NODE[${r}]}" == "${PH5_NODE}" ]]; then PREV5="${r}"; fi
done
prev_done=0
if [[ -n "${PREV5}" ]] && run_done "${PREV5}"; then prev_done=1; fi
note "${RUN5} is on ${PH5_NODE}"
show -n "${NS}" get pods -l "tekton.dev/pipelineRun=${RUN5}" -o wide
show -n "${NS}" get events --field-selector "involvedObject.name=${RUN5}" --sort-by=.lastTimestamp
wait_succeeded 90 "${LONG[@]}" "${RUN5}"
show -n "${NS}" get pipelineruns "${LONG[@]}" "${RUN5}"
show -n "${NS}" get pods -l "tekton.dev/pipelineRun=${RUN5}" -o wide

mapfile -t pods5 < <(task_pods "${RUN5}")
bad5=""
for l in "${pods5[@]}"; do
  read -r pod node _ <<<"${l}"
  [[ "${node}" == "${PH5_NODE}" ]] || bad5+=" ${pod}@${node}"
done
if [[ -z "${PREV5}" ]]; then
  verdict FAIL "scenario 3: ${RUN5} ran on ${PH5_NODE}, which none of the first ${NODES} runs used"
elif ((prev_done == 0)); then
  verdict FAIL "scenario 3: ${RUN5} got ${PH5_NODE} while ${PREV5} was still running there"
elif [[ -n "${bad5}" ]]; then
  verdict FAIL "scenario 3: TaskRun pods of ${RUN5} not on its placeholder's node ${PH5_NODE}:${bad5}"
else
  verdict OK "scenario 3: ${RUN5} waited, then ran and succeeded on ${PH5_NODE}, freed by ${PREV5}"
fi

# ---------------------------------------------------------------- scenario 4

OPT_RUNS=()
if ((OPT_IN)); then
  step "scenario 4: per-run opt-in: coschedule workspaces, one labelled run (examples/opt-in-pipelinerun.yaml), one unlabelled"
  show -n tekton-pipelines patch configmap feature-flags --type merge -p '{"data":{"coschedule":"workspaces"}}'
  sleep 3
  OPTIN="$(create "${EXAMPLES}/opt-in-pipelinerun.yaml")"
  PLAIN="$(create "${EXAMPLES}/four-task-pipelinerun.yaml")"
  OPT_RUNS=("${OPTIN}" "${PLAIN}")
  note "created ${OPTIN} (label tekton.dev/pipelinerun-pod-affinity=true) and ${PLAIN} (no label)"
  wait_for 60 "${OPTIN} to start" started_on "${OPTIN}" || fatal "${OPTIN} did not start within 60s"
  OPTIN_NODE="$(started_on "${OPTIN}" || true)"
  wait_succeeded 60 "${PLAIN}"
  show -n "${NS}" get pods -l "tekton.dev/pipelineRun in (${OPTIN},${PLAIN})" -o wide -L "${MEMBER_LABEL}"
  optin_pod_node=""
  optin_pod_label=""
  read -r _ optin_pod_node optin_pod_label < <(task_pods "${OPTIN}") || true
  plain_labelled="$(task_pods "${PLAIN}" | awk 'NF >= 3' | wc -l)"
  if [[ "${optin_pod_node}" == "${OPTIN_NODE}" && -n "${optin_pod_label:-}" ]]; then
    verdict OK "scenario 4: labelled ${OPTIN} placed by the engine on ${OPTIN_NODE} (placeholder ${optin_pod_label})"
  else
    verdict FAIL "scenario 4: labelled ${OPTIN}: TaskRun pod on '${optin_pod_node}', placeholder on '${OPTIN_NODE}', label '${optin_pod_label:-}'"
  fi
  if no_placeholders_of "${PLAIN}" && [[ "${plain_labelled}" -eq 0 ]]; then
    verdict OK "scenario 4: unlabelled ${PLAIN} was not placed by the engine (no placeholder, no ${MEMBER_LABEL})"
  else
    verdict FAIL "scenario 4: unlabelled ${PLAIN} was placed by the engine under coschedule workspaces"
  fi
  wait_succeeded 60 "${OPTIN}"
fi

# ---------------------------------------------------------------- scenario 5

step "scenario 5: the scale-up with a real autoscaler: ${NODES} long-running runs hold the ${NODES} nodes, run $((NODES + 1)) makes Karpenter add one"
# Scenario 4 left coschedule at workspaces: back to isolate-pipelinerun.
kubectl -n tekton-pipelines patch configmap feature-flags --type merge --patch-file "${EXAMPLES}/feature-flags.yaml" >/dev/null \
  || fatal "restoring the feature flags failed"
sleep 3
HOLD=()
for ((i = 0; i < NODES; i++)); do
  HOLD+=("$(create "${EXAMPLES}/long-running-pipelinerun.yaml")")
done
all_held() {
  local r
  for r in "${HOLD[@]}"; do
    started_on "${r}" >/dev/null || return 1
  done
}
wait_for 60 "the TaskRun pods of ${HOLD[*]}" all_held || fatal "not all ${NODES} runs of scenario 5 started within 60s"
note "before: every node holds a run"
show get nodes
note "resuming Karpenter:"
show patch nodepool default --type merge -p '{"spec":{"limits":{"cpu":"32"}}}'
RUN6="$(create "${EXAMPLES}/long-running-pipelinerun.yaml")"
note "created ${RUN6}"
wait_for 90 "${RUN6} to get a node and start" started_on "${RUN6}" || fatal "${RUN6} did not start within 90s"
PH6_NODE="$(started_on "${RUN6}" || true)"
note "after: Karpenter's NodeClaim and node"
show get nodeclaims
show get nodes -L karpenter.sh/nodepool,node.kubernetes.io/instance-type
PH6_POD="$(placeholder_pods "${RUN6}" | awk '{print $1; exit}')"
show -n "${NS}" get events --field-selector "involvedObject.name=${PH6_POD}" --sort-by=.lastTimestamp
show -n "${NS}" get events --field-selector "involvedObject.name=${RUN6}" --sort-by=.lastTimestamp
wait_succeeded 90 "${HOLD[@]}" "${RUN6}"
show -n "${NS}" get pods -l "tekton.dev/pipelineRun=${RUN6}" -o wide
pool6="$(kubectl get node "${PH6_NODE}" -o jsonpath='{.metadata.labels.karpenter\.sh/nodepool}' 2>/dev/null || true)"
nominated6="$(k get events --field-selector "involvedObject.name=${PH6_POD},reason=Nominated" -o name | head -n1)"
bad6=""
while read -r pod node _; do
  [[ "${node}" == "${PH6_NODE}" ]] || bad6+=" ${pod}@${node}"
done < <(task_pods "${RUN6}")
if [[ "${pool6}" != default ]]; then
  verdict FAIL "scenario 5: ${RUN6} ran on ${PH6_NODE}, not a node Karpenter added (NodePool '${pool6}')"
elif [[ -n "${bad6}" ]]; then
  verdict FAIL "scenario 5: TaskRun pods of ${RUN6} not on its placeholder's node ${PH6_NODE}:${bad6}"
else
  verdict OK "scenario 5: Karpenter added node ${PH6_NODE} for the placeholder of ${RUN6}; the run ran and succeeded there"
fi
if [[ -n "${nominated6}" ]]; then
  verdict OK "scenario 5: Karpenter's Nominated event on placeholder ${PH6_POD} names the NodeClaim it made"
else
  verdict FAIL "scenario 5: no Nominated event from Karpenter on placeholder ${PH6_POD}"
fi
kubectl patch nodepool default --type merge -p '{"spec":{"limits":{"cpu":"0"}}}' >/dev/null || true

# ---------------------------------------------------------------- the end

step "all runs done: no placeholder is left"
if wait_for 30 "every placeholder to be deleted" no_placeholders; then
  verdict OK "no placeholder StatefulSet or pod left after the runs completed"
else
  verdict FAIL "placeholders left 30s after the runs completed"
fi
show -n "${NS}" get statefulsets,pods -l "${PH_LABEL}" -o wide
# Not a verdict, but worth seeing: a placeholder the engine created again
# after its run had finished (it is deleted again at once).
late="$(k get events --field-selector reason=PlaceholderRecreated \
  -o jsonpath='{range .items[*]}{.involvedObject.name}{": "}{.message}{"\n"}{end}' || true)"
if [[ -n "${late}" ]]; then
  note "note: $(wc -l <<<"${late}") placeholder(s) were recreated by the engine (PlaceholderRecreated events):"
  while read -r l; do note "  ${l}"; done <<<"${late}"
fi
show -n "${NS}" get pipelineruns "${RUN1}" "${LONG[@]}" "${RUN5}" "${OPT_RUNS[@]}" "${HOLD[@]}" "${RUN6}"

step "summary"
if ((${#FAILED_VERDICTS[@]})); then
  printf 'FAILED: %d verdict(s):\n' "${#FAILED_VERDICTS[@]}"
  printf '  - %s\n' "${FAILED_VERDICTS[@]}"
  diagnostics
  exit 1
fi
printf 'all verdicts OK\n'
