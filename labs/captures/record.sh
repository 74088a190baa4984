#!/usr/bin/env bash
# labs/captures/record.sh - record the captures that non-root students read
# instead of a live capture (root): lab 01's parts 1 and 2 through lab 01's
# pieces (bin/lab start 01), labelled by the tracer (-w, pcapng with step
# comments).  Run it again after a change to the proxy's framing.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "record.sh: live capture needs root" >&2; exit 2; }
bin/lab start 01 >/dev/null
trap 'kill -INT $tp 2>/dev/null || true; wait $tp 2>/dev/null || true; bin/lab stop >/dev/null' EXIT
out=labs/captures/01-connections.pcapng
bin/tracer -i lo --proxy 127.0.1.2:8080 --backends 127.0.1.11:9001,127.0.1.12:9001,127.0.1.13:9001 \
	-l -w "$out" >/dev/null 2>/tmp/l7lab-record.err &
tp=$!
for i in $(seq 100); do grep -q '^tracer: capturing' /tmp/l7lab-record.err && break; sleep 0.05; done
curl -s http://127.0.1.2:8080/ >/dev/null
curl -s http://127.0.1.2:8080/ http://127.0.1.2:8080/ http://127.0.1.2:8080/ >/dev/null
for i in $(seq 100); do [ "$(grep -c '"GET' /tmp/l7lab-01/access.log)" -ge 4 ] && break; sleep 0.05; done
kill -INT $tp; wait $tp || true
echo "recorded $out ($(stat -c %s "$out") bytes)"
