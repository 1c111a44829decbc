#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Run one simgpu VM test scenario (tests/scenarios/NAME.scn) and report TAP.

usage: scenario.py [--builddir DIR] [--outdir DIR] [--kernel FLAVOUR]
                   [--log FILE] [--summary] [--samples FILE] [--sample-ms N]
                   [--plot FILE.svg] [--trace DIR] SCENARIO
       scenario.py --list
       scenario.py --flavour SCENARIO
       scenario.py --console LOG SCENARIO
       scenario.py --check [--listed NAME...] [SCENARIO...]

SCENARIO is a name (a file in tests/scenarios/) or the path of a .scn file,
either with "@FLAVOUR" for its run on another kernel its "kernels" key
names (driver-evict@debug).  The file format is described in
tests/scenarios/README.md.

A run boots the VM once through run-vm.sh.  Test points: run-vm.sh's exit
status, its message (if one is expected), the guest's own TAP results
(every guest test point must pass), a clean kernel log (any WARNING/BUG/
Oops/lockdep/KASAN/... line fails the run and is shown with its context,
unless it is part of a known report: KNOWN_REPORTS, "allow-report"),
and, with "stats: yes", the driver's statistics before and after the
command, whose engine error/reset/fallback counters must not move unless
the scenario injects device faults ("engine-faults: yes").  The output
directory (default BUILDDIR/meson-logs/scenarios/NAME) gets console.log,
tap.txt and stats.json.

