#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# console-checks.sh: what fails a scenario on its console, checked on
# logs without a boot (scenario.py --console).  TAP output.
#
# consoles/known-report.log is a real guest console of a kernel without
# printk caller ids: kswapd's swap table allocation failing under
# pressure, a report of the core kernel that scenario.py knows
# (KNOWN_REPORTS) and lets pass.  Its variants must fail: the same report
# from another call chain, a WARNING, a second stack dump after it, a
# failed guest test point, a splat printed in the middle of it; the
# same with caller ids.
#
# consoles/clean.log is a real clean console with caller ids
# (CONFIG_PRINTK_CALLER: "[   12.345678][   T123] text"); each kind of
# report SPLATS knows, as the 7.3 kernel prints it (the source of each
# format is named below), must fail it.
#
# consoles/fault-matrix.log is a real console of simgpu-faults on the
# debug kernel with fault-matrix's machine ("--device none,hang,stall
# --kernel failslab,fail_page_alloc --ops 200 --seed 3"): one injected
# vmalloc failure of TTM's page array, reported with its stack dump and
# Mem-Info.  It passes under fault-matrix.scn's allow-report line, and
# fails under a scenario without it, from another caller, or with a
# splat of another task printed in the middle of it.  shrink-concurrent's
# allowed allocation stall report likewise passes there only.
#
# Then the engine counters: they may move only in a scenario with
# "engine-faults: yes".
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$TOP/tests/host/tap.sh"
consoles=$TOP/tests/host/consoles
known=$consoles/known-report.log
clean=$consoles/clean.log
fm=$consoles/fault-matrix.log

# check EXPECTED_STATUS TEXT DESCRIPTION LOG [SCENARIO]: scenario.py
# --console LOG SCENARIO (default shrink-forced) exits with
# EXPECTED_STATUS and prints TEXT.
check() {
	local out rc
	out=$("$TOP/tests/host/scenario.py" --console "$4" "${5:-shrink-forced}" 2>&1)
	rc=$?
	[ $rc = "$1" ] && [[ $out == *"$2"* ]]
	result $? "$3" "exit status $rc (expected $1), expected '$2' in:" "$out"
}

# splat NAME LINE...: consoles/clean.log with LINES after its kernel
# lines (the first 3) must fail, with LINE 1 marked as a splat.
splat() {
	local name=$1
	shift
	{ head -n 3 "$clean"; printf '%s\n' "$@"; tail -n +4 "$clean"; } >"$work/splat.log"
	check 1 ":> $1" "$name fails a run" "$work/splat.log" boot-smoke
}

# insert_after REGEX FILE LINE...: FILE with LINES after the first line
# that REGEX matches.
insert_after() {
	local re=$1 file=$2
	shift 2
	awk -v re="$re" -v add="$(printf '%s\n' "$@")" \
		'{ print } !done && $0 ~ re { print add; done = 1 }' "$file"
}

echo "TAP version 13"
echo "1..52"

# --- KNOWN_REPORTS, on a log without caller ids -------------------------
check 0 "not failures: 1x kswapd's swap table allocation" \
	"kswapd's swap table allocation failure passes, and is named" "$known"

sed 's/folio_alloc_swap/ttm_pool_alloc_page/' "$known" >"$work/other-caller.log"
check 1 "console:7:> [   15.721720] Call Trace:" \
	"the same allocation failure from another call chain fails" \
	"$work/other-caller.log"

{ cat "$known"; echo "[   16.100000] WARNING: CPU: 1 PID: 80 at drivers/gpu/drm/simgpu/simgpu_ttm.c:120 simgpu_bo_move+0x1c/0x40"; } >"$work/warning.log"
check 1 "> [   16.100000] WARNING: CPU: 1" \
	"a WARNING after the known report fails" "$work/warning.log"

{ cat "$known"; printf '%s\n' "[   40.000000] INFO: task simgpu-shrink:90 blocked for more than 20 seconds." \
	"[   40.000100] Call Trace:" "[   40.000200]  <TASK>" \
	"[   40.000300]  schedule+0x30/0x90" "[   40.000400]  </TASK>"; } >"$work/hung.log"
check 1 "> [   40.000100] Call Trace:" \
	"a second stack dump after the known report fails" "$work/hung.log"

sed 's/^ok 3 - round 1: every byte verified (0 bad)/not ok 3 - round 1: every byte verified (12 bad)/' \
	"$known" >"$work/mismatch.log"
