# SPDX-License-Identifier: GPL-2.0
#
# tap.sh: TAP helpers of the host-side test scripts (sourced).
#   result STATUS DESCRIPTION [DIAGNOSTIC...]
#       one test point: ok if STATUS is 0; a failure prints each line of
#       the diagnostics as a "# " comment
#   tap_finish [NOTE]: the "# N passed, N failed" line; returns non-zero
#       if a point failed

n=0
failed=0

result() {
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		shift 2
		[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/# /'
	fi
	return 0
}

tap_finish() {
	echo "# $((n - failed)) passed, $failed failed${1:+ ($1)}"
	[ $failed = 0 ]
}