With --samples or --plot, the guest samples memory during the command
(run-vm.sh --samples) into samples.tsv in the output directory (and a copy
in FILE), --plot renders it (tests/host/plot.py), and a test point checks
that samples were recorded.  --trace DIR captures the driver's and QEMU's
trace events (run-vm.sh --trace) and checks that the guest trace arrived.
"""

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCENARIO_DIR = os.path.join(TOP, "tests", "scenarios")

# Kernel log lines that always mean a kernel bug or an unexpected event,
# matched anywhere in a console line.  The strings are the printk formats
# of the 7.3 kernel (source file in the comment).
SPLATS = re.compile("|".join((
    # WARN*() (also lockdep's "WARNING: possible circular/recursive
    # locking", refcount_t's and DMA-API's reports), BUG() and the BUG:
    # reports: sleeping in atomic context (kernel/sched/core.c), soft
    # lockups (kernel/watchdog.c), workqueue lockups, KASAN, KFENCE,
    # bad page faults
    r"WARNING:", r"BUG:", r"kernel BUG at", r"Oops",
    r"general protection fault", r"Unable to handle kernel",
    # lockdep (kernel/locking/lockdep.c), RCU lockdep
    r"possible circular locking", r"possible recursive locking",
    r"inconsistent lock state", r"suspicious RCU usage",
    r"DEBUG_LOCKS_WARN_ON", r"INFO: trying to register non-static key",
    r"sleeping function called from invalid context",
    # sanitizers and debug objects (lib/ubsan.c: "UBSAN: shift out of
    # bounds in FILE:LINE:COL"), lib/refcount.c, lib/list_debug.c
    r"KASAN", r"UBSAN", r"KFENCE", r"ODEBUG:", r"refcount_t:",
    r"list_(add|del) corruption",
    # stalls and hangs: "rcu: INFO: rcu_preempt detected stalls on
    # CPUs/tasks:", "... self-detected stall on CPU", "... detected
    # expedited stalls" (kernel/rcu/tree_stall.h, tree_exp.h),
    # "INFO: rcu_tasks detected stalls on tasks:" (kernel/rcu/tasks.h);
    # "watchdog: CPU1: Watchdog detected hard LOCKUP on cpu 0",
    # "watchdog: BUG: soft lockup - CPU#0 stuck for 22s!"
    # (kernel/watchdog.c); "INFO: task NAME:PID blocked[ in I/O wait]
    # for more than N seconds." (kernel/hung_task.c)
    r"INFO: rcu_\w+ (self-)?detected (expedited )?stall",
    r"Watchdog detected hard LOCKUP", r"BUG: soft lockup",
    r"INFO: task .+:\d+ blocked( in I/O wait)? for more than \d+ seconds",
    # an interrupt no handler claims (kernel/irq/spurious.c)
    r"irq \d+: nobody cared",
    # leaks (mm/kmemleak.c; /init prints its report after the command)
    r"unreferenced object 0x", r"new suspected memory leaks",
    # DMA API debugging (kernel/dma/debug.c err_printk(): "DMA-API:
    # DRIVER DEVICE: what", then its WARN), not its other lines: how
    # many entries it has, or that it switched itself off when one of
    # its own GFP_ATOMIC allocations failed ("cacheline tracking ENOMEM,
    # dma-debug disabled": fault-matrix's failslab does that)
    r"DMA-API: \S+ \S+: ",
    r"Kernel panic", r"Out of memory: Killed process", r"invoked oom-killer",
    # the allocator's reports (mm/page_alloc.c warn_alloc(), mm/vmalloc.c)
    r"page allocation failure:", r"page allocation stall for",
    r"vmalloc error:",
    # the engine refused a command simgpu sent (a GART fault, a range it
    # does not own: simgpu_engine.c): a driver bug, injected faults or not
    r"\*ERROR\* engine refused a command",
    # and any other stack dump
    r"Call Trace:")))
# Reports that are bugs: a scenario can never allow one (allow-report),
# whatever its regexes say.
BUG_REPORTS = re.compile(
    r"WARNING:|BUG:|kernel BUG at|Oops|general protection fault|"
    r"Unable to handle kernel|circular locking|recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|DEBUG_LOCKS_WARN_ON|"
    r"invalid context|KASAN|UBSAN|KFENCE|ODEBUG:|refcount_t:|"
    r"list_(add|del) corruption|INFO: |Watchdog detected hard LOCKUP|"
    r"nobody cared|unreferenced object|DMA-API:|Kernel panic|"
    r"Out of memory|oom-killer|engine refused a command")
# Reports of the core kernel that are neither bugs nor simgpu's: an
# allocation that may fail, whose caller handles the failure, but that does
# not ask for __GFP_NOWARN.  (what, the report's first line, a frame its
# Call Trace must hold).  Such a report does not fail a run; TAP names it.
# A scenario can add its own (allow-report); both work as report_lines()
# says.
KNOWN_REPORTS = (
    ("kswapd's swap table allocation (mm/swapfile.c swap_cluster_populate(): "
     "on failure it takes another cluster)",
     re.compile(r"kswapd\d*: page allocation failure: order:0, "
                r"mode:.*__GFP_NOMEMALLOC"),
     re.compile(r"\bfolio_alloc_swap\+")),
)
# The prefix printk puts on a console line: "[   12.345678]" and, with
# CONFIG_PRINTK_CALLER, the caller: "[   T123]" (task 123) or "[     C1]"
# (CPU 1, outside task context) (kernel/printk/printk.c print_caller()).
PRINTK_PREFIX = re.compile(r"\[\s*\d+\.\d+\](?:\[\s*([TC]\d+)\])? ?")
# The lines of a stack dump report after its header (lib/dump_stack.c,
# arch/x86/kernel/dumpstack.c), before its "Call Trace:" line ...
REPORT_HEAD = re.compile(
    r"CPU: \d+ (UID: \d+ )?PID: \d+ Comm: |Tainted: \[|Hardware name: |"
    r"Workqueue: |Sched_ext: |Modules linked in:")
# ... registers (show_regs(), before the Call Trace, or in it where the
# stack crosses from the kernel to user space or an interrupt) ...
REGISTERS = re.compile(
    r" ?(RIP|Code|RSP|RAX|RDX|RBP|R10|R13|FS|CS|CR2|DR0|DR3|DR6|PKRU): ")
# ... its frames ...
FRAME = re.compile(r" (\? )?[\w.$]+\+0x[0-9a-f]+/0x[0-9a-f]+( \[[^\]]+\])?$")
STACK_MARK = re.compile(r" ?</?(TASK|IRQ|SOFTIRQ|NMI)>$")
# ... and, for the allocator's reports, the Mem-Info block after it
# (mm/show_mem.c, mm/swap_state.c)
MEM_INFO = re.compile(
    r"Mem-Info:$|(Node \d+ )?active_anon:\d+|( [a-z_]+:\d+)+$|"
    r"(Node \d+ )?\w+ free:\d+kB |lowmem_reserve\[\]:|"
    r"(Node \d+ )?\w+: \d+\*\d+kB .*= \d+kB$|Node \d+ hugepages_total=|"
    r"\d+ total pagecache pages$|\d+ pages in swap cache$|"
    r"(Free|Total) swap +=|"
    r"\d+ pages (RAM|HighMem/MovableOnly|reserved|cma reserved|hwpoisoned)$")
# At most this many console lines from a report's header to the end of
# its stack dump (other tasks' lines interleaved included).
REPORT_LINES = 200
GUEST_TAP = re.compile(r"^(not )?ok \d+")
STATS_BEGIN = re.compile(r"^simgpu-stats-begin (\w+)$")
STATS_END = "simgpu-stats-end"
STATS_LINE = re.compile(r"^(\w+) (-?\d+)$")

KERNEL_FLAVOURS = ("default", "debug", "kasan")
DEFAULT_TIMEOUT = 300
# run-vm.sh gets "timeout" minus this, so that its own timeout (which
# names the problem) fires before meson's (timeout + a margin).
RUN_VM_MARGIN = 15
MIN_TIMEOUT = 30

# run-vm.sh machine options a scenario's "vm:" may use (all take a value).
VM_OPTIONS = ("--mem", "--vram", "--visible-vram", "--gart",
              "--engine-bandwidth", "--engine-latency", "--profile",
              "--swap", "--swap-disk", "--modparam",
              "--kernel", "--append", "--cpus", "--cpu", "--devices",
              "--gpu", "--rootfs")
KEYS = ("suite", "timeout", "vm", "kernels", "exec", "expect-status",
        "expect-message", "allow-panic", "allow-report",
        "allow-upstream-bug", "stats",
        "engine-faults", "duration", "slow", "heavy")
REPEATABLE = ("allow-report", "allow-upstream-bug")
# The driver's debugfs counters that move only when the engine fails: a
# scenario without "engine-faults: yes" must leave them as they were.
ENGINE_COUNTERS = ("engine_errors", "engine_resets", "engine_fallbacks")


class ScenarioError(Exception):
    pass


def parse_duration(text):
    """Seconds of "90", "90s", "30m" or "2h" (1 s to 7 days)."""
    m = re.fullmatch(r"([0-9]+)([smh]?)", text.strip())
    secs = int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[
        m.group(2)] if m else 0
    if not 1 <= secs <= 7 * 86400:
        raise ValueError("bad duration '%s' (e.g. 90, 90s, 30m, 2h)" % text)
    return secs


class Scenario:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-len(".scn")]
        self.description = None
        self.suite = None
        self.timeout = DEFAULT_TIMEOUT
        self.vm = []            # run-vm.sh arguments
        self.vm_options = {}    # option name (no --) -> value
        self.flavour = "default"
        self.kernels = []       # the "kernels" key: flavours, first = NAME's
        self.exec = None
        self.expect_status = 0
        self.expect_message = None
        self.allow_panic = False
        self.allow_reports = []  # (what, header regex, frame regex)
        self.stats = True
        self.engine_faults = False  # the scenario injects device faults
        self.duration = None    # seconds; the workload runs this long
        self.slow = False       # only in the full run, not the quick set
        self.heavy = False      # keeps both vCPUs busy: one at a time
        self._parse()

    def _err(self, lineno, msg):
        return ScenarioError("%s:%d: %s" % (self.path, lineno, msg))

    def _yes_no(self, lineno, key, value):
        if value not in ("yes", "no"):
            raise self._err(lineno, "%s: expected yes or no, got '%s'" %
                            (key, value))
        return value == "yes"

    def _int(self, lineno, key, value, lo, hi):
        if not re.fullmatch(r"[0-9]+", value) or not lo <= int(value) <= hi:
            raise self._err(lineno, "%s: expected a number from %d to %d, "
                            "got '%s'" % (key, lo, hi, value))
        return int(value)

    def _parse(self):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise ScenarioError("%s: bad scenario name '%s'" %
                                (self.path, self.name))
        try:
            with open(self.path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise ScenarioError("%s: cannot read: %s" % (self.path, e))
        seen = {}
        for lineno, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                if self.description is None and not seen:
                    self.description = line.lstrip("#").strip()
                continue
            if self.description is None:
                raise self._err(lineno, "the file must start with a "
                                "'# one-line description' comment")
            m = re.fullmatch(r"([A-Za-z][A-Za-z0-9_-]*)\s*:\s*(.*)", line)
            if not m:
                raise self._err(lineno, "expected 'key: value', got '%s'" %
                                line)
            key, value = m.group(1), m.group(2).strip()
            if key == "allow":
                raise self._err(lineno, "'allow' is gone: allow a known "
                                "report with 'allow-report: WHAT | "
                                "HEADER-REGEX | FRAME-REGEX' (see "
                                "tests/scenarios/README.md)")
            if key not in KEYS:
                close = difflib.get_close_matches(key, KEYS, 1)
                raise self._err(lineno, "unknown key '%s'%s (keys: %s)" % (
                    key, " (did you mean '%s'?)" % close[0] if close else "",
                    ", ".join(KEYS)))
            if key in seen and key not in REPEATABLE:
                raise self._err(lineno, "'%s' given twice (first on line %d)"
                                % (key, seen[key]))
            seen[key] = lineno
            if not value:
                raise self._err(lineno, "'%s' needs a value" % key)
            self._set(lineno, key, value)
        if self.description is None or not self.description:
            raise ScenarioError("%s:1: the file must start with a "
                                "'# one-line description' comment" %
                                self.path)
        for key in ("suite", "exec"):
            if key not in seen:
                raise ScenarioError("%s: missing required key '%s'" %
                                    (self.path, key))
        if self.kernels:
            if "kernel" in self.vm_options:
                raise self._err(seen["kernels"], "kernels: the vm: line has "
                                "--kernel already (give one or the other)")
            self.set_flavour(self.kernels[0])

    def _set(self, lineno, key, value):
        if key == "suite":
            if not re.fullmatch(r"[a-z][a-z0-9-]*", value):
                raise self._err(lineno, "suite: bad suite name '%s'" % value)
            self.suite = value
        elif key == "timeout":
            self.timeout = self._int(lineno, key, value, MIN_TIMEOUT, 86400)
        elif key == "vm":
            try:
                words = shlex.split(value)
            except ValueError as e:
                raise self._err(lineno, "vm: %s" % e)
            i = 0
            while i < len(words):
                opt = words[i]
                if opt not in VM_OPTIONS:
                    raise self._err(lineno, "vm: '%s' is not a machine option"
                                    " (allowed: %s)" %
                                    (opt, " ".join(VM_OPTIONS)))
                if i + 1 >= len(words):
                    raise self._err(lineno, "vm: %s needs a value" % opt)
                val = words[i + 1]
                if opt == "--kernel":
                    if val not in KERNEL_FLAVOURS:
                        raise self._err(lineno, "vm: --kernel: expected %s, "
                                        "got '%s'" %
                                        (", ".join(KERNEL_FLAVOURS), val))
                    self.flavour = val
                if opt[2:] in self.vm_options:
                    raise self._err(lineno, "vm: %s given twice" % opt)
                self.vm_options[opt[2:]] = val
                i += 2
            self.vm = words
        elif key == "exec":
            self.exec = value
        elif key == "expect-status":
            self.expect_status = self._int(lineno, key, value, 0, 255)
        elif key == "expect-message":
            self.expect_message = value
        elif key == "allow-panic":
            self.allow_panic = self._yes_no(lineno, key, value)
        elif key == "kernels":
            for word in value.split():
                if word not in KERNEL_FLAVOURS:
                    raise self._err(lineno, "kernels: expected %s, got '%s'"
                                    % (", ".join(KERNEL_FLAVOURS), word))
                if word in self.kernels:
                    raise self._err(lineno, "kernels: %s given twice" % word)
                self.kernels.append(word)
        elif key in ("allow-report", "allow-upstream-bug"):
            fields = [f.strip() for f in value.split(" | ")]
            if len(fields) != 3 or not all(fields):
                raise self._err(lineno, "%s: expected 'WHAT | "
                                "HEADER-REGEX | FRAME-REGEX' (three fields "
                                "separated by ' | '), got '%s'" %
                                (key, value))
            regexes = []
            for field in fields[1:]:
                try:
                    regexes.append(re.compile(field))
                except re.error as e:
                    raise self._err(lineno, "%s: bad regex '%s': "
                                    "%s" % (key, field, e))
            self.allow_reports.append((fields[0], regexes[0], regexes[1],
                                       key == "allow-upstream-bug"))
        elif key == "engine-faults":
            self.engine_faults = self._yes_no(lineno, key, value)
        elif key == "stats":
            self.stats = self._yes_no(lineno, key, value)
        elif key == "duration":
            self.duration = self._int(lineno, key, value, 1, 7 * 86400)
        elif key == "slow":
            self.slow = self._yes_no(lineno, key, value)
        elif key == "heavy":
            self.heavy = self._yes_no(lineno, key, value)

    def set_flavour(self, flavour):
        """Boot FLAVOUR's kernel whatever the file says (run-vm.sh --kernel)."""
        vm = []
        for opt, val in zip(self.vm[0::2], self.vm[1::2]):
            if opt != "--kernel":
                vm += [opt, val]
        self.vm = vm + ["--kernel", flavour]
        self.vm_options["kernel"] = flavour
        self.flavour = flavour


