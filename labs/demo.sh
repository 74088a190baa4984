#!/usr/bin/env bash
# labs/demo.sh - the one-command classroom demo (`make demo`).
#
# Starts three mock backends (b1-b3 on 127.0.0.11-13:9001), the proxy
# (127.0.0.2:8080, round robin, its own source address 127.0.0.2) and, if it
# may capture (root or CAP_NET_RAW), the tracer live on lo.  Sends one
# request with curl, then three more on one kept-alive connection (the last
# reuses the proxy's pooled backend connection), and prints the annotated
# seven-step trace with the step-3 decisions, the time per step, and the
# proxy's access-log lines.  Stops everything it started, also on ^C.  Busy
# ports fall back to free ones.
#
# Without the right to capture it shows the trace of the same four requests
# from labs/captures/demo.pcapng, a capture this script recorded
# (L7_DEMO_RECORD=DIR labs/demo.sh, as root, on the default ports, keeps the
# capture and the proxy's events in DIR), and says how to get a live one.
#
# labs/demo.sh --topology: the same in the namespaces of `bin/lab topology
# up` (root): curl on l7lab-client, the proxy and the tracer on l7lab-proxy
# (both its interfaces: -i any), one mockserver on each of l7lab-b1..b3.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${L7_BIN:=$PWD/bin}"
recorded=labs/captures/demo.pcapng recorded_events=labs/captures/demo.events

topo=
case "${1:-}" in
--topology) topo=1 ;;
'') ;;
*) echo "usage: labs/demo.sh [--topology]" >&2; exit 2 ;;
esac
if [ -n "$topo" ] && ! ip netns list 2>/dev/null | grep -q '^l7lab-proxy\b'; then
	echo "demo: the topology is not up (bin/lab topology up, as root)" >&2
	exit 2
fi
# on HOST CMD...: CMD on that host (the topology's namespace, or here);
# onp HOST: the words that put a command there (for start, whose pid must
# be the command's own).
on() { local h=$1; shift; if [ -n "$topo" ]; then ip netns exec "l7lab-$h" "$@"; else "$@"; fi; }
onp() { [ -z "$topo" ] || echo "ip netns exec l7lab-$1"; }

for tool in mockserver proxy tracer; do
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

