# labs/lib.sh - what bin/lab and the labs' lab.sh files share: each lab's
# addresses, its pieces (started and stopped by pid), the checks' words,
# and the namespaces of `bin/lab topology`.
#
# Lab NN has the loopback /24 127.0.NN.0: proxy 127.0.NN.2, backends
# 127.0.NN.11-13, a client to refuse 127.0.NN.4; the demo keeps 127.0.0.x.
# `bin/lab start` uses the ports the READMEs show (8080, 9001); a check
# uses free ports on the same addresses, so it never meets a lab a student
# has running.  With --topology the same pieces run in network namespaces
# (lab_hosts_topology) and the commands run "on" their host.

# shellcheck source=../tests/l7lab.bash
. "$L7LAB_TOP/tests/l7lab.bash"

TOPO_NET_FRONT=198.18.1          # RFC 2544 benchmarking range, only inside l7lab-* namespaces
TOPO_NET_BACK=198.18.2

# lab_hosts NN: the addresses of lab NN on loopback.
lab_hosts() {
	local net=127.0.$((10#$1))
	LAB_NET=$net
	PROXY_IP=$net.2 B1_IP=$net.11 B2_IP=$net.12 B3_IP=$net.13 DENY_IP=$net.4 OTHER_IP=$net.3
	SOURCE_IP=$net.2 TOPO=
}

# lab_hosts_topology: the same parties as hosts of `bin/lab topology`.
lab_hosts_topology() {
	PROXY_IP=$TOPO_NET_FRONT.2 SOURCE_IP=$TOPO_NET_BACK.2
	B1_IP=$TOPO_NET_BACK.11 B2_IP=$TOPO_NET_BACK.12 B3_IP=$TOPO_NET_BACK.13
	DENY_IP= OTHER_IP= TOPO=1
}

# on HOST CMD...: run CMD on HOST (client, proxy, b1, b2, b3): here on
# loopback, in that namespace under --topology.  onp HOST: the words that
# put a command there, for l7_spawn (whose pid must be the command's own).
on() {
	local host=$1
	shift
	if [ -n "${TOPO:-}" ]; then ip netns exec "l7lab-$host" "$@"; else "$@"; fi
}
onp() { [ -z "${TOPO:-}" ] || echo "ip netns exec l7lab-$1"; }

# ---- pieces of a check --------------------------------------------------

# backends [FLAGS_B1 -- FLAGS_B2 -- FLAGS_B3]: b1..b3 on their addresses,
# free ports, each with its own flags (one mockserver per backend, so that
# one can be stopped or signalled alone).  Sets B1, B2, B3 (ADDR:PORT).
backends() {
	local f1=() f2=() f3=() which=1 n dir
	for a in "$@"; do
		if [ "$a" = -- ]; then which=$((which + 1)); continue; fi
		case $which in 1) f1+=("$a") ;; 2) f2+=("$a") ;; 3) f3+=("$a") ;; esac
	done
	dir=$(l7_dir)
	: >"$dir/backends"
	_backend b1 "$B1_IP" "${f1[@]}" && _backend b2 "$B2_IP" "${f2[@]}" && _backend b3 "$B3_IP" "${f3[@]}" || return 1
	B1=$(backend_addr b1) B2=$(backend_addr b2) B3=$(backend_addr b3)
}
_backend() {
	local name=$1 ip=$2 dir
	shift 2
	dir=$(l7_dir)
	l7_spawn "$name" $(onp "$name") "$L7_BIN/mockserver" --listen "$ip:0" --name "$name" "$@"
	l7_wait_lines "$dir/$name.out" '^listening ' 1 "$(l7_pid "$name")" ||
		{ echo "mockserver $name did not start: $(head -n 2 "$dir/$name.err")" >&2; return 1; }
	sed -i "/^$name /d" "$dir/backends"
	awk '$1 == "listening" { print $2, $3 }' "$dir/$name.out" >>"$dir/backends"
}

