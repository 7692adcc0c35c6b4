#!/usr/bin/env bash
# bench/run-scale.sh: issue 12's scale-out figures, with two bench servers
# (A and B: two gatehouse processes) sharing one store (STORE=redis, the
# default: records in PostgreSQL, sessions in Redis; or STORE=postgres).
#
#   (1) round trips: 20 logins one after the other on A, and 20 session
#       cache misses, counting the PostgreSQL transactions of the bench
#       database (pg_stat_database) and the Redis commands on its key
#       prefix (MONITOR, filtered; only in this short phase): round trips
#       (commands sent) and, in all, with those its scripts run;
#   (2) throughput of authenticated GETs through Protect: two wrk with
#       CONNECTIONS/2 each, both against A, then one against A and one
#       against B (the same cookie, a session both share): the same load
#       generators either way, so only the number of gatehouse processes
#       differs; interleaved rounds, ratio of the medians of the sums,
#       and requests per CPU-second of the gatehouse processes (from
#       /proc: on a shared machine two processes may simply win more CPU
#       time from other tenants than one, so the throughput ratio alone
#       overstates the gain);
#       with the session cache's hit rate on both processes;
#   (3) logins/s through POST BASE/session spread over A and B against
#       argon2id hashes/s of password.Hasher (bench/logins).
#
# Usage: bash bench/run-scale.sh
# Knobs (environment): STORE (redis), ROUNDS (7), DURATION (3s),
# CONNECTIONS (32), WARMUP (2s), LOGIN_ROUNDS (5), LOGIN_DURATION (4s),
# LOGIN_CONCURRENCY (4), GOMAXPROCS (unset: each process uses every CPU;
# 1 pins each gatehouse process to one, as if each had a machine of its
# own), OUT (bench/results/scale-latest.txt). About 2 minutes. Needs wrk,
# curl, psql, python3 and, with STORE=redis, redis-cli. Everything listens
# on loopback; everything started here is stopped, and the database and
# keys it created removed, on exit.
set -euo pipefail

export GOTOOLCHAIN=go1.27.3

for tool in wrk go curl psql python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "bench/run-scale.sh: $tool is not installed" >&2; exit 1; }
done

ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-3s}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-2s}
LOGIN_ROUNDS=${LOGIN_ROUNDS:-5}
LOGIN_DURATION=${LOGIN_DURATION:-4s}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-4}
LOGIN_USERS=16
STORE=${STORE:-redis}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$root/bench/results/scale-latest.txt}
# shellcheck source=bench/stores.sh
source "$root/bench/stores.sh"
if [[ $STORE == sqlite ]]; then
	echo "bench/run-scale.sh: two processes need a shared store: STORE=redis or STORE=postgres" >&2
	exit 1
fi
server_gomaxprocs=${GOMAXPROCS:-}
unset GOMAXPROCS # wrk and the tools here are not gatehouse

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-scale.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	store_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bench/server and bench/logins ..." >&2
(cd "$root" && go build -o "$work/server" ./bench/server && go build -o "$work/logins" ./bench/logins)
store_setup

# start NAME [flags...]: starts a bench server and waits for its COOKIE line.
start() {
	local name=$1
	shift
	GOMAXPROCS=$server_gomaxprocs "$work/server" -data "$work/$name" -protected 127.0.0.1:0 -unprotected 127.0.0.1:0 \
		-stats 127.0.0.1:0 "${store_args[@]}" "$@" >"$work/$name.out" 2>"$work/$name.err" &
	pids+=($!)
	local pid=$!
	eval "${name}_pid=$pid"
	for _ in $(seq 1 600); do
		grep -q '^COOKIE ' "$work/$name.out" 2>/dev/null && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "bench/run-scale.sh: bench server $name exited:" >&2
			cat "$work/$name.err" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "bench/run-scale.sh: bench server $name did not get ready within 60s" >&2
	exit 1
}
field() { awk -v k="$2" '$1 == k {print $2}' "$work/$1.out"; }
start a -login-users "$LOGIN_USERS"
start b
a_addr=$(field a PROTECTED) b_addr=$(field b PROTECTED)
a_stats=$(field a STATS) b_stats=$(field b STATS)
cookie=$(field a COOKIE)
login_prefix=$(awk '$1 == "LOGIN_USERS" {print $2}' "$work/a.out")
login_pw=$(awk '$1 == "LOGIN_PASSWORD" {print $2}' "$work/a.out")
path=/api/hello

# B accepts the session A created: the processes share it.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://$b_addr$path")
if [[ $code != 200 ]]; then
	echo "bench/run-scale.sh: B answers $code to A's session cookie, want 200" >&2
	exit 1