def all_names():
    try:
        return sorted(f[:-len(".scn")] for f in os.listdir(SCENARIO_DIR)
                      if f.endswith(".scn"))
    except OSError:
        return []


def find(spec):
    """A scenario from a name or a path, either with "@FLAVOUR" for its run
    on another of the kernels its "kernels" key names (NAME@debug)."""
    m = re.fullmatch(r"(.+)@(%s)" % "|".join(KERNEL_FLAVOURS), spec)
    if not m:
        return find_file(spec)
    sc = find_file(m.group(1))
    flavour = m.group(2)
    if flavour not in sc.kernels:
        raise ScenarioError("scenario %s does not run on the %s kernel "
                            "(kernels: %s)" % (sc.name, flavour,
                                               " ".join(sc.kernels) or
                                               "not given"))
    if flavour != sc.kernels[0]:
        sc.set_flavour(flavour)
        sc.name += "@" + flavour
    return sc


def test_names(sc):
    """The names of the scenario's tests: NAME, and NAME@FLAVOUR for each
    further kernel it runs on."""
    return [sc.name] + ["%s@%s" % (sc.name, k) for k in sc.kernels[1:]]


def find_file(spec):
    """A scenario file from a name or a path."""
    if "/" in spec or spec.endswith(".scn"):
        if not os.path.isfile(spec):
            raise ScenarioError("no scenario file '%s'" % spec)
        if not spec.endswith(".scn"):
            raise ScenarioError("scenario file '%s' must end in .scn" % spec)
        return Scenario(spec)
    path = os.path.join(SCENARIO_DIR, spec + ".scn")
    if os.path.isfile(path):
        return Scenario(path)
    names = all_names()
    close = difflib.get_close_matches(spec, names, 4, 0.6)
    close += [n for n in names if spec in n and n not in close][:6 - len(close)]
    hint = ("; close: " + ", ".join(close)) if close else ""
    raise ScenarioError("unknown scenario '%s'%s (list them with --test list)"
                        % (spec, hint))


