#!/usr/bin/env bash
# run-proxy-bench.sh: the issue-3 entry point, kept for its users. It is now
# scenario 1 of bench/run.sh (Gatehouse against nginx and HAProxy on one
# core, keep-alive), one round by default:
#
#   bench/run-proxy-bench.sh                     # = bench/run.sh --scenarios 1 --repeat 1
#   REPEAT=3 PROFILE=1 bench/run-proxy-bench.sh  # three rounds, plus a perf profile
#
# Environment: everything bench/run.sh reads (DURATION, WARMUP, CONNS,
# PORT_BASE, SUT_CPU, LOAD_CPU, GATEHOUSE_PROXY, PROFILE, KEEP_TMP), and
# REPEAT. Results: bench/results/<stamp>.{md,json}. The idle-connection
# memory figure it used to print is scenario 6: bench/run.sh --scenarios 6.
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" --scenarios 1 --repeat "${REPEAT:-1}" "$@"
