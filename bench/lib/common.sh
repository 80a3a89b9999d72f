# shellcheck shell=bash disable=SC2034  # sourced: the variables it sets are read by the caller
# common.sh: shell pieces shared by bench/run.sh and bench/guard.sh (sourced).
#
#   source "$BENCH_DIR/lib/common.sh"
#   trap cleanup EXIT; ensure_tools; TMP=$(mktemp -d ...)
#   start_bg LOG taskset -c 0 nginx ...      # remembered, stopped by cleanup
#   wait_for URL 200 what PID; check_serves NAME URL TOKEN; check_denies NAME URL
#   wrk_json SECONDS URL [wrk args...]       # one JSON object: rps, p50/p99 ms, non2xx, errors
#
# Expects: BENCH_DIR, REPO, TMP (set before use), SUT_CPU, LOAD_CPU, BENCH_HOST.

log() { printf '%s\n' "$*" >&2; }
die() {
  log "${0##*/}: $*"
  exit 1
}

# --- processes: every one we start is recorded and stopped on exit ----------
PIDS=()
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
  if [[ -n "${TMP:-}" && -d "$TMP" ]]; then
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
}
# start_bg LOGFILE CMD...: run CMD in the background, its pid in $BG_PID.
start_bg() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  BG_PID=$!
  PIDS+=("$BG_PID")
}
forget_pid() {
  local kept=() p
  for p in "${PIDS[@]}"; do [[ "$p" == "$1" ]] || kept+=("$p"); done
  PIDS=("${kept[@]}")
}
# run_fg CMD...: run CMD to completion as a waited-for background job, so that
# Ctrl-C reaches our trap even when CMD (wrk) catches SIGINT and exits 0.
run_fg() {
  local pid rc=0
  "$@" &
  pid=$!
  PIDS+=("$pid")
  wait "$pid" || rc=$?
  forget_pid "$pid"
  return "$rc"
}
stop_bg() {
  stop_pid "$1"
  forget_pid "$1"
}

# --- prerequisites -----------------------------------------------------------
# apt_install PKG...: retries while another apt-get holds the dpkg lock.
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
# ensure_tools [valgrind]: nginx, haproxy, wrk, curl, openssl, taskset (+ valgrind).
ensure_tools() {
  local missing=()
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v taskset >/dev/null || missing+=(util-linux)
  if [[ "${1:-}" == valgrind ]]; then command -v valgrind >/dev/null || missing+=(valgrind); fi
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  command -v node >/dev/null || die "node (20+) is required (tokens, load generators, reports)"
  (($(nproc) >= 2)) || die "needs 2 CPUs (system under test and load generator on separate cores)"
}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)

# raise_fd_limit WANT: as far as the hard limit allows (root may raise it).
raise_fd_limit() {
  local want=$1
  ((want >= 65536)) || want=65536
  ulimit -Hn "$want" 2>/dev/null || true
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

# port_free PORT: nothing listens on it.
port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# render TEMPLATE OUT [VAR=VALUE...]: fill the @VARS@ of a config template.
render() {
  local template=$1 out=$2 args=() kv
  shift 2
  for kv in "$@"; do args+=(-e "s#@${kv%%=*}@#${kv#*=}#g"); done
  sed -e "s#@TMP@#$TMP#g" "${args[@]}" "$template" >"$out"
}

# --- probes ------------------------------------------------------------------
# http_code URL [TOKEN]: the status of one GET with the benchmark's Host header.
http_code() {
  local url=$1 token=${2:-} args=(-sk -o "$TMP/last-body" -w '%{http_code}' -H "Host: $BENCH_HOST"
    --max-time 10)
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  curl "${args[@]}" "$url" || echo 000
}
# wait_for URL CODE WHAT PID: poll (100 ms) until URL answers CODE, for up to 60 s.
wait_for() {
  local url=$1 want=$2 what=$3 pid=$4
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || die "$what exited during startup (see its log under ${TMP})"
    [[ $(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true) == "$want" ]] && return 0
    sleep 0.1
  done
  die "$what did not answer $want on $url within 60 s"
}
# check_serves NAME URL TOKEN: a request with the token must be a 200 with the upstream's body.
check_serves() {
  local name=$1 url=$2 code
  code=$(http_code "$url" "$3")
  [[ "$code" == 200 ]] || die "$name: sample request got $code, expected 200: refusing to measure a misconfigured peer"
  grep -q "gatehouse-bench-" "$TMP/last-body" || die "$name: 200 without the upstream's body"
}
# check_denies NAME URL BAD_TOKEN: no token and a forged token must both be refused.
check_denies() {
  local name=$1 url=$2 code
  code=$(http_code "$url")
  [[ "$code" == 401 || "$code" == 403 ]] || die "$name: request without a token got $code, expected 401/403"
  code=$(http_code "$url" "$3")
  [[ "$code" == 401 || "$code" == 403 ]] || die "$name: forged token got $code, expected 401/403"
}

# --- measurement -------------------------------------------------------------
# parse_wrk FILE: one JSON object {rps, p50_ms, p99_ms, non2xx, errors}.
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
    END { printf "{\"rps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"non2xx\": %d, \"errors\": %d}\n",
                 rps, p50, p99, non2xx, errs }
  ' "$1"
}
# wrk_json SECONDS URL [WRK ARGS...]: wrk -t1 -c$CONNS on $LOAD_CPU; prints parse_wrk's JSON.
# WRK_LUA=script WRK_LUA_ARG=arg: run a wrk Lua script with one argument.
WRK_SEQ=0
wrk_json() {
  local seconds=$1 url=$2 out
  shift 2
  WRK_SEQ=$((WRK_SEQ + 1))
  out="$TMP/wrk-$WRK_SEQ.txt"
  local script=() script_args=()
  if [[ -n "${WRK_LUA:-}" ]]; then script=(-s "$WRK_LUA") script_args=(-- "$WRK_LUA_ARG"); fi
  run_fg taskset -c "$LOAD_CPU" wrk -t1 -c"${CONNS:-64}" -d"${seconds}s" --latency --timeout 10s \
    -H "Host: $BENCH_HOST" "${script[@]}" "$@" "$url" "${script_args[@]}" >"$out" 2>&1 || true
  grep -q 'Requests/sec' "$out" || die "wrk produced no result for $url: $(head -c 600 "$out")"
  parse_wrk "$out"
}