def parse_stats(console):
    """{"before": {...}, "after": {...}} from the console's stats blocks."""
    blocks = {}
    current = None
    for line in console:
        line = line.strip()
        m = STATS_BEGIN.match(line)
        if m:
            current = blocks.setdefault(m.group(1), {})
        elif line == STATS_END:
            current = None
        elif current is not None:
            m = STATS_LINE.match(line)
            if m:
                current[m.group(1)] = int(m.group(2))
    return blocks


def without_stats(console):
    """The console with each statistics block folded into one line."""
    out = []
    block = None
    for line in console:
        m = STATS_BEGIN.match(line.strip())
        if m:
            block = [m.group(1), 0]
        elif block is not None and line.strip() == STATS_END:
            out.append("(driver statistics '%s': %d lines)" % tuple(block))
            block = None
        elif block is not None:
            block[1] += 1
        else:
            out.append(line)
    return out


def printk_line(line):
    """(caller, text) of a console line: the printk caller id ("T123",
    "C1"; None without CONFIG_PRINTK_CALLER or for a line that is not the
    kernel's) and the text after the prefix."""
    m = PRINTK_PREFIX.match(line)
    if not m:
        return None, line
    return m.group(1), line[m.end():]


# The WARN() with which a DMA-API report goes on (kernel/dma/debug.c
# err_printk()), and the end of a WARN()'s report (allow-upstream-bug).
WARN_LINE = re.compile(r"WARNING: \S+ at \S+, CPU#\d+: ")
END_TRACE = re.compile(r"---\[ end trace [0-9a-f]+ \]---$")


