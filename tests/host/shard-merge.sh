#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# shard-merge.sh: run-tests.sh --shard K/N splits the tests into shards
# that cover every test once, deterministically and with similar expected
# times; with --group (the guest kernel each test boots), no shard holds
# two groups while there are shards enough; bad shards are refused;
# merge-results combines the results of shards (meson's testlog.json and
# JUnit XML); shard.py --lanes balances the lanes.  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SHARD=$TOP/tests/host/shard.py
MERGE=$TOP/tests/host/merge-results
TIMES=$TOP/tests/test-times.json
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. "$TOP/tests/host/tap.sh"
check() { result "$@"; }

echo "TAP version 13"
echo "1..13"
mapfile -t all < <(python3 -c 'import json, sys
print("\n".join(k.split(" / ")[-1] for k in json.load(open(sys.argv[1]))
                if not k.startswith("_")))' "$TIMES")
all+=(a-test-without-a-recorded-time)
for N in 2 3; do
	rm -f "$tmp"/s*
	for ((k = 1; k <= N; k++)); do
		"$SHARD" "$k/$N" "$TIMES" "${all[@]}" >"$tmp/s$k" 2>"$tmp/e$k"
		# the same again, the names in another order
		"$SHARD" "$k/$N" "$TIMES" $(printf '%s\n' "${all[@]}" | sort -r) \
			>"$tmp/r$k" 2>/dev/null
	done
	cover=$(cat "$tmp"/s[0-9]* | sort | uniq -c | awk '$1 != 1' | wc -l)
	total=$(cat "$tmp"/s[0-9]* | sort -u | wc -l)
	same=0
	for ((k = 1; k <= N; k++)); do cmp -s "$tmp/s$k" "$tmp/r$k" || same=1; done
	# expected seconds per shard, from shard.py's note: max / min
	ratio=$(sed -n 's/.*(shards: \(.*\))$/\1/p' "$tmp/e1" |
		tr -d ',' | awk '{ mx = 0; mn = 1e9
			for (i = 1; i <= NF; i++) { if ($i > mx) mx = $i; if ($i < mn) mn = $i }
			printf "%.2f", mx / mn }')
	ok=1
	[ -n "$ratio" ] && [ "$cover" = 0 ] && [ "$total" = ${#all[@]} ] && [ $same = 0 ] &&
		awk -v r="$ratio" 'BEGIN { exit !(r <= 1.25) }' && ok=0
	check $ok "--shard K/$N: ${#all[@]} tests, each in exactly one shard ($total covered), the same shards for the names in any order, expected time max/min $ratio (<= 1.25)"
done

bad=0
for spec in 0/2 3/2 x 1/0 2 -1/2; do
	"$SHARD" "$spec" "$TIMES" a b >/dev/null 2>&1
	[ $? = 2 ] || { bad=1; echo "# shard.py $spec: not refused"; }
done
check $bad "shard.py refuses 0/2, 3/2, x, 1/0, 2, -1/2 (status 2)"

# --group: run-tests.sh groups the tests by kernel flavour.  Here the
# names that say debug are one group, the other driver- and boot- tests
# another, the rest (host tests) none.
dbg=$(printf '%s\n' "${all[@]}" | grep debug | paste -sd,)
dfl=$(printf '%s\n' "${all[@]}" | grep -v debug | grep -E '^(driver|boot|exit)-' | paste -sd,)
for N in 3 4; do
	for ((k = 1; k <= N; k++)); do
		"$SHARD" "$k/$N" "$TIMES" --group "debug:$dbg" --group "default:$dfl" \
			"${all[@]}" >"$tmp/g$k" 2>/dev/null
	done
	python3 - "$tmp" "$N" "$dbg" "$dfl" "${all[@]}" <<'PY'
import sys
tmp, n, dbg, dfl, names = sys.argv[1], int(sys.argv[2]), \
    set(sys.argv[3].split(',')), set(sys.argv[4].split(',')), sys.argv[5:]
shards = [open('%s/g%d' % (tmp, k)).read().split() for k in range(1, n + 1)]
ok = sorted(t for s in shards for t in s) == sorted(set(names))
kinds = [{('debug' if t in dbg else 'default') for t in s
          if t in dbg or t in dfl} for s in shards]
ok &= all(len(k) <= 1 for k in kinds)
ok &= {'debug'} in kinds and {'default'} in kinds
sys.exit(0 if ok else 1)
PY
	check $? "--shard K/$N --group debug:... --group default:...: every test in one shard, no shard with both groups, each group in a shard"
done

# --lanes: every test in one lane, the lanes' expected times within
# the longest test's of each other.
for N in 2 4; do
	"$SHARD" --lanes $N "$TIMES" "${all[@]}" >"$tmp/l" 2>/dev/null
	python3 - "$tmp/l" "$N" "$TIMES" "${all[@]}" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
n, names = int(sys.argv[2]), sys.argv[4:]
times = {k.split(' / ')[-1]: v for k, v in json.load(open(sys.argv[3])).items()
         if not k.startswith('_')}
default = statistics.median(times.values())
t = lambda name: times.get(name, default)
ok = sorted(r[1] for r in rows) == sorted(set(names))
load = [sum(t(r[1]) for r in rows if int(r[0]) == k) for k in range(1, n + 1)]
ok &= max(load) - min(load) <= max(t(x) for x in names)
sys.exit(0 if ok else 1)
PY
	check $? "shard.py --lanes $N: ${#all[@]} tests, each in one lane, the lanes balanced"
done

out=$("$TOP/run-tests.sh" --shard 3/2 2>&1)
rc=$?
[ $rc = 2 ] && [[ $out == *"--shard: expected K/N with 1 <= K <= N (got '3/2')"* ]] &&
	[ "$(printf '%s\n' "$out" | tail -1)" = "0 passed, 1 failed" ]
check $? "run-tests.sh --shard 3/2: status $rc, one error line and '0 passed, 1 failed'"
bad=0
for arg in 0 x 100 ''; do
	out=$("$TOP/run-tests.sh" --lanes "$arg" 2>&1)
	rc=$?
	[ $rc = 2 ] && [[ $out == *"--lanes: expected a number of lanes, 1-99 (got '$arg')"* ]] &&
		[ "$(printf '%s\n' "$out" | tail -1)" = "0 passed, 1 failed" ] ||
		{ bad=1; echo "# --lanes '$arg': status $rc: $out"; }
done
check $bad "run-tests.sh refuses --lanes 0, x, 100 and '' (status 2, one error line, '0 passed, 1 failed')"

# Two shards' results: meson's testlog.json lines.
printf '%s\n' '{"name": "simgpu:boot / a", "result": "OK", "duration": 3.0, "stdout": ""}' \
	'{"name": "simgpu:boot / b", "result": "OK", "duration": 9.0, "stdout": ""}' >"$tmp/1.json"
printf '%s\n' '{"name": "simgpu:driver / c", "result": "OK", "duration": 5.0, "stdout": ""}' \
	'{"name": "simgpu:driver / d", "result": "FAIL", "duration": 7.0, "stdout": "ok 1 - x\nnot ok 2 - the bytes differ\n# 3 bad bytes\nok 3 - y"}' >"$tmp/2.json"
out=$("$MERGE" --slowest 2 "$tmp/1.json" "$tmp/2.json")
rc=$?
[ $rc = 1 ] && [ "$(printf '%s\n' "$out" | tail -1)" = "3 passed, 1 failed" ] &&
	[[ $out == *"FAILED: simgpu:driver / d"*"not ok 2 - the bytes differ"*"# 3 bad bytes"* ]] &&
	[[ $out == *"9.0 s  simgpu:boot / b"*"7.0 s  simgpu:driver / d"* ]] &&
	[[ $out != *"ok 3 - y"* ]]
check $? "merge-results of two testlog.json: 3 passed, 1 failed, the failed test's 'not ok' point and diagnostics, the 2 slowest (status $rc)"

# The same as meson's JUnit XML, merged into one file.
for s in 1 2; do
	{
		echo '<?xml version="1.0" encoding="utf-8"?>'
		echo '<testsuites>'
		if [ $s = 1 ]; then
			echo '<testsuite name="simgpu.simgpu:boot / a" tests="1" errors="0" failures="0" skipped="0" time="3.0"><testcase name="1 - a" classname="simgpu.simgpu:boot / a"/><system-out>ok 1 - a</system-out></testsuite>'
		else
			echo '<testsuite name="simgpu.simgpu:driver / d" tests="2" errors="0" failures="1" skipped="0" time="7.0"><testcase name="1 - x" classname="simgpu.simgpu:driver / d"/><testcase name="2 - y" classname="simgpu.simgpu:driver / d"><failure/></testcase><system-out>ok 1 - x
not ok 2 - y</system-out></testsuite>'
		fi
		echo '</testsuites>'
	} >"$tmp/$s.junit.xml"
done
out=$("$MERGE" --slowest 0 --junit "$tmp/all.xml" "$tmp/1.junit.xml" "$tmp/2.junit.xml")
rc=$?
suites=$(python3 -c 'import sys, xml.etree.ElementTree as E
print(len(E.parse(sys.argv[1]).getroot().findall("testsuite")))' "$tmp/all.xml" 2>/dev/null)
[ $rc = 1 ] && [ "$(printf '%s\n' "$out" | tail -1)" = "1 passed, 1 failed" ] &&
	[[ $out == *"FAILED: simgpu:driver / d"*"not ok 2 - y"* ]] && [ "$suites" = 2 ]
check $? "merge-results of two JUnit files: 1 passed, 1 failed, the failed point; --junit wrote one file with both test suites ($suites)"

# No result at all is a failure.
out=$("$MERGE" "$tmp/missing.json" 2>/dev/null)
[ $? = 1 ] && [ "$(printf '%s\n' "$out" | tail -1)" = "0 passed, 1 failed" ]
check $? "merge-results without any result: 0 passed, 1 failed"

# --record: the times of the tests that passed, from a run's testlog.json.
printf '%s\n' '{"name": "simgpu:boot / a", "result": "OK", "duration": 4.26}' \
	'{"name": "simgpu:boot / b", "result": "FAIL", "duration": 99.0}' \
	'{"name": "simgpu:race / c", "result": "OK", "duration": 61.04}' >"$tmp/log.json"
"$SHARD" --record "$tmp/log.json" "$tmp/times.json" "a run" &&
	python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
sys.exit(t != {"_comment": "a run", "simgpu:boot / a": 4.3,
               "simgpu:race / c": 61.0})' "$tmp/times.json" &&
	[ "$("$SHARD" 1/2 "$tmp/times.json" a c 2>/dev/null)" = c ]
check $? "shard.py --record: the times of the passed tests only (the failed one left out); a shard of them"

tap_finish
