// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-engine: what the driver reports about engine work that failed.
 *
 * Usage: simgpu-engine resets|gart|purge|failnth|lost
 *
 *   resets  more engine resets than the driver once remembered (8): each
 *           round submits a FILL that the device fails (FAULT_FAIL_COUNT)
 *           and a FILL that succeeds; afterwards every failed submission
 *           must still wait with -EIO and every good one with 0, and the
 *           good FILLs' bytes are there.
 *   gart    a move into TT that fails for good (the device is off the
 *           bus, and the CPU cannot reach the BO in invisible VRAM): the
 *           BO stays in VRAM (synchronous moves) or, pipelined
 *           (sync_moves=0), the move is committed and lost: the BO is in
 *           TT reading zeros, one move counted lost; no GART entry is
 *           left pointing at pages TTM freed (gart_bound_pages matches
 *           tt_used_bytes);
 *           a rebind recovers.  Needs --vram 64M --visible-vram 16M.
 *   purge   content nobody can want is dropped, never copied: a DONTNEED
 *           BO evicted from VRAM is purged (evict_purges, no engine
 *           bytes, retained=0, reads zero), and a BO closed while busy
 *           (waiting to be destroyed) is purged by a shrink pass, not
 *           backed up (pages_purged_deleted).
 *   failnth every allocation of an operation fails in turn
 *           (/proc/thread-self/fail-nth, failslab): a 64 KiB BO with a
 *           pattern is moved between SYSTEM, TT and VRAM0 each way,
 *           copied by the engine from each into a TT BO, and shrunk from
 *           SYSTEM and TT; copied with an out timeline point and a
 *           sync_file; and BOs are created in each placement.  For
 *           n = 1, 2, ... the n-th slab allocation of the operation
 *           fails, until it makes fewer than n.  Each attempt succeeds
 *           (a copy: its bytes arrive, its point signals) or fails with
 *           -ENOMEM/-ENOSPC, the BO where it may be; the pattern intact;
 *           no command the engine refuses (engine_bad_cmds); as many
 *           GART entries bound as TT holds.  A BO a failed submission
 *           left in a hop's temporary TT is then moved to TT, every
 *           allocation failing in turn too: rebound, not copied (no
 *           engine bytes).  At the end, with everything closed, every
 *           gauge is back to zero (no error path kept memory).
 *   lost    surprise removal: engine work is queued on a slowed engine
 *           (FAULT_STALL_US), then the device reads all-ones for a while
 *           (FAULT_REMOVED_MS).  The driver must fail that work (-EIO),
 *           never report it done, and refuse new work (-ENODEV); once the
 *           device answers again, unbind and bind bring it back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define BO_SIZE		(256 * 1024)
#define SECOND_NS	1000000000LL
#define RESET_ROUNDS	12
#define TT_ONLY		DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT)

static struct tap t;

static int resets_test(void)
{
	uint64_t bad_seq[RESET_ROUNDS], good_seq[RESET_ROUNDS];
	long long resets0 = stat_get("engine_resets");
	unsigned int i, wrong_bad = 0, wrong_good = 0, setup = 0;
	uint32_t handle;
	uint8_t *map;
	uint64_t bad = 0;
	int fd, ret;

	tap_plan(&t, 4);
	fd = dev_open(NULL);
	map = fd < 0 ? NULL : bo_new(fd, BO_SIZE, TT_ONLY, DRM_SIMGPU_MEM_TT,
				     0, &handle);
	if (!map)
		return tap_finish(&t);

	for (i = 0; i < RESET_ROUNDS; i++) {
		struct drm_simgpu_cmd fail = cmd_fill(handle, 0, BO_SIZE, 0xdead);
		struct drm_simgpu_cmd good = cmd_fill(handle, 0, BO_SIZE,
						      0x01010101 * (i + 1));

		if (dbg_write("fault_fail_count", "1") ||
		    gpu_submit(fd, &fail, 1, &bad_seq[i]) ||
		    seqno_wait(fd, bad_seq[i], 10 * SECOND_NS) != -EIO ||
		    gpu_submit(fd, &good, 1, &good_seq[i]) ||
		    seqno_wait(fd, good_seq[i], 10 * SECOND_NS)) {
			tap_diag("round %u: setup failed", i);
			setup++;
			break;
		}
		bad += bytes_check(map, BO_SIZE, i + 1);
	}
	tap_check(&t, !setup && stat_get("engine_resets") - resets0 >=
		  RESET_ROUNDS, "%u rounds, each failed submission reset the "
		  "engine (%lld resets)", i,
		  stat_get("engine_resets") - resets0);
	for (i = 0; i < RESET_ROUNDS; i++) {
		ret = seqno_wait(fd, bad_seq[i], 0);
		if (ret != -EIO) {
			tap_diag("failed submission %u (seqno %llu) waits with %d",
				 i, (unsigned long long)bad_seq[i], ret);
			wrong_bad++;
		}
		ret = seqno_wait(fd, good_seq[i], 0);
		if (ret) {
			tap_diag("good submission %u (seqno %llu) waits with %d",
				 i, (unsigned long long)good_seq[i], ret);
			wrong_good++;
		}
	}
	tap_check(&t, !wrong_bad, "all %u failed submissions still wait with "
		  "-EIO after %u resets", RESET_ROUNDS, RESET_ROUNDS);
	tap_check(&t, !wrong_good, "all %u good submissions wait with 0",
		  RESET_ROUNDS);
	tap_check(&t, !bad, "every good FILL's bytes arrived (%llu bad)",
		  (unsigned long long)bad);
	munmap(map, BO_SIZE);
	close(fd);
	return tap_finish(&t);
}

