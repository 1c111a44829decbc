#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# observability.sh BUILDDIR [KERNEL]: one short VM run (tests/host/observability.scn:
# evictions, then a forced shrink pass) through scenario.py with --plot
# and --trace, i.e. run-vm.sh --samples and --trace, and checks of what
# they produced: the samples (enough lines, increasing timestamps, the
# VRAM gauge moved), the SVG (well-formed XML with every panel), the guest
# trace (simgpu events) and QEMU's trace (simgpu_ events).  KERNEL: the
# kernel flavour it boots (default: the scenario's).  TAP output.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:?usage: observability.sh BUILDDIR [KERNEL]}" && pwd)
scn=$TOP/tests/host/observability.scn${2:+@$2}
out=$BUILD/meson-logs/observability
rm -rf "$out"
mkdir -p "$out"

. "$TOP/tests/host/tap.sh"

echo "TAP version 13"
echo "1..6"
"$TOP/tests/host/scenario.py" --builddir "$BUILD" --outdir "$out" \
	--sample-ms 100 --plot "$out/memory.svg" --trace "$out/trace" \
	"$scn" >"$out/scenario.tap" 2>&1
rc=$?
result $rc "scenario with --plot and --trace passes" \
	"$(grep -E '^not ok|error' "$out/scenario.tap" | head -5)" \
	"log: $out/scenario.tap"

samples=$out/samples.tsv
diag=$(python3 - "$samples" <<'PY'
import sys
rows, cols = [], None
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if line.startswith("#") or not line.strip():
        continue
    if cols is None:
        cols = f
        continue
    if len(f) == len(cols):
        rows.append(dict(zip(cols, f)))
if cols is None or len(rows) < 10:
    print("expected a header and >= 10 samples, got %d" % len(rows))
    sys.exit()
t = [int(r["t_ms"]) for r in rows]
if any(b <= a for a, b in zip(t, t[1:])):
    print("timestamps do not increase: %s" % t[:20])
for c in ("vram0_used_bytes", "tt_used_bytes", "bo_system_pages",
          "shrink_passes", "evictions", "MemFree_kB", "pswpout"):
    if c not in cols:
        print("no column %s in %s" % (c, " ".join(cols)))
vram = {r.get("vram0_used_bytes") for r in rows}
if len(vram) < 3:
    print("the VRAM gauge did not move: %s" % sorted(vram))
if rows[-1].get("evictions") in (None, "0", "-"):
    print("no evictions counted")
PY
)
result "$([ -z "$diag" ] && echo 0 || echo 1)" \
	"samples.tsv: >= 10 samples, increasing timestamps, VRAM gauge moved" \
	"$diag"

diag=$(python3 - "$out/memory.svg" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print("not well-formed: %s" % e)
    sys.exit()
ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
want = {"panel-" + p for p in ("vram", "tt", "shrink", "memory", "copy",
                                "traffic", "events")}
if want - ids:
    print("missing panels: %s" % " ".join(sorted(want - ids)))
lines = list(root.iter("{http://www.w3.org/2000/svg}polyline"))
if len(lines) < 10:
    print("only %d data lines" % len(lines))
PY
)
result "$([ -z "$diag" ] && echo 0 || echo 1)" \
	"memory.svg: well-formed SVG with every panel and data lines" "$diag"

gt=$out/trace/guest-trace.txt
ok=1
missing=
for ev in simgpu_bo_create simgpu_bo_move simgpu_bo_shrink simgpu_bo_restore; do
	grep -q ": $ev: " "$gt" 2>/dev/null || { ok=0; missing="$missing $ev"; }
done
result "$([ $ok = 1 ] && echo 0 || echo 1)" \
	"guest-trace.txt has the driver's events" "missing:${missing:-}" \
	"$(head -c 300 "$gt" 2>/dev/null)"
grep -q ' evict$' "$gt" 2>/dev/null
result $? "guest-trace.txt has evicting moves"

qt=$out/trace/qemu-trace.log
grep -q ':simgpu_cmd_start ' "$qt" 2>/dev/null &&
	grep -q ':simgpu_fence ' "$qt"
result $? "qemu-trace.log has the device's simgpu_ events (timestamped)" \
	"$(head -3 "$qt" 2>/dev/null)"

tap_finish "output: $out"
