#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Print a table of the VM test scenarios' results: name, suite, status and
wall time, from BUILDDIR/meson-logs/scenarios/*/stats.json (scenario.py).

usage: scenario-times.py BUILDDIR [--since EPOCH]

--since keeps only results written at or after EPOCH (seconds), e.g. those
of one ./run-tests.sh run.  Prints nothing if there are no results.
"""

import argparse
import glob
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builddir")
    ap.add_argument("--since", type=float, default=0)
    args = ap.parse_args()

    rows = []
    pattern = os.path.join(args.builddir, "meson-logs", "scenarios", "*",
                           "stats.json")
    for path in glob.glob(pattern):
        try:
            if os.path.getmtime(path) < args.since:
                continue
            with open(path) as f:
                st = json.load(f)
            rows.append((st.get("suite") or "?", st["scenario"],
                         st["status"], float(st["seconds"])))
        except (OSError, ValueError, KeyError, TypeError) as e:
            print("scenario-times.py: %s: %s" % (path, e), file=sys.stderr)
    if not rows:
        return 0
    rows.sort()
    width = max(len(r[1]) for r in rows + [("", "scenario")])
    print("%-*s  %-6s  %-6s  %8s" % (width, "scenario", "suite", "status",
                                     "seconds"))
    for suite, name, status, secs in rows:
        print("%-*s  %-6s  %-6s  %8.1f" % (width, name, suite, status, secs))
    print("%-*s  %-6s  %-6s  %8.1f" % (width, "total (%d)" % len(rows), "",
                                       "", sum(r[3] for r in rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