static int gart_test(void)
{
	const uint64_t size = 32 * MiB;	/* more than the visible 16 MiB */
	uint64_t i, nonzero = 0;
	struct drm_simgpu_cmd c;
	long long bound, used, lost;
	uint8_t *map;
	char bdf[64];
	uint32_t h;
	int fd, ret;

	tap_plan(&t, 5);
	fd = dev_open(NULL);
	if (fd < 0 || !dev_bdf() ||
	    bo_create(fd, size, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
		      TT_ONLY, DRM_SIMGPU_MEM_VRAM0, 0, &h))
		return tap_finish(&t);
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());
	c = cmd_fill(h, 0, size, 0x5a5a5a5a);
	ret = gpu_run(fd, &c, 1);
	tap_check(&t, !ret && bo_mem(fd, h) == DRM_SIMGPU_MEM_VRAM0,
		  "a 32 MiB BO filled in VRAM0, beyond the CPU-visible 16 MiB "
		  "(%d)", ret);

	/*
	 * The engine never gets the move (the device is off the bus), the
	 * CPU cannot reach the BO: the move into TT fails after the driver
	 * bound the new GART entries.
	 */
	dbg_write("fault_removed_ms", "3000");
	lost = stat_get("moves_lost");
	ret = bo_migrate(fd, h, DRM_SIMGPU_MEM_TT, 0);
	if (param_bool("sync_moves") == 0) {
		/*
		 * Pipelined: the move is committed before it runs; lost with
		 * the engine, it leaves the BO in TT reading zeros, never the
		 * pool pages' old content.
		 */
		map = ret ? NULL : bo_map(fd, h, size);
		for (i = 0; map && i < size; i += 8)
			nonzero += *(uint64_t *)(map + i) != 0;
		tap_check(&t, !ret && map && bo_mem(fd, h) == DRM_SIMGPU_MEM_TT &&
			  !nonzero && stat_get("moves_lost") == lost + 1,
			  "the pipelined migration is committed and lost with the engine: the BO is in %s and reads zeros (%llu non-zero words), one move lost (%lld)",
			  mem_name(bo_mem(fd, h)), (unsigned long long)nonzero,
			  stat_get("moves_lost") - lost);
		if (map)
			munmap(map, size);
	} else {
		tap_check(&t, (ret == -ENODEV || ret == -EIO) &&
			  bo_mem(fd, h) == DRM_SIMGPU_MEM_VRAM0,
			  "the failed migration reports an error and the BO stays in "
			  "VRAM0 (%d, in %s)", ret, mem_name(bo_mem(fd, h)));
	}
	bound = stat_get("gart_bound_pages");
	used = stat_get("tt_used_bytes");
	tap_check(&t, bound >= 0 && bound * 4096 == used,
		  "no GART entry left behind: %lld entries bound, %lld bytes "
		  "in TT", bound, used);
	close(fd);

	while (dbg_read("fault_removed_ms") != 0)
		usleep(100 * 1000);
	ret = file_write("/sys/bus/pci/drivers/simgpu/unbind", bdf);
	if (!ret)
		ret = file_write("/sys/bus/pci/drivers/simgpu/bind", bdf);
	tap_check(&t, !ret, "unbind and bind of %s (%d)", bdf, ret);
	tap_check(&t, smoke_checks(NULL) == 0, "the device works again");
	return tap_finish(&t);
}

