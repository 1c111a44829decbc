#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What run-tests.sh needs to know of the tests it runs, from meson's
introspection of BUILDDIR.

usage: test-needs.py BUILDDIR kernels NAME...
       test-needs.py BUILDDIR targets NAME...
       test-needs.py BUILDDIR kinds NAME...

kernels: "FLAVOUR[+FLAVOUR] NAME" per test, the guest kernels it boots
         (it depends on the kernel-, module- or initramfs-FLAVOUR
         target), or "- NAME" for none.
targets: the targets to build for the tests, one per line, for meson
         compile: what they depend on, and the default targets, but a
         kernel flavour's only if one of the tests boots it (a shard of
         debug-kernel tests does not build the default kernel).
kinds:   "alone NAME" (is_parallel: false), "heavy NAME" (suite heavy),
         "background NAME" (suite background) or "light NAME".
"""
import json
import os
import re
import subprocess
import sys


def flavour(target):
    """FLAVOUR of a kernel-, module- or initramfs-FLAVOUR target, or None"""
    m = re.fullmatch(r'(?:kernel|module|initramfs)-(\w+)', target['name'])
    return m.group(1) if m else None


def main():
    if len(sys.argv) < 3 or sys.argv[2] not in ('kernels', 'targets',
                                                 'kinds'):
        print(__doc__.strip().split('\n\n')[1], file=sys.stderr)
        return 2
    builddir, mode, names = sys.argv[1], sys.argv[2], set(sys.argv[3:])

    def intro(what):
        return json.loads(subprocess.check_output(
            ['meson', 'introspect', builddir, what]))

    tests = [t for t in intro('--tests') if t['name'] in names]
    if mode == 'kinds':
        for t in tests:
            # suites are "PROJECT:SUITE"
            suites = [s.split(':')[-1] for s in t['suite']]
            print('alone' if not t['is_parallel'] else
                  'heavy' if 'heavy' in suites else
                  'background' if 'background' in suites else 'light',
                  t['name'])
        return 0
    targets = intro('--targets')
    by_id = {t['id']: t for t in targets}
    if mode == 'kernels':
        for t in tests:
            booted = {flavour(by_id[d]) for d in t['depends'] if d in by_id}
            print('+'.join(sorted(booted - {None})) or '-', t['name'])
        return 0
    need = {d for t in tests for d in t['depends']}
    booted = {flavour(by_id[d]) for d in need if d in by_id} - {None}
    for t in targets:
        if t['id'] in need or (t['build_by_default'] and
                               flavour(t) in booted | {None}):
            # subdir/name: unambiguous for meson compile
            sub = os.path.relpath(os.path.dirname(t['filename'][0]), builddir)
            print(t['name'] if sub == '.' else sub + '/' + t['name'])
    return 0


if __name__ == '__main__':
    sys.exit(main())
