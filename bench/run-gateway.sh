#!/usr/bin/env bash
# bench/run-gateway.sh: the forward-auth benchmark of issue 6, in one run of
# interleaved rounds, each reported as the ratio of the medians:
#
#   (a) wrk GET /auth/verify with a valid session cookie and the headers
#       nginx's auth_request sends in examples/gateway/nginx.conf
#       (X-Original-URI, -Method, -URL, X-Forwarded-For, -Proto, -Host),
#       against gatehouse configured for forward auth
#       (bench/server -gateway: TrustedProxies 127.0.0.0/8, a 3-rule route
#       table) / wrk GET of the bare 200 handler with the same headers and
#       cookie. Target >= 0.8.
#   (b) when nginx is installed: wrk through nginx with auth_request to
#       gatehouse's /auth/verify in front of the bare handler / wrk through
#       nginx alone in front of the same handler. Both sides send the
#       session cookie; nginx keeps idle connections to both upstreams.
#
# Usage: bash bench/run-gateway.sh
# Knobs (environment): ROUNDS (7), DURATION (3s), THREADS (1),
# CONNECTIONS (32), WARMUP (2s), OUT (bench/results/gateway-latest.txt),
# TRACING (0; 1 records OpenTelemetry spans, batched and dropped: what
# tracing.enabled costs /verify).
# Total time is about 4 * ROUNDS * DURATION + 4 * WARMUP plus the build:
# about 95 s with the defaults. Everything listens on loopback only, and
# everything started here is stopped on exit.
set -euo pipefail

# The Go that CI builds with (see .ci/run); the go command fetches it.
export GOTOOLCHAIN=go1.27.3

for tool in wrk go; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench/run-gateway.sh: $tool is not installed" >&2
		exit 1
	fi
done

ROUNDS=${ROUNDS:-7}
DURATION=${DURATION:-3s}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
WARMUP=${WARMUP:-2s}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$root/bench/results/gateway-latest.txt}
NGINX=${NGINX:-$(command -v nginx || true)}

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench-gw.XXXXXX")
server_pid=""
nginx_pid=""
stop() {
	local pid=$1
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
}
cleanup() {
	stop "$nginx_pid"
	stop "$server_pid"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building bench/server ..." >&2
(cd "$root" && go build -o "$work/server" ./bench/server)

"$work/server" -data "$work/data" -protected 127.0.0.1:0 -unprotected 127.0.0.1:0 -gateway 127.0.0.1:0 \
	-tracing="$([[ ${TRACING:-0} == 1 ]] && echo true || echo false)" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 300); do
	grep -q '^COOKIE ' "$work/server.out" 2>/dev/null && break
	if ! kill -0 "$server_pid" 2>/dev/null; then
		echo "bench/run-gateway.sh: the bench server exited:" >&2
		cat "$work/server.err" >&2
		exit 1
	fi
	sleep 0.1
done
if ! grep -q '^COOKIE ' "$work/server.out"; then
	echo "bench/run-gateway.sh: the bench server did not get ready within 30s" >&2
	cat "$work/server.err" >&2
	exit 1
fi
gw_addr=$(awk '$1 == "GATEWAY" {print $2}' "$work/server.out")
unprot_addr=$(awk '$1 == "UNPROTECTED" {print $2}' "$work/server.out")
cookie=$(awk '$1 == "COOKIE" {print $2}' "$work/server.out")
path=/api/hello
# The headers of nginx's sub-request, as bench/server's VerifyHeaders.
verify_hdrs=(-H "X-Original-URI: /api/dashboard" -H "X-Original-Method: GET"
	-H "X-Original-URL: http://127.0.0.1/api/dashboard" -H "X-Forwarded-For: 203.0.113.5"
	-H "X-Forwarded-Proto: http" -H "X-Forwarded-Host: 127.0.0.1")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

have_nginx=""
if [[ -n $NGINX ]] && command -v python3 >/dev/null 2>&1; then
	alone_port=$(free_port)
	auth_port=$(free_port)
	user=""
	if [[ $(id -u) == 0 ]]; then
		user="user root;"
	fi
	mkdir -p "$work/nginx"
	cat >"$work/nginx/nginx.conf" <<NGINX
$user
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
worker_processes 1;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/client_body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;

    upstream app { server $unprot_addr; keepalive 64; }
    upstream gatehouse { server $gw_addr; keepalive 64; }
    proxy_http_version 1.1;

    # nginx alone in front of the application.
    server {
        listen 127.0.0.1:$alone_port;
        location / {
            proxy_pass http://app;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
        }
    }

    # The same, with gatehouse's forward auth (examples/gateway/nginx.conf).
    server {
        listen 127.0.0.1:$auth_port;
        location = /_gatehouse_verify {
            internal;
            proxy_pass http://gatehouse/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI \$request_uri;
            proxy_set_header X-Original-Method \$request_method;
            proxy_set_header X-Original-URL \$scheme://\$http_host\$request_uri;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$http_host;
        }
        location / {
            auth_request /_gatehouse_verify;
            auth_request_set \$gh_user   \$upstream_http_remote_user;
            auth_request_set \$gh_email  \$upstream_http_remote_email;
            auth_request_set \$gh_name   \$upstream_http_remote_name;
            auth_request_set \$gh_groups \$upstream_http_remote_groups;
            proxy_pass http://app;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header Remote-User   \$gh_user;
            proxy_set_header Remote-Email  \$gh_email;
            proxy_set_header Remote-Name   \$gh_name;
            proxy_set_header Remote-Groups \$gh_groups;
        }
    }
}
NGINX
	"$NGINX" -t -p "$work/nginx" -c "$work/nginx/nginx.conf" >"$work/nginx/t.log" 2>&1 || {
		echo "bench/run-gateway.sh: nginx -t failed:" >&2
		cat "$work/nginx/t.log" >&2
		exit 1
	}
	"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx/stderr" &
	nginx_pid=$!
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://127.0.0.1:$auth_port$path" || true)
		[[ $code == 200 ]] && break
		sleep 0.1
	done
	# Self-check: 200 with the cookie through both, 401 without through auth.
	for check in "$alone_port 1 200" "$auth_port 1 200" "$auth_port 0 401"; do
		read -r port with want <<<"$check"
		args=(-s -o /dev/null -w '%{http_code}')
		[[ $with == 1 ]] && args+=(-H "Cookie: $cookie")
		got=$(curl "${args[@]}" "http://127.0.0.1:$port$path" || true)
		if [[ $got != "$want" ]]; then
			echo "bench/run-gateway.sh: nginx self-check on port $port (cookie $with): $got, want $want" >&2
			cat "$work/nginx/error.log" >&2 || true
			exit 1
		fi
	done
	have_nginx=1