def report_lines(console, i, bug=False):
    """The console indexes of the report whose header is console[i], and
    those of its stack frames, or None if its stack dump does not end
    within REPORT_LINES lines.

    With caller ids (CONFIG_PRINTK_CALLER), a report is the lines of the
    header's caller only: what other tasks or CPUs print in between is
    not part of it.  Without them (older logs), it is the lines shaped
    like parts of a stack dump report (REPORT_HEAD, REGISTERS, "Call
    Trace:", FRAME, STACK_MARK, then MEM_INFO) up to the end of the stack
    dump; other lines in between are not part of it.  Either way, the
    report ends at the first line of its caller (or, without caller ids,
    after the stack dump) that is not shaped like a part of it."""
    caller = printk_line(console[i])[0]
    lines, frames = [i], []
    phase = "head"      # then "stack" after "Call Trace:", "tail" after it
    for j in range(i + 1, len(console)):
        if phase != "tail" and j >= i + REPORT_LINES:
            return None
        who, text = printk_line(console[j])
        if caller is not None and who != caller:
            continue
        if phase == "head":
            part = (REPORT_HEAD.match(text) or REGISTERS.match(text) or
                    text == "Call Trace:" or
                    (bug and WARN_LINE.match(text)))
            if text == "Call Trace:":
                phase = "stack"
        elif phase == "stack":
            part = (FRAME.match(text) or STACK_MARK.match(text) or
                    REGISTERS.match(text))
            if FRAME.match(text):
                frames.append(j)
            if text.strip() == "</TASK>":
                phase = "tail"
        else:
            part = MEM_INFO.match(text) or (bug and END_TRACE.match(text))
        if part:
            lines.append(j)
        elif caller is not None or phase == "tail":
            break
    if phase != "tail":
        return None
    return lines, frames


