#!/usr/bin/env bash
# run.sh: the Gatehouse benchmark suite, in one command (README.md here says
# what each scenario measures and how to read the results).
#
#   bench/run.sh                       # every scenario, 3 rounds, about 25 minutes
#   bench/run.sh --quick               # 1 round, short runs: checks the suite works
#   bench/run.sh --scenarios 1,2 --repeat 5
#
# Scenarios: 1 throughput (keep-alive, 64 conns, one core) against direct,
# nginx, HAProxy plain/RS256/ES256 jwt_verify; 2 latency at a fixed offered
# load (open_loop.cc); 3 Gatehouse 1 vs 2 threads; 4 new connections and
# TLS handshakes per second; 5 policy propagation to 1/10/50 proxies
# (propagation.mjs); 6 scale: compile time and memory at 1,000/10,000
# policies, operator initial sync, 10,000 idle connections; 7 instructions
# per request of each gate stage (callgrind, lib/ir-stages.mjs).
#
# Installs nginx, haproxy, wrk (and valgrind for 7) from Debian if missing.
# The system under test runs on CPU $SUT_CPU (taskset), wrk and the upstream
# on CPU $LOAD_CPU. Every scenario is repeated --repeat times in interleaved
# rounds; the results (median and min-max) go to bench/results/<stamp>.md
# and .json, with the ratios of medians to the peers measured in this run.
#
# Environment (optional): PORT_BASE=19100 SUT_CPU=0 LOAD_CPU=1 CONNS=64
#   GATEHOUSE_PROXY=build/proxy/cli/gatehouse-proxy
#   GATEHOUSE_OPERATOR=build/operator/gatehouse-operator
#   GATEHOUSE_OPEN_LOOP=build/bench/gatehouse-open-loop (scenario 2's load generator)
#   GATE_STAGES=build/bench/gate_stages (else build-*/bench/gate_stages)
#   DURATION, WARMUP, RATE, ROTATE, IDLE_CONNS override the mode's defaults
#   KEEP_TMP=1 keeps the temp dir (configs, logs, raw wrk output)
#   PROFILE=1 adds a perf profile of Gatehouse after scenario 1 (results/<stamp>-perf.txt)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"

QUICK=0
SCENARIOS=1,2,3,4,5,6,7
REPEAT=3
while (($#)); do
  case $1 in
    --quick) QUICK=1 ;;
    --scenarios) SCENARIOS=$2; shift ;;
    --repeat) REPEAT=$2; shift ;;
    -h | --help) sed -n '2,30p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
if [[ $QUICK == 1 ]]; then
  REPEAT=1
  DURATION=${DURATION:-3} WARMUP=${WARMUP:-1} RATE=${RATE:-2000} ROTATE=${ROTATE:-5000}
  IDLE_CONNS=${IDLE_CONNS:-2000} PROP_PROXIES=${PROP_PROXIES:-1,10} PROP_CHANGES=${PROP_CHANGES:-10}
  SCALE_POLICIES=${SCALE_POLICIES:-1000} IR_POLICIES=${IR_POLICIES:-20} IR_REQUESTS=${IR_REQUESTS:-500}
else
  DURATION=${DURATION:-10} WARMUP=${WARMUP:-2} RATE=${RATE:-5000} ROTATE=${ROTATE:-10000}
  IDLE_CONNS=${IDLE_CONNS:-10000} PROP_PROXIES=${PROP_PROXIES:-1,10,50} PROP_CHANGES=${PROP_CHANGES:-50}
  SCALE_POLICIES=${SCALE_POLICIES:-1000,10000} IR_POLICIES=${IR_POLICIES:-100} IR_REQUESTS=${IR_REQUESTS:-1000}
