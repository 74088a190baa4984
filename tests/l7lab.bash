# l7lab.bash - the l7lab toolkit for anyone's bats tests: named mock
# backends on free ports, any proxy started and awaited, loadgen, a tracer
# capture around a block of requests, and assertions on the labelled trace.
#
#   load 'l7lab'                # in place: next to this file, or load /path/to/tests/l7lab
#   bats_load_library l7lab     # installed by `make install` (BATS_LIB_PATH)
#
#   @test "nginx reuses its connection to the backend" {
#       mock_backends b1
#       start_proxy nginx -p {dir} -c {config} -g 'daemon off;'   # or any command
#       trace_start
#       curl -s "http://$(proxy_addr)/" "http://$(proxy_addr)/"
#       trace_stop
#       assert_steps --request 2 2 3 5 6 7
#       assert_reused --request 2
#   }
#
# Every process a helper starts is recorded with its pid and stopped by that
# pid in l7_teardown, which the default teardown() below calls (define your
# own teardown? call l7_teardown in it).  On a failed test l7_teardown also
# prints the tracer's labelled trace, when one was captured.  Outside bats
# (the lab checks) the same functions work; the assertions then print and
# return 1.

if declare -F bats_load_library >/dev/null; then
	bats_load_library bats-support
	bats_load_library bats-assert
