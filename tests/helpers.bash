# tests/helpers.bash - what every bats file loads: bats-support, bats-assert,
# bats-file, and helpers to start servers on port 0, wait until they listen,
# and stop them by pid (also when a test fails).
#
#   load helpers
#   setup_file()    { start_bg mock "$L7_BIN/mockserver" --listen 127.0.0.1:0 --name b1; }
#   teardown_file() { stop_all; }
#   @test "mockserver answers hello" { run curl -s "http://$(addr_of mock b1)/"; assert_output ... }

bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

: "${L7_BIN:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)/bin}"
export L7_BIN
TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
export TOP
# Small peers built from tests/tools/*.c (tcphole); tests/run points this at
# the build it tests.
: "${L7_TEST_TOOLS:=$TOP/build/rel/tests/tools}"
export L7_TEST_TOOLS

# The folder where start_bg keeps NAME.out, NAME.err and NAME.pid.  Servers
# started in setup_file live for the file; in a test, for the test.
_bg_dir() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ] && [ -z "${_IN_SETUP_FILE:-}" ]; then
		echo "$BATS_TEST_TMPDIR"
	else
		echo "$BATS_FILE_TMPDIR"
	fi
}

# spawn NAME CMD [ARGS...]: start CMD in the background, stdout to NAME.out
# and stderr to NAME.err in the background folder; stop_all stops it.
spawn() {
	local name=$1; shift
	local dir; dir=$(_bg_dir)
	# Emptied before the fork, not by the background shell when it gets to
	# run: pid_of NAME finds it at once, and a wait for CMD's lines never
	# reads those of the NAME this one replaces.
	: >"$dir/$name.out" || return 1
	"$@" >"$dir/$name.out" 2>"$dir/$name.err" 3>&- </dev/null &
	echo $! >"$dir/$name.pid"
	echo "$name" >>"$dir/.bg-names"
}

# start_bg NAME CMD [ARGS...]: spawn CMD and wait until it prints its
# "listening" lines (as many as it has --listen and --admin flags).
start_bg() {
	local name=$1; shift
	local dir; dir=$(_bg_dir)
	local want=0 a
	for a in "$@"; do [ "$a" = --listen ] || [ "$a" = --admin ] && want=$((want + 1)); done
	[ "$want" -gt 0 ] || want=1
	spawn "$name" "$@"
	wait_for_lines "$dir/$name.out" '^listening ' "$want" "$(cat "$dir/$name.pid")" || {
		echo "# $name did not start listening; its stderr:" >&3
		sed 's/^/#   /' "$dir/$name.err" >&3
		return 1
	}
}

# start_bg_file NAME CMD...: start_bg for setup_file (servers for the whole file).
start_bg_file() {
	_IN_SETUP_FILE=1 start_bg "$@"
}

# wait_for_lines FILE REGEX COUNT [PID]: wait (5 s at most) until FILE has
# COUNT lines matching REGEX; fail early if PID exits.
wait_for_lines() {
	local file=$1 re=$2 count=$3 pid=${4:-} i
	for ((i = 0; i < 500; i++)); do
		if [ -f "$file" ] && [ "$(grep -c -E "$re" "$file" 2>/dev/null)" -ge "$count" ]; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.01
	done
	return 1
}

# wait_for SECONDS CMD...: retry CMD every 10 ms for SECONDS at most.
wait_for() {
	local i n=$(($1 * 100))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.01
	done
	return 1
}

# wait_until CMD...: wait_for 5 seconds.
wait_until() { wait_for 5 "$@"; }

# pid_of NAME, out_of NAME, err_of NAME: the pid and the output files.
pid_of() { cat "$(_find_bg "$1")/$1.pid"; }
out_of() { echo "$(_find_bg "$1")/$1.out"; }
err_of() { echo "$(_find_bg "$1")/$1.err"; }
_find_bg() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ] && [ -e "$BATS_TEST_TMPDIR/$1.out" ]; then   # (a link to /dev/null too)
		echo "$BATS_TEST_TMPDIR"
	else
		echo "$BATS_FILE_TMPDIR"
	fi
}