# wait_for FILE REGEX COUNT PID: until FILE has COUNT lines matching REGEX
# (5 s at most); fails early if PID exits.
wait_for() {
	local i n
	for ((i = 0; i < 500; i++)); do
		n=$(grep -c -E "$2" "$1" 2>/dev/null) || true
		[ "${n:-0}" -ge "$3" ] && return 0
		kill -0 "$4" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# start NAME COUNT CMD...: run CMD in the background, wait for COUNT
# "listening" lines on its stdout.  Returns 1 if it exited (port in use).
start() {
	local name=$1 count=$2
	shift 2
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null &
	local pid=$!
	if wait_for "$tmp/$name.out" '^listening ' "$count" "$pid"; then
		pids+=("$pid")
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return 1
}

bold=; dim=; off=
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi
say() { echo "${bold}$*${off}"; }

# ---- the back-end app: three mock backends ------------------------------
backends() {
	start mock 3 "$L7_BIN/mockserver" --listen "127.0.0.11:$1" --name b1 \
		--listen "127.0.0.12:$1" --name b2 --listen "127.0.0.13:$1" --name b3
}
if [ -n "$topo" ]; then
	for b in 1 2 3; do
		start "mock$b" 1 $(onp "b$b") "$L7_BIN/mockserver" --listen "198.18.2.1$b:9001" --name "b$b" ||
			{ echo "demo: mockserver b$b did not start:" >&2; cat "$tmp/mock$b.err" >&2; exit 1; }
	done
	cat "$tmp"/mock[123].out >"$tmp/mock.out"
else
	backends 9001 || backends 0 || { echo "demo: mockserver did not start:" >&2; cat "$tmp/mock.err" >&2; exit 1; }
fi
mapfile -t baddr < <(awk '$1 == "listening" { print $3 }' "$tmp/mock.out")

# ---- the proxy ----------------------------------------------------------
paddr_ip=127.0.0.2 psource=127.0.0.2
[ -n "$topo" ] && paddr_ip=198.18.1.2 psource=198.18.2.2
proxy() {
	start proxy 1 $(onp proxy) "$L7_BIN/proxy" --listen "$paddr_ip:$1" --source "$psource" --name l7lab \
		--backend "b1=${baddr[0]}" --backend "b2=${baddr[1]}" --backend "b3=${baddr[2]}" \
		--balance roundrobin --events "$tmp/events.jsonl" --access-log "$tmp/access.log"
}
proxy 8080 || proxy 0 || { echo "demo: proxy did not start:" >&2; cat "$tmp/proxy.err" >&2; exit 1; }
paddr=$(awk '$1 == "listening" { print $2 }' "$tmp/proxy.out")
proxy_pid=${pids[-1]}

say "l7lab demo: HTTP/1.x requests through a layer-7 proxy, step by step"
if [ -n "$topo" ]; then
	echo "  client  198.18.1.1   (curl, namespace l7lab-client)"
	echo "  proxy   $paddr   (bin/proxy in l7lab-proxy, round robin, backend side from $psource)"
	echo "  b1-b3   ${baddr[*]}   (bin/mockserver, one per namespace)"
	echo "  links   $(bin/lab topology status | sed -n 's/^topology: up (\(.*\))$/\1/p')"
else
	echo "  client  127.0.0.1    (curl)"
	echo "  proxy   $paddr   (bin/proxy, round robin, source address 127.0.0.2)"
	echo "  b1-b3   ${baddr[*]}   (bin/mockserver)"
fi
echo

# ---- the tracer (live capture needs root or CAP_NET_RAW) ---------------
# Live, one line per packet as it arrives, and every packet kept in a pcapng
# file that is printed again, whole and grouped, at the end.
tracing=0
$(onp proxy) "$L7_BIN/tracer" -i "$([ -n "$topo" ] && echo any || echo lo)" --proxy "$paddr" --backends "$(IFS=,; echo "${baddr[*]}")" \
	-l -w "$tmp/demo.pcapng" --color never >"$tmp/trace.out" 2>"$tmp/trace.err" </dev/null &
tpid=$!
pids+=("$tpid")
if wait_for "$tmp/trace.err" '^tracer: capturing' 1 "$tpid"; then
	tracing=1
else
	why=$(head -n 1 "$tmp/trace.err")
	echo "${dim}(no live trace: ${why#tracer: }; for one, run this as root or once: sudo setcap cap_net_raw,cap_net_admin=eip $L7_BIN/tracer)${off}"
fi

# ---- the requests -------------------------------------------------------
say "\$ curl -s http://$paddr/"
on client curl -s --max-time 5 "http://$paddr/" | sed 's/^/  /'
say "\$ curl -s http://$paddr/ http://$paddr/ http://$paddr/    # three requests, one kept-alive connection"
on client curl -s --max-time 5 "http://$paddr/" "http://$paddr/" "http://$paddr/" | sed 's/^/  /'
echo

# Four requests are logged once the proxy has answered them; the trace is
# complete when both client connections have closed (the client's FINs).
wait_for "$tmp/access.log" '"GET ' 4 "$proxy_pid" || true
# trace PCAP EVENTS PROXY B1 B2 B3 [FLAGS...]: the capture, labelled.
trace() {
	local pcap=$1 events=$2 proxy=$3 b1=$4 b2=$5 b3=$6
	shift 6
	"$L7_BIN/tracer" -r "$pcap" --proxy "$proxy" --backends "b1=$b1,b2=$b2,b3=$b3" \
		--events "$events" --color "$([ -t 1 ] && echo always || echo never)" "$@"
}
if [ "$tracing" = 1 ]; then
	wait_for "$tmp/trace.out" 'client closes' 2 "$tpid" || true
	kill -INT "$tpid" 2>/dev/null || true
	wait "$tpid" 2>/dev/null || true
	if [ -n "${L7_DEMO_RECORD:-}" ]; then
		mkdir -p "$L7_DEMO_RECORD"
		cp "$tmp/demo.pcapng" "$L7_DEMO_RECORD/demo.pcapng"
		cp "$tmp/events.jsonl" "$L7_DEMO_RECORD/demo.events"
	fi
	show=("$tmp/demo.pcapng" "$tmp/events.jsonl" "$paddr" "${baddr[@]}")
	say "What the tracer saw on $([ -n "$topo" ] && echo "the proxy's interfaces" || echo lo): every packet labelled with its step (1-7)"
else
	show=("$recorded" "$recorded_events" 127.0.0.2:8080 127.0.0.11:9001 127.0.0.12:9001 127.0.0.13:9001)
	say "What the tracer saw when these four requests were recorded ($recorded): every packet labelled with its step (1-7)"
fi
trace "${show[@]}" 2>&1
echo
say "\$ tracer --summary: the time each request spent in each step"
trace "${show[@]}" --summary 2>/dev/null
echo "${dim}The tracer's step 3 runs from the last request byte to the first packet to a backend, on the"
echo "wire: it holds the proxy's wake-up, parsing, decision and connect call.  The access log's decide="
echo "below is the decision alone, timed inside the proxy: far shorter.${off}"
echo
say "The proxy's access log: one line per request, the time spent in each step (ms)"
sed 's/^/  /' "$tmp/access.log"
echo
echo "Request 1 opened a connection to b1 (steps 1 and 4).  Requests 2-4 came on"
echo "one kept-alive client connection (step 2 again, no step 1) and went to b2, b3"
echo "and b1 by round robin: request 4 reused the pooled connection to b1 (step 5"
echo "with no step 4).  Next: the labs in labs/README.md; man -l proxy/proxy.1"