check 1 "not ok 3 - round 1: every byte verified (12 bad)" \
	"a failed guest test point fails" "$work/mismatch.log"

check 2 "cannot read" "a console log that is not there: an error" \
	"$work/none.log"

# Without caller ids, only lines shaped like parts of the report are
# let through: another task's splat in the middle of it fails, an
# ordinary line does not stop the report from being recognized.
insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' "$known" \
	"[   15.723420] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:275" \
	>"$work/old-interleaved-bug.log"
check 1 "> [   15.723420] BUG: sleeping function called from invalid context" \
	"no caller ids: a splat printed inside the known report fails" \
	"$work/old-interleaved-bug.log"
insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' "$known" \
	"[   15.723420] simgpu 0000:00:02.0: [drm] engine timeout (status 0x1, error 0 at 0x0): resetting" \
	>"$work/old-interleaved-line.log"
check 0 "not failures: 1x kswapd's swap table allocation" \
	"no caller ids: an ordinary line inside the known report does not hide it" \
	"$work/old-interleaved-line.log"
sed '/<\/TASK>/d' "$known" >"$work/old-unended.log"
check 1 "> [   15.721720] Call Trace:" \
	"a known report whose stack dump does not end fails" "$work/old-unended.log"

# --- KNOWN_REPORTS with caller ids ----------------------------------------
# The same report as a kernel with CONFIG_PRINTK_CALLER prints it
# (kernel/printk/printk.c print_caller(): "[%6s]" of "T<pid>"): kswapd0
# is PID 35.
sed -E 's/^(\[ *[0-9]+\.[0-9]+\])/\1[    T35]/' "$known" >"$work/known-caller.log"
check 0 "not failures: 1x kswapd's swap table allocation" \
	"with caller ids: the known report passes, and is named" \
	"$work/known-caller.log"
insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' "$work/known-caller.log" \
	"[   15.723420][    T80] WARNING: CPU: 1 PID: 80 at drivers/gpu/drm/simgpu/simgpu_ttm.c:120 simgpu_bo_move+0x1c/0x40 [simgpu]" \
	>"$work/caller-interleaved-warn.log"
check 1 "> [   15.723420][    T80] WARNING: CPU: 1 PID: 80" \
	"with caller ids: another task's WARNING inside the known report fails" \
	"$work/caller-interleaved-warn.log"
insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' "$work/known-caller.log" \
	"[   15.723420][     C1] Call Trace:" "[   15.723421][     C1]  <IRQ>" \
	"[   15.723422][     C1]  dump_stack_lvl+0x53/0x70" \
	"[   15.723423][     C1]  folio_alloc_swap+0x51d/0x860" \
	"[   15.723424][     C1]  </IRQ>" >"$work/caller-interleaved-stack.log"
check 1 "> [   15.723420][     C1] Call Trace:" \
	"with caller ids: another CPU's stack dump inside the known report fails" \
	"$work/caller-interleaved-stack.log"
insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' "$work/known-caller.log" \
	"[   15.723420][    T80] simgpu 0000:00:02.0: [drm] engine timeout (status 0x1, error 0 at 0x0): resetting" \
	>"$work/caller-interleaved-line.log"
check 0 "not failures: 1x kswapd's swap table allocation" \
	"with caller ids: another task's ordinary line inside the known report does not hide it" \
	"$work/caller-interleaved-line.log"
# The frame must be in the report's own stack: here only another
# task's (whose stack dump fails anyway) has it.
sed 's/folio_alloc_swap/ttm_pool_alloc_page/' "$work/known-caller.log" |
	insert_after 'isolate_lock_cluster\+0x17c/0x1d0$' /dev/stdin \
	"[   15.723420][    T80]  folio_alloc_swap+0x51d/0x860" >"$work/caller-foreign-frame.log"
check 1 "console:7:> [   15.721720][    T35] Call Trace:" \
	"with caller ids: the identifying frame in another task's lines does not allow the report" \
	"$work/caller-foreign-frame.log"

# --- every kind of report fails a run -------------------------------------
check 0 "ok 1 - boot-smoke: guest test points" \
	"consoles/clean.log (a real clean console with caller ids) passes" \
	"$clean" boot-smoke
