#!/usr/bin/env bash
# tests/bench/mockserver.sh - mockserver against nginx (1 worker, "return
# 200" with the same 14-byte body): wrk -t1 -c64 -d10s, keep-alive, on "/",
# medians of 3 runs each, alternating.  Three rows: requests/s (higher is
# better), p99 latency in ms and server CPU time per request in
# microseconds (lower is better).  Target: requests/s ratio >= 1.0, p99
# ratio <= 1.0.  On a small machine wrk -t1 may be the bottleneck for
# both; the CPU row still tells the servers apart.
. "$(dirname "$0")/common.sh"
bench_init

bench_bg mock "${SERVER_PIN[@]}" "$L7_BIN/mockserver" --listen 127.0.0.11:0 --name b1
mock_pid=$BG_PID
wait_listening "$BENCH_TMP/mock.out" 1
mock=$(awk '$1 == "listening" { print $3; exit }' "$BENCH_TMP/mock.out")
nginx_start 127.0.0.21 "hello from b1"

compare_wrk "http://$mock/" "http://$NGINX_ADDR/" "$mock_pid" "$NGINX_WORKER"
row mockserver nginx requests/s "$OURS_RPS" "$THEIRS_RPS"
row mockserver nginx p99_ms "$OURS_P99" "$THEIRS_P99"
row mockserver nginx cpu_us/request "$OURS_CPU" "$THEIRS_CPU"