static int bo_madvise(int fd, uint32_t handle, uint32_t madv, uint32_t *retained)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);

	*retained = m.retained;
	return ret;
}

static int purge_test(void)
{
	const uint64_t size = 4 * MiB;
	struct drm_simgpu_cmd c[8];
	long long purges, bytes, deleted, backups;
	uint32_t h, busy, retained = 1;
	char buf[32];
	uint8_t *map;
	int fd, ret;
	unsigned int i;

	tap_plan(&t, 4);
	fd = dev_open(NULL);
	map = fd < 0 ? NULL :
	      bo_new(fd, size, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
		     TT_ONLY | DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
		     DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
		     &h);
	if (!map)
		return tap_finish(&t);

	/* A DONTNEED BO in VRAM, evicted. */
	memset(map, 0x77, size);
	purges = stat_get("evict_purges");
	bytes = stat_get("engine_bytes") + stat_get("cpu_bytes");
	ret = bo_madvise(fd, h, DRM_SIMGPU_MADV_DONTNEED, &retained);
	if (!ret)
		ret = dbg_write("evict_vram", "1");
	tap_check(&t, !ret && stat_get("evict_purges") == purges + 1 &&
		  stat_get("engine_bytes") + stat_get("cpu_bytes") == bytes &&
		  bo_mem(fd, h) == DRM_SIMGPU_MEM_SYSTEM,
		  "a DONTNEED BO evicted from VRAM is purged, not copied (%d, "
		  "%lld purges, %lld bytes moved, now in %s)", ret,
		  stat_get("evict_purges") - purges,
		  stat_get("engine_bytes") + stat_get("cpu_bytes") - bytes,
		  mem_name(bo_mem(fd, h)));
	ret = bo_madvise(fd, h, DRM_SIMGPU_MADV_WILLNEED, &retained);
	tap_check(&t, !ret && !retained && !bytes_check(map, size, 0),
		  "WILLNEED reports it purged and it reads zero (%d, retained "
		  "%u)", ret, retained);
	munmap(map, size);
	gem_close(fd, h);

	/* A TT BO kept busy by slowed FILLs, closed: only waiting to go. */
	map = bo_new(fd, size, TT_ONLY, DRM_SIMGPU_MEM_TT, 0, &busy);
	if (!map)
		return tap_finish(&t);
	memset(map, 0x33, size);
	munmap(map, size);
	for (i = 0; i < 8; i++)
		c[i] = cmd_fill(busy, 0, 4096, i);
	ret = dbg_write("fault_stall_us", "300000");
	if (!ret)
		ret = gpu_submit(fd, c, 8, NULL);
	if (!ret)
		ret = gem_close(fd, busy);
	deleted = stat_get("pages_purged_deleted");
	backups = stat_get("pages_backed_up");
	/* A pass that may wait for the GPU: it waits for the FILLs. */
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(size >> 12));
	if (!ret)
		ret = dbg_write("shrink", buf);
	tap_check(&t, !ret && stat_get("pages_purged_deleted") - deleted ==
		  (long long)(size >> 12) &&
		  stat_get("pages_backed_up") == backups,
		  "a BO closed while busy is purged by the shrinker, not backed "
		  "up (%d: %lld pages purged, %lld backed up)", ret,
		  stat_get("pages_purged_deleted") - deleted,
		  stat_get("pages_backed_up") - backups);
	dbg_write("fault_stall_us", "0");
	tap_check(&t, smoke_checks(NULL) == 0, "the device works");
	close(fd);
	return tap_finish(&t);
}

#define FAILNTH_SIZE	(64 * 1024)
#define FAILNTH_MAX	1000
#define FAILNTH_SEED	0x5eed

/* /proc/thread-self/fail-nth, open: reading or writing it allocates nothing. */
static int nth_fd = -1;

/*
 * Arm the n-th fallible allocation of this thread to fail (0: disarm);
 * returns what was left of the count before (0 once it fired).
 */
static long long fail_nth(unsigned int n)
{
	char val[16] = "";
	ssize_t len = pread(nth_fd, val, sizeof(val) - 1, 0);
	long long left;

	if (len <= 0)
		return -1;
	val[len] = 0;
	left = atoll(val);
	len = snprintf(val, sizeof(val), "%u", n);
	if (pwrite(nth_fd, val, len, 0) != len)
		return -1;
	return left;
}