fi

pg_xacts() {
	psql "$store_pg_admin" -qAtc "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$store_pg_db'"
}
# pg_settled: PostgreSQL publishes a backend's counts when it goes idle,
# at most once a second.
pg_settled() { sleep 1.5; pg_xacts; }

mkdir -p "$(dirname "$OUT")"
{
	echo "# gatehouse bench/run-scale.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^[ \t]+/, "", $2); print $2; exit}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $(go version), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2); stores: $(store_describe); GOMAXPROCS of each process: ${server_gomaxprocs:-all CPUs}"
} | tee "$OUT"

# (1) Round trips per login and per cache miss.
login_body="$work/login.json"
mon_pid=""
if [[ $STORE == redis ]] && command -v redis-cli >/dev/null; then
	redis-cli -u "$store_redis" MONITOR >"$work/monitor.log" 2>/dev/null &
	mon_pid=$!
	pids+=("$mon_pid")
	sleep 0.3
fi
x0=$(pg_settled)
for i in $(seq 0 19); do
	python3 -c 'import json, sys; print(json.dumps({"username": sys.argv[1], "password": sys.argv[2]}))' \
		"$login_prefix-$((i % LOGIN_USERS))" "$login_pw" >"$login_body"
	code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$login_body" "http://$a_addr/auth/session")
	[[ $code == 200 ]] || { echo "bench/run-scale.sh: login answered $code" >&2; exit 1; }
done
rm -f "$login_body"
x1=$(pg_settled)
m1=0 s1=0
if [[ -n $mon_pid ]]; then
	# MONITOR shows the commands a script runs as from "lua".
	m1=$(grep "$store_redis_prefix" "$work/monitor.log" | grep -vc ' lua\]' || true)
	s1=$(grep -c "$store_redis_prefix" "$work/monitor.log" || true)
fi
# Cache misses: a request on B after the cache has expired (1 s), 20 times.
for _ in $(seq 1 20); do
	sleep 1.1
	curl -s -o /dev/null -H "Cookie: $cookie" "http://$b_addr$path"
done
x2=$(pg_settled)
m2=0 s2=0
if [[ -n $mon_pid ]]; then
	m2=$(grep "$store_redis_prefix" "$work/monitor.log" | grep -vc ' lua\]' || true)
	s2=$(grep -c "$store_redis_prefix" "$work/monitor.log" || true)
	kill "$mon_pid" 2>/dev/null || true
	wait "$mon_pid" 2>/dev/null || true
fi
awk -v l=$((x1 - x0)) -v m=$((x2 - x1)) -v rl=$((m1)) -v rm=$((m2 - m1)) -v sl=$((s1)) -v sm=$((s2 - s1)) -v redis=$([[ -n $mon_pid ]] && echo 1 || echo 0) 'BEGIN {
	printf "per login (20 logins on A): PostgreSQL transactions %.1f", l / 20
	if (redis) printf ", Redis round trips %.1f (%.1f commands with those of its scripts)", rl / 20, sl / 20
	printf "\nper request with a cache miss (20 on B, 1.1 s apart): PostgreSQL transactions %.1f", m / 20
	if (redis) printf ", Redis round trips %.1f (%.1f commands)", rm / 20, sm / 20
	printf "\n"
}' | tee -a "$OUT"

