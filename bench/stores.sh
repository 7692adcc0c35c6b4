# bench/stores.sh: sourced by bench/run.sh and bench/run-scale.sh. It picks
# the stores of the bench servers from STORE:
#
#   sqlite    SQLite in the server's data directory (the default);
#   postgres  a fresh PostgreSQL database for the records and sessions;
#   redis     a fresh PostgreSQL database for the records, and the sessions
#             (with throttles and pending logins) in Redis under a fresh key
#             prefix: the deployment of several processes.
#
# PostgreSQL: BENCH_POSTGRES, else GATEHOUSE_TEST_POSTGRES, a URL of the
# server whose user may create databases (such as
# postgres://postgres@127.0.0.1:5432/test?sslmode=disable); the database
# gh_bench_<random> is created there and dropped by store_cleanup. Redis:
# BENCH_REDIS, else GATEHOUSE_TEST_REDIS; the keys under the prefix
# gh-bench-<random> are deleted by store_cleanup with SCAN and UNLINK in
# batches (never FLUSHDB: the server may be shared). Needs psql, python3
# and redis-cli for the stores it uses.
#
# After store_setup, store_args holds the bench server's flags.

STORE=${STORE:-sqlite}
store_args=()
store_pg_admin=""
store_pg_db=""
store_redis=""
store_redis_prefix=""

# store_with_db URL NAME: URL with its database (path) replaced by NAME.
store_with_db() {
	python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$1" "$2"
}

store_setup() {
	local tag
	tag=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	case $STORE in
	sqlite) ;;
	postgres | redis)
		store_pg_admin=${BENCH_POSTGRES:-${GATEHOUSE_TEST_POSTGRES:-}}
		if [[ -z $store_pg_admin ]]; then
			echo "bench: STORE=$STORE needs BENCH_POSTGRES or GATEHOUSE_TEST_POSTGRES (a postgres:// URL)" >&2
			return 1
		fi
		store_pg_db=gh_bench_$tag
		psql "$store_pg_admin" -qAtc "CREATE DATABASE $store_pg_db" >/dev/null
		store_args+=(-database "$(store_with_db "$store_pg_admin" "$store_pg_db")")
		;;
	*)
		echo "bench: STORE must be sqlite, postgres or redis, not $STORE" >&2
		return 1
		;;
	esac
	if [[ $STORE == redis ]]; then
		store_redis=${BENCH_REDIS:-${GATEHOUSE_TEST_REDIS:-}}
		if [[ -z $store_redis ]]; then
			echo "bench: STORE=redis needs BENCH_REDIS or GATEHOUSE_TEST_REDIS (a redis:// URL)" >&2
			return 1
		fi
		store_redis_prefix=gh-bench-$tag
		store_args+=(-sessions "$store_redis" -redis-prefix "$store_redis_prefix")
	fi
}

# store_cleanup drops what store_setup created; the servers must have
# stopped (PostgreSQL refuses to drop a database in use without FORCE).
store_cleanup() {
	if [[ -n $store_pg_db ]]; then
		psql "$store_pg_admin" -qAtc "DROP DATABASE IF EXISTS $store_pg_db WITH (FORCE)" >/dev/null || true
		store_pg_db=""
	fi
	if [[ -n $store_redis_prefix ]]; then
		redis-cli -u "$store_redis" --scan --pattern "$store_redis_prefix:*" |
			xargs -r -n 500 redis-cli -u "$store_redis" UNLINK >/dev/null || true
		store_redis_prefix=""
	fi
}

# store_describe prints the stores in a line for the results' header.
store_describe() {
	case $STORE in
	sqlite) echo "SQLite (records and sessions)" ;;
	postgres) echo "PostgreSQL $(psql "$store_pg_admin" -qAtc 'SHOW server_version') (records and sessions)" ;;
	redis) echo "PostgreSQL $(psql "$store_pg_admin" -qAtc 'SHOW server_version') (records), Redis $(redis-cli -u "$store_redis" INFO server | awk -F: '/^redis_version/ {gsub(/\r/, "", $2); print $2}') (sessions)" ;;
	esac
}

# cache_stats ADDR: the bench server's session cache counts, "HITS MISSES
# WAITS": lookups answered from memory, store reads, and lookups that
# shared another's read.
cache_stats() {
	curl -sf "http://$1/" | awk '{print $2, $4, $6 + 0}'
}
