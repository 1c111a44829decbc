#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""simgpu benchmarks: every figure is measured in one run, most as a ratio
of two things measured side by side (engine vs host memcpy, engine vs CPU,
BO vs anonymous memory through the same zram), so that a slow or busy
machine changes the times but not the verdict.

Usage: bench.py [--builddir DIR] [--accel tcg|kvm|auto] [--list] [NAME...]

Runs the benchmarks NAME (default: all, in the order of --list).  Each one
writes BUILDDIR/bench/NAME.json and NAME.md; after each, summary.md is
rewritten from every NAME.json there: one row per figure (measured,
target, whether it meets the target) under a line naming the machine.
A benchmark fails (exit status 1) only if it could not measure: a VM
that did not finish, a figure missing, or a byte that was not verified.
It never fails because a figure misses its target.  Bad usage: status 2.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_VM = os.path.join(TOP, 'run-vm.sh')

# Sizes and machines of the benchmarks (see the functions below).
COPY_MB, COPY_REPS = 64, 7
EVICT_MB, EVICT_BO_MB, EVICT_REPS = 64, 4, 5
SWAP_MB = 384
SCAN_BOS = '1000,10000,100000'


class Unmeasured(Exception):
    """The benchmark could not measure (the message says why)."""


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, builddir, accel):
        self.builddir = os.path.abspath(builddir)
        self.accel = accel
        self.out = os.path.join(self.builddir, 'bench')
        os.makedirs(self.out, exist_ok=True)

    # --- the machine -----------------------------------------------------
    def resolved_accel(self):
        if self.accel != 'auto':
            return self.accel
        cache = os.environ.get('SIMGPU_CACHE') or os.path.join(
            os.environ.get('XDG_CACHE_HOME') or
            os.path.expanduser('~/.cache'), 'simgpu')
        try:
            with open('/proc/sys/kernel/random/boot_id') as f:
                key = f.read().strip()
            with open(os.path.join(cache, 'kvm-probe-' + key)) as f:
                return f.read().strip()
        except OSError:
            return 'auto'

    def machine(self):
        cpu = 'unknown CPU'
        try:
            with open('/proc/cpuinfo') as f:
                for line in f:
                    if line.startswith('model name'):
                        cpu = line.split(':', 1)[1].strip()
                        break
        except OSError:
            pass
        qemu = os.path.join(self.builddir, 'qemu-dev/qemu/qemu-system-x86_64')
        try:
            qv = subprocess.run([qemu, '--version'], capture_output=True,
                                text=True, timeout=30).stdout.split('\n')[0]
            qv = qv.replace('QEMU emulator version ', '')
        except (OSError, subprocess.SubprocessError):
            qv = 'unknown'
        try:
            with open(os.path.join(self.builddir, 'images/kernel-default/'
                                   'kbuild/include/config/kernel.release')) as f:
                kv = f.read().strip()
        except OSError:
            kv = 'unknown'
        return {'cpu': cpu, 'cores': os.cpu_count(),
                'accel': self.resolved_accel(), 'qemu': qv, 'kernel': kv,
                'host': os.uname().nodename,
                'loadavg': round(os.getloadavg()[0], 1)}

    # --- running things --------------------------------------------------
    def run_vm(self, name, vm, cmd, timeout):
        """Boot a VM with run-vm.sh options @vm running @cmd; its console."""
        console = os.path.join(self.out, name + '.console.log')
        args = [RUN_VM, '--no-build', '--builddir', self.builddir,
                '--accel', self.accel, '--timeout', str(timeout),
                '--log', console] + vm + ['--exec', cmd]
        log('%s: run-vm.sh %s' % (name, ' '.join(vm + ['--exec', repr(cmd)])))
        t0 = time.monotonic()
        p = subprocess.run(args, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True,
                           timeout=timeout + 60)
        secs = time.monotonic() - t0
        with open(console, errors='replace') as f:
            text = f.read().replace('\r', '')
        bad = [ln for ln in text.split('\n') if ln.startswith('not ok')]
        if p.returncode != 0 or bad:
            tail = '\n'.join(bad or text.strip().split('\n')[-15:])
            raise Unmeasured('VM exited with status %d%s (console: %s)\n%s' % (
                p.returncode, ': ' + p.stderr.strip() if p.stderr.strip()
                else '', console, tail))
        return text, secs

    def host_memcpy(self, mb, reps):
        exe = os.path.join(self.builddir, 'bench/simgpu-memcpy')
        try:
            out = subprocess.run([exe, '--mb', str(mb), '--reps', str(reps)],
                                 capture_output=True, text=True, check=True,
                                 timeout=120).stdout
        except (OSError, subprocess.SubprocessError) as e:
            raise Unmeasured('host memcpy: %s' % e)
        m = re.search(r'mibps ([0-9.]+)', out)
        if not m:
            raise Unmeasured('host memcpy: no figure in %r' % out)
        return float(m.group(1))

    @staticmethod
    def bench_lines(text):
        """The '# bench FIGURE mib N reps R ... mibps M' lines of a run."""
        res = {}
        for m in re.finditer(r'^# bench (\S+) mib (\d+) reps (\d+) median_s '
                             r'(\S+) best_s (\S+) mibps (\S+)$', text, re.M):
            res[m.group(1)] = {'mib': int(m.group(2)),
                               'reps': int(m.group(3)),
                               'median_s': float(m.group(4)),
                               'best_s': float(m.group(5)),
                               'mibps': float(m.group(6))}
        return res

    @staticmethod
    def need(d, key, what):
        if key not in d:
            raise Unmeasured('no %s figure in the console' % what)
        return d[key]

    # --- the benchmarks ---------------------------------------------------
    def copy(self):
        """Engine COPY throughput vs the host's single-thread memcpy."""
        before = self.host_memcpy(COPY_MB, COPY_REPS)
        text, secs = self.run_vm(
            'copy', ['--vram', '256M,256M', '--mem', '512M'],
            'simgpu-bench copy --mb %d --reps %d' % (COPY_MB, COPY_REPS), 300)
        after = self.host_memcpy(COPY_MB, COPY_REPS)
        host = (before + after) / 2
        lines = self.bench_lines(text)
        figures, rows = [], []
        for key, label in (('copy_VRAM0_TT', 'VRAM0→TT'),
                           ('copy_TT_VRAM0', 'TT→VRAM0'),
                           ('copy_VRAM0_VRAM1', 'VRAM0→VRAM1')):
            f = self.need(lines, key, key)
            ratio = f['mibps'] / host
            figures.append(figure(
                'engine copy %s / host memcpy (%d MiB)' % (label, COPY_MB),
                ratio, '%.2f (%.0f / %.0f MiB/s)' % (ratio, f['mibps'], host),
                '≥ 0.5', ratio >= 0.5))
            rows.append([label, '%.0f' % f['mibps'], '%.1f' % (
                f['median_s'] * 1e3), '%.1f' % (f['best_s'] * 1e3),
                '%.2f' % ratio])
        md = table(['copy', 'engine MiB/s', 'median ms', 'best ms',
                    'engine / host'], rows)
        md += ('\nHost single-thread memcpy of %d MiB (median of %d): '
               '%.0f MiB/s before the VM, %.0f after; the ratio uses their '
               'mean.  Engine: median of %d timed submissions (one '
               'unmeasured warm-up), each a single COPY of %d MiB of a '
               'new pattern, the destination verified after each (not '
               'timed), no BO moved.\n' % (COPY_MB, COPY_REPS, before,
                                            after, COPY_REPS, COPY_MB))
        raw = {'host_memcpy_mibps_before': before,
               'host_memcpy_mibps_after': after, 'engine': lines,
               'vm_seconds': secs}
        return figures, md, raw

    def evict(self):
        """VRAM eviction: pipelined engine moves vs synchronous ones vs the
        CPU (module parameters switched at run time), and vs host memcpy."""
        before = self.host_memcpy(EVICT_MB, EVICT_REPS)
        text, secs = self.run_vm(
            'evict', ['--vram', '256M', '--mem', '512M'],
            'simgpu-bench evict --mb %d --bo-mb %d --reps %d' % (
                EVICT_MB, EVICT_BO_MB, EVICT_REPS), 600)
        after = self.host_memcpy(EVICT_MB, EVICT_REPS)
        host = (before + after) / 2
        lines = self.bench_lines(text)
        rows = []
        for what in ('evict', 'restore'):
            f = {who: self.need(lines, '%s_%s' % (what, who),
                                '%s %s' % (what, who))['mibps']
                 for who in ('engine', 'sync', 'cpu')}
            rows.append([what, '%.0f' % f['engine'], '%.0f' % f['sync'],
                         '%.0f' % f['cpu'], '%.2f' % (f['engine'] / host),
                         '%.2f' % (f['engine'] / f['sync']),
                         '%.1f' % (f['engine'] / f['cpu'])])
        ev = {who: lines['evict_' + who]['mibps']
              for who in ('engine', 'sync', 'cpu')}
        figures = [
            figure('eviction VRAM→TT, pipelined engine / host memcpy '
                   '(%d MiB)' % EVICT_MB, ev['engine'] / host,
                   '%.2f (%.0f / %.0f MiB/s)' % (ev['engine'] / host,
                                                 ev['engine'], host),
                   '≥ 0.6', ev['engine'] / host >= 0.6),
            figure('eviction VRAM→TT, pipelined / synchronous moves '
                   '(%d MiB)' % EVICT_MB, ev['engine'] / ev['sync'],
                   '%.2f× (%.0f / %.0f MiB/s)' % (
                       ev['engine'] / ev['sync'], ev['engine'], ev['sync']),
                   '> 1', ev['engine'] > ev['sync']),
            figure('eviction VRAM→TT, engine / CPU memcpy (%d MiB)' %
                   EVICT_MB, ev['engine'] / ev['cpu'],
                   '%.1f× (%.0f / %.0f MiB/s)' % (
                       ev['engine'] / ev['cpu'], ev['engine'], ev['cpu']),
                   '≥ 10', ev['engine'] / ev['cpu'] >= 10)]
        md = table(['move', 'pipelined MiB/s', 'sync MiB/s', 'CPU MiB/s',
                    'pipelined / host memcpy', 'pipelined / sync',
                    'pipelined / CPU'], rows)
        md += ('\n%d MiB in %d MiB BOs, in one VM: evicted from VRAM0 to TT '
               '(debugfs evict_vram, which returns when the last move is '
               'done) and migrated back (restore), %d times each with '
               'pipelined engine moves, synchronous ones (sync_moves=1) and '
               'the CPU (force_cpu_copy=1) (medians; every byte verified '
               'each time).  Host single-thread memcpy of %d MiB: %.0f MiB/s '
               'before the VM, %.0f after.\n' % (
                   EVICT_MB, EVICT_BO_MB, EVICT_REPS, EVICT_MB, before,
                   after))
        return figures, md, {'moves': lines, 'host_memcpy_mibps_before':
                             before, 'host_memcpy_mibps_after': after,
                             'vm_seconds': secs}

    def swap(self):
        """Backup + restore of BOs vs anonymous memory, same zram, same VM."""
        opts = '--compressible --total-mb %d' % SWAP_MB
        cmd = ('echo "# bench-phase anon"; simgpu-shrink pressure --anon %s; '
               'a=$?; echo "# bench-phase bo"; simgpu-shrink pressure %s; '
               'b=$?; exit $((a | b))' % (opts, opts))
        text, secs = self.run_vm('swap', ['--mem', '256M', '--swap', '512M'],
                                 cmd, 1000)
        phases = {}
        for part in re.split(r'^# bench-phase ', text, flags=re.M)[1:]:
            name = part.split('\n', 1)[0].strip()
            t = {m.group(1): float(m.group(3)) for m in re.finditer(
                r'^# timing (fill|verify0|verify1) (\d+) ([0-9.]+)$', part,
                re.M)}
            if len(t) != 3:
                raise Unmeasured('%s: timing lines missing' % name)
            phases[name] = t
        if set(phases) != {'anon', 'bo'}:
            raise Unmeasured('phases missing from the console')
        anon = sum(phases['anon'].values())
        bo = sum(phases['bo'].values())
        r = anon / bo
        figures = [figure(
            'zram backup+restore, anon time / BO time (%d MiB, 256 MiB RAM)'
            % SWAP_MB, r, '%.2f (%.1f s / %.1f s)' % (r, anon, bo),
            '≥ 0.8', r >= 0.8)]
        rows = [[ph, '%.1f' % phases['anon'][ph], '%.1f' % phases['bo'][ph],
                 '%.2f' % (phases['anon'][ph] / phases['bo'][ph])
                 if phases['bo'][ph] else 'n/a']
                for ph in ('fill', 'verify0', 'verify1')]
        rows.append(['total', '%.1f' % anon, '%.1f' % bo, '%.2f' % r])
        md = table(['phase', 'anon s', 'BO s', 'anon / BO'], rows)
        md += ('\nOne VM (--mem 256M --swap 512M, zram): `simgpu-shrink '
               'pressure --anon %s`, then the same with BOs.  fill: write '
               'the pattern (reclaim swaps out); verify0: read it back '
               '(swap in) and write a new pattern; verify1: read that '
               'back.\n' % opts)
        return figures, md, {'phases_s': phases, 'vm_seconds': secs}

    def scan(self):
        """Shrink-pass and eviction cost against the number of BOs."""
        cmd = ('simgpu-scan --bos %s --max-growth 1e9; a=$?; '
               'simgpu-scan --evict --bos %s --max-growth 1e9; b=$?; '
               'exit $((a | b))' % (SCAN_BOS, SCAN_BOS))
        text, secs = self.run_vm(
            'scan', ['--mem', '2G', '--swap', '1G', '--vram', '512M',
                     '--qemu-opts', '-global simgpu.gart-size=512M'],
            cmd, 1500)
        res = [dict(bos=int(m.group(1)), passes=int(m.group(2)),
                    first_ms=float(m.group(3)), mean_ms=float(m.group(4)),
                    per_bo_us=float(m.group(5)))
               for m in re.finditer(
                   r'^# scan bos (\d+) passes (\d+) first_ms (\S+) mean_ms '
                   r'(\S+) per_bo_us (\S+)$', text, re.M)]
        ev = [dict(bos=int(m.group(1)), ms=float(m.group(2)),
                   per_bo_us=float(m.group(3)))
              for m in re.finditer(r'^# evict bos (\d+) ms (\S+) '
                                   r'per_bo_us (\S+)$', text, re.M)]
        n = len(SCAN_BOS.split(','))
        if len(res) != n or len(ev) != n:
            raise Unmeasured('scan or evict lines missing from the console')
        g = res[-1]['per_bo_us'] / res[0]['per_bo_us']
        ge = ev[-1]['per_bo_us'] / ev[0]['per_bo_us']
        figures = [
            figure('shrink cost per BO, %d BOs / %d BOs (linear: 1)' % (
                res[-1]['bos'], res[0]['bos']), g,
                '%.2f (%.1f / %.1f µs per BO)' % (
                    g, res[-1]['per_bo_us'], res[0]['per_bo_us']),
                '≤ 3', g <= 3),
            figure('eviction cost per BO, %d BOs / %d BOs (linear: 1)' % (
                ev[-1]['bos'], ev[0]['bos']), ge,
                '%.2f (%.1f / %.1f µs per BO)' % (
                    ge, ev[-1]['per_bo_us'], ev[0]['per_bo_us']),
                '≤ 3', ge <= 3)]
        rows = [[str(r['bos']), str(r['passes']), '%.2f' % r['mean_ms'],
                 '%.1f' % r['per_bo_us'],
                 '%.2f' % (r['per_bo_us'] / res[0]['per_bo_us']),
                 '%.0f' % e['ms'], '%.1f' % e['per_bo_us'],
                 '%.2f' % (e['per_bo_us'] / ev[0]['per_bo_us'])]
                for r, e in zip(res, ev)]
        md = table(['BOs', 'shrink passes', 'mean pass ms', 'shrink µs per BO',
                    'growth', 'evict_vram ms', 'evict µs per BO', 'growth'],
                   rows)
        md += ('\nOne VM (--mem 2G --swap 1G --vram 512M, GART 512M).  '
               'Shrink: N one-page BOs in SYSTEM/TT filled by the engine, '
               'backed up by debugfs shrink passes of 256 pages until none '
               'is left (`simgpu-scan --bos %s`).  Evict: N one-page BOs in '
               'VRAM0 moved to TT by one debugfs evict_vram write '
               '(`simgpu-scan --evict`).  Every BO is restored and verified '
               'after each.  growth: µs per BO relative to the smallest N '
               '(1: linear).\n' % SCAN_BOS)
        return figures, md, {'shrink': res, 'evict': ev, 'vm_seconds': secs}

    def dmabuf(self):
        """dma-buf: engine copies from an imported buffer vs a native TT BO,
        and the cost of an invalidate + re-map cycle (two devices, P2P)."""
        text, secs = self.run_vm(
            'dmabuf', ['--devices', '2', '--cpu', 'EPYC', '--vram', '256M',
                       '--gart', '256M', '--mem', '768M'],
            'simgpu-dmabuf bench', 600)
        lines = self.bench_lines(text)
        native = self.need(lines, 'copy_native_tt', 'native copy')['mibps']
        imp_tt = self.need(lines, 'copy_import_tt', 'import copy')['mibps']
        imp_vram = self.need(lines, 'copy_import_vram',
                             'P2P import copy')['mibps']
        m = re.search(r'^# bench-us invalidate_remap mib (\d+) reps (\d+) '
                      r'median_us (\S+) baseline_us (\S+) cycle_us (\S+)$',
                      text, re.M)
        if not m:
            raise Unmeasured('no invalidate_remap figure in the console')
        with_us, base_us, cycle = (float(m.group(i)) for i in (3, 4, 5))
        figures = [
            figure('engine copy from an imported TT buffer / from a native '
                   'TT BO (64 MiB)', imp_tt / native,
                   '%.2f (%.0f / %.0f MiB/s)' % (imp_tt / native, imp_tt,
                                                 native),
                   '≥ 0.8', imp_tt / native >= 0.8),
            figure('engine copy from an imported VRAM buffer (peer-to-peer) '
                   '/ from a native TT BO (64 MiB)', imp_vram / native,
                   '%.2f (%.0f / %.0f MiB/s)' % (imp_vram / native, imp_vram,
                                                 native),
                   '≥ 0.5', imp_vram / native >= 0.5),
            figure('invalidate + re-map cycle of a 64 MiB exported TT BO, '
                   'µs', cycle, '%.0f µs' % cycle, 'measured', True)]
        md = table(['source of the 64 MiB copy', 'MiB/s', 'vs native TT'], [
            ['B\'s own TT BO', '%.0f' % native, '1.00'],
            ['A\'s TT BO, imported', '%.0f' % imp_tt,
             '%.2f' % (imp_tt / native)],
            ['A\'s VRAM BO, imported peer-to-peer', '%.0f' % imp_vram,
             '%.2f' % (imp_vram / native)]])
        md += ('\nTwo simgpu devices, `--cpu EPYC` (P2P allowed).  Copies: '
               'median of %s timed engine copies into B\'s VRAM, new content '
               'each time, every byte verified (not timed).  Invalidate + '
               're-map: A moves its exported 64 MiB TT BO to SYSTEM and back '
               '(each move invalidates B\'s import) and B copies one page of '
               'it (which maps all 64 MiB again and binds them in its GART): '
               'median %.0f µs, minus %.0f µs for the same moves of a BO '
               'nobody imported and a page copy of B\'s own BO: %.0f µs.\n' % (
                   self.need(lines, 'copy_native_tt', 'x')['reps'], with_us,
                   base_us, cycle))
        return figures, md, {'copies': lines, 'invalidate_remap_us': {
            'with': with_us, 'baseline': base_us, 'cycle': cycle},
            'vm_seconds': secs}

    def policy(self):
        """The eviction-policy example of docs/prototyping.md: the
        overcommit workload simgpu-evict (4x VRAM, every byte verified)
        with evict_to_system=0 and =1, alternating, in one VM."""
        reps = 3
        # GART pages bound, sampled every 100 ms while the workload runs.
        cmd = ('st=$(echo /sys/kernel/debug/dri/*/simgpu_stats); '
               'for p in %s; do '
               'echo $p > /sys/module/simgpu/parameters/evict_to_system; '
               '(while :; do sed -n "s/^gart_bound_pages //p" $st; '
               'sleep 0.1; done) >/tmp/g & g=$!; '
               'a=$(cut -d" " -f1 /proc/uptime); '
               'simgpu-evict --rounds 3 >/tmp/e.log || '
               '{ cat /tmp/e.log; exit 1; }; '
               'b=$(cut -d" " -f1 /proc/uptime); kill $g; '
               'echo "# policy $p seconds $a $b gart_mean $(awk '
               '\'{ s += $1 } END { printf "%%d", s / NR }\' /tmp/g)"; '
               'sed -n "s/^# after setup: moves /# policy $p moves /p" '
               '/tmp/e.log; done' % ' '.join(['0 1'] * reps))
        text, secs = self.run_vm('policy', ['--vram', '32M'], cmd, 900)
        runs = {'0': [], '1': []}
        gart = {'0': [], '1': []}
        moves = {}
        for m in re.finditer(r'^# policy ([01]) seconds (\S+) (\S+) '
                             r'gart_mean (\d+)$', text, re.M):
            runs[m.group(1)].append(float(m.group(3)) - float(m.group(2)))
            gart[m.group(1)].append(int(m.group(4)) * 4096 / 2**20)
        for m in re.finditer(r'^# policy ([01]) moves (.*)$', text, re.M):
            moves[m.group(1)] = m.group(2).strip()
        if len(runs['0']) != reps or len(runs['1']) != reps:
            raise Unmeasured('%d and %d of %d policy runs in the console' % (
                len(runs['0']), len(runs['1']), reps))
        t0, t1 = (sorted(runs[k])[reps // 2] for k in ('0', '1'))
        g0, g1 = (sorted(gart[k])[reps // 2] for k in ('0', '1'))
        figures = [figure('overcommit workload (simgpu-evict, 4x VRAM), '
                          'evict_to_system=1 / =0, time', t1 / t0,
                          '%.2f (%.1f / %.1f s)' % (t1 / t0, t1, t0),
                          'measured', True),
                   figure('overcommit workload, evict_to_system=1 / =0, '
                          'mean GART bound', g1 / g0 if g0 else 0,
                          '%.2f (%.0f / %.0f MiB)' % (
                              g1 / g0 if g0 else 0, g1, g0),
                          '< 1', g1 < g0)]
        md = table(['evict_to_system', 'median s', 'runs s',
                    'mean GART bound, MiB', 'moves in the last run '
                    '(after setup)'], [
            [k, '%.1f' % t, ' '.join('%.1f' % x for x in runs[k]),
             '%.0f' % g, moves.get(k, '?')]
            for k, t, g in (('0', t0, g0), ('1', t1, g1))])
        md += ('\nOne VM (`--vram 32M`, 256 MiB GART), `simgpu-evict '
               '--rounds 3` (128 MiB in 2 MiB BOs) %d times with each '
               'setting, alternating (the module parameter is writable at '
               'run time); guest seconds from /proc/uptime; GART pages '
               'bound (`gart_bound_pages`) sampled every 100 ms and averaged '
               'over each run (medians of the runs).\n' % reps)
        return figures, md, {'seconds': runs, 'gart_mib': gart,
                             'moves': moves, 'vm_seconds': secs}

    def pipeline(self):
        """Boot to guest command and the edit -> rerun loop (pipeline.sh)."""
        sh = os.path.join(TOP, 'bench/pipeline.sh')
        p = subprocess.run([sh, self.builddir], capture_output=True,
                           text=True, timeout=1200)
        if p.returncode:
            raise Unmeasured('pipeline.sh failed (%d): %s' % (
                p.returncode, p.stderr.strip()[-2000:]))
        with open(os.path.join(self.out, 'pipeline.json')) as f:
            raw = json.load(f)
        with open(os.path.join(self.out, 'pipeline.md')) as f:
            md = f.read()
        boot, edit = raw['boot_to_command_s'], raw['edit_to_run_s']
        figures = [
            figure('boot to guest command (median of 5), s', boot,
                   '%.1f s' % boot, '≤ 5 s', boot <= 5),
            figure('edit driver .c → rebuilt module → VM ran a command, s',
                   edit, '%.1f s' % edit, '≤ 60 s', edit <= 60)]
        return figures, md, raw


def figure(name, value, shown, target, meets):
    return {'figure': name, 'value': round(value, 4), 'measured': shown,
            'target': target, 'meets': bool(meets)}


def table(head, rows):
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '---|' * len(head)]
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines) + '\n'


def machine_line(m):
    return ('Machine: %s, %s cores, %s, QEMU %s, guest kernel %s '
            '(host load average %s at the start)' % (
                m['cpu'], m['cores'], m['accel'].upper(), m['qemu'],
                m['kernel'], m.get('loadavg', '?')))


NAMES = ['copy', 'evict', 'swap', 'scan', 'dmabuf', 'policy', 'pipeline']


def write_summary(out):
    """summary.md from every NAME.json in @out; returns its text."""
    results = []
    for name in NAMES:
        try:
            with open(os.path.join(out, name + '.json')) as f:
                results.append(json.load(f))
        except (OSError, ValueError):
            pass
    if not results:
        return ''
    newest = max(results, key=lambda r: r['date'])
    rows = []
    for r in results:
        if r['status'] != 'measured':
            rows.append(['%s: not measured' % r['name'], r.get('error', '')
                         .split('\n')[0], '', 'n/a'])
        for f in r['figures']:
            rows.append([f['figure'], f['measured'], f['target'],
                         'yes' if f['meets'] else 'no'])
    dates = sorted(r['date'] for r in results)
    text = (machine_line(newest['machine']) + '\n\n' +
            table(['figure', 'measured', 'target', 'meets target'], rows) +
            '\nRuns of %s between %s and %s (%s); details in '
            'BUILDDIR/bench/NAME.md.\n' % (
                ', '.join(r['name'] for r in results), dates[0], dates[-1],
                ', '.join('%s %.0f s' % (r['name'], r['seconds'])
                          for r in results)))
    with open(os.path.join(out, 'summary.md'), 'w') as f:
        f.write(text)
    return text


def main():
    ap = argparse.ArgumentParser(
        prog='bench.py', description='simgpu benchmarks (see bench/bench.py)')
    ap.add_argument('--builddir', default=os.path.join(TOP, 'build'))
    ap.add_argument('--accel', choices=['tcg', 'kvm', 'auto'], default='tcg')
    ap.add_argument('--list', action='store_true',
                    help='list the benchmarks and exit')
    ap.add_argument('names', nargs='*', metavar='NAME')
    a = ap.parse_args()
    b = Bench(a.builddir, a.accel)
    if a.list:
        for n in NAMES:
            print('%-9s %s' % (n, getattr(Bench, n).__doc__))
        return 0
    for n in a.names:
        if n not in NAMES:
            print('bench.py: unknown benchmark %r (known: %s)' % (
                n, ', '.join(NAMES)), file=sys.stderr)
            return 2
    failed = []
    t_all = time.monotonic()
    for n in a.names or NAMES:
        t0 = time.monotonic()
        res = {'name': n, 'date': datetime.datetime.now().isoformat(
            timespec='seconds'), 'machine': b.machine()}
        try:
            figures, md, raw = getattr(b, n)()
            res.update(status='measured', figures=figures, raw=raw)
        except (Unmeasured, OSError, subprocess.SubprocessError) as e:
            figures, md = [], 'Not measured: %s\n' % e
            res.update(status='not measured', figures=[], error=str(e))
            failed.append(n)
        res['seconds'] = round(time.monotonic() - t0, 1)
        res['machine']['accel'] = b.resolved_accel()
        head = '## %s: %s\n\n%s\n\n' % (n, getattr(Bench, n).__doc__,
                                         machine_line(res['machine']))
        if figures:
            head += table(['figure', 'measured', 'target', 'meets target'],
                          [[f['figure'], f['measured'], f['target'],
                            'yes' if f['meets'] else 'no'] for f in figures])
            head += '\n'
        md = head + md
        with open(os.path.join(b.out, n + '.json'), 'w') as f:
            json.dump(res, f, indent=1, ensure_ascii=False)
            f.write('\n')
        with open(os.path.join(b.out, n + '.md'), 'w') as f:
            f.write(md)
        print(md, flush=True)
        log('%s: %s in %.0f s' % (n, res['status'], res['seconds']))
    print('## summary (%s)\n' % os.path.join(b.out, 'summary.md'))
    print(write_summary(b.out), flush=True)
    log('%d benchmark(s) in %.0f s%s' % (
        len(a.names or NAMES), time.monotonic() - t_all,
        '; not measured: ' + ', '.join(failed) if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