# (2) Throughput, one process against two.
wrk_rps() {
	local out
	out=$(wrk -t1 -c"$2" -d"$3" --latency -H "Cookie: $cookie" "http://$1$path")
	echo "$out" >>"$work/wrk.log"
	if grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
		echo "bench/run-scale.sh: wrk against $1 reported errors:" >&2
		echo "$out" >&2
		return 1
	fi
	awk '$1 == "Requests/sec:" {print $2}' <<<"$out"
}
# pair FIRST SECOND DURATION: two wrk at once, one against each address;
# prints the sum and both.
pair() {
	local half=$((CONNECTIONS / 2))
	wrk_rps "$1" "$half" "$3" >"$work/ra" &
	local pa=$!
	wrk_rps "$2" "$half" "$3" >"$work/rb"
	wait "$pa"
	awk -v a="$(cat "$work/ra")" -v b="$(cat "$work/rb")" 'BEGIN {printf "%.2f %.2f %.2f\n", a + b, a, b}'
}
# cpu_ticks PID...: user and system CPU time of the processes, in clock
# ticks.
cpu_ticks() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$t"
}
hz=$(getconf CLK_TCK)
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "warming up ($WARMUP each) ..." >&2
pair "$a_addr" "$a_addr" "$WARMUP" >/dev/null
pair "$a_addr" "$b_addr" "$WARMUP" >/dev/null
read -r ha0 ma0 wa0 < <(cache_stats "$a_stats")
read -r hb0 mb0 wb0 < <(cache_stats "$b_stats")
x0=$(pg_xacts)
echo "# two wrk -t1 -c$((CONNECTIONS / 2)) -d$DURATION at once: both against A, then one against A and one against B; $ROUNDS rounds" | tee -a "$OUT"
printf '%-6s %10s %10s %10s %10s %7s %10s %10s\n' round A-alone A+B A B ratio 'req/cpu-s' 'req/cpu-s' | tee -a "$OUT"
one_all=() two_all=() eff1_all=() eff2_all=()
dur_s=${DURATION%s}
for i in $(seq 1 "$ROUNDS"); do
	c0=$(cpu_ticks "$a_pid" "$b_pid")
	read -r one _ _ < <(pair "$a_addr" "$a_addr" "$DURATION")
	c1=$(cpu_ticks "$a_pid" "$b_pid")
	read -r two ra rb < <(pair "$a_addr" "$b_addr" "$DURATION")
	c2=$(cpu_ticks "$a_pid" "$b_pid")
	# Requests per CPU-second of gatehouse: wrk's rate times the run's
	# length over the CPU time the processes used in it.
	e1=$(awk -v r="$one" -v d="$dur_s" -v c=$((c1 - c0)) -v hz="$hz" 'BEGIN {printf "%.0f", c ? r * d * hz / c : 0}')
	e2=$(awk -v r="$two" -v d="$dur_s" -v c=$((c2 - c1)) -v hz="$hz" 'BEGIN {printf "%.0f", c ? r * d * hz / c : 0}')
	one_all+=("$one") two_all+=("$two") eff1_all+=("$e1") eff2_all+=("$e2")
	printf '%-6s %10s %10s %10s %10s %7s %10s %10s\n' "$i" "$one" "$two" "$ra" "$rb" "$(awk -v t="$two" -v o="$one" 'BEGIN {printf "%.3f", t / o}')" "$e1" "$e2" | tee -a "$OUT"
done
x1=$(pg_settled)
read -r ha1 ma1 wa1 < <(cache_stats "$a_stats")
read -r hb1 mb1 wb1 < <(cache_stats "$b_stats")
one_med=$(printf '%s\n' "${one_all[@]}" | median)
two_med=$(printf '%s\n' "${two_all[@]}" | median)
eff1_med=$(printf '%s\n' "${eff1_all[@]}" | median)
eff2_med=$(printf '%s\n' "${eff2_all[@]}" | median)
printf '%-6s %10s %10s %10s %10s %7s %10s %10s\n' median "$one_med" "$two_med" "" "" "" "$eff1_med" "$eff2_med" | tee -a "$OUT"
echo "ratio of medians (A+B / A alone): throughput $(awk -v t="$two_med" -v o="$one_med" 'BEGIN {printf "%.3f", t / o}'), requests per CPU-second $(awk -v t="$eff2_med" -v o="$eff1_med" 'BEGIN {printf "%.3f", t / o}')" | tee -a "$OUT"
awk -v h=$((ha1 - ha0 + hb1 - hb0)) -v m=$((ma1 - ma0 + mb1 - mb0)) -v w=$((wa1 - wa0 + wb1 - wb0)) -v ma=$((ma1 - ma0)) -v mb=$((mb1 - mb0)) -v x=$((x1 - x0)) 'BEGIN {
	n = h + m + w
	printf "session cache over the rounds, A and B: %d lookups, %d store reads (A %d, B %d), %d waited for one: hit rate %.4f%%; PostgreSQL transactions %d\n", n, m, ma, mb, w, (n ? 100 * h / n : 0), x
}' | tee -a "$OUT"

# (3) Logins over A and B against raw argon2id.
echo "# (3) logins through POST /auth/session on A and B, against password.Hasher on this machine" | tee -a "$OUT"
BENCH_LOGIN_PASSWORD=$login_pw "$work/logins" -targets "http://$a_addr/auth,http://$b_addr/auth" \
	-users "$login_prefix" -n "$LOGIN_USERS" -concurrency "$LOGIN_CONCURRENCY" -duration "$LOGIN_DURATION" \
	-rounds "$LOGIN_ROUNDS" | tee -a "$OUT"
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT"
{
	echo
	echo "# full wrk output"
	cat "$work/wrk.log"
} >>"$OUT"
echo "results written to $OUT" >&2
