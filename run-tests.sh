#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh [MESON TEST ARGS]: build everything that is missing and run
# the test suites with meson test.  The last line is "N passed, N failed".
# Example: ./run-tests.sh --suite qtest
set -uo pipefail
TOP=$(cd "$(dirname "$0")" && pwd)
B=${SIMGPU_BUILDDIR:-$TOP/build}

"$TOP/images/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$B/build.ninja" ]; then
	meson setup "$B" "$TOP" >/dev/null || { echo "meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
start=$(date +%s)
# Also what the tests depend on beyond the default targets (e.g. the
# initramfs of a scenario's kernel flavour), as meson test would.
meson compile -C "$B" --ninja-args=all,meson-test-prereq || { echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "run-tests.sh: build took $(( $(date +%s) - start ))s"

rm -f "$B/meson-logs/testlog.json"
tests_start=$(date +%s)
meson test -C "$B" --print-errorlogs --no-rebuild "$@"
rc=$?
# Per-scenario wall times of this run (VM tests only).
/usr/bin/python3 "$TOP/tests/host/scenario-times.py" "$B" --since "$tests_start"
/usr/bin/python3 - "$B/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
                print("FAILED: " + json.loads(line)["name"])
except FileNotFoundError:
    failed = 1
if skipped:
    print("%d skipped" % skipped)
print("%d passed, %d failed" % (passed, failed))
PY
exit $rc
