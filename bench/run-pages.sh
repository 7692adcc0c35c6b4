#!/usr/bin/env bash
# bench/run-pages.sh: issue 14's page render benchmark, twice, each run
# preceded by the machine's load (these machines are shared: a p99 means
# little without it). web's BenchmarkPages opens gatehouse as `gatehouse
# serve` does (server.Open, SQLite in a temporary directory) with 100
# users, one of them with 100 sessions, and GETs each page through the
# whole handler stack; it reports ns/op and the p50 and p99 of the
# requests' latencies (p50-ms, p99-ms). Target: p99 < 5 ms.
#
# Usage: bash bench/run-pages.sh
# Knobs (environment): BENCHTIME (2000x), RUNS (2).
set -euo pipefail

export GOTOOLCHAIN=go1.27.3

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for run in $(seq "${RUNS:-2}"); do
	echo "run $run, before:$(uptime | sed 's/.*load average/ load average/')"
	go test -run='^$' -bench=Pages -benchtime="${BENCHTIME:-2000x}" ./web/ | grep -E '^Benchmark'
done
