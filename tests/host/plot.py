#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Render the guest's memory samples (run-vm.sh --samples) as an SVG.

usage: plot.py [-o OUT.svg] [--title TEXT] SAMPLES.tsv

SAMPLES.tsv is what images/sampler.awk wrote: "#" lines (interval, the
VRAM and GART layout), a header naming the columns, then one
tab-separated line per sample ("-" for a value that could not be read).
The SVG has one panel per quantity, time (seconds from the first sample)
on x, all panels on the same time axis:

  vram     VRAM used per region (MiB), region sizes dashed
  tt       TT (GART) used and the system pages held by BOs (MiB)
  shrink   pages backed up now; purged, restored, written back (cumulative)
  memory   guest swap used, MemFree, Shmem (MiB)
  copy     engine and CPU copy throughput (MiB/s, per sample interval)
  traffic  pages backed up and restored by the driver, swapped out and in
           by the kernel (MiB/s)
  events   evictions and shrink passes per second

Intervals with a shrink pass are shaded in every panel.  Python 3
standard library only.
"""

import argparse
import math
import sys
from xml.sax.saxutils import escape

MIB = 1 << 20
PAGE = 4096

# panel id, title, unit, [(label, function(row, prev) -> value or None)]
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
          "#8c564b", "#e377c2", "#17becf")

WIDTH = 1080
PANEL_H = 150
GAP = 46
LEFT = 78
RIGHT = 265
TOP = 54
BOTTOM = 46


class SamplesError(Exception):
    pass


def parse(path):
    """(meta lines, column names, rows as dicts of float or None)."""
    meta, cols, rows = [], None, []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise SamplesError("cannot read %s: %s" % (path, e.strerror))
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line:
            continue
        if line.startswith("#"):
            meta.append(line[1:].strip())
            continue
        fields = line.split("\t")
        if cols is None:
            if fields[0] != "t_ms":
                raise SamplesError("%s:%d: expected the header line "
                                   "'t_ms ...'" % (path, lineno))
            cols = fields
            continue
        if len(fields) != len(cols):
            continue        # a line cut short when the VM stopped
        row = {}
        for name, val in zip(cols, fields):
            try:
                row[name] = float(val)
            except ValueError:
                row[name] = None
        if row["t_ms"] is not None:
            rows.append(row)
    if cols is None:
        raise SamplesError("%s: no header line (no samples)" % path)
    return meta, cols, rows


def gauge(col, scale=1.0):
    def f(row, prev):
        v = row.get(col)
        return None if v is None else v * scale
    return f


def rate(col, scale=1.0):
    """Per second over the interval since the previous sample."""
    def f(row, prev):
        if prev is None:
            return None
        a, b = prev.get(col), row.get(col)
        dt = (row["t_ms"] - prev["t_ms"]) / 1000.0
        if a is None or b is None or dt <= 0 or b < a:
            return None     # unknown, or the counters were reset
        return (b - a) / dt * scale
    return f


def swap_used(row, prev):
    t, f = row.get("SwapTotal_kB"), row.get("SwapFree_kB")
    return None if t is None or f is None else (t - f) * 1024 / MIB


def panels(cols, meta):
    vram_regions = [c for c in cols if c.startswith("vram") and
                    c.endswith("_used_bytes")]
    sizes = {}
    for m in meta:
        w = m.split()
        if len(w) >= 3 and w[1] == "size":
            try:
                sizes[w[0]] = int(w[2])
            except ValueError:
                pass
    vram_caps = [("%s size" % c.split("_")[0], sizes[c.split("_")[0]] / MIB)
                 for c in vram_regions if c.split("_")[0] in sizes]
    return [
        ("vram", "VRAM used per region", "MiB",
         [(c.split("_")[0] + " used", gauge(c, 1 / MIB))
          for c in vram_regions], vram_caps),
        ("tt", "TT (GART) used and system pages held by BOs", "MiB",
         [("TT used", gauge("tt_used_bytes", 1 / MIB)),
          ("BO system pages", gauge("bo_system_pages", PAGE / MIB)),
          ("purgeable", gauge("purgeable_pages", PAGE / MIB))], []),
        ("shrink", "Shrinker: backed up now; purged, restored (total)", "MiB",
         [("backed up (now)", gauge("backed_up_pages", PAGE / MIB)),
          ("purged (total)", gauge("pages_purged", PAGE / MIB)),
          ("restored (total)", gauge("pages_restored", PAGE / MIB)),
          ("written back (total)", gauge("pages_written_back", PAGE / MIB)),
          ("TTM swapped out (total)", gauge("ttm_swapout_pages",
                                            PAGE / MIB))], []),
        ("memory", "Guest memory", "MiB",
         [("swap used", swap_used),
          ("MemFree", gauge("MemFree_kB", 1024 / MIB)),
          ("Shmem", gauge("Shmem_kB", 1024 / MIB))], []),
        ("copy", "Copy throughput (engine, CPU)", "MiB/s",
         [("engine", rate("engine_bytes", 1 / MIB)),
          ("CPU", rate("cpu_bytes", 1 / MIB))], []),
        ("traffic", "Backup, restore and swap traffic", "MiB/s",
         [("backed up", rate("pages_backed_up", PAGE / MIB)),
          ("restored", rate("pages_restored", PAGE / MIB)),
          ("swap out", rate("pswpout", PAGE / MIB)),
          ("swap in", rate("pswpin", PAGE / MIB))], []),
        ("events", "Evictions and shrink passes", "per second",
         [("evictions/s", rate("evictions")),
          ("shrink passes/s", rate("shrink_passes"))], []),
    ]


def nice_step(span, ticks=5):
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 1000 or v == int(v):
        return "%d" % round(v)
    return ("%.2f" % v).rstrip("0").rstrip(".")


def render(meta, cols, rows, title):
    if len(rows) < 2:
        raise SamplesError("need at least 2 samples, got %d" % len(rows))
    t0 = rows[0]["t_ms"]
    ts = [(r["t_ms"] - t0) / 1000.0 for r in rows]
    tmax = max(ts[-1], 1e-3)
    plot_w = WIDTH - LEFT - RIGHT
    specs = panels(cols, meta)
    height = TOP + len(specs) * (PANEL_H + GAP) - GAP + BOTTOM

    def x(t):
        return LEFT + t / tmax * plot_w

    # Intervals in which a shrink pass ran, shaded in every panel.
    shrink = []
    for i in range(1, len(rows)):
        a, b = rows[i - 1].get("shrink_passes"), rows[i].get("shrink_passes")
        if a is not None and b is not None and b > a:
            shrink.append((ts[i - 1], ts[i]))

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">' %
           (WIDTH, height, WIDTH, height),
           '<title>%s</title>' % escape(title),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>'
           % (LEFT, escape(title)),
           '<text x="%d" y="40" fill="#555">%d samples over %.1f s '
           '(%s); shaded: intervals with a shrink pass</text>' %
           (LEFT, len(rows), tmax, escape("; ".join(meta[:1])))]
    xstep = nice_step(tmax, 10)
    for n, (pid, ptitle, unit, series, caps) in enumerate(specs):
        top = TOP + n * (PANEL_H + GAP) + 14
        bottom = top + PANEL_H - 14
        values = []
        for label, fn in series:
            vals = [fn(r, rows[i - 1] if i else None)
                    for i, r in enumerate(rows)]
            values.append((label, vals))
        known = [v for _, vals in values for v in vals if v is not None]
        known += [c for _, c in caps]
        ymax = max(known + [0.0])
        ymax = ymax * 1.08 if ymax > 0 else 1.0
        ystep = nice_step(ymax, 4)
        ymax = math.ceil(ymax / ystep) * ystep

        def y(v):
            return bottom - v / ymax * (bottom - top)

        out.append('<g id="panel-%s" class="panel">' % pid)
        out.append('<text x="%d" y="%d" font-size="12" font-weight="bold">'
                   '%s</text>' % (LEFT, top - 5, escape(ptitle)))
        for a, b in shrink:
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" '
                       'fill="#ffd8a8" opacity="0.6"/>' %
                       (x(a), top, max(x(b) - x(a), 1.0), bottom - top))
        # grid, y ticks and the y-axis label
        v = 0.0
        while v <= ymax + ystep / 2:
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" '
                       'stroke="#ddd"/>' % (LEFT, y(v), LEFT + plot_w, y(v)))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' %
                       (LEFT - 4, y(v) + 4, fmt(v)))
            v += ystep
        out.append('<text transform="translate(%d,%.1f) rotate(-90)" '
                   'text-anchor="middle" fill="#333">%s</text>' %
                   (16, (top + bottom) / 2, escape(unit)))
        t = 0.0
        while t <= tmax + 1e-9:
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" '
                       'stroke="#eee"/>' % (x(t), top, x(t), bottom))
            out.append('<text x="%.1f" y="%d" text-anchor="middle" '
                       'fill="#555">%s</text>' % (x(t), bottom + 13, fmt(t)))
            t += xstep
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
                   'stroke="#888"/>' % (LEFT, top, plot_w, bottom - top))
        legend = []
        for k, (label, cap) in enumerate(caps):
            color = COLORS[k % len(COLORS)]
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" '
                       'stroke="%s" stroke-dasharray="5,4" opacity="0.7"/>'
                       % (LEFT, y(cap), LEFT + plot_w, y(cap), color))
            legend.append((label, color, True))
        for k, (label, vals) in enumerate(values):
            color = COLORS[k % len(COLORS)]
            seg = []
            for t, v in zip(ts, vals):
                if v is None:
                    if len(seg) > 1:
                        out.append(polyline(seg, color))
                    seg = []
                    continue
                seg.append((x(t), y(v)))
            if len(seg) > 1:
                out.append(polyline(seg, color))
            peak = max([v for v in vals if v is not None] or [0])
            legend.append(("%s (max %s)" % (label, fmt(peak)), color, False))
        for k, (label, color, dashed) in enumerate(legend):
            ly = top + 8 + k * 15
            lx = LEFT + plot_w + 12
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" '
                       'stroke-width="2"%s/>' %
                       (lx, ly, lx + 18, ly, color,
                        ' stroke-dasharray="5,4"' if dashed else ""))
            out.append('<text x="%d" y="%d">%s</text>' %
                       (lx + 23, ly + 4, escape(label)))
        out.append('</g>')
    out.append('<text x="%d" y="%d" text-anchor="middle" fill="#333">'
               'time since the first sample (s)</text>' %
               (LEFT + plot_w // 2, height - 12))
    out.append('</svg>')
    return "\n".join(out) + "\n"


def polyline(points, color):
    return ('<polyline fill="none" stroke="%s" stroke-width="1.6" '
            'points="%s"/>' % (color, " ".join("%.1f,%.1f" % p
                                                for p in points)))


def main():
    ap = argparse.ArgumentParser(
        description="Render run-vm.sh --samples output as an SVG.")
    ap.add_argument("samples", help="the samples file (TSV)")
    ap.add_argument("-o", "--output", help="SVG file (default: stdout)")
    ap.add_argument("--title", help="plot title (default: the file name)")
    args = ap.parse_args()
    try:
        meta, cols, rows = parse(args.samples)
        svg = render(meta, cols, rows, args.title or args.samples)
    except SamplesError as e:
        print("plot.py: error: %s" % e, file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(svg)
    else:
        sys.stdout.write(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