# kernel/rcu/tree_stall.h print_cpu_stall() (pr_fmt "rcu: ")
splat "RCU self-detected stall" \
	"[   62.512040][     C1] rcu: INFO: rcu_preempt self-detected stall on CPU" \
	"[   62.512056][     C1] rcu: 	1-....: (20999 ticks this GP) idle=c34c/1/0x4000000000000000 softirq=2481/2481 fqs=5235" \
	"[   62.512080][     C1] rcu: 	(t=21000 jiffies g=3917 q=812 ncpus=2)"
# kernel/rcu/tree_stall.h print_other_cpu_stall()
splat "RCU stall on another CPU" \
	"[   62.512040][     C0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:" \
	"[   62.512056][     C0] rcu: 	1-...!: (0 ticks this GP) idle=5f8c/0/0x0 softirq=2481/2481 fqs=0 (false positive?)"
# kernel/rcu/tree_exp.h synchronize_rcu_expedited_stall()
splat "RCU expedited stall" \
	"[   62.512040][     C0] rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks: { 1-... } 21004 jiffies s: 429 root: 0x2/."
# kernel/irq/spurious.c __report_bad_irq()
splat "an interrupt nobody handled" \
	"[   20.331200][     C0] irq 11: nobody cared (try booting with the \"irqpoll\" option)" \
	"[   20.331301][     C0] CPU: 0 UID: 0 PID: 0 Comm: swapper/0 Tainted: G           O        7.3.4 #1 PREEMPTLAZY" \
	"[   20.331420][     C0] handlers:" \
	"[   20.331440][     C0] [<00000000a1b2c3d4>] simgpu_irq [simgpu]" \
	"[   20.331460][     C0] Disabling IRQ #11"
# kernel/locking/lockdep.c lockdep_init_map_type() -> static_obj() check
splat "lockdep: a non-static key" \
	"[   12.402010][    T80] INFO: trying to register non-static key." \
	"[   12.402020][    T80] The code is fine but needs lockdep annotation, or maybe" \
	"[   12.402030][    T80] you didn't initialize this object before use?" \
	"[   12.402040][    T80] turning off the locking correctness validator."
# kernel/sched/core.c __might_resched()
splat "sleeping in atomic context" \
	"[   12.402010][    T80] BUG: sleeping function called from invalid context at kernel/locking/mutex.c:275" \
	"[   12.402020][    T80] in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 80, name: simgpu-evict"
# kernel/locking/lockdep.c print_circular_bug_header()
splat "lockdep: circular locking" \
	"[   12.402010][    T80] WARNING: possible circular locking dependency detected" \
	"[   12.402020][    T80] 7.3.4 #1 Tainted: G           O"
# kernel/locking/lockdep.c print_deadlock_bug()
splat "lockdep: recursive locking" \
	"[   12.402010][    T80] WARNING: possible recursive locking detected" \
	"[   12.402020][    T80] 7.3.4 #1 Tainted: G           O"
# lib/refcount.c refcount_warn_saturate(): the WARN's message line
splat "a refcount underflow" \
	"[   12.402010][    T80] refcount_t: underflow; use-after-free."
# mm/kmemleak.c __print_unreferenced(), through /init's cat of
# /sys/kernel/debug/kmemleak: no printk prefix
splat "a kmemleak report" \
	"unreferenced object 0xffff888004a3c000 (size 64):" \
	"  comm \"simgpu-evict\", pid 80, jiffies 4294912345" \
	"  backtrace (crc 1a2b3c4d):" \
	"    __kmalloc_cache_noprof+0x2c5/0x3a0" \
	"    simgpu_bo_create+0x4e/0x90 [simgpu]"
# kernel/watchdog.c watchdog_timer_fn() (pr_fmt "watchdog: ")
splat "a soft lockup" \
	"[   48.200100][     C0] watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [simgpu-evict:80]"
# kernel/watchdog.c watchdog_hardlockup_check()
splat "a hard lockup" \
	"[   48.200100][     C1] watchdog: CPU1: Watchdog detected hard LOCKUP on cpu 0"
# kernel/hung_task.c check_hung_task()
splat "a hung task" \
	"[  130.004000][    T30] INFO: task simgpu-shrink:90 blocked for more than 61 seconds." \
	"[  130.004010][    T30]       Tainted: G           O        7.3.4 #1"
splat "a hung task in I/O wait" \
	"[  130.004000][    T30] INFO: task kworker/u8:2:45 blocked in I/O wait for more than 61 seconds."