def allowed_reports(console, reports):
    """({console index: what} of the lines of the reports REPORTS
    [(what, header regex, frame regex)] allows, [what of each report
    seen]).  A report is allowed if its header matches, it is not a bug
    report (BUG_REPORTS) unless the scenario names it as a defect outside
    simgpu (allow-upstream-bug), and one of its own stack frames
    matches."""
    lines, seen = {}, []
    for i, line in enumerate(console):
        text = printk_line(line)[1]
        for what, header, frame, *upstream in reports:
            bug = bool(upstream and upstream[0])
            if not header.search(text) or (BUG_REPORTS.search(text) and
                                           not bug):
                continue
            report = report_lines(console, i, bug)
            if report and any(frame.search(printk_line(console[j])[1])
                              for j in report[1]):
                lines.update((j, what) for j in report[0])
                seen.append(what)
                break
    return lines, seen


def context(console, indexes, around=3, limit=60):
    """Console lines at INDEXES with AROUND lines of context, '--' between
    separate stretches, at most LIMIT lines."""
    keep = set()
    for i in indexes:
        keep.update(range(max(0, i - around), min(len(console), i + around + 1)))
    out = []
    last = None
    for i in sorted(keep):
        if last is not None and i != last + 1:
            out.append("--")
        mark = ">" if i in indexes else " "
        out.append("console:%d:%s %s" % (i + 1, mark, console[i]))
        last = i
        if len(out) >= limit:
            out.append("... (%d more splat lines)" %
                       len([j for j in indexes if j > i]))
            break
    return out


def console_points(sc, console):
    """Test points on the guest console: its TAP results and, unless the
    scenario allows a panic, no splat.  [(ok, description, diagnostics)]"""
    points = []
    guest = [l.strip() for l in console if GUEST_TAP.match(l.strip())]
    failed = [l for l in guest if l.startswith("not ok")]
    if guest:
        points.append((not failed, "guest test points: %d passed, %d failed"
                       % (len(guest) - len(failed), len(failed)),
                       failed[:30]))
    if not sc.allow_panic:
        known, seen = allowed_reports(console, KNOWN_REPORTS +
                                      tuple(sc.allow_reports))
        splats = [i for i, l in enumerate(console) if SPLATS.search(l) and
                  i not in known]
        note = ""
        if seen:
            note = " (allowed kernel reports, not failures: %s)" % "; ".join(
                "%dx %s" % (seen.count(w), w) for w in sorted(set(seen)))
        points.append((not splats, "no kernel warnings or splats in the "
                       "console" + note, context(console, splats)))
    return points


def stats_points(sc, blocks, tail=()):
    """Test points on the driver statistics BLOCKS (parse_stats()) of a
    scenario with "stats: yes": they were printed before and after the
    command and, unless it injects device faults ("engine-faults: yes"),
    the engine counters did not move.  [(ok, description, diagnostics)]"""
    if not sc.stats or sc.allow_panic:
        return []
    before = blocks.get("before", {})
    after = blocks.get("after", {})
    points = [(bool(before) and bool(after),
               "driver statistics before and after the command "
               "(%d and %d counters)" % (len(before), len(after)),
               ["no 'simgpu-stats-begin before/after' block with counters "
                "in the console"] + list(tail))]
    if before and after and not sc.engine_faults:
        moved = ["%s: %s before, %s after" % (
            k, before.get(k, "none"), after.get(k, "none"))
            for k in ENGINE_COUNTERS if k not in before or k not in after or
            before[k] != after[k]]
        points.append((not moved, "engine counters unchanged (%s; the "
                       "scenario injects no device faults)" %
                       ", ".join(ENGINE_COUNTERS), moved))
    return points


def check_console(sc, path):
    """TAP of console_points() on a console log written earlier, and of
    stats_points() if it has driver statistics."""
    try:
        with open(path, errors="replace") as f:
            console = [l.rstrip("\r\n") for l in f.read().splitlines()]
    except OSError as e:
        raise ScenarioError("--console: cannot read '%s': %s" %
                            (path, e.strerror))
    points = console_points(sc, console)
    blocks = parse_stats(console)
    if blocks:
        points += stats_points(sc, blocks)
    print("\n".join(tap_lines(points, sc.name + ": ")))
    return 0 if all(p[0] for p in points) else 1


def tap_lines(points, prefix=""):
    """A TAP report of POINTS [(ok, description, diagnostics)]; the
    diagnostics of failed points as comments."""
    tap = ["TAP version 13", "1..%d" % len(points)]
    for i, (good, desc, diag) in enumerate(points, 1):
        tap.append("%sok %d - %s%s" % ("" if good else "not ", i, prefix,
                                       desc))
        if not good:
            tap += ["# " + line for line in diag]
    return tap


