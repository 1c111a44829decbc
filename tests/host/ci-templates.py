#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ci-templates.py: the CI files in ci-templates/ parse as YAML and do
what the README says: run ./run-tests.sh --shard K/N for every K of one
N as a matrix, cache ~/.cache/simgpu (SIMGPU_CACHE) under a key of each
shard's own (a shard builds the one kernel it boots), keep the shards'
results, consoles and stats.json as artifacts, and merge the shards with
tests/host/merge-results.  TAP output."""
import os
import re
import sys

import yaml

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
n = failed = 0


def check(ok, what):
    global n, failed
    n += 1
    failed += not ok
    print('%sok %d - %s' % ('' if ok else 'not ', n, what))
    return ok


def shards_ok(shards):
    """Every K/N for K = 1..N, for one N."""
    m = [re.fullmatch(r'([0-9]+)/([0-9]+)', s) for s in shards]
    if not all(m):
        return False
    ns = {int(x.group(2)) for x in m}
    ks = sorted(int(x.group(1)) for x in m)
    return len(ns) == 1 and ks == list(range(1, ns.pop() + 1))


def load(name):
    try:
        with open(os.path.join(TOP, 'ci-templates', name)) as f:
            return yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        print('# %s: %s' % (name, e))
        return None


def text(node):
    return yaml.safe_dump(node)


print('TAP version 13')
print('1..4')
gh = load('github-actions.yml')
if check(isinstance(gh, dict) and 'jobs' in gh,
         'github-actions.yml parses as YAML, with jobs'):
    test = gh['jobs'].get('test', {})
    shards = test.get('strategy', {}).get('matrix', {}).get('shard', [])
    steps = text(test.get('steps', []))
    check(shards_ok(shards) and
          './run-tests.sh --shard ${{ matrix.shard }}' in steps and
          'actions/cache' in steps and '~/.cache/simgpu' in steps and
          any(st.get('id') == 'key' and 'matrix.shard' in st.get('run', '')
              for st in test.get('steps', [])) and
          'console.log' in steps and 'stats.json' in steps and
          'shard-*.junit.xml' in steps and
          'merge-results' in text(gh['jobs'].get('results', {})),
          'github-actions.yml: shards %s as a matrix, the cache, the '
          'artifacts, the merge job; a cache key per shard' % shards)
else:
    check(False, 'github-actions.yml: not checked')
gl = load('gitlab-ci.yml')
if check(isinstance(gl, dict) and 'simgpu' in gl,
         'gitlab-ci.yml parses as YAML, with the simgpu job'):
    job = gl['simgpu']
    shards = job.get('parallel', {}).get('matrix', [{}])[0].get('SHARD', [])
    check(shards_ok(shards) and
          './run-tests.sh --shard "$SHARD"' in text(job.get('script')) and
          'SIMGPU_CACHE' in text(job.get('before_script')) and
          '.cache/simgpu' in text(job.get('cache')) and
          '$CI_NODE_INDEX' in text(job.get('cache', {}).get('key')) and
          'junit' in text(job.get('artifacts')) and
          'console.log' in text(job.get('artifacts')) and
          'merge-results' in text(gl.get('simgpu-results', {})),
          'gitlab-ci.yml: shards %s as a parallel matrix, the cache, the '
          'artifacts and JUnit report, the merge job; a cache key per shard'
          % shards)
else:
    check(False, 'gitlab-ci.yml: not checked')
print('# %d passed, %d failed' % (n - failed, failed))
sys.exit(1 if failed else 0)
