#!/usr/bin/env bash
# Sets up and builds Gatehouse, then runs it in local mode on this machine:
#   - a local identity provider (the real oidc-provider)    on 127.0.0.1:9400 (tokens for curl)
#   - a sign-in identity provider for browsers (the same)    on 127.0.0.1:9401
#   - a sample upstream standing in for Metabase (echoes)    on 127.0.0.1:9402
#   - gatehouse-proxy serve --policies examples/local        on localhost:8080 (admin :9901)
# and prints requests to try. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SETUP_SKIP_BUILD=1 scripts/setup.sh
build_release gatehouse-proxy   # only what runs here; scripts/test.sh builds the rest
bin=build/proxy/cli/gatehouse-proxy
run_dir=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$run_dir"
}
trap cleanup EXIT INT TERM

wait_for() {  # wait_for URL: until it answers (any status)
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  log "timed out waiting for $1"; return 1
}

log "validating examples/local/ and manifests/examples/"
"$bin" validate examples/local/
"$bin" validate manifests/examples/

node e2e/tools/local-idp.mjs --port 9400 >"$run_dir/idp.log" 2>&1 & pids+=($!)
node e2e/tools/login-idp.mjs --port 9401 >"$run_dir/login-idp.log" 2>&1 & pids+=($!)
node e2e/tools/echo-upstream.mjs --port 9402 >"$run_dir/upstream.log" 2>&1 & pids+=($!)
wait_for http://127.0.0.1:9400/.well-known/openid-configuration
wait_for http://127.0.0.1:9401/.well-known/openid-configuration
wait_for http://127.0.0.1:9402/
"$bin" serve --policies examples/local --listen 127.0.0.1:8080 --admin 127.0.0.1:9901 \
  >"$run_dir/audit.log" 2>"$run_dir/proxy.log" & pids+=($!)
wait_for http://127.0.0.1:9901/healthz

cat <<MSG

Gatehouse is running (local mode).

In a browser on this machine, open http://localhost:8080/dashboard/1 : you are sent
to sign in (type ann, an analyst; cy, a contractor, gets the 403 page; ops, an admin).
Back on the page, the upstream echoes the identity headers Gatehouse added.
Sign out: http://localhost:8080/.gatehouse/logout

Or try, in another terminal:

  # a token for ann (an analyst); cy is a contractor, ops an admin
  TOKEN=\$(curl -s -u ann:ann-secret -d grant_type=client_credentials -d scope=api \\
      -d resource=urn:gatehouse http://127.0.0.1:9400/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

  curl -i http://localhost:8080/api/health                        # public: 200
  curl -i http://localhost:8080/api/card/1                        # no token: 401
  curl -i -H "Authorization: Bearer \$TOKEN" http://localhost:8080/api/card/1
                                                                  # 200; the upstream echoes the
                                                                  # X-Forwarded-User/-Email/-Groups it got
  curl -i -H "Authorization: Bearer \$TOKEN" -H "X-Forwarded-User: admin" http://localhost:8080/api/card/1
                                                                  # the spoofed header never arrives
  curl -i -X POST -H "Authorization: Bearer \$TOKEN" http://localhost:8080/api/dataset/csv
                                                                  # 403 no_matching_rule (cy: denied_by_rule)
  curl -s http://127.0.0.1:9901/metrics | grep gatehouse_decisions_total

  build/proxy/cli/gatehouse-proxy explain --policies examples/local \\
      --claims '{"sub":"cy","email":"cy@example.com","groups":["contractors"]}' \\
      POST http://localhost/api/dataset/csv

Edit examples/local/metabase-local.yaml and the proxy reloads it (a broken edit keeps the old policy).
Audit log (one JSON line per decision): $run_dir/audit.log
Proxy log: $run_dir/proxy.log        Ctrl-C to stop.
MSG
wait "${pids[@]}"
