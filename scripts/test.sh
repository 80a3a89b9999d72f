#!/usr/bin/env bash
# Runs every Gatehouse test: installs what is missing, builds, then
#  1. ctest in the Release build: unit tests, CLI tests, node end-to-end tests;
#  2. ctest in the Sanitize build (ASan+UBSan, clang): unit tests and every
#     fuzz target replaying its seed corpus.
# Exit status is non-zero when any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/setup.sh
build_sanitize

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

log "ctest: Release build (all tests)"
ctest --test-dir build --output-on-failure -j "$JOBS"
log "ctest: Sanitize build (unit and fuzz-seed tests under ASan+UBSan)"
ctest --test-dir build-sanitize --output-on-failure -j "$JOBS" -L 'unit|fuzz'