else
	echo "bench/run-gateway.sh: nginx (or python3) not found; skipping the nginx comparison" >&2
fi

# wrk_rps URL DURATION [wrk args...]: Requests/sec; fails on any non-2xx/3xx
# answer or socket error.
wrk_rps() {
	local url=$1 duration=$2
	shift 2
	local out
	out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "$@" "$url")
	echo "$out" >>"$work/wrk.log"
	if grep -qE 'Non-2xx or 3xx responses|Socket errors' <<<"$out"; then
		echo "bench/run-gateway.sh: wrk against $url reported errors:" >&2
		echo "$out" >&2
		return 1
	fi
	awk '$1 == "Requests/sec:" {print $2}' <<<"$out"
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }

bare() { wrk_rps "http://$unprot_addr$path" "$1" -H "Cookie: $cookie" "${verify_hdrs[@]}"; }
verify() { wrk_rps "http://$gw_addr/auth/verify" "$1" -H "Cookie: $cookie" "${verify_hdrs[@]}"; }
nginx_alone() { wrk_rps "http://127.0.0.1:$alone_port$path" "$1" -H "Cookie: $cookie"; }
nginx_auth() { wrk_rps "http://127.0.0.1:$auth_port$path" "$1" -H "Cookie: $cookie"; }

mkdir -p "$(dirname "$OUT")"
{
	echo "# gatehouse bench/run-gateway.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# machine: $(nproc) CPUs, $(lscpu | awk -F: '/Model name/ {gsub(/^[ \t]+/, "", $2); print $2; exit}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $(go version), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)${have_nginx:+, $("$NGINX" -v 2>&1)}"
	echo "# wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, the four sides interleaved in each round"
	echo "# (a) bare: GET $path of the bare handler; verify: GET /auth/verify (session cookie and nginx's headers on both)"
	[[ -n $have_nginx ]] && echo "# (b) nginx: nginx alone -> bare handler; nginx+gh: nginx auth_request -> gatehouse /auth/verify, then the bare handler (session cookie on both)"
} | tee "$OUT"

echo "warming up ($WARMUP each) ..." >&2
bare "$WARMUP" >/dev/null
verify "$WARMUP" >/dev/null
if [[ -n $have_nginx ]]; then
	nginx_alone "$WARMUP" >/dev/null
	nginx_auth "$WARMUP" >/dev/null
fi

printf '%-6s %10s %10s %7s %10s %10s %7s\n' round bare verify ratio nginx nginx+gh ratio | tee -a "$OUT"
b_all=() v_all=() n_all=() a_all=() r1_all=() r2_all=()
for i in $(seq 1 "$ROUNDS"); do
	b=$(bare "$DURATION")
	v=$(verify "$DURATION")
	n=- a=- r2=-
	if [[ -n $have_nginx ]]; then
		n=$(nginx_alone "$DURATION")
		a=$(nginx_auth "$DURATION")
		r2=$(ratio "$a" "$n")
		n_all+=("$n") a_all+=("$a") r2_all+=("$r2")
	fi
	r1=$(ratio "$v" "$b")
	b_all+=("$b") v_all+=("$v") r1_all+=("$r1")
	printf '%-6s %10s %10s %7s %10s %10s %7s\n' "$i" "$b" "$v" "$r1" "$n" "$a" "$r2" | tee -a "$OUT"
done

med() { printf '%s\n' "$@" | median; }
b_med=$(med "${b_all[@]}") v_med=$(med "${v_all[@]}")
r1=$(ratio "$v_med" "$b_med")
n_med=- a_med=- r2=-
if [[ -n $have_nginx ]]; then
	n_med=$(med "${n_all[@]}") a_med=$(med "${a_all[@]}")
	r2=$(ratio "$a_med" "$n_med")
fi
printf '%-6s %10s %10s %7s %10s %10s %7s\n' median "$b_med" "$v_med" "$r1" "$n_med" "$a_med" "$r2" | tee -a "$OUT"
verdict=$(awk -v r="$r1" 'BEGIN {print (r >= 0.8 ? "meets" : "MISSES")}')
echo "(a) ratio of medians verify/bare: $r1 ($verdict the target of >= 0.8); per-round median $(med "${r1_all[@]}")" | tee -a "$OUT"
if [[ -n $have_nginx ]]; then
	echo "(b) ratio of medians nginx+gatehouse/nginx alone: $r2; per-round median $(med "${r2_all[@]}")" | tee -a "$OUT"
fi
{
	echo
	echo "# full wrk output"
	cat "$work/wrk.log"
} >>"$OUT"
echo "results written to $OUT" >&2
