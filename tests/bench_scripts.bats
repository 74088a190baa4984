#!/usr/bin/env bats
# The benchmark scripts (tests/bench/, make bench) are not run here: they
# take minutes and compare with other tools.  What is checked is that a
# bad setting stops them at once, with one line and exit 2, before they
# start anything.

load helpers
bats_require_minimum_version 1.5.0

@test "balance.sh refuses BALANCE_RUNS that is not a whole number above 0" {
	local v
	for v in x 0 -1 1.5; do
		BALANCE_RUNS=$v run --separate-stderr bash "$TOP/tests/bench/balance.sh"
		assert_failure 2
		assert_equal "$stderr" "balance: BALANCE_RUNS='$v' is not a whole number above 0"
		assert_output ''
	done
}

@test "balance.sh refuses BALANCE_WORKERS that is not a whole number" {
	local v
	for v in x -1 1.5; do
		BALANCE_WORKERS=$v run --separate-stderr bash "$TOP/tests/bench/balance.sh"
		assert_failure 2
		assert_equal "$stderr" "balance: BALANCE_WORKERS='$v' is not a whole number"
		assert_output ''
	done
}