fi
[[ $REPEAT =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a positive number"
want() { [[ ",$SCENARIOS," == *",$1,"* ]]; }

PORT_BASE=${PORT_BASE:-19100}
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
CONNS=${CONNS:-64}
PROXY_BIN=${GATEHOUSE_PROXY:-$REPO/build/proxy/cli/gatehouse-proxy}
OPERATOR_BIN=${GATEHOUSE_OPERATOR:-$REPO/build/operator/gatehouse-operator}
OPEN_LOOP_BIN=${GATEHOUSE_OPEN_LOOP:-$REPO/build/bench/gatehouse-open-loop}
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date -u +%Y%m%d-%H%M%S)
BENCH_HOST=app.bench.test
REQUEST_PATH=/api/bench

P_UPSTREAM=$PORT_BASE P_IDP=$((PORT_BASE + 1)) P_NGINX=$((PORT_BASE + 2))
P_HAPROXY=$((PORT_BASE + 3)) P_HA_RS=$((PORT_BASE + 4)) P_HA_ES=$((PORT_BASE + 5))
P_GH=$((PORT_BASE + 6)) P_GH_ADMIN=$((PORT_BASE + 7)) P_GH10K=$((PORT_BASE + 8))
P_GH10K_ADMIN=$((PORT_BASE + 9)) P_NGINX_TLS=$((PORT_BASE + 10)) P_GH_TLS=$((PORT_BASE + 11))
P_GH_TLS_ADMIN=$((PORT_BASE + 12)) P_GH2=$((PORT_BASE + 13)) P_GH2_ADMIN=$((PORT_BASE + 14))
P_SCALE=$((PORT_BASE + 15)) P_SCALE_ADMIN=$((PORT_BASE + 16))
ISSUER=http://127.0.0.1:$P_IDP

TMP=""
SAMPLES=""
SUMMARIZED=0
FAILURES=()
# On any exit: summarize what was measured (a failed scenario keeps the
# others' figures, marked partial), then stop every process.
finish() {
  if [[ $SUMMARIZED == 0 && -n $SAMPLES && -s $SAMPLES ]]; then
    log "run did not finish: writing the figures measured so far (partial)"
    summarize partial || true
  fi
  cleanup
}
trap finish EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# sample SCENARIO NAME LABEL ROUND JSON: one measurement into the samples file.
sample() {
  printf '{"scenario": %s, "name": "%s", "label": "%s", "round": %s, "load": "%s", "m": %s}\n' \
    "$1" "$2" "$3" "$4" "$(cut -d' ' -f1 /proc/loadavg)" "$5" >>"$SAMPLES"
  log "    $2 (round $4): $5"
}
url_of() { echo "http://127.0.0.1:$1$REQUEST_PATH"; }

# --- peers -------------------------------------------------------------------
start_haproxy() {
  local name=$1 cfg=$2 port=$3 alg=${4:-RS256} key
  key="$TMP/keys/${alg,,}-public.pem"
  render "$BENCH_DIR/configs/$cfg" "$TMP/$name.cfg" "PORT=$port" "UPSTREAM_PORT=$P_UPSTREAM" \
    "ISSUER=$ISSUER" "JWT_ALG=$alg" "JWT_KEY=$key"
  "$HAPROXY" -c -q -f "$TMP/$name.cfg" || die "$name: haproxy rejected its config"
  start_bg "$TMP/$name.out" taskset -c "$SUT_CPU" "$HAPROXY" -db -f "$TMP/$name.cfg"
  wait_for "http://127.0.0.1:$port/" "$([[ $cfg == haproxy-jwt.cfg ]] && echo 401 || echo 200)" \
    "$name" "$BG_PID"
}
start_peers() {
  start_nginx_proxy nginx-proxy nginx-proxy.conf "$P_NGINX" "$P_UPSTREAM"
  wait_for "$(url_of "$P_NGINX")" 200 nginx "$BG_PID"
  start_haproxy haproxy haproxy-plain.cfg "$P_HAPROXY"
  start_haproxy haproxy-rs256 haproxy-jwt.cfg "$P_HA_RS" RS256
  start_haproxy haproxy-es256 haproxy-jwt.cfg "$P_HA_ES" ES256
  check_serves direct "$(url_of "$P_UPSTREAM")" "$TOKEN"
  check_serves nginx "$(url_of "$P_NGINX")" "$TOKEN"
  check_serves haproxy "$(url_of "$P_HAPROXY")" "$TOKEN"
  check_serves haproxy-rs256 "$(url_of "$P_HA_RS")" "$TOKEN"
  check_denies haproxy-rs256 "$(url_of "$P_HA_RS")" "$BAD_TOKEN"
  check_serves haproxy-es256 "$(url_of "$P_HA_ES")" "$(cat "$TMP/token-es256.jwt")"
  check_denies haproxy-es256 "$(url_of "$P_HA_ES")" "$(cat "$TMP/bad-token-es256.jwt")"
  log "  peers up and checked (each serves the token's request, the JWT gates refuse forged tokens)"
}
start_gatehouses() {
  gen_policies "$TMP/policies-1" 1 "$P_UPSTREAM"
  start_gatehouse gh "$SUT_CPU" 1 "$P_GH" "$P_GH_ADMIN" "$TMP/policies-1"
  GH1_PID=$GH_PID
  local alg
  for alg in rs256 es256 eddsa; do
    check_serves "gatehouse $alg" "$(url_of "$P_GH")" "$(cat "$TMP/token-$alg.jwt")"
    check_denies "gatehouse $alg" "$(url_of "$P_GH")" "$(cat "$TMP/bad-token-$alg.jwt")"
  done
  log "  gatehouse (1 policy) up: serves RS256/ES256/EdDSA tokens, refuses forged ones"
}

# --- scenario 1 --------------------------------------------------------------
measure1() {
  local name=$1 label=$2 url=$3 round=$4
  shift 4
  wrk_json "$WARMUP" "$url" "$@" >/dev/null
  sample 1 "$name" "$label" "$round" "$(wrk_json "$DURATION" "$url" "$@")"
}
scenario1() {
  log "[1] throughput, keep-alive, $CONNS connections, ${DURATION}s per run, $REPEAT round(s)"
  gen_policies "$TMP/policies-10k" 10000 "$P_UPSTREAM"
  start_gatehouse gh10k "$SUT_CPU" 1 "$P_GH10K" "$P_GH10K_ADMIN" "$TMP/policies-10k"
  check_serves "gatehouse 10k" "$(url_of "$P_GH10K")" "$TOKEN"
  local round alg auth
  for round in $(seq 1 "$REPEAT"); do
    auth="Authorization: Bearer $TOKEN"
    measure1 direct "upstream direct" "$(url_of "$P_UPSTREAM")" "$round" -H "$auth"
    measure1 nginx "nginx plain proxy" "$(url_of "$P_NGINX")" "$round" -H "$auth"
    measure1 haproxy "HAProxy plain" "$(url_of "$P_HAPROXY")" "$round" -H "$auth"
    measure1 haproxy-rs256 "HAProxy jwt_verify RS256 + claim ACL" "$(url_of "$P_HA_RS")" "$round" -H "$auth"
    measure1 haproxy-es256 "HAProxy jwt_verify ES256 + claim ACL" "$(url_of "$P_HA_ES")" "$round" \
      -H "Authorization: Bearer $(cat "$TMP/token-es256.jwt")"
    for alg in rs256 es256 eddsa; do
      measure1 "gh-$alg" "Gatehouse ${alg^^}, cached token, 1 policy" "$(url_of "$P_GH")" "$round" \
        -H "Authorization: Bearer $(cat "$TMP/token-$alg.jwt")"
      WRK_LUA=$BENCH_DIR/lib/rotate-tokens.lua WRK_LUA_ARG=$TMP/tokens-$alg.txt \
        measure1 "gh-$alg-fresh" "Gatehouse ${alg^^}, fresh token per request, 1 policy" \
        "$(url_of "$P_GH")" "$round" -H "Authorization: Bearer x"
    done
    measure1 gh10k-rs256 "Gatehouse RS256, cached token, 10,000 policies" "$(url_of "$P_GH10K")" \
      "$round" -H "$auth"
  done
  log "  audit lines written by gatehouse: $(wc -l <"$TMP/gh-audit.log") (1 policy), $(wc -l <"$TMP/gh10k-audit.log") (10,000)"
  stop_bg "$GH_PID"
  if [[ "${PROFILE:-0}" == 1 ]]; then profile_gatehouse; fi
}
# PROFILE=1: a cpu-clock perf profile of Gatehouse (RS256, cached) under the
# same load, not measured; its top symbols go next to the results.
perf_top() {
  perf report -i "$TMP/perf.data" --stdio --no-children --sort "$1" -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | cut -c1-180 | head -"$2" || true
}
profile_gatehouse() {
  command -v perf >/dev/null || { log "  PROFILE=1: perf not installed (apt-get install -y linux-perf)"; return 0; }
  local out="$RESULTS_DIR/$STAMP-perf.txt"
  taskset -c "$LOAD_CPU" perf record -q -e cpu-clock -F 999 -g -p "$GH1_PID" -o "$TMP/perf.data" \
    -- sleep "$DURATION" >"$TMP/perf.out" 2>&1 &
  local perf_pid=$!
  PIDS+=("$perf_pid")
  wrk_json "$DURATION" "$(url_of "$P_GH")" -H "Authorization: Bearer $TOKEN" >/dev/null
  wait "$perf_pid" || true
  forget_pid "$perf_pid"
  {
    echo "# perf record -e cpu-clock -g of gatehouse-proxy --threads 1 under wrk -c$CONNS ($STAMP)"
    echo "## self time by symbol"
    perf_top dso,symbol 40
    echo "## self time by thread"
    perf_top pid 10
  } >"$out"
  log "  perf profile: $out"
}

# --- scenario 2 --------------------------------------------------------------
scenario2() {
  log "[2] latency at a fixed offered load of $RATE req/s (open loop, gatehouse-open-loop), ${DURATION}s"
  # The generator sleeps between releases, so a real-time priority (where
  # permitted) only makes its wake-ups punctual: measured under a busy CPU,
  # release lag p99 2.3-3.3 ms without, 50-89 us with. Same for every peer.
  local -a OPEN_LOOP_RT=()
  if chrt -f 1 true 2>/dev/null; then OPEN_LOOP_RT=(chrt -f 1); fi
  local round name port line
  for round in $(seq 1 "$REPEAT"); do
    for name in direct nginx haproxy haproxy-rs256 gh-rs256; do
      case $name in
        direct) port=$P_UPSTREAM ;; nginx) port=$P_NGINX ;; haproxy) port=$P_HAPROXY ;;
        haproxy-rs256) port=$P_HA_RS ;; gh-rs256) port=$P_GH ;;
      esac
      line=$(run_fg "${OPEN_LOOP_RT[@]}" taskset -c "$LOAD_CPU" "$OPEN_LOOP_BIN" "$port" "$RATE" "$DURATION" \
        "$BENCH_HOST" "$TMP/token-rs256.jwt") || die "gatehouse-open-loop failed against $name"
      [[ $line == \{* ]] || die "gatehouse-open-loop gave no result against $name: $line"
      sample 2 "$name" "$name at $RATE req/s" "$round" "$line"
    done
  done
}