# addr_of NAME [LISTENER]: the ADDRESS:PORT that NAME printed on its
# "listening [LISTENER] ADDRESS:PORT" line (the first one without LISTENER).
addr_of() {
	local out; out=$(out_of "$1")
	if [ $# -ge 2 ]; then
		awk -v n="$2" '$1 == "listening" && $2 == n { print $3; exit }' "$out"
	else
		awk '$1 == "listening" { print $NF; exit }' "$out"
	fi
}

# port_of NAME [LISTENER]: just the port.
port_of() { local a; a=$(addr_of "$@"); echo "${a##*:}"; }

# stop_bg NAME: SIGTERM, wait 5 s, then SIGKILL.  Returns the exit status
# (137 when it had to be killed) and says so on fd 3 when it is not 0.
stop_bg() {
	local dir; dir=$(_find_bg "$1")
	local pid; pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 0
	rm -f "$dir/$1.pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	local i
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null
	local rc=$?
	[ "$rc" -eq 127 ] && rc=0   # not our child (started in another bats process): status unknown
	if [ "$rc" -ne 0 ]; then
		echo "# $1 (pid $pid) exited with status $rc; its stderr:" >&3
		tail -n 30 "$dir/$1.err" | sed 's/^/#   /' >&3
	fi
	return "$rc"
}

# wait_exit NAME: wait (5 s at most) for NAME to end by itself, without
# another signal; returns its exit status (124 if it is still running).
# Call it directly, not through run (a subshell cannot wait for it).
wait_exit() {
	local dir; dir=$(_find_bg "$1")
	local pid; pid=$(cat "$dir/$1.pid" 2>/dev/null) || return 0
	local i rc=0
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	kill -0 "$pid" 2>/dev/null && return 124
	rm -f "$dir/$1.pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 127 ] && rc=0   # not our child: status unknown
	return "$rc"
}

# stop_all: stop, by pid, every process start_bg started in this test (for
# teardown); stop_all_file: those of setup_file (for teardown_file).  Each
# fails if any process exited badly: a sanitizer report makes the tools exit
# non-zero, so a leak or overflow fails the suite.
stop_all() { _stop_dir "${BATS_TEST_TMPDIR:-}"; }
stop_all_file() { _stop_dir "${BATS_FILE_TMPDIR:-}"; }
_stop_dir() {
	local dir=$1 rc=0 name
	[ -n "$dir" ] && [ -f "$dir/.bg-names" ] || return 0
	while read -r name; do
		[ -f "$dir/$name.pid" ] || continue
		stop_bg "$name" || rc=1
	done <"$dir/.bg-names"
	rm -f "$dir/.bg-names"
	return $rc
}

# raw_exchange ADDR:PORT BYTES [SECONDS]: send BYTES (printf format
# expanded) on one TCP connection, print what comes back until the peer
# closes or SECONDS (default 3) pass.
raw_exchange() {
	local hostport=$1 bytes=$2 secs=${3:-3}
	local host=${hostport%:*} port=${hostport##*:}
	host=${host#[}; host=${host%]}
	printf "$bytes" | timeout "$secs" nc -q "$secs" "$host" "$port"
	return 0
}

# ---- a real browser ------------------------------------------------------------
# Headless Chromium (Debian's chromium), driven over WebDriver by Debian's
# chromedriver, with curl and jq: open a page, run JavaScript in it, read
# its console.  One browser serves a whole file:
#   setup_file()    { browser_start; }
#   teardown_file() { browser_stop; stop_all_file; }
#   @test ... { browser_open "http://$A/"; run browser_eval 'return document.title'; ... }

# The flags Chromium needs as root on a machine with no network but loopback.
CHROMIUM_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
	--disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage)

# browser_start: chromedriver on a free port and one Chromium session; sets
# BROWSER (the session's WebDriver URL).
browser_start() {
	local dir=$BATS_FILE_TMPDIR
	chromedriver --port=0 >"$dir/chromedriver.out" 2>"$dir/chromedriver.err" 3>&- </dev/null &
	echo $! >"$dir/chromedriver.pid"
	echo chromedriver >>"$dir/.bg-names"
	wait_for_lines "$dir/chromedriver.out" 'started successfully on port' 1 "$(cat "$dir/chromedriver.pid")" || {
		echo "# chromedriver did not start: $(cat "$dir/chromedriver.err")" >&3
		return 1
	}
	CHROMEDRIVER=http://127.0.0.1:$(sed -n 's/.*started successfully on port \([0-9]*\).*/\1/p' "$dir/chromedriver.out")
	export CHROMEDRIVER
	BROWSER=$(browser_session "$dir/chromium-profile") || return 1
	export BROWSER
}

# browser_session PROFILE_DIR [--no-javascript]: one more Chromium (to
# close with curl -X DELETE); prints its WebDriver URL.
browser_session() {
	local args caps url prefs='{}'
	[ "${2:-}" = --no-javascript ] && prefs='{"profile.managed_default_content_settings.javascript": 2}'
	args=$(printf '%s\n' "${CHROMIUM_FLAGS[@]}" "--user-data-dir=$1" | jq -Rsc 'split("\n")[:-1]')
	caps=$(jq -nc --argjson args "$args" --argjson prefs "$prefs" '{capabilities: {alwaysMatch: {
		browserName: "chrome", "goog:loggingPrefs": {browser: "ALL"},
		"goog:chromeOptions": {binary: "/usr/bin/chromium", args: $args, prefs: $prefs}}}}')
	url=$(curl -s -m 60 -X POST "$CHROMEDRIVER/session" -H 'Content-Type: application/json' -d "$caps" |
		jq -r --arg base "$CHROMEDRIVER/session/" '$base + (.value.sessionId // "")')
	if [[ "$url" == */session/ ]]; then
		echo "# chromedriver could not start Chromium: $(tail -n 5 "$BATS_FILE_TMPDIR/chromedriver.err")" >&3
		return 1
	fi
	echo "$url"
}

