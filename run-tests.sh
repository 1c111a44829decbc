#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh [--all] [MESON TEST ARGS]: build everything that is missing
# and run the tests with meson test.  The last line is "N passed, N failed".
#
# Without arguments: the quick set (what CI runs), every test but the
# scenarios marked "slow: yes" (meson suite "slow": full-size and long
# versions).  --all: every test.  Other arguments go to meson test as
# they are (no filter added), e.g.
#   ./run-tests.sh --suite qtest
#   ./run-tests.sh --suite shrink --no-suite slow
set -uo pipefail
TOP=$(cd "$(dirname "$0")" && pwd)
B=${SIMGPU_BUILDDIR:-$TOP/build}

case "${1:-}" in
-h|--help)
	sed -n '4,13s/^# \{0,1\}//p' "$0"
	exit 0 ;;
--all)
	shift
	set -- "$@" ;;
"")
	set -- --no-suite slow ;;
esac

"$TOP/images/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$B/build.ninja" ]; then
	meson setup "$B" "$TOP" >/dev/null || { echo "meson setup failed"; echo "0 passed, 1 failed"; exit 1; }
fi
# The tests to run, then one build of everything they need beyond the
# default targets (another kernel flavour, the Debian rootfs): one ninja
# run, so the QEMU, kernel and rootfs builds overlap instead of waiting
# for each other (none of them keeps both cores busy all the time).
# First bring build.ninja and the test list up to date.
ninja -C "$B" build.ninja >/dev/null ||
	{ echo "meson reconfigure failed"; echo "0 passed, 1 failed"; exit 1; }
mapfile -t names < <(meson test -C "$B" --no-rebuild --list "$@" 2>/dev/null |
	sed -n 's|^[^ ]* / ||p')
if [ ${#names[@]} = 0 ]; then
	echo "run-tests.sh: no test matches: $*"
	echo "0 passed, 1 failed"
	exit 1
fi
mapfile -t targets < <(/usr/bin/python3 - "$B" "${names[@]}" <<'PY'
import json, os, subprocess, sys
b, names = sys.argv[1], set(sys.argv[2:])
intro = lambda what: json.loads(subprocess.check_output(
    ["meson", "introspect", b, what]))
need = set()
for t in intro("--tests"):
    if t["name"] in names:
        need.update(t["depends"])
for t in intro("--targets"):
    if t["build_by_default"] or t["id"] in need:
        # subdir/name: unambiguous for meson compile
        sub = os.path.relpath(os.path.dirname(t["filename"][0]), b)
        print(t["name"] if sub == "." else sub + "/" + t["name"])
PY
)
start=$(date +%s)
meson compile -C "$B" "${targets[@]}" ||
	{ echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
echo "run-tests.sh: build took $(( $(date +%s) - start ))s"

rm -f "$B/meson-logs/testlog.json"
tests_start=$(date +%s)
meson test -C "$B" --no-rebuild --print-errorlogs "$@" "${names[@]}"
rc=$?
# Per-scenario wall times of this run (VM tests only).
/usr/bin/python3 "$TOP/tests/host/scenario-times.py" "$B" --since "$tests_start"
/usr/bin/python3 - "$B/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
failures = []
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)
            if r["result"] in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r["result"] == "SKIP":
                skipped += 1
            else:
                failed += 1
                failures.append(r)
except FileNotFoundError:
    failed = 1
# Why each test failed, last, where a truncated CI log still shows it:
# its failed TAP points and their diagnostics (scenario.py puts the
# offending console lines there).
for r in failures:
    print("FAILED: %s (%s after %.0fs)" % (r["name"], r["result"],
                                            r.get("duration", 0)))
    lines, keep = [], False
    for l in r.get("stdout", "").splitlines():
        if l.startswith("not ok"):
            keep = True
        elif not l.startswith("#"):
            keep = False
        if keep:
            lines.append("  " + l[:200])
    print("\n".join(lines[:24] or ["  (no failed TAP point: see its log)"]))
if skipped:
    print("%d skipped" % skipped)
print("%d passed, %d failed" % (passed, failed))
PY
exit $rc