# --- scenario 3 --------------------------------------------------------------
scenario3() {
  log "[3] Gatehouse --threads 1 (CPU $SUT_CPU) vs --threads 2 (CPUs $SUT_CPU,$LOAD_CPU, shared with wrk and the upstream)"
  start_gatehouse gh2 "$SUT_CPU,$LOAD_CPU" 2 "$P_GH2" "$P_GH2_ADMIN" "$TMP/policies-1"
  check_serves "gatehouse 2 threads" "$(url_of "$P_GH2")" "$TOKEN"
  local round
  for round in $(seq 1 "$REPEAT"); do
    measure3 gh-threads1 "Gatehouse RS256 --threads 1" "$(url_of "$P_GH")" "$round"
    measure3 gh-threads2 "Gatehouse RS256 --threads 2" "$(url_of "$P_GH2")" "$round"
  done
  stop_bg "$GH_PID"
}
measure3() {
  wrk_json "$WARMUP" "$3" -H "Authorization: Bearer $TOKEN" >/dev/null
  sample 3 "$1" "$2" "$4" "$(wrk_json "$DURATION" "$3" -H "Authorization: Bearer $TOKEN")"
}

# --- scenario 4 --------------------------------------------------------------
scenario4() {
  log "[4] new connections per second (Connection: close) and TLS handshakes per second"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$BENCH_HOST" -keyout "$TMP/keys/tls.key" -out "$TMP/keys/tls.crt" 2>/dev/null
  chmod 644 "$TMP/keys/tls.key"
  start_nginx_proxy nginx-tls nginx-tls.conf "$P_NGINX_TLS" "$P_UPSTREAM"
  wait_for "https://127.0.0.1:$P_NGINX_TLS$REQUEST_PATH" 200 "nginx TLS" "$BG_PID"
  start_gatehouse gh-tls "$SUT_CPU" 1 "$P_GH_TLS" "$P_GH_TLS_ADMIN" "$TMP/policies-1" \
    --tls-cert "$TMP/keys/tls.crt" --tls-key "$TMP/keys/tls.key"
  check_serves "gatehouse TLS" "https://127.0.0.1:$P_GH_TLS$REQUEST_PATH" "$TOKEN"
  local round close=(-H "Connection: close" -H "Authorization: Bearer $TOKEN")
  for round in $(seq 1 "$REPEAT"); do
    measure4 nginx-close "nginx, Connection: close" "$(url_of "$P_NGINX")" "$round" "${close[@]}"
    measure4 gh-close "Gatehouse RS256, Connection: close" "$(url_of "$P_GH")" "$round" "${close[@]}"
    measure4 nginx-tls "nginx TLS, a handshake per request" \
      "https://127.0.0.1:$P_NGINX_TLS$REQUEST_PATH" "$round" "${close[@]}"
    measure4 gh-tls "Gatehouse TLS, a handshake per request" \
      "https://127.0.0.1:$P_GH_TLS$REQUEST_PATH" "$round" "${close[@]}"
  done
}
measure4() {
  local name=$1 label=$2 url=$3 round=$4
  shift 4
  wrk_json "$WARMUP" "$url" "$@" >/dev/null
  sample 4 "$name" "$label" "$round" "$(wrk_json "$DURATION" "$url" "$@")"
}

