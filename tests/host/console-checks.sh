#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# console-checks.sh: what fails a scenario on its console, checked on
# logs without a boot (scenario.py --console).  consoles/known-report.log
# is a real guest console: kswapd's swap table allocation failing under
# pressure, a report of the core kernel that scenario.py knows and lets
# pass.  Its variants must fail: the same report from another call chain,
# a WARNING, a second stack dump after it, a failed guest test point.
# TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$TOP/tests/host/tap.sh"
known=$TOP/tests/host/consoles/known-report.log

# check EXPECTED_STATUS TEXT DESCRIPTION LOG: scenario.py --console LOG
# exits with EXPECTED_STATUS and prints TEXT.
check() {
	local out rc
	out=$("$TOP/tests/host/scenario.py" --console "$4" shrink-forced 2>&1)
	rc=$?
	[ $rc = "$1" ] && [[ $out == *"$2"* ]]
	result $? "$3" "exit status $rc (expected $1), expected '$2' in:" "$out"
}

echo "TAP version 13"
echo "1..6"
check 0 "not failures: 1x kswapd's swap table allocation" \
	"kswapd's swap table allocation failure passes, and is named" "$known"

sed 's/folio_alloc_swap/ttm_pool_alloc_page/' "$known" >"$work/other-caller.log"
check 1 "console:7:> [   15.721720] Call Trace:" \
	"the same allocation failure from another call chain fails" \
	"$work/other-caller.log"

{ cat "$known"; echo "[   16.100000] WARNING: CPU: 1 PID: 80 at drivers/gpu/drm/simgpu/simgpu_ttm.c:120 simgpu_bo_move+0x1c/0x40"; } >"$work/warning.log"
check 1 "> [   16.100000] WARNING: CPU: 1" \
	"a WARNING after the known report fails" "$work/warning.log"

{ cat "$known"; printf '%s\n' "[   40.000000] INFO: task simgpu-shrink:90 blocked for more than 20 seconds." \
	"[   40.000100] Call Trace:" "[   40.000200]  <TASK>" \
	"[   40.000300]  schedule+0x30/0x90" "[   40.000400]  </TASK>"; } >"$work/hung.log"
check 1 "> [   40.000100] Call Trace:" \
	"a second stack dump after the known report fails" "$work/hung.log"

sed 's/^ok 3 - round 1: every byte verified (0 bad)/not ok 3 - round 1: every byte verified (12 bad)/' \
	"$known" >"$work/mismatch.log"
check 1 "not ok 3 - round 1: every byte verified (12 bad)" \
	"a failed guest test point fails" "$work/mismatch.log"

check 2 "cannot read" "a console log that is not there: an error" \
	"$work/none.log"
tap_finish
