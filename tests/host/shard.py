#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Split tests into N shards of similar expected time.

usage: shard.py K/N TIMES.json NAME...
       shard.py --record TESTLOG.json TIMES.json [COMMENT]

Prints the names of shard K (1-based), one per line.  Deterministic: the
same names, times and N give the same shards on every machine.  The
tests go longest first (expected seconds from TIMES.json, a name ->
seconds map; a test it does not list counts as the median), each to the
shard with the least time so far (ties: the lowest shard number).
Exit status 2 on a bad K/N.

--record writes TIMES.json from a run's meson-logs/testlog.json: the
wall seconds of each test that passed (a failed test's time says little
about the next run), with COMMENT saying which run it was.
"""
import json
import re
import statistics
import sys


def parse(spec):
    m = re.fullmatch(r'([1-9][0-9]*)/([1-9][0-9]*)', spec)
    if not m or int(m.group(1)) > int(m.group(2)):
        return None
    return int(m.group(1)), int(m.group(2))


def shards(names, times, n):
    known = list(times.values())
    default = statistics.median(known) if known else 1.0
    load = [0.0] * n
    out = [[] for _ in range(n)]
    for name in sorted(set(names), key=lambda t: (-times.get(t, default), t)):
        i = min(range(n), key=lambda j: (load[j], j))
        out[i].append(name)
        load[i] += times.get(name, default)
    return out, load


def record(testlog, out, comment):
    times = {'_comment': comment}
    with open(testlog) as f:
        for line in f:
            t = json.loads(line)
            if t.get('result') == 'OK':
                times[t['name']] = round(t['duration'], 1)
    with open(out, 'w') as f:
        json.dump(times, f, indent=1, sort_keys=True)
        f.write('\n')
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == '--record':
        return record(sys.argv[2], sys.argv[3], ' '.join(sys.argv[4:]) or
                      'Wall seconds of each test in one run: the expected '
                      'times run-tests.sh --shard balances.')
    if len(sys.argv) < 3:
        print(__doc__.strip().split('\n')[2], file=sys.stderr)
        return 2
    kn = parse(sys.argv[1])
    if not kn:
        print("shard.py: bad shard '%s': expected K/N with 1 <= K <= N"
              % sys.argv[1], file=sys.stderr)
        return 2
    k, n = kn
    with open(sys.argv[2]) as f:
        # "simgpu:suite / name" (meson's full names) or "name"
        times = {k.split(' / ')[-1]: v for k, v in json.load(f).items()
                 if not k.startswith('_')}
    out, load = shards(sys.argv[3:], times, n)
    print('\n'.join(out[k - 1]))
    print('shard.py: shard %d/%d: %d tests, ~%.0f s expected (shards: %s)' % (
        k, n, len(out[k - 1]), load[k - 1],
        ', '.join('%.0f' % x for x in load)), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
