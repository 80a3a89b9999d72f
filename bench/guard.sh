#!/usr/bin/env bash
# guard.sh: the CI performance regression guard (ctest: bench_guard), < 60 s.
#
#   bench/guard.sh                       # both checks; exit 1 on a regression
#   bench/guard.sh --ir-only             # only the instruction counts (no wrk, no nginx)
#   bench/guard.sh --update-baseline     # rewrite bench/baseline/ir-per-request.json
#   bench/guard.sh --gate-stages BIN --proxy BIN   # binaries (ctest passes them)
#
# (a) Throughput ratio: nginx as a plain reverse proxy and gatehouse-proxy
#     (--threads 1, RS256 token, 1,000 policies, audit log on) take turns on
#     CPU $SUT_CPU, wrk on CPU $LOAD_CPU, 3 s each after a 1 s warm-up, two
#     pairs. The better of the two Gatehouse/nginx ratios must be at least
#     $RATIO_FLOOR (README.md explains the floor). Both peers must answer
#     200 with the upstream's body, and Gatehouse must refuse a forged token.
# (b) Instructions per request of the decision path, by stage (callgrind on
#     bench/gate_stages: lib/ir-stages.mjs), against the checked-in baseline:
#     any stage (or the total) more than 10% above it fails. Instruction
#     counts do not move with the machine's load, so this part is exact.
#     After an intended change: bench/guard.sh --update-baseline, and commit
#     the JSON with the change that explains it.
# (c) System calls per proxied request: strace counts Gatehouse's socket and
#     event-loop calls while wrk sends 2 s of requests over 4 connections
#     (few, so that strace's slowdown keeps every upstream answer far under
#     the 50 ms after which the client-disconnect watch is armed). Exact up to
#     the few requests in flight at the end. Now 5.04: read the request, peek
#     the pooled upstream connection, write it upstream, read the answer,
#     write it to the client. strace slows the proxy so much that a read
#     mostly finds its bytes; without strace (perf's syscall tracepoints,
#     wrk -c64) it is 5.15 per request, nginx's 4.06: the peek, and Asio's
#     non-blocking attempt before a read that comes too early (read_turn.h
#     brought those from 1.8 to 0.05 per request). Ceiling: $SYSCALL_CEILING.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"

RATIO_FLOOR=${RATIO_FLOOR:-0.20}
IR_TOLERANCE=${IR_TOLERANCE:-0.10}
SYSCALL_CEILING=${SYSCALL_CEILING:-5.4}
BASELINE=$BENCH_DIR/baseline/ir-per-request.json
IR_ARGS=(--alg RS256 --policies 20 --requests 1000)
PROXY_BIN=${GATEHOUSE_PROXY:-$REPO/build/proxy/cli/gatehouse-proxy}
GATE_STAGES=${GATE_STAGES:-$REPO/build/bench/gate_stages}
MODE=all
while (($#)); do
  case $1 in
    --ir-only) MODE=ir ;;
    --update-baseline) MODE=update ;;
    --gate-stages) GATE_STAGES=$2; shift ;;
    --proxy) PROXY_BIN=$2; shift ;;
    -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
CONNS=64 # read by wrk_json (lib/common.sh)
export CONNS
BENCH_HOST=app.bench.test
TMP=""
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

ir_check() {
  [[ -x "$GATE_STAGES" ]] || die "$GATE_STAGES not found (ninja -C build gate_stages)"
  command -v valgrind >/dev/null || die "valgrind is required (apt-get install -y valgrind)"
  node "$BENCH_DIR/lib/ir-stages.mjs" run "$GATE_STAGES" "$TMP/ir.json" "${IR_ARGS[@]}" >&2
  if [[ $MODE == update ]]; then
    mkdir -p "$(dirname "$BASELINE")"
    cp "$TMP/ir.json" "$BASELINE"
    log "guard: baseline written to $BASELINE"
    return 0
  fi
  node "$BENCH_DIR/lib/ir-compare.mjs" "$BASELINE" "$TMP/ir.json" "$IR_TOLERANCE"
}