fi
if ! declare -F fail >/dev/null; then
	fail() { if [ $# -gt 0 ]; then echo "$*" >&2; else cat >&2; fi; return 1; }
fi

# The tools: $L7_BIN, else bin/ beside this file's folder (in place), else
# the folder `make install` wrote below, else PATH.
_l7_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
L7_INSTALLED_BIN=
if [ -z "${L7_BIN:-}" ]; then
	if [ -x "$_l7_here/../bin/proxy" ]; then
		L7_BIN=$(cd "$_l7_here/../bin" && pwd)
	elif [ -n "$L7_INSTALLED_BIN" ]; then
		L7_BIN=$L7_INSTALLED_BIN
	else
		L7_BIN=$(dirname "$(command -v mockserver 2>/dev/null || echo /usr/local/bin/mockserver)")
	fi
fi
export L7_BIN

# l7_dir: where this test's files go (pids, outputs, captures).
l7_dir() {
	local d=${L7_DIR:-${BATS_TEST_TMPDIR:-}}
	if [ -z "$d" ]; then
		L7_DIR=$(mktemp -d "${TMPDIR:-/tmp}/l7lab.XXXXXX")
		d=$L7_DIR
	fi
	echo "$d"
}

# l7_seconds DURATION: 250us, 1.5ms, 2s, 1m (bare: seconds) in seconds.
l7_seconds() {
	awk -v d="$1" 'BEGIN {
		if (match(d, /^[0-9.]+/) == 0) exit 1
		n = substr(d, 1, RLENGTH); u = substr(d, RLENGTH + 1)
		m = u == "" || u == "s" ? 1 : u == "ms" ? 1e-3 : u == "us" ? 1e-6 : u == "ns" ? 1e-9 : u == "m" ? 60 : -1
		if (m < 0) exit 1
		printf "%.9f\n", n * m }'
}

# ---- processes ----------------------------------------------------------

# l7_spawn NAME CMD...: start CMD in the background (stdout NAME.out, stderr
# NAME.err, pid NAME.pid in l7_dir), recorded for l7_teardown.  The files
# are emptied here, before the fork: the background shell opens them only
# when the machine schedules it, and a wait for CMD's "listening" line
# must never read the line of the NAME this one replaces.
l7_spawn() {
	local name=$1 dir; dir=$(l7_dir)
	shift
	: >"$dir/$name.out" && : >"$dir/$name.err" || return 1
	"$@" >"$dir/$name.out" 2>"$dir/$name.err" 3>&- </dev/null &
	echo $! >"$dir/$name.pid"
	echo "$name" >>"$dir/.l7-names"
}

l7_pid() { cat "$(l7_dir)/$1.pid" 2>/dev/null; }
l7_out() { echo "$(l7_dir)/$1.out"; }
l7_err() { echo "$(l7_dir)/$1.err"; }

# l7_wait_lines FILE REGEX COUNT [PID [SECONDS]]: until FILE has COUNT lines
# matching REGEX (10 s by default); fails early when PID exits.
l7_wait_lines() {
	local file=$1 re=$2 count=$3 pid=${4:-} secs=${5:-10} i
	for ((i = 0; i < secs * 100; i++)); do
		[ -f "$file" ] && [ "$(grep -c -E -- "$re" "$file" 2>/dev/null)" -ge "$count" ] && return 0
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.01
	done
	return 1
}

# l7_listening ADDR:PORT: something listens there (seen by ss, no connection made).
l7_listening() {
	local a=$1
	[ -n "$(ss -Hltn "sport = :${a##*:}" 2>/dev/null | awk -v a="$a" '$4 == a || $4 == "0.0.0.0:" p || $4 == "*:" p { print }' p="${a##*:}")" ]
}

# l7_wait_listen ADDR:PORT PID [SECONDS]: until ADDR:PORT listens; fails
# when PID exits first.
l7_wait_listen() {
	local addr=$1 pid=$2 secs=${3:-10} i
	for ((i = 0; i < secs * 100; i++)); do
		l7_listening "$addr" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# free_port [ADDR]: a TCP port nothing listens on (below the ephemeral range,
# so that no client connection takes it meanwhile).
free_port() {
	local p i
	for ((i = 0; i < 100; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
	done
	return 1
}

# l7_stop NAME [SIGNAL]: SIGTERM (or SIGNAL), 5 s, SIGKILL, by the recorded
# pid.  Returns the exit status when it was our child (137: killed).
l7_stop() {
	local dir pid i rc=0
	dir=$(l7_dir)
	pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 0
	rm -f "$dir/$1.pid"
	kill "-${2:-TERM}" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	[ "$rc" -eq 127 ] && rc=0
	return "$rc"
}

# l7_stop_all: stop every process this test started, by pid, newest first.
l7_stop_all() {
	local dir name
	dir=$(l7_dir)
	[ -f "$dir/.l7-names" ] || return 0
	for name in $(tac "$dir/.l7-names"); do
		l7_stop "$name" || true
	done
	rm -f "$dir/.l7-names"
}

# l7_teardown: print the trace of a failed test, stop everything.
l7_teardown() {
	local dir; dir=$(l7_dir)
	if [ -f "$dir/tracer.pid" ]; then trace_stop >/dev/null 2>&1 || true; fi
	if [ -n "${BATS_TEST_NAME:-}" ] && [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -s "$dir/trace.txt" ]; then
		{ echo "# the tracer's labelled trace of this test:"; sed 's/^/#   /' "$dir/trace.txt"; } >&3
	fi
	l7_stop_all
}
teardown() { l7_teardown; }   # a teardown() of your own replaces it: call l7_teardown there

# ---- mock backends ------------------------------------------------------

# mock_backends [--addr IP] NAME[=IP[:PORT]]... [-- MOCKSERVER_FLAGS...]:
# one mockserver process serving a backend per NAME (each on IP, default
# $L7_BACKEND_IP or 127.0.0.1, port 0: the kernel picks a free one), ready
# when it returns.  Flags after -- apply to every listener.  A second call
# starts another process (its backends join the list).
mock_backends() {
	local ip=${L7_BACKEND_IP:-127.0.0.1} args=() names=() flags=() n a dir tag
	while [ $# -gt 0 ]; do
		case "$1" in
		--addr) ip=$2; shift 2 ;;
		--) shift; flags=("$@"); break ;;
		*) names+=("$1"); shift ;;
		esac
	done
	[ ${#names[@]} -gt 0 ] || names=(b1)
	for n in "${names[@]}"; do
		a=${n#*=}
		if [ "$a" = "$n" ]; then a=$ip:0; fi
		case "$a" in *:*) ;; *) a=$a:0 ;; esac
		args+=(--listen "$a" --name "${n%%=*}")
	done
	dir=$(l7_dir)
	tag=mock$(( $(cat "$dir/.l7-mocks" 2>/dev/null || echo 0) + 1 ))
	echo "${tag#mock}" >"$dir/.l7-mocks"
	l7_spawn "$tag" "$L7_BIN/mockserver" "${flags[@]}" "${args[@]}"
	l7_wait_lines "$dir/$tag.out" '^listening ' "${#names[@]}" "$(l7_pid "$tag")" || {
		fail "mockserver did not start: $(head -n 3 "$dir/$tag.err")"
		return 1
	}
	awk '$1 == "listening" { print $2, $3 }' "$dir/$tag.out" >>"$dir/backends"
}

# backend_addr NAME: its ADDR:PORT.  backends_list: all, comma-separated.
backend_addr() { awk -v n="$1" '$1 == n { print $2; exit }' "$(l7_dir)/backends"; }
backends_list() { awk '{ print $2 }' "$(l7_dir)/backends" 2>/dev/null | paste -sd, -; }
backend_names() { awk '{ print $1 }' "$(l7_dir)/backends" 2>/dev/null; }

# ---- the proxy under test -----------------------------------------------

# l7_fill TEXT: TEXT with {listen}, {backend} (the first backend),
# {backends} (all, comma-separated), {dir} (this test's folder) and
# {config} (the filled configuration file) replaced.
l7_fill() {
	local s=$1 dir
	[[ $s == *'{'* ]] || { printf '%s' "$s"; return 0; }
	dir=$(l7_dir)
	s=${s//\{listen\}/$(cat "$dir/proxy.listen" 2>/dev/null)}
	s=${s//\{backends\}/$(backends_list)}
	s=${s//\{backend\}/$(awk '{ print $2; exit }' "$dir/backends" 2>/dev/null)}
	s=${s//\{dir\}/$dir}
	s=${s//\{config\}/$dir/proxy.conf}
	printf '%s' "$s"
}

# l7_fill_config TEMPLATE: write the filled configuration to {config}.  A
# line holding {server} is written once per backend, with {server} its
# ADDR:PORT and {name} its name; other placeholders as in l7_fill.
l7_fill_config() {
	local line line2 n a dir
	dir=$(l7_dir)
	: >"$dir/proxy.conf"
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line == *"{server}"* ]]; then
			while read -r n a; do
				line2=${line//\{server\}/$a}
				printf '%s\n' "${line2//\{name\}/$n}" >>"$dir/proxy.conf"
			done <"$dir/backends"
		else
			printf '%s\n' "$(l7_fill "$line")" >>"$dir/proxy.conf"
		fi
	done <"$1"
}

# start_proxy [--listen IP[:PORT]] [--config TEMPLATE] CMD [ARGS...]: start
# any proxy and wait until it listens.  Placeholders as in l7_fill, in each
# argument; a single argument with spaces is split into words.  The listen
# address is IP (default 127.0.0.1) with a free port; a proxy that fails to
# bind it (a race with another program) is started again on another port.
start_proxy() {
	local ip=${L7_PROXY_IP:-127.0.0.1} port= config= try dir words=() w filled=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--listen) ip=${2%:*}; [ "$2" != "$ip" ] && port=${2##*:}; shift 2 ;;
		--config) config=$2; shift 2 ;;
		*) break ;;
		esac
	done
	if [ $# -eq 1 ]; then read -ra words <<<"$1"; else words=("$@"); fi
	dir=$(l7_dir)
	for ((try = 0; try < 5; try++)); do
		echo "$ip:${port:-$(free_port)}" >"$dir/proxy.listen"
		[ -z "$config" ] || l7_fill_config "$config"
		filled=()
		for w in "${words[@]}"; do filled+=("$(l7_fill "$w")"); done
		l7_spawn proxy "${filled[@]}"
		l7_wait_listen "$(proxy_addr)" "$(l7_pid proxy)" 10 && return 0
		l7_stop proxy || true
		[ -n "$port" ] && break
	done
	fail "the proxy did not listen on $(proxy_addr): ${filled[*]}
$(tail -n 5 "$dir/proxy.err")"
}

# proxy_addr: the address the proxy listens on.  proxy_url [PATH].
proxy_addr() { cat "$(l7_dir)/proxy.listen"; }
proxy_url() { echo "http://$(proxy_addr)${1:-/}"; }

# ---- load ---------------------------------------------------------------

# run_loadgen ARGS...: bats' run of loadgen --json against the proxy (URL
# defaults to proxy_url /); loadgen_field JQ then reads its report.
run_loadgen() {
	local has_url=0 a
	for a in "$@"; do case "$a" in http://*) has_url=1 ;; esac; done
	[ "$has_url" = 1 ] || set -- "$@" "$(proxy_url /)"
	"$L7_BIN/loadgen" --json "$@" >"$(l7_dir)/loadgen.json" 2>"$(l7_dir)/loadgen.err"
	local rc=$?
	output=$(cat "$(l7_dir)/loadgen.json")
	status=$rc
	return 0
}
loadgen_field() { jq -r "$1" "$(l7_dir)/loadgen.json"; }

# ---- the tracer around a block ------------------------------------------

# trace_start [-i IFACE]: capture the proxy's and the backends' traffic
# (needs root: the test is skipped with a reason otherwise).
trace_start() {
	local iface=lo dir names=() n a
	[ "${1:-}" = -i ] && iface=$2
	if [ "$(id -u)" != 0 ]; then
		if declare -F skip >/dev/null && [ -n "${BATS_TEST_NAME:-}" ]; then
			skip "live capture needs root"
		fi
		echo "trace_start: live capture needs root" >&2
		return 1
	fi
	dir=$(l7_dir)
	while read -r n a; do names+=(--name "$a=$n"); done <"$dir/backends"
	printf '%s\n' "${names[@]}" >"$dir/trace.names"
	rm -f "$dir/trace.pcapng" "$dir/trace.json" "$dir/trace.txt"
	l7_spawn tracer "$L7_BIN/tracer" -i "$iface" --proxy "$(proxy_addr)" --backends "$(backends_list)" \
		"${names[@]}" -l --json -w "$dir/trace.pcapng"
	l7_wait_lines "$dir/tracer.err" '^tracer: capturing' 1 "$(l7_pid tracer)" || {
		fail "the tracer did not start: $(head -n 2 "$dir/tracer.err")"
		return 1
	}
}

# trace_stop: wait (3 s at most) until every request seen has its response
# returned or its connection closed, stop the tracer, and read the capture
# back: trace.json (one packet a line) and trace.txt (the timeline).
trace_stop() {
	local dir names=() end
	dir=$(l7_dir)
	[ -f "$dir/tracer.pid" ] || return 0
	end=$(( ${EPOCHREALTIME/./} + 3000000 ))
	while [ "${EPOCHREALTIME/./}" -lt "$end" ]; do
		jq -s -e '(map(select(.request != null and .step == 2)) | map(.request) | unique) as $r
			| (map(select((.step == 7 and .len > 0) or .close)) | map(.request) | unique) as $d
			| ($r - $d) == []' "$dir/tracer.out" >/dev/null 2>&1 && break
		sleep 0.02
	done
	l7_stop tracer INT || true
	mapfile -t names <"$dir/trace.names"
	"$L7_BIN/tracer" -r "$dir/trace.pcapng" --proxy "$(proxy_addr)" --backends "$(backends_list)" \
		"${names[@]}" --json >"$dir/trace.json" 2>/dev/null
	"$L7_BIN/tracer" -r "$dir/trace.pcapng" --proxy "$(proxy_addr)" --backends "$(backends_list)" \
		"${names[@]}" --color never >"$dir/trace.txt" 2>&1
	return 0
}

# trace_show: print the labelled timeline.
trace_show() { cat "$(l7_dir)/trace.txt"; }

# trace_json: the capture, one packet a line (jq input).
trace_json() { cat "$(l7_dir)/trace.json"; }

# _l7_request ARGS: parse [--request N] off the front; sets _req (default:
# the last request in the trace) and _rest.
_l7_request() {
	_req=
	_rest=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--request) _req=$2; shift 2 ;;
		*) _rest+=("$1"); shift ;;
		esac
	done
	[ -n "$_req" ] || _req=$(jq -s 'map(.request // 0) | max' "$(l7_dir)/trace.json")
}

# trace_steps N: the steps request N went through, in order of first
# appearance; step 3 (no packets) stands before the first backend step.
trace_steps() {
	jq -s -r --argjson r "$1" '
		[ .[] | select(.request == $r) | .step ] as $s
		| reduce $s[] as $x ([]; if index([$x]) == null then . + [$x] else . end)
		| (map(select(. < 4)) + (if any(.[]; . >= 4) then [3] else [] end) + map(select(. >= 4)))
		| unique | map(tostring) | join(" ")' "$(l7_dir)/trace.json"
}

# assert_steps [--request N] STEP...: request N (default: the last) went
# through exactly these steps (3 is implied by a backend step).
assert_steps() {
	_l7_request "$@"
	local want="${_rest[*]}" got
	got=$(trace_steps "$_req")
	[ "$got" = "$want" ] && return 0
	fail "request $_req: expected steps $want, the trace shows steps ${got:-none}"
}

# assert_reused [--request N]: request N went out on a backend connection
# that was open before (step 5 marked reuse, no step 4).
assert_reused() {
	_l7_request "$@"
	jq -s -e --argjson r "$_req" '
		(map(select(.request == $r and .step == 5 and .reuse)) | length > 0) and
		(map(select(.request == $r and .step == 4)) | length == 0)' "$(l7_dir)/trace.json" >/dev/null && return 0
	fail "request $_req: expected the proxy to reuse a backend connection (step 5 with no step 4), the trace shows $(trace_steps "$_req" | grep -q 4 && echo "a new connection (step 4)" || echo "no reused connection")"
}

# assert_new_connection [--request N]: request N opened a backend connection.
assert_new_connection() {
	_l7_request "$@"
	jq -s -e --argjson r "$_req" 'map(select(.request == $r and .step == 4 and .flags == "SYN")) | length > 0' \
		"$(l7_dir)/trace.json" >/dev/null && return 0
	fail "request $_req: expected a new backend connection (a step-4 SYN), the trace has none"
}

# trace_step_time N STEP: seconds request N spent in STEP: 3 from its last
# step-2 packet to its first backend packet; others from the first to the
# last packet of that step.
trace_step_time() {
	jq -s -r --argjson r "$1" --argjson s "$2" '
		map(select(.request == $r)) as $p
		| if $s == 3 then
			(([$p[] | select(.step >= 4) | .t] | min) - ([$p[] | select(.step == 2) | .t] | max))
		  else
			([$p[] | select(.step == $s) | .t]) as $t | if ($t | length) == 0 then null else ($t | max) - ($t | min) end
		  end' "$(l7_dir)/trace.json"
}

# assert_step_time [--request N] STEP -lt|-le|-gt|-ge DURATION: e.g.
# assert_step_time 3 -lt 1ms.
assert_step_time() {
	_l7_request "$@"
	local step=${_rest[0]} op=${_rest[1]} lim got ok
	lim=$(l7_seconds "${_rest[2]}") || { fail "assert_step_time: '${_rest[2]}' is not a duration"; return 1; }
	got=$(trace_step_time "$_req" "$step")
	[ "$got" != null ] || { fail "request $_req: no packet of step $step in the trace"; return 1; }
	ok=$(awk -v g="$got" -v l="$lim" -v o="$op" 'BEGIN {
		print (o == "-lt" ? g < l : o == "-le" ? g <= l : o == "-gt" ? g > l : o == "-ge" ? g >= l : 0) }')
	[ "$ok" = 1 ] && return 0
	fail "request $_req: step $step took $(awk -v g="$got" 'BEGIN { printf "%.3f ms", g * 1000 }'), expected $op ${_rest[2]}"
}

# assert_backend [--request N] NAME: request N was answered by backend NAME.
assert_backend() {
	_l7_request "$@"
	local got
	got=$(jq -s -r --argjson r "$_req" '[ .[] | select(.request == $r and .step == 6 and .len > 0) | .src ] | unique | join(",")' \
		"$(l7_dir)/trace.json")
	[ "$got" = "${_rest[0]}" ] && return 0
	fail "request $_req: expected backend ${_rest[0]} to answer, the trace shows ${got:-no backend answer}"
}