/* Poll up to 2 s for the GART to map exactly what TT holds. */
static bool gart_matches_tt(long long *bound, long long *used)
{
	int i;

	for (i = 0; i < 200; i++) {
		*bound = stat_get("gart_bound_pages");
		*used = stat_get("tt_used_bytes");
		if (*bound >= 0 && *bound * 4096 == *used)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* What the n-th allocation fails in: moving the BO, or using it. */
enum failnth_op {
	FAILNTH_MIGRATE,	/* to the scan's destination */
	FAILNTH_SUBMIT,		/* a copy from it into a TT BO */
	FAILNTH_SHRINK,		/* a shrink pass (debugfs "shrink") */
	FAILNTH_SUBMIT_SYNCS,	/* the copy, signalling a timeline point
				 * and returning a sync_file */
};

/* What a scan works on: the BO, its pattern, a TT BO to copy into. */
struct failnth_ctx {
	int fd, shrink_fd;
	uint32_t h, scratch;
	const uint8_t *map;
	uint8_t *scratch_map;
	struct drm_simgpu_cmd copy;
	uint32_t syncobj;
	uint64_t point;
};

/* Whether timeline point @point of syncobj @h has signalled. */
static bool point_signalled(int fd, uint32_t h, uint64_t point)
{
	struct drm_syncobj_timeline_wait w = {
		.handles = (uintptr_t)&h, .points = (uintptr_t)&point,
		.count_handles = 1,
	};

	return !drm_xioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
}

/* What one scan found; see failnth_check(). */
struct failnth_result {
	unsigned int attempts, fired, failed, bad_errno, bad_place, bad_bytes;
	unsigned int gart_mismatch, leftovers;
	long long refused;
	bool ended;
};

/* Whether @mem is where the BO may be after @op from @from to @to. */
static bool failnth_place_ok(enum failnth_op op, int ret, uint32_t from,
			     uint32_t to, int mem)
{
	switch (op) {
	case FAILNTH_MIGRATE:
		/* Or a hop's temporary TT, if it failed half-way. */
		return mem == (int)(ret ? from : to) ||
		       (ret && mem == DRM_SIMGPU_MEM_TT);
	case FAILNTH_SUBMIT:
	case FAILNTH_SUBMIT_SYNCS:
		/* Where the engine reaches it, or where it was. */
		return mem == (int)from || mem == DRM_SIMGPU_MEM_TT ||
		       mem == DRM_SIMGPU_MEM_VRAM0;
	default:
		return mem == (int)from || mem == DRM_SIMGPU_MEM_SYSTEM;
	}
}

/*
 * One attempt: @op on the BO (in @from) with the n-th allocation
 * failing.  Records in @r what went wrong; returns the fail-nth count
 * left (> 0: @op made fewer than n).
 */
static long long failnth_once(struct failnth_ctx *x, enum failnth_op op,
			      uint32_t from, uint32_t to, unsigned int n,
			      struct failnth_result *r)
{
	static const char *const names[] = {
		"migration", "copy", "shrink", "copy with syncs",
	};
	struct drm_simgpu_sync out = {
		.handle = x->syncobj, .point = ++x->point,
	};
	struct drm_simgpu_submit sub = {
		.cmds = (uintptr_t)&x->copy, .num_cmds = 1,
		.flags = DRM_SIMGPU_SUBMIT_FENCE_OUT,
		.out_syncs = (uintptr_t)&out, .num_out_syncs = 1,
		.out_fence_fd = -1,
	};
	long long left, bound, used;
	bool submit = op == FAILNTH_SUBMIT || op == FAILNTH_SUBMIT_SYNCS;
	uint64_t seqno = 0;
	int ret, mem;

	if (submit)
		memset(x->scratch_map, 0, FAILNTH_SIZE);
	fail_nth(n);
	if (op == FAILNTH_MIGRATE)
		ret = bo_migrate(x->fd, x->h, to, 0);
	else if (op == FAILNTH_SUBMIT)
		ret = gpu_submit(x->fd, &x->copy, 1, &seqno);
	else if (op == FAILNTH_SUBMIT_SYNCS)
		ret = drm_xioctl(x->fd, DRM_IOCTL_SIMGPU_SUBMIT, &sub);
	else
		ret = pwrite(x->shrink_fd, "64", 2, 0) == 2 ? 0 : -errno;
	left = fail_nth(0);
	/*
	 * A submission that was accepted must also succeed, signal its
	 * point, and give a sync_file or (none could be made) -1.
	 */
	if (op == FAILNTH_SUBMIT_SYNCS && !ret) {
		seqno = sub.seqno;
		if (sub.out_fence_fd >= 0)
			close(sub.out_fence_fd);
	}
	if (submit && !ret) {
		ret = seqno_wait(x->fd, seqno, 10 * SECOND_NS);
		if (!ret && op == FAILNTH_SUBMIT_SYNCS &&
		    !point_signalled(x->fd, x->syncobj, out.point))
			ret = -EBADMSG;
		ret = ret ? ret : 1; /* done: the copy must be there */
	}
	bo_wait(x->fd, x->h, 10 * SECOND_NS);
	mem = bo_mem(x->fd, x->h);
	r->attempts++;
	r->fired += left == 0;
	if (ret < 0) {
		r->failed++;
		if (ret != -ENOMEM && ret != -ENOSPC) {
			r->bad_errno++;
			tap_diag("n=%u: %s from %s failed with %d", n,
				 names[op], mem_name(from), ret);
		}
		if (op == FAILNTH_MIGRATE && mem == DRM_SIMGPU_MEM_TT &&
		    from != DRM_SIMGPU_MEM_TT)
			r->leftovers++;
	}
	if (!failnth_place_ok(op, ret, from, to, mem)) {
		r->bad_place++;
		tap_diag("n=%u: %s from %s (%d): the BO is in %s", n,
			 names[op], mem_name(from), ret, mem_name(mem));
	}
	if (pattern_check(x->map, 0, FAILNTH_SIZE, FAILNTH_SEED) ||
	    (ret == 1 && pattern_check(x->scratch_map, 0, FAILNTH_SIZE,
				       FAILNTH_SEED))) {
		r->bad_bytes++;
		tap_diag("n=%u: %s from %s (%d): the pattern is gone (BO in %s)",
			 n, names[op], mem_name(from), ret, mem_name(mem));
	}
	if (!gart_matches_tt(&bound, &used)) {
		r->gart_mismatch++;
		tap_diag("n=%u: %s from %s (%d): %lld GART entries bound, %lld bytes in TT",
			 n, names[op], mem_name(from), ret, bound, used);
	}
	return left;
}

/*
 * Scan @op from @from (to @to): each attempt starts with the BO in @from
 * (moved there without faults, its pages read in) and fails its n-th
 * allocation.
 */
static void failnth_scan(struct failnth_ctx *x, enum failnth_op op,
			 uint32_t from, uint32_t to,
			 struct failnth_result *r)
{
	long long refused0 = stat_get("engine_bad_cmds");
	unsigned int n;

	memset(r, 0, sizeof(*r));
	for (n = 1; n <= FAILNTH_MAX; n++) {
		if (bo_migrate(x->fd, x->h, from, 0) ||
		    bo_mem(x->fd, x->h) != (int)from ||
		    pattern_check(x->map, 0, FAILNTH_SIZE, FAILNTH_SEED))
			break;
		if (failnth_once(x, op, from, to, n, r) > 0) {
			r->ended = true;
			break;
		}
	}
	r->refused = stat_get("engine_bad_cmds") - refused0;
}

static bool failnth_check(const struct failnth_result *r, const char *what)
{
	return tap_check(&t, r->ended && r->fired && !r->bad_errno &&
			 !r->bad_place && !r->bad_bytes && !r->gart_mismatch &&
			 !r->refused,
			 "%s, each allocation failing in turn: %u attempts (scan %s), %u failures injected, %u failed (%u with another error than ENOMEM/ENOSPC), %u left in a hop's TT, %u elsewhere than expected, %u lost the pattern, %u with GART and TT apart, %lld commands the engine refused",
			 what, r->attempts, r->ended ? "complete" : "CUT SHORT",
			 r->fired, r->failed, r->bad_errno, r->leftovers,
			 r->bad_place,
			 r->bad_bytes, r->gart_mismatch, r->refused);
}

/*
 * Move the BO to SYSTEM, then submit the copy from it (it prefers VRAM0)
 * with the n-th allocation failing: 1 if that left the BO in the
 * temporary TT of a hop (the submission failed with it there), 0 if
 * not, -1 if the submission made fewer than n allocations.
 */
static int hop_leftover(struct failnth_ctx *x, unsigned int n)
{
	uint64_t seqno;
	long long left;
	int ret;

	/* Both BOs idle: fewer allocations depend on the engine's pace. */
	ret = bo_migrate(x->fd, x->h, DRM_SIMGPU_MEM_SYSTEM, 0);
	ret = ret ? ret : bo_wait(x->fd, x->h, 10 * SECOND_NS);
	ret = ret ? ret : bo_wait(x->fd, x->scratch, 10 * SECOND_NS);
	if (ret) {
		tap_diag("n=%u: cannot move the BO to SYSTEM and idle it: %d",
			 n, ret);
		return -1;
	}
	fail_nth(n);
	ret = gpu_submit(x->fd, &x->copy, 1, &seqno);
	left = fail_nth(0);
	if (!ret)
		seqno_wait(x->fd, seqno, 10 * SECOND_NS);
	if (left > 0)
		return -1;
	return ret && bo_mem(x->fd, x->h) == DRM_SIMGPU_MEM_TT;
}

/*
 * Find the submission allocation whose failure leaves the BO in a hop's
 * temporary TT, and leave it there: its number, or 0 if three scans
 * found none.
 */
static unsigned int hop_find(struct failnth_ctx *x)
{
	unsigned int n, scans;
	int ret;

	for (scans = 0; scans < 3; scans++)
		for (n = 1; n <= FAILNTH_MAX; n++) {
			ret = hop_leftover(x, n);
			if (ret > 0)
				return n;
			if (ret < 0)
				break;
		}
	return 0;
}

/* How often the leftover may have to be found anew (see failnth_hop()). */
#define HOP_REFINDS	8

/*
 * A hop's second leg that failed leaves the BO in a temporary TT range,
 * which TTM then moves out of even to TT: the same pages, to be rebound.
 * A submission moves its BOs without the retry a migration makes, so it
 * is a submission, its n-th allocation failing, that leaves the BO there.
 * Which allocation that is can change between submissions (whether a
 * fence still in the BO's reservation has signalled decides whether one
 * is made, and on a loaded host the engine is late): when the same n no
 * longer leaves it there, it is found anew.
 */
static void failnth_hop(struct failnth_ctx *x)
{
	long long bytes, rebinds, refused0 = stat_get("engine_bad_cmds");
	unsigned int n, hop_n, refinds = 0, copies = 0;
	struct failnth_result r;

	memset(&r, 0, sizeof(r));
	hop_n = hop_find(x);
	/* Then, from such a leftover each time, into TT. */
	for (n = 1; hop_n && n <= FAILNTH_MAX; n++) {
		if (hop_leftover(x, hop_n) != 1) {
			if (++refinds > HOP_REFINDS)
				break;
			tap_diag("attempt %u: allocation %u failing no longer leaves the BO in a hop's TT; finding it anew",
				 n, hop_n);
			hop_n = hop_find(x);
			if (!hop_n)
				break;
		}
		bytes = stat_get("engine_bytes");
		rebinds = stat_get("move_tt_tt");
		r.ended = failnth_once(x, FAILNTH_MIGRATE, DRM_SIMGPU_MEM_TT,
				       DRM_SIMGPU_MEM_TT, n, &r) > 0;
		if (stat_get("move_tt_tt") - rebinds != 1 ||
		    stat_get("engine_bytes") != bytes)
			copies++;
		if (r.ended)
			break;
	}
	r.refused = stat_get("engine_bad_cmds") - refused0;
	tap_check(&t, r.ended && r.fired && !r.bad_errno && !r.bad_place &&
		  !r.bad_bytes && !r.gart_mismatch && !r.refused && !copies,
		  "out of a hop's temporary TT (a submission's move, its allocation %u failing; found anew %u times) into TT, each allocation failing in turn: %u attempts (scan %s), %u failures injected, %u migrations failed, %u elsewhere than TT, %u lost the pattern, %u with GART and TT apart, %lld commands refused; %u not rebound once without an engine copy",
		  hop_n, refinds, r.attempts, r.ended ? "complete" : "CUT SHORT",
		  r.fired, r.failed, r.bad_place, r.bad_bytes,
		  r.gart_mismatch, r.refused, copies);
}

/*
 * Creation of a BO in @mem, each allocation failing in turn: created
 * there, or -ENOMEM/-ENOSPC; its pages read zero.
 */
static void failnth_create(struct failnth_ctx *x, uint32_t mem)
{
	unsigned int n, fired = 0, failed = 0, bad = 0;
	uint32_t flags = mem == DRM_SIMGPU_MEM_VRAM0 ?
			 DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS : 0;
	long long left = 0;
	uint32_t h;
	uint8_t *p;
	int ret;

	for (n = 1; n <= FAILNTH_MAX && left <= 0; n++) {
		fail_nth(n);
		ret = bo_create(x->fd, FAILNTH_SIZE, DRM_SIMGPU_PLACEMENT(mem),
				mem, flags, &h);
		left = fail_nth(0);
		fired += left == 0;
		if (ret) {
			failed++;
			if (ret != -ENOMEM && ret != -ENOSPC) {
				bad++;
				tap_diag("n=%u: creation in %s failed with %d",
					 n, mem_name(mem), ret);
			}
			continue;
		}
		p = bo_map(x->fd, h, FAILNTH_SIZE);
		if (bo_mem(x->fd, h) != (int)mem || !p ||
		    bytes_check(p, FAILNTH_SIZE, 0)) {
			bad++;
			tap_diag("n=%u: a BO created in %s is in %s, %s", n,
				 mem_name(mem), mem_name(bo_mem(x->fd, h)),
				 p ? "not zero" : "cannot be mapped");
		}
		if (p)
			munmap(p, FAILNTH_SIZE);
		gem_close(x->fd, h);
	}
	tap_check(&t, left > 0 && fired && !bad,
		  "creation in %s, each allocation failing in turn: %u attempts (scan %s), %u failures injected, %u failed, %u wrong",
		  mem_name(mem), n - 1, left > 0 ? "complete" : "CUT SHORT",
		  fired, failed, bad);
}

static int failnth_test(void)
{
	static const uint32_t order[] = {
		DRM_SIMGPU_MEM_SYSTEM, DRM_SIMGPU_MEM_VRAM0,
		DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM,
		DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_VRAM0,
		DRM_SIMGPU_MEM_SYSTEM,
	};
	static const uint32_t places[] = {
		DRM_SIMGPU_MEM_SYSTEM, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_VRAM0,
	};
	struct failnth_ctx x = { .shrink_fd = -1 };
	unsigned int i, leftovers = 0;
	struct drm_syncobj_create sc = { 0 };
	struct failnth_result r;
	long long refused_all;
	char what[96], why[256];
	uint8_t *map;
	int gauges;

	tap_plan(&t, 19);
	/*
	 * Only failslab counts (fail_page_alloc keeps ignoring GFP_KERNEL),
	 * quietly: a failure is not reported with a stack dump.
	 */
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (nth_fd < 0 ||
	    file_write("/sys/kernel/debug/failslab/ignore-gfp-wait", "N") ||
	    file_write("/sys/kernel/debug/failslab/verbose", "0")) {
		tap_check(&t, false, "failslab and fail-nth (debug kernel)");
		return tap_finish(&t);
	}
	x.fd = dev_open(NULL);
	x.shrink_fd = dbg_open("shrink", O_WRONLY);
	map = x.fd < 0 ? NULL :
	      bo_new(x.fd, FAILNTH_SIZE,
		     DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) | TT_ONLY |
		     DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
		     DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
		     &x.h);
	x.map = map;
	x.scratch_map = !map || x.shrink_fd < 0 ? NULL :
			bo_new(x.fd, FAILNTH_SIZE, TT_ONLY, DRM_SIMGPU_MEM_TT,
			       0, &x.scratch);
	if (!x.scratch_map || bo_migrate(x.fd, x.h, DRM_SIMGPU_MEM_SYSTEM, 0) ||
	    drm_xioctl(x.fd, DRM_IOCTL_SYNCOBJ_CREATE, &sc))
		return tap_finish(&t);
	x.syncobj = sc.handle;
	pattern_fill(map, 0, FAILNTH_SIZE, FAILNTH_SEED);
	x.copy = cmd_copy(x.h, 0, x.scratch, 0, FAILNTH_SIZE);
	refused_all = stat_get("engine_bad_cmds");

	for (i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		failnth_scan(&x, FAILNTH_MIGRATE, order[i], order[i + 1], &r);
		leftovers += r.leftovers;
		snprintf(what, sizeof(what), "migration %s -> %s",
			 mem_name(order[i]), mem_name(order[i + 1]));
		failnth_check(&r, what);
	}
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		failnth_scan(&x, FAILNTH_SUBMIT, places[i], 0, &r);
		snprintf(what, sizeof(what), "engine copy from %s",
			 mem_name(places[i]));
		failnth_check(&r, what);
	}
	for (i = 0; i < 2; i++) {
		failnth_scan(&x, FAILNTH_SHRINK, places[i], 0, &r);
		snprintf(what, sizeof(what), "shrink pass over %s",
			 mem_name(places[i]));
		failnth_check(&r, what);
	}
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		failnth_scan(&x, FAILNTH_SUBMIT_SYNCS, places[i], 0, &r);
		snprintf(what, sizeof(what),
			 "engine copy from %s, with a timeline point and a sync_file",
			 mem_name(places[i]));
		failnth_check(&r, what);
	}
	for (i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		failnth_create(&x, places[i]);
	failnth_hop(&x);

	file_write("/sys/kernel/debug/failslab/ignore-gfp-wait", "Y");
	munmap(map, FAILNTH_SIZE);
	munmap(x.scratch_map, FAILNTH_SIZE);
	gem_close(x.fd, x.h);
	gem_close(x.fd, x.scratch);
	close(x.shrink_fd);
	close(x.fd);
	/* Nothing an error path forgot: no page, VRAM or GART left in use. */
	gauges = gauges_wait_zero(10, why, sizeof(why));
	tap_check(&t, smoke_checks(NULL) == 0 &&
		  stat_get("engine_bad_cmds") == refused_all && !gauges,
		  "the device works; %lld commands refused in all (%u failed migrations left the BO in a hop's TT); with every BO closed, %d gauges not zero%s%s",
		  stat_get("engine_bad_cmds") - refused_all, leftovers,
		  gauges, gauges ? ": " : "", gauges ? why : "");
	return tap_finish(&t);
}

