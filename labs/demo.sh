#!/usr/bin/env bash
# labs/demo.sh - the one-command classroom demo (`make demo`).
#
# Interim version: starts three mock backends (b1, b2, b3) on their own
# loopback addresses, 127.0.0.11-13 port 9001 (port 0 if 9001 is busy),
# sends one request to each and shows which backend answered, then stops
# everything.  The proxy and the tracer join this demo later.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${L7_BIN:=$PWD/bin}"

for tool in mockserver; do
	[ -x "$L7_BIN/$tool" ] || { echo "demo: $L7_BIN/$tool is missing; run make first" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "demo: curl is missing (make deps)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/l7demo.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# start_backends PORT: one mockserver serving b1..b3; waits for its three
# "listening" lines.  Returns 1 if it exited (a port in use, say).
start_backends() {
	local port=$1 i
	: >"$tmp/mock.out"
	"$L7_BIN/mockserver" \
		--listen "127.0.0.11:$port" --name b1 \
		--listen "127.0.0.12:$port" --name b2 \
		--listen "127.0.0.13:$port" --name b3 \
		>"$tmp/mock.out" 2>"$tmp/mock.err" </dev/null &
	local pid=$!
	for ((i = 0; i < 500; i++)); do
		if [ "$(grep -c '^listening ' "$tmp/mock.out")" -ge 3 ]; then
			pids+=("$pid")
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || { wait "$pid" || true; return 1; }
		sleep 0.01
	done
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || true
	return 1
}

bold=; dim=; off=
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi

echo "${bold}l7lab demo${off} ${dim}(interim: the proxy and tracer join later)${off}"
echo
if ! start_backends 9001; then
	echo "${dim}port 9001 is busy ($(head -n 1 "$tmp/mock.err")); using free ports${off}"
	start_backends 0 || { echo "demo: mockserver did not start:" >&2; cat "$tmp/mock.err" >&2; exit 1; }
fi
echo "Three mock backends (\"the back-end app\" of steps 4-6), one process:"
sed 's/^/  /' "$tmp/mock.out"
echo

for name in b1 b2 b3; do
	addr=$(awk -v n="$name" '$1 == "listening" && $2 == n { print $3 }' "$tmp/mock.out")
	echo "${bold}\$ curl -si http://$addr/${off}"
	curl -si --max-time 5 "http://$addr/" | tr -d '\r' |
		awk -v b="$bold" -v o="$off" '/^X-Backend:/ { print "  " b $0 o; next } { print "  " $0 }'
	echo
done

echo "Each answer names its backend in X-Backend: behind a proxy, that header"
echo "shows which server the proxy chose (step 3), and X-Conn / X-Conn-Request"
echo "show whether it reused a connection (step 4)."