# kernel/dma/debug.c err_printk() (pr_fmt "DMA-API: "), before its WARN
splat "a DMA-API report" \
	"[   12.402010][    T80] DMA-API: simgpu 0000:00:02.0: device driver frees DMA memory with wrong function [device address=0x0000000004a3c000] [size=4096 bytes] [mapped as page] [unmapped as single]"
{ head -n 3 "$clean"; echo "[    0.912345][     T1] DMA-API: preallocated 65536 debug entries"
	echo "[    0.912350][     T1] DMA-API: debugging enabled by kernel config"
	echo "[   36.100445][    T56] DMA-API: cacheline tracking ENOMEM, dma-debug disabled"
	tail -n +4 "$clean"; } >"$work/dma-info.log"
check 0 "ok 1 - boot-smoke: guest test points" \
	"DMA-API's other lines (entries, switched off after an allocation failed) do not fail a run" \
	"$work/dma-info.log" boot-smoke
# lib/ubsan.c ubsan_prologue()
splat "a UBSAN report" \
	"[   12.402010][    T80] UBSAN: shift-out-of-bounds in drivers/gpu/drm/simgpu/simgpu_ttm.c:120:20" \
	"[   12.402020][    T80] shift exponent 64 is too large for 64-bit type 'long long unsigned int'"
# guest-driver/simgpu_engine.c simgpu_engine_check_error(): in any
# scenario, engine faults injected or not (fault-matrix injects them)
splat "a command the engine refused" \
	"[   11.051820][    T11] simgpu 0000:00:01.0: [drm] *ERROR* engine refused a command at 0xd80: GART fault (error 4)"
check 1 ":> [   11.051820][    T11] simgpu 0000:00:01.0: [drm] *ERROR* engine refused" \
	"... and fails a scenario that injects engine faults" "$work/splat.log" \
	fault-matrix
splat "a bare stack dump" \
	"[   12.402010][    T80] Call Trace:" "[   12.402020][    T80]  <TASK>" \
	"[   12.402030][    T80]  dump_stack_lvl+0x53/0x70" "[   12.402040][    T80]  </TASK>"

# --- a scenario's allow-report lines --------------------------------------
check 0 "allowed kernel reports, not failures: " \
	"fault-matrix: its injected allocation failures pass, and are named" \
	"$fm" fault-matrix
check 1 ":> " \
	"the same console fails a scenario without those allow-report lines" \
	"$fm" driver-evict
# The same failure from another caller (only unreliable "? " frames
# name ttm_sg_tt_init) fails.
sed 's/\]  ttm_sg_tt_init+/]  ttm_tt_init+/' "$fm" >"$work/fm-other.log"
check 1 "Call Trace:" \
	"fault-matrix: the same vmalloc failure from another caller fails" \
	"$work/fm-other.log" fault-matrix