static int lost_test(void)
{
	struct drm_simgpu_cmd c[4];
	uint64_t seq[8], last = 0;
	char bdf[64], path[128];
	unsigned int i, n, done = 0;
	uint32_t handle;
	uint8_t *map;
	double start;
	int fd, ret;

	tap_plan(&t, 6);
	fd = dev_open(NULL);
	map = fd < 0 || !dev_bdf() ? NULL :
	      bo_new(fd, BO_SIZE, TT_ONLY, DRM_SIMGPU_MEM_TT, 0, &handle);
	if (!map)
		return tap_finish(&t);
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());

	/* 8 submissions of 4 FILLs, each command held up for 0.2 s. */
	for (i = 0; i < 4; i++)
		c[i] = cmd_fill(handle, 0, BO_SIZE, i);
	ret = dbg_write("fault_stall_us", "200000");
	for (n = 0; !ret && n < 8; n++)
		ret = gpu_submit(fd, c, 4, &seq[n]);
	tap_check(&t, !ret, "8 submissions queued on a slowed engine");

	/* Off the bus for 4 s; the driver's timeout work looks every 1 s. */
	ret = dbg_write("fault_removed_ms", "4000");
	start = now_s();
	for (i = 0; i < n; i++) {
		ret = seqno_wait(fd, seq[i], 10 * SECOND_NS);
		if (!ret)
			done++;
		else if (ret != -EIO)
			tap_diag("submission %u waits with %d", i, ret);
	}
	/* The first ones may have run before the removal. */
	tap_check(&t, done < n && seqno_wait(fd, seq[n - 1], 0) == -EIO,
		  "the work left at the removal failed with -EIO (%u of %u "
		  "done, last waits with %d, %.1f s)", done, n,
		  seqno_wait(fd, seq[n - 1], 0), now_s() - start);
	ret = gpu_submit(fd, c, 1, &last);
	tap_check(&t, ret == -ENODEV, "a new submission fails with -ENODEV "
		  "(%d)", ret);
	tap_check(&t, stat_get("engine_errors") > 0,
		  "the loss counts as an engine error (%lld)",
		  stat_get("engine_errors"));
	/* The mapping holds the file, and the file the old DRM device. */
	munmap(map, BO_SIZE);
	close(fd);

	/* Back on the bus (the register reads 0 again): rebind. */
	while (dbg_read("fault_removed_ms") != 0 && now_s() - start < 20)
		usleep(100 * 1000);
	ret = file_write("/sys/bus/pci/drivers/simgpu/unbind", bdf);
	if (!ret)
		ret = file_write("/sys/bus/pci/drivers/simgpu/bind", bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/simgpu/%s", bdf);
	tap_check(&t, !ret && !access(path, F_OK),
		  "unbind and bind of %s (%d)", bdf, ret);
	tap_check(&t, smoke_checks(NULL) == 0, "the device works again");
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *mode = argc == 2 ? argv[1] : "";

	if (!strcmp(mode, "resets"))
		return resets_test();
	if (!strcmp(mode, "lost"))
		return lost_test();
	if (!strcmp(mode, "gart"))
		return gart_test();
	if (!strcmp(mode, "purge"))
		return purge_test();
	if (!strcmp(mode, "failnth"))
		return failnth_test();
	fprintf(stderr, "usage: simgpu-engine resets|gart|purge|failnth|lost\n");
	return 2;
}
