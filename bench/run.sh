#!/usr/bin/env bash
# bench/run.sh: wrk against the same tiny handler, unprotected and behind
# gatehouse's Protect middleware (authenticated GET with a real session
# cookie), interleaved in one run, reported as the ratio of the medians
# (protected / unprotected requests per second). Both sides get the same
# request, cookie included, so the difference is the middleware alone.
#
# Usage: bash bench/run.sh
# Knobs (environment): ROUNDS (10), DURATION (3s), THREADS (1),
# CONNECTIONS (32), WARMUP (2s), OUT (bench/results/latest.txt), STORE
# (sqlite; postgres or redis, see bench/stores.sh, for issue 12's
# figures, with OUT defaulting to bench/results/latest-STORE.txt), TRACING
# (0; 1 records OpenTelemetry spans on the protected side, batched and
# dropped: what tracing.enabled costs).
# It also reports the session cache's hit rate over the protected rounds:
# the share of lookups answered from memory rather than the store.
# Total time is about 2 * ROUNDS * DURATION + 2 * WARMUP plus the build:
# about 75 s with the defaults. On a shared machine many short interleaved
# rounds beat a few long ones: both sides of a round see the same load.
set -euo pipefail

# The Go that CI builds with (see .ci/run); the go command fetches it.
export GOTOOLCHAIN=go1.27.3

if ! command -v wrk >/dev/null 2>&1; then
	echo "bench/run.sh: wrk is not installed; install it with: apt-get install wrk" >&2
	exit 1
fi

ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-3s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-2s}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/stores.sh
source "$root/bench/stores.sh"
if [[ $STORE == sqlite ]]; then
	OUT=${OUT:-$root/bench/results/latest.txt}
	TARGET=0.90
else
	OUT=${OUT:-$root/bench/results/latest-$STORE.txt}
	TARGET=0.80 # issue 12's target with a shared store
fi

if ! command -v go >/dev/null 2>&1; then
	echo "bench/run.sh: go is not on PATH" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")
server_pid=""
cleanup() {
	if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	store_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bench/server ..." >&2
(cd "$root" && go build -o "$work/server" ./bench/server)
store_setup

# The data directory is on the same file system as the temporary directory;
# the session cache means the store is read about once a second per session
# during the run, so the disk matters little here.
"$work/server" -data "$work/data" -protected 127.0.0.1:0 -unprotected 127.0.0.1:0 \
	-stats 127.0.0.1:0 -tracing="$([[ ${TRACING:-0} == 1 ]] && echo true || echo false)" \
	"${store_args[@]}" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

# Wait for the COOKIE line, which the server prints last, once it has logged
# in and checked that the protected handler answers 200 with the cookie and
# 401 without it.
for _ in $(seq 1 300); do
	grep -q '^COOKIE ' "$work/server.out" 2>/dev/null && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "bench/run.sh: the bench server exited:" >&2
		cat "$work/server.err" >&2
		exit 1
	fi
	sleep 0.1
done
if ! grep -q '^COOKIE ' "$work/server.out"; then
	echo "bench/run.sh: the bench server did not get ready within 30s" >&2
	cat "$work/server.err" >&2
	exit 1
fi
prot_addr=$(awk '$1 == "PROTECTED" {print $2}' "$work/server.out")
unprot_addr=$(awk '$1 == "UNPROTECTED" {print $2}' "$work/server.out")
cookie=$(awk '$1 == "COOKIE" {print $2}' "$work/server.out")
stats_addr=$(awk '$1 == "STATS" {print $2}' "$work/server.out")
path=/api/hello

# wrk_rps URL [cookie]: runs wrk and prints its Requests/sec. It fails when
# any response was not 2xx/3xx or there were socket errors, since then the
# figure would not measure the handler.
wrk_rps() {
	local url=$1 duration=$2 cookie_hdr=${3:-}
	local args=(-t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency)
	if [[ -n $cookie_hdr ]]; then
		args+=(-H "Cookie: $cookie_hdr")
	fi
	local out
	out=$(wrk "${args[@]}" "$url")
	echo "$out" >>"$work/wrk.log"
	if grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
		echo "bench/run.sh: wrk against $url reported errors:" >&2
		echo "$out" >&2
		return 1
	fi
	awk '$1 == "Requests/sec:" {print $2}' <<<"$out"
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

mkdir -p "$(dirname "$OUT")"
{
	echo "# gatehouse bench/run.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^[ \t]+/, "", $2); print $2; exit}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $(go version), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)"
	echo "# stores: $(store_describe)"
	echo "# wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds interleaved, GET $path"
	echo "# both sides get the same request, session cookie included; protected: api.Protect(handler), unprotected: the bare handler"
} | tee "$OUT"

echo "warming up ($WARMUP each) ..." >&2
wrk_rps "http://$unprot_addr$path" "$WARMUP" "$cookie" >/dev/null
wrk_rps "http://$prot_addr$path" "$WARMUP" "$cookie" >/dev/null

printf '%-6s %14s %14s %8s\n' round unprotected protected ratio | tee -a "$OUT"
unprot_all=()
prot_all=()
ratio_all=()
read -r hits0 misses0 waits0 < <(cache_stats "$stats_addr")
for i in $(seq 1 "$ROUNDS"); do
	u=$(wrk_rps "http://$unprot_addr$path" "$DURATION" "$cookie")
	p=$(wrk_rps "http://$prot_addr$path" "$DURATION" "$cookie")
	r=$(awk -v p="$p" -v u="$u" 'BEGIN {printf "%.3f", p / u}')
	unprot_all+=("$u")
	prot_all+=("$p")
	ratio_all+=("$r")
	printf '%-6s %14s %14s %8s\n' "$i" "$u" "$p" "$r" | tee -a "$OUT"
done

read -r hits1 misses1 waits1 < <(cache_stats "$stats_addr")

u_med=$(printf '%s\n' "${unprot_all[@]}" | median)
p_med=$(printf '%s\n' "${prot_all[@]}" | median)
ratio=$(awk -v p="$p_med" -v u="$u_med" 'BEGIN {printf "%.3f", p / u}')
printf '%-6s %14s %14s %8s\n' median "$u_med" "$p_med" "$ratio" | tee -a "$OUT"
verdict=$(awk -v r="$ratio" -v t="$TARGET" 'BEGIN {print (r >= t ? "meets" : "MISSES")}')
echo "ratio of medians (protected/unprotected): $ratio ($verdict the target of >= $TARGET)" | tee -a "$OUT"
echo "median of the per-round ratios: $(printf '%s\n' "${ratio_all[@]}" | median) (min $(printf '%s\n' "${ratio_all[@]}" | sort -g | head -n1), max $(printf '%s\n' "${ratio_all[@]}" | sort -g | tail -n1))" | tee -a "$OUT"
awk -v h=$((hits1 - hits0)) -v m=$((misses1 - misses0)) -v w=$((waits1 - waits0)) 'BEGIN {
	n = h + m + w
	printf "session cache over the protected rounds: %d lookups, %d from memory, %d store reads, %d waited for one: hit rate %.4f%%, store reads per 1000 lookups %.3f\n", n, h, m, w, (n ? 100 * h / n : 0), (n ? 1000 * m / n : 0)
}' | tee -a "$OUT"
{
	echo
	echo "# full wrk output"
	cat "$work/wrk.log"
} >>"$OUT"
echo "results written to $OUT" >&2
