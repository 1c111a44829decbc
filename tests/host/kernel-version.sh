#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# kernel-version.sh BUILDDIR: the quick set's guest tests (every suite
# but host and qtest, which do not boot the guest kernel) on the other
# kernel version simgpu claims (images/versions: KERNEL_OTHER_PKGS,
# Debian's 7.2 source), through run-tests.sh --kernel-tree in the build
# directory BUILDDIR/kernel-version.  TAP: one line per scenario, from
# run-tests.sh's summary.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/images/common.sh"
B=${1:?usage: kernel-version.sh BUILDDIR}/kernel-version

# shellcheck disable=SC2086
src=$("$TOP/images/fetch.sh" kernel $KERNEL_OTHER_PKGS) ||
	{ echo "Bail out! could not fetch $KERNEL_OTHER_PKGS"; exit 1; }
ver=$("$TOP/images/source-tree.py" version linux "$src")
echo "TAP version 13"
start=$SECONDS
SIMGPU_BUILDDIR=$B "$TOP/run-tests.sh" --kernel-tree "$src" \
	--no-suite slow --no-suite host --no-suite qtest >"$B.log" 2>&1
rc=$?
python3 - "$B/meson-logs/testlog.json" "$ver" <<'PY'
import json, sys
path, ver = sys.argv[1], sys.argv[2]
try:
    tests = [json.loads(line) for line in open(path)]
except OSError:
    tests = []
print("1..%d" % max(len(tests), 1))
if not tests:
    print("not ok 1 - no test ran on Linux %s (see the log)" % ver)
for i, t in enumerate(tests, 1):
    ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
    print("%s %d - Linux %s: %s %s in %.0fs" % (
        "ok" if ok else "not ok", i, ver, t["name"], t["result"],
        t["duration"]))
PY
echo "# run-tests.sh on Linux $ver: $(tail -n 1 "$B.log") in $((SECONDS - start))s (log: $B.log)"
[ $rc = 0 ] || tail -n 30 "$B.log" | sed 's/^/# /'
exit $rc
