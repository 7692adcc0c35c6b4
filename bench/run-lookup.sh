#!/usr/bin/env bash
# bench/run-lookup.sh: issue 12's session lookup latency with many live
# sessions. For each store (SQLite, PostgreSQL, Redis) bench/lookup fills
# one fresh store per size in SIZES, then times SessionByTokenHash (the
# store read behind a session cache miss) for random existing sessions,
# taking the sizes in turn so that both see the same machine, and prints
# p50/p90/p99/p99.9 per size and the ratio of the p99s. Target: p99 at
# 1,000,000 sessions <= 1.5 x p99 at 10,000.
#
# Usage: bash bench/run-lookup.sh
# Knobs (environment): STORES ("sqlite postgres redis"), SIZES
# (10000,1000000), SAMPLES (20000), OUT (bench/results/lookup-latest.txt),
# PG_PREWARM (1: load the PostgreSQL table and token index into
# shared_buffers before timing, which needs the pg_prewarm extension and
# shared_buffers larger than the table to mean anything).
# PostgreSQL and Redis come from BENCH_POSTGRES / GATEHOUSE_TEST_POSTGRES
# and BENCH_REDIS / GATEHOUSE_TEST_REDIS; a store whose URL is unset is
# skipped. bench/lookup creates a database (dropped at the end) and a key
# prefix (its keys deleted with SCAN and UNLINK). With the default sizes
# it takes 5-10 minutes (most of it filling Redis and SQLite) and about
# 1.5 GB of Redis memory while it runs; it is not part of go test.
set -euo pipefail

export GOTOOLCHAIN=go1.27.3

STORES=${STORES:-sqlite postgres redis}
SIZES=${SIZES:-10000,1000000}
SAMPLES=${SAMPLES:-20000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$root/bench/results/lookup-latest.txt}

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-lookup.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "building bench/lookup ..." >&2
(cd "$root" && go build -o "$work/lookup" ./bench/lookup)

mkdir -p "$(dirname "$OUT")"
{
	echo "# gatehouse bench/run-lookup.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^[ \t]+/, "", $2); print $2; exit}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $(go version); sizes $SIZES, $SAMPLES timed lookups per size, one at a time"
} | tee "$OUT"
for store in $STORES; do
	case $store in
	postgres) [[ -n ${BENCH_POSTGRES:-${GATEHOUSE_TEST_POSTGRES:-}} ]] || { echo "skipping postgres: no URL" | tee -a "$OUT"; continue; } ;;
	redis) [[ -n ${BENCH_REDIS:-${GATEHOUSE_TEST_REDIS:-}} ]] || { echo "skipping redis: no URL" | tee -a "$OUT"; continue; } ;;
	esac
	prewarm=()
	[[ $store == postgres && ${PG_PREWARM:-} == 1 ]] && prewarm=(-pg-prewarm)
	"$work/lookup" -store "$store" -n "$SIZES" -samples "$SAMPLES" "${prewarm[@]}" | tee -a "$OUT"
	echo "# load average after $store: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"
done
echo "results written to $OUT" >&2