# A splat of another task in the middle of the first allowed report.
first=$(grep -n -m1 -E 'page allocation failure:|vmalloc error:' "$fm" | cut -d: -f1)
caller=$(sed -n "${first}p" "$fm" | grep -o '\]\[ *T[0-9]*\]' | tr -d '[] ')
other=T$(( ${caller#T} + 1000 ))
awk -v at=$((first + 4)) -v line="[   28.429700][$(printf '%6s' "$other")] BUG: KASAN: slab-use-after-free in simgpu_bo_move+0x1c/0x40 [simgpu]" \
	'{ print } NR == at { print line }' "$fm" >"$work/fm-interleaved.log"
check 1 "BUG: KASAN: slab-use-after-free" \
	"fault-matrix: another task's splat inside an allowed report fails" \
	"$work/fm-interleaved.log" fault-matrix
# shrink-concurrent's allocation stall (mm/page_alloc.c
# check_alloc_stall_warn()): the known report's dump under a stall
# header, with caller ids.
sed -E -e 's/^(\[ *[0-9]+\.[0-9]+\])/\1[    T35]/' \
	-e 's/kswapd0: page allocation failure: order:0, /simgpu-shrink: page allocation stall for 12 secs: order:0, /' \
	"$known" >"$work/stall.log"
check 0 "not failures: 1x allocation stalled in reclaim" \
	"shrink-concurrent: the allocator's stall report passes, and is named" \
	"$work/stall.log" shrink-concurrent
check 1 "> [   15.719519][    T35] simgpu-shrink: page allocation stall for 12 secs" \
	"... and fails a scenario without that allow-report" \
	"$work/stall.log" shrink-concurrent-debug
# An allow-report cannot let a bug report pass.
cat >"$work/allow-warn.scn" <<'EOF'
# a scenario that tries to allow a WARNING
suite: driver
exec: true
allow-report: a warning | WARNING: | \bsimgpu_bo_move\+
EOF
{ head -n 3 "$clean"; printf '%s\n' \
	"[   12.402000][    T80] WARNING: CPU: 1 PID: 80 at drivers/gpu/drm/simgpu/simgpu_ttm.c:120 simgpu_bo_move+0x1c/0x40 [simgpu]" \
	"[   12.402010][    T80] CPU: 1 UID: 0 PID: 80 Comm: simgpu-evict Tainted: G           O        7.3.4 #1 PREEMPTLAZY" \
	"[   12.402020][    T80] Call Trace:" "[   12.402030][    T80]  <TASK>" \
	"[   12.402040][    T80]  simgpu_bo_move+0x1c/0x40 [simgpu]" \
	"[   12.402050][    T80]  </TASK>"; tail -n +4 "$clean"; } >"$work/warn.log"
check 1 "> [   12.402000][    T80] WARNING: CPU: 1" \
	"allow-report never lets a WARNING pass" "$work/warn.log" "$work/allow-warn.scn"
cat >"$work/allow-bad.scn" <<'EOF'
# a scenario with a malformed allow-report
suite: driver
exec: true
allow-report: page allocation failure: | \bttm_tt_init\+
EOF
out=$("$TOP/tests/host/scenario.py" --check "$work/allow-bad.scn" 2>&1)
[[ $out == *"allow-bad.scn:4: allow-report: expected 'WHAT | HEADER-REGEX | FRAME-REGEX'"* ]]
result $? "an allow-report without three fields is an error naming FILE:LINE" "$out"
printf '# old style\nsuite: driver\nexec: true\nallow: Call Trace:\n' >"$work/allow-old.scn"
out=$("$TOP/tests/host/scenario.py" --check "$work/allow-old.scn" 2>&1)
[[ $out == *"allow-old.scn:4: 'allow' is gone"* ]]
result $? "the old 'allow' key is an error that points to allow-report" "$out"

# --- engine counters --------------------------------------------------------
# stats LOG ERRORS RESETS FALLBACKS: consoles/clean.log with its "after"
# statistics' engine counters set to these.
stats() {
	awk -v e="$2" -v r="$3" -v f="$4" '
		/^simgpu-stats-begin after/ { after = 1 }
		after && /^engine_errors / { $2 = e }
		after && /^engine_resets / { $2 = r }
		after && /^engine_fallbacks / { $2 = f }
		{ print }' "$clean" >"$1"
}
stats "$work/engine-quiet.log" 0 0 0
check 0 "ok 4 - driver-evict: engine counters unchanged" \
	"engine counters that did not move pass" "$work/engine-quiet.log" driver-evict
stats "$work/engine-error.log" 2 1 1
check 1 "engine_errors: 0 before, 2 after" \
	"an engine error in a scenario that injects no device faults fails" \
	"$work/engine-error.log" driver-evict
stats "$work/engine-fallback.log" 0 0 3
check 1 "engine_fallbacks: 0 before, 3 after" \
	"a CPU fallback in a scenario that injects no device faults fails" \
	"$work/engine-fallback.log" driver-evict
check 0 "driver-evict-faults: driver statistics before and after" \
	"engine errors pass in a scenario with engine-faults: yes" \
	"$work/engine-error.log" driver-evict-faults
out=$("$TOP/tests/host/scenario.py" --console "$work/engine-error.log" driver-evict-faults 2>&1)
[[ $out != *"engine counters unchanged"* ]]
result $? "... and it has no engine counter test point" "$out"
# --- a defect outside simgpu, allowed by one scenario ----------------------
# consoles/dma-double-unmap.log is real: TTM's ttm_pool_backup() unmapping
# a tt again after a backup that failed under fault injection.
dma=$TOP/tests/host/consoles/dma-double-unmap.log
check 0 "1x TTM's double unmap after a backup failed" \
	"fault-matrix allows TTM's double unmap from ttm_pool_backup()" \
	"$dma" fault-matrix
sed 's/ttm_pool_backup+/ttm_pool_free+/' "$dma" >"$work/dma-other.log"
check 1 "DMA-API: simgpu" \
	"the same DMA-API report from another frame fails fault-matrix" \
	"$work/dma-other.log" fault-matrix
check 1 "DMA-API: simgpu" \
	"the double unmap fails a scenario that does not allow it" \
	"$dma" driver-evict
tap_finish
