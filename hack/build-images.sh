#!/usr/bin/env bash
# Build the container images the real nodes of hack/cluster.sh up
# --real-nodes run (no registry is reachable from them) into
# $PRA_STATE_DIR/bin/images-<tekton version>-<key>/ and print that directory:
#   pause.tar         the sandbox image   (hack/tools/images/pause)
#   busybox.tar       busybox-static's /bin/busybox and its applets
#   <cmd>.tar         Tekton's entrypoint, nop, workingdirinit and
#                     sidecarlogresults, from the line's release source
# Each is a docker-archive tarball (hack/tools/images) for
# "ctr images import"; the names are in hack/lib.sh (PAUSE_IMAGE,
# BUSYBOX_IMAGE, tekton_image). Cached archives are reused.
#
# Usage: hack/build-images.sh [--force]
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (see --help)" ;;
esac

require_go
require_packages busybox-static
OUT="$(images_dir)"
mkdir -p "${PRA_BIN_DIR}"
exec 9>"${PRA_BIN_DIR}/.build-images.lock"
if ! flock -n 9; then
  log "another image build is running; waiting for it"
  flock 9
fi
want=(pause busybox "${TEKTON_IMAGE_COMMANDS[@]}")
complete=1
for i in "${want[@]}"; do
  [[ -f "${OUT}/${i}.tar" ]] || complete=0
done
if ((FORCE == 0 && complete == 1)); then
  log "reusing the real nodes' images in ${OUT}"
  printf '%s\n' "${OUT}"
  exit 0
fi

start=${SECONDS}
mkdir -p "${OUT}"
TMP="$(mktemp -d "${OUT}/.build.XXXXXX")"
trap 'rm -rf "${TMP}"' EXIT
log "building the real nodes' images (Tekton ${TEKTON_VERSION} commands, pause, busybox) into ${OUT}"
(cd "${PRA_HACK}/tools/images" && CGO_ENABLED=0 go build -o "${TMP}/images" . \
  && CGO_ENABLED=0 go build -ldflags "-s -w" -o "${TMP}/pause" ./pause) || die "building hack/tools/images failed"

# Tekton's commands, as ko builds them: static, at /ko-app/NAME, run as the
# distroless "nonroot" user (65532) of Tekton's base image.
src="$(tekton_upstream_src)"
goflags="$(tekton_goflags "${src}" "${TMP}/modfile")"
pkgs=()
for c in "${TEKTON_IMAGE_COMMANDS[@]}"; do
  pkgs+=("./cmd/${c}")
done
(cd "${src}" && CGO_ENABLED=0 GOFLAGS="${goflags}" GOWORK=off go build -ldflags "-s -w" -o "${TMP}/" "${pkgs[@]}") \
  || die "building Tekton's ${TEKTON_IMAGE_COMMANDS[*]} failed"
for c in "${TEKTON_IMAGE_COMMANDS[@]}"; do
  "${TMP}/images" -name "$(tekton_image "${c}")" -out "${TMP}/${c}.tar" \
    -file "${TMP}/${c}:/ko-app/${c}:755" -dir /tmp:1777 -entrypoint "/ko-app/${c}" -user 65532 \
    -env PATH=/ko-app:/usr/local/bin:/usr/bin:/bin -env HOME=/home/nonroot \
    || die "packing the ${c} image failed"
done

"${TMP}/images" -name "${PAUSE_IMAGE}" -out "${TMP}/pause.tar" \
  -file "${TMP}/pause:/pause:755" -entrypoint /pause -user 65535 \
  || die "packing the pause image failed"

# busybox: every applet busybox-static has, as a symlink to /bin/busybox.
bb=/bin/busybox
[[ -x "${bb}" ]] || die "${bb} not found (package busybox-static)"
bbargs=(-file "${bb}:/bin/busybox:755" -dir /tmp:1777 -dir /root:700 -dir /home:755)
while read -r applet; do
  [[ -n "${applet}" && "${applet}" != bin/busybox ]] && bbargs+=(-symlink "/${applet}:/bin/busybox")
done < <("${bb}" --list-full)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nnonroot:x:65532:65532:nonroot:/home:/bin/false\n' >"${TMP}/passwd"
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"${TMP}/group"
"${TMP}/images" -name "${BUSYBOX_IMAGE}" -out "${TMP}/busybox.tar" "${bbargs[@]}" \
  -file "${TMP}/passwd:/etc/passwd:644" -file "${TMP}/group:/etc/group:644" \
  -env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin -cmd sh \
  || die "packing the busybox image failed"

for i in "${want[@]}"; do
  mv -f "${TMP}/${i}.tar" "${OUT}/"
done
log "images built in $((SECONDS - start))s -> ${OUT}"
printf '%s\n' "${OUT}"
