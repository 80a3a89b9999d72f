#!/usr/bin/env bash
# run-proxy-bench.sh: Gatehouse against nginx and HAProxy, on this machine, in one go.
#
#   bench/run-proxy-bench.sh                 # DURATION=10 s per scenario, about 2 minutes
#   DURATION=30 PROFILE=1 bench/run-proxy-bench.sh
#
# Installs its peers if missing (Debian: nginx, haproxy, wrk), makes an RS256
# key, token and JWKS, writes every config into a temp dir, then runs wrk
# (1 thread, 64 keep-alive connections, --latency) against, in turn:
#   direct       the upstream itself (nginx returning a fixed 100-byte body)
#   nginx        nginx as a plain reverse proxy (1 worker, keepalive upstream)
#   haproxy      HAProxy plain (nbthread 1, http-reuse always)
#   haproxy-jwt  HAProxy verifying the RS256 token (jwt_verify + alg/iss/aud/exp checks)
#   gatehouse    gatehouse-proxy --threads 1: token + 1,000 policies + audit log + metrics
# The system under test runs on CPU $SUT_CPU (taskset); wrk and the upstream
# share CPU $LOAD_CPU. Each scenario: a sample request must be 200 (and the
# gates must refuse a missing or forged token), a warm-up, then the measured run.
# Then Gatehouse's RSS idle and with $IDLE_CONNS idle keep-alive connections.
# Results: a table on stdout, bench/results/proxy-bench-<date>.{json,md}.
#
# Environment (all optional):
#   DURATION=10 WARMUP=2 CONNS=64 POLICIES=1000 IDLE_CONNS=10000 PORT_BASE=19100
#   SUT_CPU=0 LOAD_CPU=1 GATEHOUSE_PROXY=build/proxy/cli/gatehouse-proxy
#   PROFILE=1   after the measurement, record a cpu-clock perf profile of one more
#               Gatehouse run and write its top symbols next to the results
#   KEEP_TMP=1  keep the temp dir (configs, logs, wrk output) for inspection
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-64}
POLICIES=${POLICIES:-1000}
IDLE_CONNS=${IDLE_CONNS:-10000}
PORT_BASE=${PORT_BASE:-19100}
SUT_CPU=${SUT_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PROFILE=${PROFILE:-0}
KEEP_TMP=${KEEP_TMP:-0}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
PROXY_BIN=${GATEHOUSE_PROXY:-$REPO/build/proxy/cli/gatehouse-proxy}
RESULTS_DIR=$BENCH_DIR/results
STAMP=$(date -u +%Y%m%d-%H%M%S)

UPSTREAM_PORT=$PORT_BASE
IDP_PORT=$((PORT_BASE + 1))
NGINX_PORT=$((PORT_BASE + 2))
HAPROXY_PORT=$((PORT_BASE + 3))
HAPROXY_JWT_PORT=$((PORT_BASE + 4))
GATEHOUSE_PORT=$((PORT_BASE + 5))
GATEHOUSE_ADMIN_PORT=$((PORT_BASE + 6))
ISSUER=http://127.0.0.1:$IDP_PORT
BENCH_HOST=app.bench.test
REQUEST_PATH=/api/bench

log() { printf '%s\n' "$*" >&2; }
die() {
  log "run-proxy-bench: $*"
  exit 1
}

# --- processes: every one we start is recorded and stopped on exit ----------
PIDS=()
TMP=""
stop_pid() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
  if [[ -n "$TMP" && -d "$TMP" ]]; then
    if [[ "$KEEP_TMP" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# start_bg LOGFILE CMD...: run CMD in the background, remember its pid in $BG_PID.
start_bg() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
# run_fg CMD...: run CMD to completion, but as a waited-for background job, so
# that Ctrl-C reaches our trap even when CMD (wrk) catches SIGINT and exits 0.
run_fg() {
  local pid rc=0
  "$@" &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}
forget_pid() {
  local kept=() p
  for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}
# stop_bg PID: stop one process we started and forget it.
stop_bg() {
  stop_pid "$1"
  forget_pid "$1"
}

# --- prerequisites -----------------------------------------------------------
apt_install() {
  local attempt
  [[ $(id -u) == 0 ]] || die "missing $*; install them (sudo apt-get install -y $*) and rerun"
  for attempt in $(seq 1 30); do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y "$@" >/dev/null 2>&1; then return 0; fi
    log "apt-get install $* failed (attempt $attempt; dpkg lock?); retrying in 5 s"
    sleep 5
  done
  die "could not install $*"
}
ensure_tools() {
  local missing=()
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v taskset >/dev/null || missing+=(util-linux)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  command -v node >/dev/null || die "node (20+) is required to mint the token and hold idle connections"
  [[ -x "$PROXY_BIN" ]] || die "$PROXY_BIN not found: build it first (ninja -C build gatehouse-proxy)"
  (($(nproc) >= 2)) || die "needs 2 CPUs (system under test and load generator on separate cores)"
}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

raise_fd_limit() {
  local want=$((IDLE_CONNS * 2 + 4096))
  ((want >= 65536)) || want=65536
  # Root may raise the hard limit; anyone may go up to it.
  ulimit -Hn "$want" 2>/dev/null || true
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  local have
  have=$(ulimit -n)
  if ((have < IDLE_CONNS + 1024)); then
    log "ulimit -n is $have: holding $((have - 1024)) idle connections instead of $IDLE_CONNS"
    IDLE_CONNS=$((have - 1024))
  fi
}

check_ports_free() {
  local port
  for port in $UPSTREAM_PORT $IDP_PORT $NGINX_PORT $HAPROXY_PORT $HAPROXY_JWT_PORT \
    $GATEHOUSE_PORT $GATEHOUSE_ADMIN_PORT; do
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      die "port $port is in use; set PORT_BASE to a free range"
    fi
  done
}

# render TEMPLATE OUT: fill the @VARS@ of a config template.
render() {
  sed -e "s#@TMP@#$TMP#g" -e "s#@UPSTREAM_PORT@#$UPSTREAM_PORT#g" -e "s#@IDP_PORT@#$IDP_PORT#g" \
    -e "s#@ISSUER@#$ISSUER#g" -e "s#@JWT_KEY@#$TMP/keys/rs256-public.pem#g" \
    -e "s#@PORT@#${RENDER_PORT:-0}#g" -e "s#@BODY@#$BODY#g" "$1" >"$2"
}

make_material() {
  mkdir -p "$TMP/keys" "$TMP/policies"
  chmod 755 "$TMP"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/keys/rs256.pem" 2>/dev/null
  openssl pkey -in "$TMP/keys/rs256.pem" -pubout -out "$TMP/keys/rs256-public.pem"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$TMP/keys/assertion-es256.pem" 2>/dev/null
  chmod 600 "$TMP/keys/rs256.pem" "$TMP/keys/assertion-es256.pem"
  chmod 644 "$TMP/keys/rs256-public.pem"
  node "$BENCH_DIR/lib/mint-token.mjs" "$TMP/keys/rs256.pem" "$ISSUER" gatehouse "$TMP"
  chmod -R a+rX "$TMP/idp"
  TOKEN=$(cat "$TMP/token.jwt")
  BAD_TOKEN=$(cat "$TMP/bad-token.jwt")
  node "$BENCH_DIR/lib/gen-policies.mjs" "$TMP/policies" "$POLICIES" "$ISSUER" \
    "http://127.0.0.1:$UPSTREAM_PORT" "$BENCH_HOST"
  # The upstream's fixed response body: exactly 100 bytes (nginx `return` adds nothing).
  BODY=$(printf 'gatehouse-bench-%084d' 0)
}

# --- probes ------------------------------------------------------------------
# http_code URL [TOKEN]: the status of one GET with the benchmark's Host header.
http_code() {
  local url=$1 token=${2:-} args=(-s -o "$TMP/last-body" -w '%{http_code}' -H "Host: $BENCH_HOST" --max-time 10)
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  curl "${args[@]}" "$url" || echo 000
}
wait_for() {
  local url=$1 want=$2 what=$3 pid=$4
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || die "$what exited during startup (see its log under ${TMP})"
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true) == "$want" ]] && return 0
    sleep 0.1
  done
  die "$what did not answer $want on $url within 10 s"
}
# check_serves NAME URL: a request with the token must be a 200 with the upstream's body.
check_serves() {
  local name=$1 url=$2 code
  code=$(http_code "$url" "$TOKEN")
  [[ "$code" == 200 ]] || die "$name: sample request got $code, expected 200: refusing to measure a misconfigured peer"
  grep -q "gatehouse-bench-" "$TMP/last-body" || die "$name: 200 without the upstream's body"
  log "  check: $name answers 200 with the upstream body"
}
# check_denies NAME URL: no token and a forged token must both be refused.
check_denies() {
  local name=$1 url=$2 code
  code=$(http_code "$url")
  [[ "$code" == 401 || "$code" == 403 ]] || die "$name: request without a token got $code, expected 401/403"
  log "  check: $name refuses a request without a token ($code)"
  code=$(http_code "$url" "$BAD_TOKEN")
  [[ "$code" == 401 || "$code" == 403 ]] || die "$name: forged token got $code, expected 401/403"
  log "  check: $name refuses a token with a forged signature ($code)"
}

