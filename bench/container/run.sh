#!/usr/bin/env bash
# The benchmark on the host and in a container, with container/host ratios per mode.
#
#   bench/container/run.sh [--quick] [--out DIR]     # default DIR bench/results/container
#   CONTAINER_ENGINE=podman bench/container/run.sh --quick
#   bench/container/run.sh --reuse-image      # skip `build` when hijack-bench:latest exists
#
# Starts nothing it does not stop: when no docker daemon answers it starts dockerd and stops it
# by pid at the end. Makes the base image with base-image.sh when it is missing, builds the
# top-level Dockerfile, then runs bench/run on the host, in the container under the engine's
# default seccomp profile (no added capabilities), and in the container with --security-opt
# seccomp=unconfined, all with --network host (a published port's proxy would be what gets
# measured). Installs the engine (docker.io or podman) and debootstrap with apt-get when they
# are missing (Debian packages only). Podman needs explicit --ulimit values here; docker gets
# the same ones so both measure the same limits. The host's bench/ is mounted over the image's
# copy, so host and container run the same script.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$root/bench/results/container"
args=()
reuse=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --quick) args+=(--quick) ;;
    --reuse-image) reuse=1 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
engine="${CONTAINER_ENGINE:-docker}"

# Debian packages only, installed non-interactively when missing, with a policy-rc.d that keeps
# their scripts from starting services (as scripts/install-deps does): this script starts
# dockerd itself and stops it by pid.
apt_install() {
  local missing=() p sudo="" policy_rc=/usr/sbin/policy-rc.d created=0 rc=0
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { echo "run.sh: install ${missing[*]} (no apt-get here)" >&2; exit 1; }
  [ "$(id -u)" -ne 0 ] && sudo=sudo
  echo "run.sh: apt-get install ${missing[*]}" >&2
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy_rc" >/dev/null
    $sudo chmod +x "$policy_rc"
    created=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" || rc=$?
  [ "$created" = 1 ] && $sudo rm -f "$policy_rc"
  [ "$rc" = 0 ] || { echo "run.sh: apt-get install ${missing[*]} failed" >&2; exit 1; }
}
case "${engine##*/}" in
  docker) command -v dockerd >/dev/null && command -v docker >/dev/null || apt_install docker.io ;;
  podman) command -v podman >/dev/null || apt_install podman ;;
esac
# base-image.sh needs debootstrap only when the base image is missing; it is small.
command -v debootstrap >/dev/null || apt_install debootstrap

if [ "$engine" = docker ] && [ -x /usr/bin/docker ]; then engine=/usr/bin/docker; fi
image=hijack-bench:latest
mkdir -p "$out"
log="$out/container.log"; : > "$log"

dockerd_pid=""
cleanup() {
  if [ -n "$dockerd_pid" ]; then
    echo "run.sh: stopping dockerd (pid $dockerd_pid)" >&2
    kill -TERM "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
if [ "${engine##*/}" = docker ] && ! "$engine" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || { echo "run.sh: no dockerd (apt-get install docker.io)" >&2; exit 1; }
  echo "run.sh: starting dockerd (log $out/dockerd.log)" >&2
  dockerd >"$out/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 120); do "$engine" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$engine" info >/dev/null 2>&1 || { echo "run.sh: dockerd did not answer" >&2; exit 1; }
fi

CONTAINER_ENGINE="$engine" "$here/base-image.sh" | tee -a "$log"
if [ "$reuse" = 1 ] && "$engine" image inspect "$image" >/dev/null 2>&1; then
  echo "run.sh: reusing $image built $("$engine" image inspect -f '{{.Created}}' "$image")" | tee -a "$log"
else
  t0=$(date +%s)
  echo "run.sh: building $image" >&2
  "$engine" build -t "$image" "$root" >>"$log" 2>&1 || { tail -30 "$log"; exit 1; }
  echo "run.sh: image built in $(( $(date +%s) - t0 )) s" | tee -a "$log"
fi

# The container may not exceed the engine's own hard limits (runc: "error setting rlimit").
cap() { local h; h="$(ulimit -H "$1")"; [ "$h" = unlimited ] || [ "$h" -gt 65536 ] && h=65536; echo "$h"; }
nofile="$(cap -n)"; nproc="$(cap -u)"
# Nor kernel.pid_max for nproc: podman lowers its own RLIMIT_NPROC to pid_max (containers/common)
# and runc, its child, cannot raise the container's above that without CAP_SYS_RESOURCE.
pid_max="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 65536)"
[ "$nproc" -gt "$pid_max" ] && nproc="$pid_max"
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
echo "run.sh: host" >&2
"$root/bench/run" "${args[@]}" --out "$out/host" > "$out/host.txt" 2>>"$log"
# No --cap-add SYS_PTRACE run: Docker's default profile allows pidfd_getfd only with it, but
# the launcher no longer uses pidfd_getfd (daemon/launcher/listener_handover.h), and every mode
# runs under the default profile.
for profile in default unconfined; do
  sec=()
  [ "$profile" = unconfined ] && sec=(--security-opt seccomp=unconfined)
  mkdir -p "$out/$profile"
  echo "run.sh: container, seccomp $profile" >&2
  "$engine" run --rm --network host "${limits[@]}" "${sec[@]}" -v "$out/$profile:/out" \
    -v "$root/bench:/opt/hijack-src/bench:ro" "$image" \
    bench/run "${args[@]}" --no-build --out /out > "$out/$profile.txt" 2>>"$log" &&
    sed -n '/^Per-call/,$p' "$out/$profile.txt" >&2 ||
    echo "run.sh: container run ($profile) failed, see $log" >&2
done

# Container / host per mode: per-call median, wrk requests/s, httperf peak replies/s.
{
  echo "experiment,server,mode,host,container_default,container_unconfined,default_x_host,unconfined_x_host"
  for env in host default unconfined; do
    f="$out/$env"
    awk -F, -v e="$env" 'FNR > 1 && $10 == "ok" { print "call_ns", "-", $1, e, $5 }' OFS=, "$f/call_cost.csv" 2>/dev/null
    awk -F, -v e="$env" 'FNR > 1 && $9 == "ok" { print "wrk_rps", $1, $2, e, $3 }' OFS=, "$f/wrk.csv" 2>/dev/null
    awk -F, -v e="$env" 'FNR > 1 && $8 == "ok" && $5 > p[$1","$2] { p[$1","$2] = $5 }
      END { for (k in p) { split(k, a, ","); print "httperf_peak", a[1], a[2], e, p[k] } }' OFS=, "$f/sweep.csv" 2>/dev/null
  done | awk -F, -v OFS=, '{ k = $1 "," $2 "," $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k } v[k "," $4] = $5 }
    function r(x, h) { return (h > 0 && x != "" ? sprintf("%.2f", x / h) : "-") }
    END { for (i = 1; i <= n; i++) { k = order[i]; h = v[k ",host"]; d = v[k ",default"]
            u = v[k ",unconfined"]
            print k, h, (d == "" ? "-" : d), (u == "" ? "-" : u), r(d, h), r(u, h) } }'
} > "$out/container_vs_host.csv"
echo
echo "Container vs host ($engine, --network host; call_ns lower is better, the others higher)"
column -s, -t < "$out/container_vs_host.csv"
