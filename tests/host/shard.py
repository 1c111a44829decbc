#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Split tests into N shards of similar expected time.

usage: shard.py K/N TIMES.json [--group GROUP:NAME,...]... NAME...
       shard.py --lanes N TIMES.json NAME...
       shard.py --record TESTLOG.json TIMES.json [COMMENT]

Prints the names of shard K (1-based), one per line.  Deterministic: the
same names, times and N give the same shards on every machine.  The
tests go longest first (expected seconds from TIMES.json, a name ->
seconds map; a test it does not list counts as the median), each to the
shard with the least time so far (ties: the lowest shard number).
Exit status 2 on a bad K/N.

--group puts NAMEs in GROUP: run-tests.sh groups the tests by the guest
kernel they boot, so that a shard of a CI job on a fresh machine builds
one kernel, not two (~25 CPU minutes each).  With at least as many
shards as groups, each shard holds tests of one group only: every group
gets one shard, the spare ones go one by one to the group with the most
expected time per shard (ties: the first group by name), and the groups
take the shards in the order of their names; the tests of no group go
last, each to the least loaded shard.  With fewer shards than groups,
the groups are ignored.

--lanes splits the tests of one machine into N lanes that run side by
side, one test at a time each (run-tests.sh): it prints "LANE NAME"
lines, LANE 1-based: longest first, each to the least loaded lane.
(run-tests.sh runs the heavy tests before the lanes, one at a time.)

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


def lanes(names, times, n):
    """N lists of names of similar expected time, and their times."""
    known = list(times.values())
    default = statistics.median(known) if known else 1.0
    load = [0.0] * n
    out = [[] for _ in range(n)]
    for name in sorted(set(names), key=lambda t: (-times.get(t, default),
                                                 t)):
        i = min(range(n), key=lambda j: (load[j], j))
        out[i].append(name)
        load[i] += times.get(name, default)
    return out, load


def shards(names, times, n, group=None):
    """N lists of names of similar expected time, and their times; with
    GROUP (name -> group), no shard mixes two groups (when N allows)."""
    group = group or {}
    names = sorted(set(names))
    keys = sorted({group[t] for t in names if t in group})
    if len(keys) < 2 or n < len(keys):
        return lanes(names, times, n)
    known = list(times.values())
    default = statistics.median(known) if known else 1.0
    total = {k: sum(times.get(t, default) for t in names if group.get(t) == k)
             for k in keys}
    count = {k: 1 for k in keys}
    for _ in range(n - len(keys)):
        k = max(keys, key=lambda k: (total[k] / count[k], -keys.index(k)))
        count[k] += 1
    out, load = [], []
    for k in keys:
        part, part_load = lanes([t for t in names if group.get(t) == k],
                                times, count[k])
        out += part
        load += part_load
    for t in sorted((t for t in names if t not in group),
                    key=lambda t: (-times.get(t, default), t)):
        i = min(range(n), key=lambda j: (load[j], j))
        out[i].append(t)
        load[i] += times.get(t, default)
    return out, load


def read_times(path):
    """"simgpu:suite / name" (meson's full names) or "name" -> seconds"""
    with open(path) as f:
        return {k.split(' / ')[-1]: v for k, v in json.load(f).items()
                if not k.startswith('_')}


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
    if len(sys.argv) >= 4 and sys.argv[1] == '--lanes':
        if not re.fullmatch(r'[1-9][0-9]*', sys.argv[2]):
            print("shard.py: bad lane count '%s'" % sys.argv[2],
                  file=sys.stderr)
            return 2
        out, load = lanes(sys.argv[4:], read_times(sys.argv[3]),
                          int(sys.argv[2]))
        for k, lane in enumerate(out):
            for name in lane:
                print(k + 1, name)
        print('shard.py: %d lanes, ~%s s expected' % (
            len(out), ', '.join('%.0f' % x for x in load)), file=sys.stderr)
        return 0
    if len(sys.argv) < 3:
        print(__doc__.strip().split('\n')[2], file=sys.stderr)
        return 2
    kn = parse(sys.argv[1])
    if not kn:
        print("shard.py: bad shard '%s': expected K/N with 1 <= K <= N"
              % sys.argv[1], file=sys.stderr)
        return 2
    k, n = kn
    names, group = sys.argv[3:], {}
    while names[:1] == ['--group'] and len(names) > 1:
        key, _, members = names[1].partition(':')
        group.update((t, key) for t in members.split(',') if t)
        names = names[2:]
    out, load = shards(names, read_times(sys.argv[2]), n, group)
    print('\n'.join(out[k - 1]))
    kinds = lambda s: '+'.join(sorted({group[t] for t in s if t in group}))
    print('shard.py: shard %d/%d: %d tests, ~%.0f s expected (shards: %s)%s'
          % (k, n, len(out[k - 1]), load[k - 1],
             ', '.join('%.0f' % x for x in load),
             '; groups: ' + ', '.join(kinds(s) or '-' for s in out)
             if group else ''), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