# restart_backend NAME [FLAGS...]: stop it and start it again on the same address.
restart_backend() {
	local name=$1 addr dir
	shift
	dir=$(l7_dir)
	addr=$(backend_addr "$name")
	l7_stop "$name" || true
	l7_spawn "$name" $(onp "$name") "$L7_BIN/mockserver" --listen "$addr" --name "$name" "$@"
	l7_wait_lines "$dir/$name.out" '^listening ' 1 "$(l7_pid "$name")"
}

# proxy [FLAGS...]: our proxy on PROXY_IP (free port), events and access log
# in the check's folder (EVENTS, ACCESS); replaces a running one.  Sets P.
proxy() {
	local dir; dir=$(l7_dir)
	l7_stop proxy || true
	: >"$dir/events.jsonl"
	: >"$dir/access.log"
	EVENTS=$dir/events.jsonl ACCESS=$dir/access.log
	l7_spawn proxy $(onp proxy) "$L7_BIN/proxy" --listen "$PROXY_IP:0" --source "$SOURCE_IP" \
		--events "$EVENTS" --access-log "$ACCESS" "$@"
	l7_wait_lines "$dir/proxy.out" '^listening ' 1 "$(l7_pid proxy)" ||
		{ echo "the proxy did not start: $(head -n 2 "$dir/proxy.err")" >&2; return 1; }
	P=$(awk '$1 == "listening" { print $2; exit }' "$dir/proxy.out")
	echo "$P" >"$dir/proxy.listen"
}

# three: the --backend flags for b1..b3.
three() { echo "--backend b1=$B1 --backend b2=$B2 --backend b3=$B3"; }

# lab_conf FILE: FILE with the lab's fixed ports replaced by this check's.
lab_conf() {
	local out; out=$(l7_dir)/$(basename "$1")
	sed -e "s/$LAB_NET.11:9001/$B1/g; s/$LAB_NET.12:9001/$B2/g; s/$LAB_NET.13:9001/$B3/g" \
		-e "s/^source .*/source $SOURCE_IP/; s/^listen .*/listen $PROXY_IP:0/" "$1" >"$out"
	echo "$out"
}

# get PATH [CURL ARGS...]: curl through the proxy, from the client.
get() { local p=$1; shift; on client curl -s --max-time 10 "$@" "http://$P$p"; }

# xbackend PATH [CURL ARGS]: the X-Backend that answered.
xbackend() { get "$@" -o /dev/null -D - | tr -d '\r' | awk -F': ' 'tolower($1) == "x-backend" { print $2 }'; }

# stats: every backend's /stats, merged by name (asked from the proxy's
# host: in the topology the client cannot reach the backends).
stats() { for a in "$B1" "$B2" "$B3"; do on proxy curl -s --max-time 5 "http://$a/stats"; done | jq -s -c add; }

# events JQ_FILTER: the proxy's step events, filtered; strings come out raw.
# Each event's .s is its time in seconds, whether the proxy wrote t as Unix
# seconds with a fraction or as integer nanoseconds.
events() { jq -r -c '.s = (if .t > 1e12 then .t / 1e9 else .t end) | '"$1" "$EVENTS"; }

# wait_event JQ_SELECT [COUNT]: until COUNT events match (10 s).
wait_event() {
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(jq -c "select($1)" "$EVENTS" 2>/dev/null | wc -l)" -ge "${2:-1}" ] && return 0
		sleep 0.01
	done
	return 1
}

# lg ARGS...: loadgen --json from the client; lgf JQ reads its report.  A
# run that fails says why, under the observation that then does not hold.
lg() {
	local dir rc=0; dir=$(l7_dir)
	on client "$L7_BIN/loadgen" --json "$@" >"$dir/lg.json" 2>"$dir/lg.err" || rc=$?
	[ "$rc" -eq 0 ] || { echo "          (loadgen exited $rc: $(tail -n 3 "$dir/lg.err" | paste -sd' '))"; return "$rc"; }
}
lgf() { jq -r "$1" "$(l7_dir)/lg.json"; }

# ---- the words of a check -----------------------------------------------