throughput_check() {
  [[ -x "$PROXY_BIN" ]] || die "$PROXY_BIN not found (ninja -C build gatehouse-proxy)"
  local base=${PORT_BASE:-}
  if [[ -z $base ]]; then
    # A free range, so that the guard can run next to a benchmark.
    for base in 23100 23200 23300 23400 23500; do
      port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)) &&
        port_free $((base + 3)) && port_free $((base + 4)) && break
    done
  fi
  local up=$base idp=$((base + 1)) ngx=$((base + 2)) gh=$((base + 3)) admin=$((base + 4))
  GH_PORT=$gh
  ISSUER=http://127.0.0.1:$idp
  make_material 0
  start_upstream "$up" "$idp"
  start_nginx_proxy nginx-proxy nginx-proxy.conf "$ngx" "$up"
  wait_for "http://127.0.0.1:$ngx/api/bench" 200 nginx "$BG_PID"
  gen_policies "$TMP/policies" 1000 "$up"
  start_gatehouse gatehouse "$SUT_CPU" 1 "$gh" "$admin" "$TMP/policies"
  check_serves nginx "http://127.0.0.1:$ngx/api/bench" "$TOKEN"
  check_serves gatehouse "http://127.0.0.1:$gh/api/bench" "$TOKEN"
  check_denies gatehouse "http://127.0.0.1:$gh/api/bench" "$BAD_TOKEN"
  local pair best=0 n g ratio auth=(-H "Authorization: Bearer $TOKEN")
  for pair in 1 2; do
    wrk_json 1 "http://127.0.0.1:$ngx/api/bench" "${auth[@]}" >/dev/null
    n=$(wrk_json 3 "http://127.0.0.1:$ngx/api/bench" "${auth[@]}")
    wrk_json 1 "http://127.0.0.1:$gh/api/bench" "${auth[@]}" >/dev/null
    g=$(wrk_json 3 "http://127.0.0.1:$gh/api/bench" "${auth[@]}")
    ratio=$(node -e 'const [n, g] = process.argv.slice(1).map(JSON.parse);
      if (n.non2xx || g.non2xx) { console.error("non-2xx answers during the run"); process.exit(1); }
      console.log((g.rps / n.rps).toFixed(3))' "$n" "$g")
    log "guard: pair $pair: nginx $n"
    log "guard: pair $pair: gatehouse $g -> ratio $ratio"
    best=$(awk -v a="$best" -v b="$ratio" 'BEGIN {print (b > a ? b : a)}')
  done
  if awk -v r="$best" -v f="$RATIO_FLOOR" 'BEGIN {exit !(r >= f)}'; then
    log "guard: PASS throughput: Gatehouse/nginx $best >= floor $RATIO_FLOOR (load average $(cut -d' ' -f1 /proc/loadavg))"
  else
    log "guard: FAIL throughput: Gatehouse/nginx $best < floor $RATIO_FLOOR (load average $(cut -d' ' -f1 /proc/loadavg))"
    return 1
  fi
}

syscall_check() {
  local url=$1 trace="$TMP/strace.txt" out="$TMP/wrk-strace.txt" tracer requests calls
  strace -c -f -q -o "$trace" -p "$GH_PID" &
  tracer=$!
  PIDS+=("$tracer")
  sleep 0.5 # attached to every thread
  taskset -c "$LOAD_CPU" wrk -t1 -c4 -d2s -H "Host: $BENCH_HOST" -H "Authorization: Bearer $TOKEN" \
    "$url" >"$out" 2>&1 || true
  kill -INT "$tracer" 2>/dev/null || true
  wait "$tracer" 2>/dev/null || true
  forget_pid "$tracer"
  requests=$(awk '/requests in/ {print $1}' "$out")
  [[ -n $requests && $requests -gt 100 ]] || die "wrk under strace made too few requests: $(cat "$out")"
  # strace -c columns: % time, seconds, usecs/call, calls, [errors], syscall.
  calls=$(awk '$NF ~ /^(recvfrom|recvmsg|recvmmsg|read|readv|sendmsg|sendmmsg|sendto|write|writev|epoll_ctl|ioctl|fcntl|getsockopt|setsockopt|poll|select)$/ {sum += $4} END {print sum + 0}' "$trace")
  local per
  per=$(awk -v c="$calls" -v r="$requests" 'BEGIN {printf "%.2f", c / r}')
  log "guard: system calls: $calls over $requests requests = $per per request"
  grep -E 'recv|send|write|epoll_ctl|ioctl' "$trace" | sed 's/^/guard:   /' >&2 || true
  if awk -v p="$per" -v c="$SYSCALL_CEILING" 'BEGIN {exit !(p <= c)}'; then
    log "guard: PASS system calls: $per per request <= ceiling $SYSCALL_CEILING"
  else
    log "guard: FAIL system calls: $per per request > ceiling $SYSCALL_CEILING"
    return 1
  fi
}

main() {
  local started=$SECONDS failed=0
  TMP=$(mktemp -d /tmp/gatehouse-guard.XXXXXX)
  chmod 755 "$TMP"
  if [[ $MODE == all ]]; then
    ensure_tools valgrind
    raise_fd_limit 65536
    command -v strace >/dev/null || apt_install strace
    if throughput_check; then
      syscall_check "http://127.0.0.1:$GH_PORT/api/bench" || failed=1
    else
      failed=1
    fi
  fi
  ir_check || failed=1
  log "guard: $([[ $failed == 0 ]] && echo PASS || echo FAIL) ($((SECONDS - started)) s)"
  return "$failed"
}

main "$@"