# --- scenario 5 --------------------------------------------------------------
scenario5() {
  log "[5] propagation: kubectl apply -> every proxy enforcing ($PROP_PROXIES proxies, $PROP_CHANGES changes)"
  [[ -x "$OPERATOR_BIN" ]] || die "$OPERATOR_BIN not found (ninja -C build gatehouse-operator)"
  local count line
  for count in ${PROP_PROXIES//,/ }; do
    line=$(cd "$REPO/e2e" && run_fg node "$BENCH_DIR/propagation.mjs" --proxies "$count" \
      --changes "$PROP_CHANGES" --proxy-bin "$PROXY_BIN" --operator-bin "$OPERATOR_BIN" \
      --port-base $((PORT_BASE + 100)) 2>"$TMP/propagation-$count.log" | tail -1) ||
      die "propagation with $count proxies failed: $(tail -5 "$TMP/propagation-$count.log")"
    sample 5 "proxies-$count" "$count proxies" 1 "$line"
  done
}

# --- scenario 6 --------------------------------------------------------------
scenario6() {
  log "[6] scale: proxy compile time and memory, operator initial sync, idle connections"
  local count
  for count in ${SCALE_POLICIES//,/ }; do
    [[ -d "$TMP/policies-$count" ]] || gen_policies "$TMP/policies-$count" "$count" "$P_UPSTREAM"
    start_gatehouse "scale-$count" "$SUT_CPU" 1 "$P_SCALE" "$P_SCALE_ADMIN" "$TMP/policies-$count"
    sleep 1
    sample 6 "proxy-$count" "gatehouse-proxy with $count policies" 1 \
      "{\"start_to_ready_ms\": $GH_READY_MS, \"vmhwm_kb\": $(vm_kb "$GH_PID" VmHWM), \"vmrss_kb\": $(vm_kb "$GH_PID" VmRSS)}"
    stop_bg "$GH_PID"
    if [[ -f "$BENCH_DIR/operator-scale.mjs" && -x "$OPERATOR_BIN" ]]; then
      operator_scale "$count"
    fi
  done
  idle_connections
}
# bench/operator-scale.mjs (issue 4's script) with the policy count; its
# report lines become one sample.
operator_scale() {
  local out=$TMP/operator-scale-$1.log
  GATEHOUSE_OPERATOR_BIN=$OPERATOR_BIN GATEHOUSE_PROXY_BIN=$PROXY_BIN \
    run_fg node "$BENCH_DIR/operator-scale.mjs" "$1" >"$out" 2>&1 || {
    # Another component's failure is a result, not a reason to lose the others.
    log "  operator-scale.mjs $1 FAILED (no figure recorded): $(tail -4 "$out" | tr '\n' ' ')"
    FAILURES+=("operator-scale.mjs $1: $(grep -m1 -i error "$out" | cut -c1-200)")
    return 0
  }
  local pushed enforcing hwm statuses
  pushed=$(sed -n 's/^start -> config pushed to the proxy: \([0-9.]*\) s.*/\1/p' "$out")
  enforcing=$(sed -n 's/^start -> proxy enforcing the last policy: \([0-9.]*\) s.*/\1/p' "$out")
  hwm=$(sed -n 's/^operator VmHWM when pushed: \([0-9.]*\) MB.*/\1/p' "$out")
  statuses=$(sed -n 's/^start -> all [0-9]* statuses written: \([0-9.]*\) s.*/\1/p' "$out")
  [[ -n $pushed && -n $hwm ]] || {
    FAILURES+=("operator-scale.mjs $1: unexpected output")
    return 0
  }
  sample 6 "operator-$1" "operator initial sync, $1 policies" 1 \
    "{\"sync_ms\": $(awk -v s="$pushed" 'BEGIN {print int(s * 1000)}'), \"enforcing_ms\": $(awk -v s="${enforcing:-0}" 'BEGIN {print int(s * 1000)}'), \"vmhwm_kb\": $(awk -v m="$hwm" 'BEGIN {print int(m * 1024)}'), \"statuses_ms\": $(awk -v s="${statuses:-0}" 'BEGIN {print int(s * 1000)}')}"
}
idle_connections() {
  raise_fd_limit $((IDLE_CONNS * 2 + 4096))
  local have n line pid
  have=$(ulimit -n)
  n=$IDLE_CONNS
  ((have >= n + 1024)) || n=$((have - 1024))
  start_gatehouse idle "$SUT_CPU" 1 "$P_SCALE" "$P_SCALE_ADMIN" "$TMP/policies-1"
  local before_kb
  before_kb=$(vm_kb "$GH_PID" VmRSS)
  start_bg "$TMP/idle-conns.out" taskset -c "$LOAD_CPU" node "$BENCH_DIR/lib/idle-conns.mjs" \
    127.0.0.1 "$P_SCALE" "$n" "$BENCH_HOST" "$TMP/token-rs256.jwt"
  pid=$BG_PID
  for _ in $(seq 1 1200); do
    line=$(grep -m1 '^ready' "$TMP/idle-conns.out" || true)
    [[ -n "$line" ]] && break
    kill -0 "$pid" 2>/dev/null || die "idle connection client died: $(cat "$TMP/idle-conns.out")"
    sleep 0.1
  done
  [[ -n "$line" ]] || die "idle connection client did not finish within 120 s"
  sleep 2
  sample 6 "idle-$n" "gatehouse-proxy with $n idle keep-alive connections" 1 \
    "{\"connections\": $n, \"established\": $(ss -Htn state established "( sport = :$P_SCALE )" | wc -l), \"vmrss_kb\": $(vm_kb "$GH_PID" VmRSS), \"vmrss_before_kb\": $before_kb}"
  stop_bg "$pid"
  stop_bg "$GH_PID"
}

# --- scenario 7 --------------------------------------------------------------
scenario7() {
  log "[7] instructions per request of each gate stage (callgrind, $IR_POLICIES policies)"
  local bin=${GATE_STAGES:-} alg
  if [[ -z $bin ]]; then
    for bin in "$REPO"/build/bench/gate_stages "$REPO"/build-*/bench/gate_stages ""; do
      [[ -x $bin ]] && break
    done
  fi
  [[ -x $bin ]] || die "gate_stages not built (ninja -C build gate_stages)"
  for alg in RS256 ES256 EdDSA; do
    node "$BENCH_DIR/lib/ir-stages.mjs" run "$bin" "$TMP/ir-$alg.json" --alg "$alg" \
      --policies "$IR_POLICIES" --requests "$IR_REQUESTS" >&2
    sample 7 "ir-$alg" "Ir per request, $alg" 1 "$(node -e \
      'const r=JSON.parse(require("fs").readFileSync(process.argv[1]));console.log(JSON.stringify({total:r.total,...r.stages}))' \
      "$TMP/ir-$alg.json")"
  done
}

write_meta() {
  local failures
  failures=$(printf '%s\n' "${FAILURES[@]}" | node -e \
    'console.log(JSON.stringify(require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean)))')
  cat >"$TMP/meta.json" <<EOF
{"date": "$STAMP", "status": "$1", "failures": $failures, "quick": $QUICK, "repeat": $REPEAT, "scenarios": "$SCENARIOS",
 "duration_s": $DURATION, "warmup_s": $WARMUP, "connections": $CONNS, "rate": $RATE,
 "rotate_tokens": $ROTATE, "sut_cpu": $SUT_CPU, "load_cpu": $LOAD_CPU,
 "cpu_model": "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')",
 "nproc": $(nproc), "kernel": "$(uname -r)", "load_before": "$LOAD_BEFORE",
 "versions": {"nginx": "$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')",
              "haproxy": "$("$HAPROXY" -v | awk 'NR==1 {print $3}')",
              "wrk": "$(wrk -v 2>&1 | awk 'NR==1 {print $2}')", "node": "$(node -v)",
              "gatehouse_git": "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"},
 "wall_s": $((SECONDS - STARTED))}
EOF
}

main() {
  ensure_tools "$(want 7 && echo valgrind)"
  [[ -x "$PROXY_BIN" ]] || die "$PROXY_BIN not found: build it first (ninja -C build gatehouse-proxy)"
  if want 2 && [[ ! -x "$OPEN_LOOP_BIN" ]]; then
    die "$OPEN_LOOP_BIN not found: scenario 2 needs it (ninja -C build gatehouse-open-loop)"
  fi
  raise_fd_limit 65536
  local p
  for p in $(seq "$PORT_BASE" $((PORT_BASE + 16))); do
    port_free "$p" || die "port $p is in use; set PORT_BASE to a free range"
  done
  mkdir -p "$RESULTS_DIR"
  TMP=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
  SAMPLES=$TMP/samples.jsonl
  : >"$SAMPLES"
  STARTED=$SECONDS
  LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  log "gatehouse benchmark $STAMP: scenarios $SCENARIOS, $REPEAT round(s), load average $LOAD_BEFORE"
  log "pinning: system under test on CPU $SUT_CPU; load generator and upstream on CPU $LOAD_CPU"
  make_material "$(want 1 && echo "$ROTATE" || echo 0)"
  if want 1 || want 2 || want 3 || want 4 || want 6; then
    start_upstream "$P_UPSTREAM" "$P_IDP"
    if want 1 || want 2 || want 4; then start_peers; fi
    start_gatehouses
  fi
  want 1 && scenario1
  want 2 && scenario2
  want 3 && scenario3
  want 4 && scenario4
  want 5 && scenario5
  want 6 && scenario6
  want 7 && scenario7
  summarize complete
  SUMMARIZED=1
  local f
  for f in "${FAILURES[@]}"; do log "FAILED: $f"; done
  ((${#FAILURES[@]} == 0))
}
summarize() {
  write_meta "$1"
  node "$BENCH_DIR/lib/summarize.mjs" "$SAMPLES" "$TMP/meta.json" "$RESULTS_DIR/$STAMP.json" \
    "$RESULTS_DIR/$STAMP.md"
  log "wrote $RESULTS_DIR/$STAMP.json and .md ($((SECONDS - STARTED)) s)"
}

main "$@"