def run(sc, args):
    builddir = os.path.abspath(args.builddir)
    outdir = args.outdir or os.path.join(builddir, "meson-logs", "scenarios",
                                         sc.name)
    os.makedirs(outdir, exist_ok=True)
    log = os.path.join(outdir, "console.log")
    tap_file = os.path.join(outdir, "tap.txt")
    stats_file = os.path.join(outdir, "stats.json")
    samples_file = os.path.join(outdir, "samples.tsv")
    sampling = bool(args.samples or args.plot)
    for f in (log, tap_file, stats_file, samples_file):
        if os.path.exists(f):
            os.unlink(f)

    vm_timeout = sc.timeout - RUN_VM_MARGIN
    command = sc.exec
    if sc.duration is not None:
        # The workload reads its run time; the time limit grows with it.
        duration = args.duration or sc.duration
        vm_timeout += duration
        command = "export SIMGPU_DURATION=%d; %s" % (duration, command)
    cmd = [os.path.join(TOP, "run-vm.sh"), "--no-build",
           "--builddir", builddir, "--log", log,
           "--timeout", str(vm_timeout)] + sc.vm
    if sc.stats:
        cmd.append("--stats")
    if sampling:
        cmd += ["--samples", samples_file]
        if args.sample_ms:
            cmd += ["--sample-ms", str(args.sample_ms)]
    if args.trace:
        cmd += ["--trace", args.trace]
    cmd += ["--exec", command]
    start = time.monotonic()
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, errors="replace")
    seconds = time.monotonic() - start
    try:
        with open(log, errors="replace") as f:
            console = [l.rstrip("\r\n") for l in f.read().splitlines()]
    except FileNotFoundError:
        console = []

    points = []

    def point(ok, desc, diag=()):
        points.append((ok, desc, list(diag)))

    tail = ["console: " + line for line in without_stats(console)[-25:]]
    errs = ["stderr: " + line for line in res.stderr.splitlines()[-5:]]
    point(res.returncode == sc.expect_status,
          "run-vm.sh exit status %d (expected %d)" %
          (res.returncode, sc.expect_status), errs + tail)
    if sc.expect_message:
        point(sc.expect_message in res.stderr,
              "run-vm.sh says '%s'" % sc.expect_message, errs)

    points += console_points(sc, console)

    blocks = parse_stats(console) if sc.stats else {}
    before = blocks.get("before", {})
    after = blocks.get("after", {})
    points += stats_points(sc, blocks, tail)

    if sampling:
        samples = read_samples(samples_file)
        point(len(samples) >= 2, "memory samples recorded (%d)" %
              len(samples), ["no samples in " + samples_file])
    if args.trace:
        trace = os.path.join(args.trace, "guest-trace.txt")
        try:
            with open(trace, errors="replace") as f:
                head = f.read(4096)
        except OSError:
            head = ""
        point(head.startswith("# tracer"), "guest trace captured",
              ["no tracefs output in " + trace])
    plot_msg = None
    if args.plot and sampling:
        title = "%s: %s" % (sc.name, sc.description)
        res_plot = subprocess.run(
            [sys.executable, os.path.join(TOP, "tests", "host", "plot.py"),
             "--title", title, "-o", args.plot, samples_file],
            capture_output=True, text=True)
        plot_msg = (args.plot if res_plot.returncode == 0 else
                    "failed: " + res_plot.stderr.strip())

    ok = all(p[0] for p in points)
    tap = tap_lines(points, sc.name + ": ")
    tap.append("# console log: " + log)
    with open(tap_file, "w") as f:
        f.write("\n".join(tap) + "\n")

    stats = {
        "scenario": sc.name,
        "description": sc.description,
        "suite": sc.suite,
        "status": "PASS" if ok else "FAIL",
        "exit_status": res.returncode,
        "seconds": round(seconds, 2),
        "vm": dict(sc.vm_options, kernel=sc.flavour, timeout=vm_timeout,
                   exec=sc.exec),
        "before": before,
        "after": after,
        "delta": {k: after[k] - before[k] for k in after if k in before},
    }
    with open(stats_file, "w") as f:
        json.dump(stats, f, indent=1)
        f.write("\n")
    if args.log:
        shutil.copyfile(log, args.log)
    if args.samples and os.path.exists(samples_file):
        shutil.copyfile(samples_file, args.samples)

    print("\n".join(tap))
    summary = "scenario %s: %s in %.1fs (console: %s, stats: %s)" % (
        sc.name, stats["status"], seconds, args.log or log, stats_file)
    print(summary if args.summary else "# " + summary)
    if plot_msg:
        print("# plot: " + plot_msg)
    return 0 if ok else 1