# --- measurement -------------------------------------------------------------
RESULTS_TSV=""
# wrk_run SECONDS URL OUT
wrk_run() {
  run_fg taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$1s" --latency --timeout 10s \
    -H "Host: $BENCH_HOST" -H "Authorization: Bearer $TOKEN" "$2" >"$3" 2>&1
}
# parse_wrk FILE: prints "rps p50_ms p99_ms non2xx socket_errors".
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/) return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return -1
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %d %d\n", rps + 0, p50 + 0, p99 + 0, non2xx, errs }
  ' "$1"
}
# measure NAME LABEL URL
measure() {
  local name=$1 label=$2 url=$3 load rps p50 p99 non2xx errs
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  log "  uptime before $name:$(uptime | sed 's/.*load average/ load average/')"
  wrk_run "$WARMUP" "$url" "$TMP/wrk-$name-warmup.txt"
  wrk_run "$DURATION" "$url" "$TMP/wrk-$name.txt"
  read -r rps p50 p99 non2xx errs < <(parse_wrk "$TMP/wrk-$name.txt")
  [[ "$rps" != 0 ]] || die "$name: wrk produced no result: $(cat "$TMP/wrk-$name.txt")"
  ((non2xx == 0)) || log "  WARNING: $name answered $non2xx non-2xx responses during the run"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$label" "$rps" "$p50" "$p99" "$non2xx" \
    "$errs" "$load" >>"$RESULTS_TSV"
  log "  $name: $rps req/s, p50 $p50 ms, p99 $p99 ms (non-2xx $non2xx, socket errors $errs)"
}

vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# --- scenarios ---------------------------------------------------------------
scenario_direct() {
  log "[1/5] upstream direct (nginx, 1 worker, on CPU $LOAD_CPU with wrk)"
  check_serves direct "http://127.0.0.1:$UPSTREAM_PORT$REQUEST_PATH"
  measure direct "upstream direct" "http://127.0.0.1:$UPSTREAM_PORT$REQUEST_PATH"
}
scenario_nginx() {
  log "[2/5] nginx plain reverse proxy (1 worker, keepalive 64 to the upstream)"
  RENDER_PORT=$NGINX_PORT render "$BENCH_DIR/configs/nginx-proxy.conf" "$TMP/nginx-proxy.conf"
  start_bg "$TMP/nginx-proxy.out" taskset -c "$SUT_CPU" "$NGINX" -p "$TMP" -e "$TMP/nginx-proxy.error.log" \
    -c "$TMP/nginx-proxy.conf" -g 'daemon off;'
  local pid=$BG_PID url="http://127.0.0.1:$NGINX_PORT$REQUEST_PATH"
  wait_for "$url" 200 nginx "$pid"
  check_serves nginx "$url"
  measure nginx "nginx plain proxy" "$url"
  stop_bg "$pid"
}
scenario_haproxy() {
  local name=$1 label=$2 cfg=$3 port=$4 pid url
  RENDER_PORT=$port render "$BENCH_DIR/configs/$cfg" "$TMP/$cfg"
  "$HAPROXY" -c -q -f "$TMP/$cfg" || die "$name: haproxy rejected $cfg"
  start_bg "$TMP/$name.out" taskset -c "$SUT_CPU" "$HAPROXY" -db -f "$TMP/$cfg"
  pid=$BG_PID
  url="http://127.0.0.1:$port$REQUEST_PATH"
  wait_for "http://127.0.0.1:$port/" "$([[ $name == haproxy-jwt ]] && echo 401 || echo 200)" "$name" "$pid"
  check_serves "$name" "$url"
  if [[ $name == haproxy-jwt ]]; then check_denies "$name" "$url"; fi
  measure "$name" "$label" "$url"
  stop_bg "$pid"
}
scenario_gatehouse() {
  log "[5/5] Gatehouse --threads 1: RS256 token, $POLICIES policies, audit log to a file, metrics"
  local url="http://127.0.0.1:$GATEHOUSE_PORT$REQUEST_PATH" admin="http://127.0.0.1:$GATEHOUSE_ADMIN_PORT"
  # stdout is the audit log: shipped to a file, as a user would.
  taskset -c "$SUT_CPU" "$PROXY_BIN" serve --policies "$TMP/policies" \
    --listen "127.0.0.1:$GATEHOUSE_PORT" --admin "127.0.0.1:$GATEHOUSE_ADMIN_PORT" --threads 1 \
    --signing-key "$TMP/keys/assertion-es256.pem" --drain-seconds 1 \
    >"$TMP/gatehouse-audit.log" 2>"$TMP/gatehouse.log" &
  GATEHOUSE_PID=$!
  PIDS+=("$GATEHOUSE_PID")
  wait_for "$admin/readyz" 200 gatehouse "$GATEHOUSE_PID"
  sleep 1
  RSS_IDLE_KB=$(vmrss_kb "$GATEHOUSE_PID")
  log "  Gatehouse RSS idle after start ($POLICIES policies compiled, no traffic yet): $((RSS_IDLE_KB / 1024)) MiB"
  check_serves gatehouse "$url"
  check_denies gatehouse "$url"
  measure gatehouse "Gatehouse (JWT + $POLICIES policies + audit + metrics)" "$url"
  RSS_AFTER_LOAD_KB=$(vmrss_kb "$GATEHOUSE_PID")
  AUDIT_LINES=$(wc -l <"$TMP/gatehouse-audit.log")
  curl -s "$admin/metrics" >"$TMP/gatehouse-metrics.txt" || true
  METRIC_ALLOWS=$(awk '/^gatehouse_decisions_total\{/ && /decision="allow"/ {s += $NF} END {printf "%d", s}' \
    "$TMP/gatehouse-metrics.txt")
  log "  audit log: $AUDIT_LINES lines; gatehouse_decisions_total{decision=allow}: $METRIC_ALLOWS"
  ((AUDIT_LINES > 0 && METRIC_ALLOWS > 0)) || die "gatehouse: audit log or metrics are empty"
}
scenario_idle_connections() {
  log "[rss] Gatehouse with $IDLE_CONNS idle keep-alive connections (one request each, then idle)"
  start_bg "$TMP/idle-conns.out" taskset -c "$LOAD_CPU" node "$BENCH_DIR/lib/idle-conns.mjs" \
    127.0.0.1 "$GATEHOUSE_PORT" "$IDLE_CONNS" "$BENCH_HOST" "$TMP/token.jwt"
  local pid=$BG_PID line=""
  for _ in $(seq 1 1200); do
    line=$(grep -m1 '^ready' "$TMP/idle-conns.out" || true)
    [[ -n "$line" ]] && break
    kill -0 "$pid" 2>/dev/null || die "idle connection client died: $(cat "$TMP/idle-conns.out")"
    sleep 0.1
  done
  [[ -n "$line" ]] || die "idle connection client did not finish within 120 s"
  sleep 2
  RSS_IDLE_CONNS_KB=$(vmrss_kb "$GATEHOUSE_PID")
  IDLE_ESTABLISHED=$(ss -Htn state established "( sport = :$GATEHOUSE_PORT )" | wc -l)
  IDLE_CLIENT_SUMMARY=${line#ready }
  log "  client: $IDLE_CLIENT_SUMMARY; established at the proxy: $IDLE_ESTABLISHED"
  log "  Gatehouse RSS with idle connections: $((RSS_IDLE_CONNS_KB / 1024)) MiB"
  stop_bg "$pid"
}
# perf_top --sort KEYS N: the N heaviest rows of the recorded profile, one short line each.
perf_top() {
  perf report -i "$TMP/perf.data" --stdio --no-children "$1" "$2" -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//; s/[[:space:]]+$//' |
    cut -c1-180 | head -"$3" || true # head closing the pipe early is fine
}
profile_gatehouse() {
  command -v perf >/dev/null || {
    log "[perf] perf not installed (apt-get install -y linux-perf): no profile"
    return 0
  }
  local out="$RESULTS_DIR/proxy-bench-$STAMP-perf.txt"
  log "[perf] cpu-clock profile of Gatehouse under the same load (${DURATION} s, not measured)"
  taskset -c "$LOAD_CPU" perf record -q -e cpu-clock -F 999 -g -p "$GATEHOUSE_PID" \
    -o "$TMP/perf.data" -- sleep "$DURATION" >"$TMP/perf.out" 2>&1 &
  local perf_pid=$!
  PIDS+=("$perf_pid")
  wrk_run "$DURATION" "http://127.0.0.1:$GATEHOUSE_PORT$REQUEST_PATH" "$TMP/wrk-perf.txt"
  wait "$perf_pid" || true
  forget_pid "$perf_pid"
  {
    echo "# perf record -e cpu-clock -g of gatehouse-proxy --threads 1 under wrk -c$CONNS ($STAMP)"
    echo "## self time by symbol"
    perf_top --sort dso,symbol 40
    echo "## self time by thread (pid:comm; the event loop, the audit logger, the JWKS refresher ...)"
    perf_top --sort pid 10
    echo "## self time by shared object"
    perf_top --sort dso 15
  } >"$out"
  log "  top symbols (self time), full list in $out:"
  sed -n '3,17p' "$out" | cut -c1-150 >&2
  log "  by shared object:"
  sed -n '/^## self time by shared object/,$p' "$out" | sed -n '2,8p' >&2
}

main() {
  ensure_tools
  raise_fd_limit
  check_ports_free
  mkdir -p "$RESULTS_DIR"
  TMP=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
  RESULTS_TSV=$TMP/results.tsv
  : >"$RESULTS_TSV"
  local started=$SECONDS
  log "gatehouse proxy benchmark $STAMP: wrk -t1 -c$CONNS -d${DURATION}s (+${WARMUP}s warm-up), keep-alive"
  log "pinning: system under test on CPU $SUT_CPU; wrk AND the upstream nginx share CPU $LOAD_CPU"
  make_material
  render "$BENCH_DIR/configs/nginx-upstream.conf" "$TMP/nginx-upstream.conf"
  start_bg "$TMP/nginx-upstream.out" taskset -c "$LOAD_CPU" "$NGINX" -p "$TMP" \
    -e "$TMP/nginx-upstream.error.log" -c "$TMP/nginx-upstream.conf" -g 'daemon off;'
  local upstream_pid=$BG_PID
  wait_for "http://127.0.0.1:$UPSTREAM_PORT/" 200 "upstream nginx" "$upstream_pid"
  wait_for "$ISSUER/.well-known/openid-configuration" 200 "IdP (nginx)" "$upstream_pid"

  scenario_direct
  scenario_nginx
  log "[3/5] HAProxy plain (nbthread 1, http-reuse always)"
  scenario_haproxy haproxy "HAProxy plain" haproxy-plain.cfg "$HAPROXY_PORT"
  log "[4/5] HAProxy jwt_verify RS256 + alg/iss/aud/exp checks"
  scenario_haproxy haproxy-jwt "HAProxy jwt_verify RS256" haproxy-jwt.cfg "$HAPROXY_JWT_PORT"
  scenario_gatehouse
  if [[ "$PROFILE" == 1 ]]; then profile_gatehouse; fi
  scenario_idle_connections

  local meta="$TMP/meta.json"
  cat >"$meta" <<EOF
{"date": "$STAMP", "duration_s": $DURATION, "warmup_s": $WARMUP, "connections": $CONNS,
 "policies": $POLICIES, "sut_cpu": $SUT_CPU, "load_cpu": $LOAD_CPU,
 "cpu_model": "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')",
 "nproc": $(nproc), "kernel": "$(uname -r)",
 "versions": {"nginx": "$("$NGINX" -v 2>&1 | sed 's/.*nginx\///')",
              "haproxy": "$("$HAPROXY" -v | awk 'NR==1 {print $3}')",
              "wrk": "$(wrk -v 2>&1 | awk 'NR==1 {print $2}')",
              "gatehouse_git": "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"},
 "rss_kb": {"idle": $RSS_IDLE_KB, "after_load": $RSS_AFTER_LOAD_KB, "idle_connections": $RSS_IDLE_CONNS_KB},
 "idle_connections": {"requested": $IDLE_CONNS, "established_at_proxy": $IDLE_ESTABLISHED,
                      "client": "$IDLE_CLIENT_SUMMARY"},
 "gatehouse_audit_lines": $AUDIT_LINES, "gatehouse_metric_allows": $METRIC_ALLOWS,
 "wall_s": $((SECONDS - started))}
EOF
  node "$BENCH_DIR/lib/report.mjs" "$RESULTS_TSV" "$meta" \
    "$RESULTS_DIR/proxy-bench-$STAMP.json" "$RESULTS_DIR/proxy-bench-$STAMP.md"
  log "wrote $RESULTS_DIR/proxy-bench-$STAMP.json and .md ($((SECONDS - started)) s)"
}

main "$@"
