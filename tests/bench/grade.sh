#!/usr/bin/env bash
# tests/bench/grade.sh - bin/grade against the proxies people pick instead,
# as configured in tests/grade/adapters/ (nginx-light and HAProxy from
# Debian), beside ours: the scores the README quotes.  Not CI: it runs the
# two servers.  Details on stderr; rows "grade PEER score OURS THEIRS RATIO".
set -uo pipefail
cd "$(dirname "$0")/../.."
score() { bin/grade --adapter "$1" | tee /dev/stderr | tail -n 1 | sed 's/^total //; s/\/.*//'; }
ours=$(score ours)
for a in nginx haproxy; do
	theirs=$(score "$a")
	printf 'grade\t%s\tscore (of 100)\t%s\t%s\t%s\n' "$a" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
done