def read_samples(path):
    """The data lines of a samples file (run-vm.sh --samples)."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    return [l for l in lines if l and not l.startswith(("#", "t_ms"))]


def check(args):
    """Parse every named scenario (default: all); with --listed, also check
    that the names given there and the files in tests/scenarios agree."""
    points = []
    specs = args.scenarios or all_names()
    for spec in specs:
        try:
            sc = find(spec)
            points.append((True, "%s parses (suite %s, %s kernel%s)" % (
                sc.name, sc.suite, sc.flavour, "".join(
                    ", %s on %s" % (t, t.split("@")[1])
                    for t in test_names(sc)[1:])), []))
        except ScenarioError as e:
            points.append((False, "%s parses" % spec, [str(e)]))
    if args.listed is not None:
        files, listed = set(all_names()), set(args.listed)
        points.append((files <= listed, "every tests/scenarios/*.scn is "
                       "listed in tests/scenarios/meson.build",
                       ["not listed: " + n for n in sorted(files - listed)]))
        points.append((listed <= files, "every listed scenario has a file",
                       ["no file: " + n for n in sorted(listed - files)]))
    print("\n".join(tap_lines(points)))
    return 0 if all(p[0] for p in points) else 1


def main():
    ap = argparse.ArgumentParser(
        description="Run a simgpu VM test scenario and report TAP.")
    ap.add_argument("--builddir", default=os.path.join(TOP, "build"))
    ap.add_argument("--outdir",
                    help="default: BUILDDIR/meson-logs/scenarios/NAME")
    ap.add_argument("--kernel", choices=KERNEL_FLAVOURS,
                    help="boot this kernel flavour whatever the file says")
    ap.add_argument("--log", help="also copy the console to LOG")
    ap.add_argument("--summary", action="store_true",
                    help="end with a plain 'scenario NAME: PASS|FAIL' line "
                    "(default: as a TAP comment)")
    ap.add_argument("--duration", metavar="TIME",
                    help="run time of a scenario with a 'duration' key "
                    "(90, 90s, 30m, 2h)")
    ap.add_argument("--samples", metavar="FILE",
                    help="sample memory during the command into "
                    "OUTDIR/samples.tsv and copy it to FILE")
    ap.add_argument("--sample-ms", type=int, metavar="N",
                    help="sampling interval (run-vm.sh --sample-ms)")
    ap.add_argument("--plot", metavar="FILE.svg",
                    help="sample and render FILE.svg (tests/host/plot.py)")
    ap.add_argument("--trace", metavar="DIR",
                    help="capture guest and QEMU trace events in DIR "
                    "(run-vm.sh --trace)")
    ap.add_argument("--prog", default="scenario.py",
                    help="name to prefix errors with")
    ap.add_argument("--list", action="store_true",
                    help="print the scenarios' names and descriptions")
    ap.add_argument("--flavour", action="store_true",
                    help="print the scenario's kernel flavour")
    ap.add_argument("--console", metavar="LOG",
                    help="only check the console log LOG of an earlier run "
                    "of SCENARIO (its guest TAP and splats); TAP")
    ap.add_argument("--check", action="store_true",
                    help="only parse the scenarios (default: all); TAP")
    ap.add_argument("--listed", nargs="*",
                    help="with --check: the names meson knows")
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    args = ap.parse_args()

    try:
        if args.list:
            rows = []
            for name in all_names():
                try:
                    sc = find(name)
                    for test in test_names(sc):
                        on = test.partition("@")[2]
                        rows.append((test, sc.suite + ("+slow" if sc.slow
                                                       else ""),
                                     sc.description +
                                     (" (%s kernel)" % on if on else "")))
                except ScenarioError as e:
                    rows.append((name, "?", "error: %s" % e))
            width = max([len(r[0]) for r in rows] + [4])
            for name, suite, desc in rows:
                print("%-*s  %-11s  %s" % (width, name, suite, desc))
            return 0
        if args.check:
            return check(args)
        if len(args.scenarios) != 1:
            ap.error("give one scenario")
        sc = find(args.scenarios[0])
        if args.duration is not None:
            if sc.duration is None:
                raise ScenarioError("--duration: scenario %s has no run "
                                    "time to set" % sc.name)
            try:
                args.duration = parse_duration(args.duration)
            except ValueError as e:
                raise ScenarioError("--duration: %s" % e)
        if args.kernel:
            sc.set_flavour(args.kernel)
        if args.flavour:
            print(sc.flavour)
            return 0
        if args.console:
            return check_console(sc, args.console)
        for opt in ("log", "samples", "plot"):
            path = getattr(args, opt)
            if not path:
                continue
            try:
                open(path, "a").close()
            except OSError as e:
                raise ScenarioError("--%s: cannot write '%s': %s" %
                                    (opt, path, e.strerror))
        if args.trace:
            try:
                os.makedirs(args.trace, exist_ok=True)
            except OSError as e:
                raise ScenarioError("--trace: cannot create '%s': %s" %
                                    (args.trace, e.strerror))
            args.trace = os.path.abspath(args.trace)
        return run(sc, args)
    except ScenarioError as e:
        print("%s: error: %s" % (args.prog, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