CHECK_OK=0 CHECK_BAD=0
# expect WHAT GOT WANT [HINT]: one observation, said in words.
expect() {
	if [ "$2" = "$3" ]; then
		printf '  ok      %s\n' "$1"
		CHECK_OK=$((CHECK_OK + 1))
	else
		printf '  NOT OK  %s\n          expected: %s\n          got:      %s\n' "$1" "$3" "${2:-nothing}"
		[ -z "${4:-}" ] || printf '          %s\n' "$4"
		CHECK_BAD=$((CHECK_BAD + 1))
	fi
}
# expect_true WHAT CONDITION GOT WANT [HINT]: CONDITION is 1 when it holds.
expect_true() {
	if [ "$2" = 1 ]; then expect "$1" ok ok; else expect "$1" "$3" "$4" "${5:-}"; fi
}
# cmp A OP B: 1 when the (decimal) comparison holds.
cmp() { awk -v a="$1" -v b="$3" -v o="$2" 'BEGIN { print (o == "<" ? a < b : o == "<=" ? a <= b : o == ">" ? a > b : o == ">=" ? a >= b : a == b) ? 1 : 0 }'; }
# between V LO HI: 1 when LO <= V <= HI.
between() { awk -v v="$1" -v l="$2" -v h="$3" 'BEGIN { print (v >= l && v <= h) ? 1 : 0 }'; }

# part TITLE: a heading, as in the lab's README.
part() { printf '%s\n' "$*"; }

# ---- bin/lab start: the common start (fixed ports, bin/lab's piece) ------

# The ports of a started lab (tests set others, free ones).
: "${L7LAB_PROXY_PORT:=8080}" "${L7LAB_BACKEND_PORT:=9001}"

# start_backends [FLAGS...]: b1..b3 on port 9001, one mockserver.
start_backends() {
	local p=$L7LAB_BACKEND_PORT
	piece backends "$L7_BIN/mockserver" "$@" --listen "$B1_IP:$p" --name b1 \
		--listen "$B2_IP:$p" --name b2 --listen "$B3_IP:$p" --name b3
}
# start_proxy_lab [FLAGS...]: the proxy on 8080, logs in the lab's folder.
start_proxy_lab() {
	piece proxy "$L7_BIN/proxy" --listen "$PROXY_IP:$L7LAB_PROXY_PORT" --source "$PROXY_IP" \
		--access-log "$LAB_STATE/access.log" --events "$LAB_STATE/events.jsonl" "$@"
}
three_fixed() {
	local p=$L7LAB_BACKEND_PORT
	echo "--backend b1=$B1_IP:$p --backend b2=$B2_IP:$p --backend b3=$B3_IP:$p"
}

# steps_of FILE.json N: the steps of request N in a tracer --json capture.
steps_of() { L7_DIR=$(dirname "$1") trace_steps "$2"; }

# capture_or_recorded NAME CMD...: as root, run CMD (the traffic) with the
# tracer live and leave trace.json; otherwise read labs/captures/NAME.pcapng
# (recorded by `labs/captures/record.sh`) into trace.json.  Says which.
capture_or_recorded() {
	local name=$1 dir; shift
	dir=$(l7_dir)
	if [ "$(id -u)" = 0 ] && [ -z "${TOPO:-}" ]; then
		trace_start >/dev/null && "$@" >/dev/null && trace_stop
		echo "          (live capture)"
	elif [ "$(id -u)" = 0 ]; then
		printf -- "--name\n%s\n" "$B1=b1" "$B2=b2" "$B3=b3" >"$dir/trace.names"
		l7_spawn tracer ip netns exec l7lab-proxy "$L7_BIN/tracer" -i any --proxy "$P" --backends "$B1,$B2,$B3" \
			--name "$B1=b1" --name "$B2=b2" --name "$B3=b3" -l --json -w "$dir/trace.pcapng"
		l7_wait_lines "$dir/tracer.err" '^tracer: capturing' 1 "$(l7_pid tracer)" && "$@" >/dev/null && trace_stop
		echo "          (live capture on the proxy's interfaces)"
	else
		"$@" >/dev/null
		"$L7_BIN/tracer" -r "$L7LAB_TOP/labs/captures/$name.pcapng" --proxy 8080 --backends 9001 --json >"$dir/trace.json" 2>/dev/null
		echo "          (not root: the recorded capture labs/captures/$name.pcapng)"
	fi
}