vm_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# make_material ROTATE: tokens (lib/mint-token.mjs), the upstream body.
make_material() {
  mkdir -p "$TMP/keys"
  chmod 755 "$TMP"
  node "$BENCH_DIR/lib/mint-token.mjs" "$ISSUER" gatehouse "$TMP" "$1"
  chmod -R a+rX "$TMP/idp" "$TMP/keys"
  TOKEN=$(cat "$TMP/token-rs256.jwt")
  BAD_TOKEN=$(cat "$TMP/bad-token-rs256.jwt")
  # The upstream's fixed response body: exactly 100 bytes.
  BODY=$(printf 'gatehouse-bench-%084d' 0)
}

# start_upstream PORT IDP_PORT: nginx on $LOAD_CPU: the 100-byte upstream and the IdP files.
start_upstream() {
  render "$BENCH_DIR/configs/nginx-upstream.conf" "$TMP/nginx-upstream.conf" \
    "UPSTREAM_PORT=$1" "IDP_PORT=$2" "BODY=$BODY"
  start_bg "$TMP/nginx-upstream.out" taskset -c "$LOAD_CPU" "$NGINX" -p "$TMP" \
    -e "$TMP/nginx-upstream.error.log" -c "$TMP/nginx-upstream.conf" -g 'daemon off;'
  wait_for "http://127.0.0.1:$1/" 200 "upstream nginx" "$BG_PID"
  wait_for "http://127.0.0.1:$2/.well-known/openid-configuration" 200 "IdP (nginx)" "$BG_PID"
}

# start_nginx_proxy NAME TEMPLATE PORT UPSTREAM_PORT: nginx pinned to $SUT_CPU; pid in BG_PID.
start_nginx_proxy() {
  render "$BENCH_DIR/configs/$2" "$TMP/$1.conf" "PORT=$3" "UPSTREAM_PORT=$4"
  start_bg "$TMP/$1.out" taskset -c "$SUT_CPU" "$NGINX" -p "$TMP" -e "$TMP/$1.error.log" \
    -c "$TMP/$1.conf" -g 'daemon off;'
}

# start_gatehouse NAME CPUS THREADS LISTEN_PORT ADMIN_PORT POLICY_DIR [EXTRA ARGS]:
# audit log (stdout) to $TMP/NAME-audit.log; waits for /readyz; pid in GH_PID,
# milliseconds from start to ready in GH_READY_MS.
start_gatehouse() {
  local name=$1 cpus=$2 threads=$3 port=$4 admin=$5 dir=$6 t0
  shift 6
  t0=$(date +%s%N)
  taskset -c "$cpus" "$PROXY_BIN" serve --policies "$dir" --listen "127.0.0.1:$port" \
    --admin "127.0.0.1:$admin" --threads "$threads" --drain-seconds 1 "$@" \
    >"$TMP/$name-audit.log" 2>"$TMP/$name.log" &
  GH_PID=$!
  PIDS+=("$GH_PID")
  local i
  for i in $(seq 1 6000); do
    kill -0 "$GH_PID" 2>/dev/null || die "$name exited during startup: $(tail -5 "$TMP/$name.log")"
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$admin/readyz" || true) == 200 ]] && break
    sleep 0.01
  done
  GH_READY_MS=$((($(date +%s%N) - t0) / 1000000))
}

# gen_policies DIR COUNT UPSTREAM_PORT: lib/gen-policies.mjs (the hit policy + fillers).
gen_policies() {
  node "$BENCH_DIR/lib/gen-policies.mjs" "$1" "$2" "$ISSUER" "http://127.0.0.1:$3" "$BENCH_HOST"
}