# browser_stop: close Chromium (ending the session), then chromedriver
# (which a SIGTERM ends with status 143: that is its normal way out).
browser_stop() {
	local dir=$BATS_FILE_TMPDIR pid i
	[ -n "${BROWSER:-}" ] && curl -s -m 30 -X DELETE "$BROWSER" >/dev/null
	pid=$(cat "$dir/chromedriver.pid" 2>/dev/null) || return 0
	rm -f "$dir/chromedriver.pid"
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 500; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.01
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# _webdriver METHOD PATH [JSON]: one WebDriver command; prints the reply.
_webdriver() {
	curl -s -m 30 -X "$1" "$BROWSER$2" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

# browser_open URL: load URL and wait for its load event.
browser_open() {
	_webdriver POST /url "$(jq -nc --arg url "$1" '{url: $url}')" | jq -e '.value == null' >/dev/null
}

# browser_eval SCRIPT: run SCRIPT (a function body: `return ...`) in the
# page; prints what it returned (strings as they are, the rest as JSON).
browser_eval() {
	local reply
	reply=$(_webdriver POST /execute/sync "$(jq -nc --arg s "$1" '{script: $s, args: []}')")
	if jq -e '.value | type == "object" and has("error")' >/dev/null <<<"$reply"; then
		echo "browser_eval: $(jq -r '.value.message' <<<"$reply")" >&2
		return 1
	fi
	jq -r '.value | if type == "string" then . else tojson end' <<<"$reply"
}

# browser_errors: the console's errors since the last call (one a line),
# uncaught exceptions and failed loads included.
browser_errors() {
	_webdriver POST /se/log '{"type":"browser"}' | jq -r '.value[] | select(.level == "SEVERE") | .message'
}

# dead_addr IP: IP:PORT with nothing listening there (a mockserver bound
# the port, then exited), for servers that refuse connections.
dead_addr() {
	local out pid addr
	out=$(mktemp)
	"$L7_BIN/mockserver" --listen "$1:0" >"$out" 2>&1 3>&- </dev/null &
	pid=$!
	wait_for_lines "$out" '^listening ' 1 "$pid"
	addr=$(awk '$1 == "listening" { print $3 }' "$out")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rm -f "$out"
	[ -n "$addr" ] && echo "$addr"
}

# read_response FD: one HTTP/1.1 response from FD, its head and then
# Content-Length bytes of body, read no further (5 s at most per read).
read_response() {
	local fd=$1 line len=0
	while IFS= read -r -t 5 line <&"$fd"; do
		printf '%s\n' "$line"
		case "$line" in
		[Cc]ontent-[Ll]ength:*) len=${line#*:}; len=${len//[!0-9]/} ;;
		$'\r' | '') break ;;
		esac
	done
	if [ "$len" -gt 0 ]; then
		LC_ALL=C read -r -t 5 -N "$len" line <&"$fd" && printf '%s' "$line"
	fi
}

# have_ipv6_loopback: ::1 is configured (some containers have no IPv6).
have_ipv6_loopback() {
	grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null
}

# events_proxy NAME ARGS...: proxy NAME on 127.0.0.2:0 for one test, its
# --events in NAME.jsonl of the test's folder.
events_proxy() {
	local n=$1
	shift
	start_bg "$n" "$L7_BIN/proxy" --listen 127.0.0.2:0 --events "$BATS_TEST_TMPDIR/$n.jsonl" "$@"
}

# status_via NAME [CURL ARGS...]: the status of GET / through proxy NAME.
status_via() { local n=$1; shift; curl -s -m 5 -o /dev/null -w '%{http_code}' "$@" "http://$(addr_of "$n")/"; }

# events_of NAME JQ: the --events lines of events_proxy NAME through jq -r JQ.
events_of() { jq -r "$2" "$BATS_TEST_TMPDIR/$1.jsonl"; }
