# Shared helpers for the scripts in this folder (sourced, not run).

log() { printf '\033[1m[gatehouse]\033[0m %s\n' "$*" >&2; }

# apt-get that waits while another apt/dpkg holds the lock instead of failing.
apt_retry() {
  local attempt sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo)
  for attempt in $(seq 1 60); do
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@"; then
      return 0
    fi
    log "apt-get $1 failed (attempt $attempt); retrying in 5 s"
    sleep 5
  done
  return 1
}

JOBS=${JOBS:-$(nproc)}

# build_release [TARGET...]: everything, or just the named targets.
build_release() {
  log "building (Release) in build/ ${*:-(all targets)}"
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j "$JOBS" ${1:+--target "$@"}
}

# ASan + UBSan with clang; the same objects carry libFuzzer coverage for the fuzz targets.
build_sanitize() {
  log "building (Sanitize: ASan+UBSan, clang, fuzz targets) in build-sanitize/"
  CXX=clang++ cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Sanitize \
    -DGATEHOUSE_FUZZ=ON -DGATEHOUSE_BENCH=OFF >/dev/null
  cmake --build build-sanitize -j "$JOBS"
}
