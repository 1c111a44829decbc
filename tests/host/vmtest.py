#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the simgpu VM once through run-vm.sh and report TAP.

usage: vmtest.py --builddir DIR --name NAME [--expect-status N]
                 [--expect-message TEXT] [--allow-panic] -- RUN-VM-ARGS...

Test points: run-vm.sh's exit status, its message (if one is expected),
the guest's own TAP results (every guest test point must pass), and a
clean kernel log: any WARNING/BUG/Oops/lockdep/KASAN/... line fails the
run and is shown.  The console is kept in DIR/meson-logs/vm/NAME.log.
"""

import argparse
import os
import re
import subprocess
import sys

# Kernel log lines that always mean a kernel bug or an unexpected event.
SPLATS = re.compile(
    r"WARNING:|BUG:|Oops|general protection fault|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|"
    r"KASAN|UBSAN|sleeping function called from invalid context|"
    r"Kernel panic|Out of memory: Killed process|invoked oom-killer|"
    r"Call Trace:")
GUEST_TAP = re.compile(r"^(not )?ok \d+")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--expect-status", type=int, default=0)
    ap.add_argument("--expect-message")
    ap.add_argument("--allow-panic", action="store_true")
    ap.add_argument("vmargs", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    vmargs = args.vmargs[1:] if args.vmargs[:1] == ["--"] else args.vmargs

    top = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    logdir = os.path.join(args.builddir, "meson-logs", "vm")
    os.makedirs(logdir, exist_ok=True)
    log = os.path.join(logdir, args.name + ".log")

    cmd = [os.path.join(top, "run-vm.sh"), "--no-build",
           "--builddir", args.builddir, "--log", log] + vmargs
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, errors="replace")
    with open(log, errors="replace") as f:
        console = f.read().splitlines()

    points = []

    def point(ok, desc, diag=()):
        points.append((ok, desc, list(diag)))

    tail = ["console: " + line for line in console[-25:]]
    errs = ["run-vm.sh: " + line for line in res.stderr.splitlines()[-5:]]
    point(res.returncode == args.expect_status,
          "run-vm.sh exit status %d (expected %d)" %
          (res.returncode, args.expect_status), errs + tail)
    if args.expect_message:
        point(args.expect_message in res.stderr,
              "run-vm.sh says '%s'" % args.expect_message, errs)

    guest = [l.strip() for l in console if GUEST_TAP.match(l.strip())]
    failed = [l for l in guest if l.startswith("not ok")]
    if guest:
        point(not failed, "guest test points: %d passed, %d failed" %
              (len(guest) - len(failed), len(failed)), failed)

    if not args.allow_panic:
        splats = [l for l in console if SPLATS.search(l)]
        point(not splats, "no kernel warnings or splats in the console",
              splats[:20])

    print("TAP version 13")
    print("1..%d" % len(points))
    for i, (ok, desc, diag) in enumerate(points, 1):
        print("%sok %d - %s: %s" % ("" if ok else "not ", i, args.name, desc))
        if not ok:
            for line in diag:
                print("# " + line)
    print("# console log: " + log)
    return 0 if all(p[0] for p in points) else 1


if __name__ == "__main__":
    sys.exit(main())
