#!/usr/bin/env bash
# lighttpd serving a static 1 KiB page on 127.0.0.1, loaded by wrk, under each way of watching
# its system calls, in one run, as requests/s and the ratio to native.
#
#   bench/macro/lighttpd_wrk.sh [--hijackd PATH] [--duration 5] [--rounds 3] [--connections 32]
#                               [--threads 2] [--sets "%net;read,pread64,writev"]
#                               [--modes "native agent notify ptrace ptrace-all strace"]
#
# Modes:
#   native      lighttpd alone
#   agent       hijackd run --backend notify     (policy: stats on the set; the agent, the default)
#   notify      hijackd run --backend notify --no-agent   (same policy, every call a notification)
#   ptrace      hijackd run --backend ptrace     (same policy: SECCOMP_RET_TRACE for the set)
#   ptrace-all  hijackd run --backend ptrace-all (same policy: PTRACE_SYSCALL on every call)
#   strace      strace -f --seccomp-bpf -e trace=<set> -o /dev/null
# Each set (intercepted syscalls; classes as strace spells them) is measured separately; the set
# "default" is hijackd's default policy (stats on every call; strace then traces every call). Modes
# are interleaved: every round runs each mode once, so slow drifts of a shared machine hit every
# mode alike; the table shows the median round per mode. Only 127.0.0.1 is ever contacted, and
# every run is bounded by --duration.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
hijackd=""
duration=5
rounds=3
connections=32
threads=2
sets="%net;read,pread64,writev"
modes="native agent notify ptrace ptrace-all strace"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --hijackd) hijackd="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --connections) connections="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --sets) sets="$2"; shift 2 ;;
    --modes) modes="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "lighttpd_wrk.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ -z "$hijackd" ]]; then
  for candidate in "$root"/build/*/daemon/hijackd; do
    if [[ -x "$candidate" ]]; then
      hijackd="$candidate"
      break
    fi
  done
fi
for tool in /usr/sbin/lighttpd wrk strace python3; do
  if ! command -v "$tool" > /dev/null; then
    echo "lighttpd_wrk.sh: $tool is missing (apt-get install lighttpd wrk strace python3)" >&2
    exit 1
  fi
done
if [[ ! -x "$hijackd" ]]; then
  echo "lighttpd_wrk.sh: no hijackd; build first or pass --hijackd" >&2
  exit 1
fi

work="$(mktemp -d /tmp/hijack-macro.XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill -KILL "$server_pid" 2> /dev/null || true
  fi
  if [[ -f "$work/lighttpd.pid" ]]; then
    kill -KILL "$(cat "$work/lighttpd.pid")" 2> /dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/index.html"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat > "$work/lighttpd.conf" << EOF
server.document-root = "$work/www"
server.port = $port
server.bind = "127.0.0.1"
server.pid-file = "$work/lighttpd.pid"
server.errorlog = "$work/error.log"
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html")
EOF
lighttpd=(/usr/sbin/lighttpd -D -f "$work/lighttpd.conf")

# Policy for a set: stats on exactly those calls (it wants results, so ptrace stops at exit too,
# as strace does to print them).
policy_for() {
  local set="$1" json=""
  IFS=',' read -ra names <<< "$set"
  for n in "${names[@]}"; do
    json+="${json:+, }\"$n\""
  done
  echo "{\"version\": 1, \"modules\": [{\"module\": \"stats\", \"syscalls\": [$json]}]}"
}

wait_up() {
  local deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      return 0
    fi
    if ! kill -0 "$server_pid" 2> /dev/null; then
      return 1
    fi
    sleep 0.05
  done
  return 1
}

stop_server() {
  if [[ -f "$work/lighttpd.pid" ]]; then
    kill -TERM "$(cat "$work/lighttpd.pid")" 2> /dev/null || true
  fi
  local deadline=$((SECONDS + 20))
  while kill -0 "$server_pid" 2> /dev/null && ((SECONDS < deadline)); do
    sleep 0.05
  done
  kill -KILL "$server_pid" 2> /dev/null || true
  wait "$server_pid" 2> /dev/null || true
  server_pid=""
  rm -f "$work/lighttpd.pid"
}

# Prints requests/s of one mode on one set.
measure() {
  local mode="$1" set="$2"
  case "$mode" in
    native) "${lighttpd[@]}" > "$work/server.log" 2>&1 & ;;
    agent|notify|ptrace|ptrace-all)
      local args=(run --quiet)
      case "$mode" in
        agent) args+=(--backend notify) ;;
        notify) args+=(--backend notify --no-agent) ;;
        *) args+=(--backend "$mode") ;;
      esac
      if [[ "$set" != default ]]; then
        policy_for "$set" > "$work/policy.json"
        args+=(--policy "$work/policy.json")
      fi
      "$hijackd" "${args[@]}" -- "${lighttpd[@]}" > "$work/server.log" 2>&1 &
      ;;
    strace)
      local traced="$set"
      [[ "$set" == default ]] && traced=all
      strace -f --seccomp-bpf -e trace="$traced" -o /dev/null "${lighttpd[@]}" \
        > "$work/server.log" 2>&1 &
      ;;
    *) echo "unknown mode $mode" >&2; return 1 ;;
  esac
  server_pid=$!
  if ! wait_up; then
    echo "lighttpd_wrk.sh: $mode did not start:" >&2
    cat "$work/server.log" >&2
    stop_server
    echo 0
    return
  fi
  local out
  out="$(wrk -t"$threads" -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/index.html")"
  stop_server
  awk '/^Requests\/sec:/ {print $2}' <<< "$out"
}

median() {
  sort -g | awk '{v[NR] = $1} END {if (NR == 0) print 0; else print v[int((NR + 1) / 2)]}'
}

echo "lighttpd $(/usr/sbin/lighttpd -v | head -1 | cut -d' ' -f1), wrk -t$threads -c$connections" \
     "-d${duration}s, $rounds round(s), $(nproc) CPUs, $(uname -r), hijackd $hijackd"
IFS=';' read -ra set_list <<< "$sets"
for set in "${set_list[@]}"; do
  declare -A results=()
  for ((r = 1; r <= rounds; r++)); do
    for mode in $modes; do
      rps="$(measure "$mode" "$set")"
      results[$mode]+="$rps "
      echo "  set $set round $r $mode: $rps req/s" >&2
    done
  done
  # (grep finds nothing for a mode not run: that is not an error)
  native="$(tr ' ' '\n' <<< "${results[native]:-}" | { grep . || true; } | median)"
  strace_rps="$(tr ' ' '\n' <<< "${results[strace]:-}" | { grep . || true; } | median)"
  echo
  echo "intercepted set: $set"
  printf "  %-12s %12s %10s %12s\n" mode "requests/s" "x native" "x strace"
  for mode in $modes; do
    med="$(tr ' ' '\n' <<< "${results[$mode]}" | grep . | median)"
    awk -v m="$mode" -v v="$med" -v n="$native" -v s="$strace_rps" 'BEGIN {
      printf "  %-12s %12.0f %10.3f %12s\n", m, v, (n > 0 ? v / n : 0),
             (s > 0 ? sprintf("%.2f", v / s) : "-") }'
  done
  unset results
done
