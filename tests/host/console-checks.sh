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
# failed guest test point.
#
# consoles/clean.log is a real clean console with caller ids
# (CONFIG_PRINTK_CALLER: "[   12.345678][   T123] text"); each kind of
# report SPLATS knows, as the 7.3 kernel prints it (the source of each
# format is named below), must fail it.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$TOP/tests/host/tap.sh"
consoles=$TOP/tests/host/consoles
known=$consoles/known-report.log
clean=$consoles/clean.log

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

echo "TAP version 13"
echo "1..25"

# --- KNOWN_REPORTS -------------------------------------------------------
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
splat "a bare stack dump" \
	"[   12.402010][    T80] Call Trace:" "[   12.402020][    T80]  <TASK>" \
	"[   12.402030][    T80]  dump_stack_lvl+0x53/0x70" "[   12.402040][    T80]  </TASK>"

tap_finish
