// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-submit: engine work from userspace.
 *
 * COPY and FILL between BOs in VRAM, TT and SYSTEM (which the submission
 * moves where the engine reaches it) and within one BO, several
 * commands in one submission; WAIT on BOs and seqnos, with zero and short
 * timeouts while the engine is slowed down (the device's fault_stall_us
 * knob); and eviction of a BO while a slow copy into it is still queued,
 * forced through debugfs and by VRAM pressure: the eviction must wait for
 * the copy, so the evicted BO holds its result; an engine error fails
 * the submission with -EIO and nothing else.  Every byte is checked
 * against the expected content after each step, and every placement a
 * step relies on (the SYSTEM BO before the submission, both BOs in VRAM0
 * before an eviction, out of it after, with the evictions counted) is
 * checked with GEM_QUERY.
 *
 * Usage: simgpu-submit  (run with VRAM0 of 32 MiB)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bo.h"
#include "tap.h"

#define BO_SIZE		(2 * MiB)
#define FILLER_SIZE	(4 * MiB)
#define STALL_US	"200000"
#define SECOND		1000000000LL

static struct tap t;
static int fd;

struct obj {
	uint32_t h;
	uint8_t *map;
	uint8_t *want;	/* expected content */
};

static bool obj_new(struct obj *o, uint32_t mask, uint32_t mem)
{
	o->map = bo_new(fd, BO_SIZE, mask, mem,
			DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &o->h);
	o->want = calloc(1, BO_SIZE);
	return o->map && o->want;
}

static void obj_pattern(struct obj *o, uint64_t seed)
{
	pattern_fill(o->map, 0, BO_SIZE, seed);
	pattern_fill(o->want, 0, BO_SIZE, seed);
}

static uint64_t obj_bad(const struct obj *o)
{
	uint64_t i, bad = 0;

	for (i = 0; i < BO_SIZE; i++)
		bad += o->map[i] != o->want[i];
	return bad;
}

static void want_fill(struct obj *o, uint64_t off, uint64_t len, uint32_t v)
{
	uint64_t i;

	for (i = 0; i < len; i += 4)
		memcpy(o->want + off + i, &v, 4);
}

static void copy_between(struct obj *a, struct obj *b, struct obj *c,
			 struct obj *d)
{
	struct drm_simgpu_cmd cmd[3];
	uint64_t bad;
	int ret;

	int in_system;

	obj_pattern(a, 1);
	/* The submission brings it back to VRAM (an engine move via TT). */
	ret = bo_migrate(fd, a->h, DRM_SIMGPU_MEM_SYSTEM, 0);
	/* Otherwise the submission would have nothing to bring back. */
	in_system = bo_mem(fd, a->h);
	if (!ret && in_system != DRM_SIMGPU_MEM_SYSTEM)
		ret = -EXDEV;
	cmd[0] = cmd_copy(a->h, 0, b->h, 0, BO_SIZE);
	cmd[1] = cmd_copy(a->h, 4096, c->h, 65536, MiB);
	cmd[2] = cmd_copy(a->h, MiB, d->h, 12345, 54321);
	ret = ret ? ret : gpu_run(fd, cmd, 3);
	memcpy(b->want, a->want, BO_SIZE);
	memcpy(c->want + 65536, a->want + 4096, MiB);
	memcpy(d->want + 12345, a->want + MiB, 54321);
	bad = obj_bad(a) + obj_bad(b) + obj_bad(c) + obj_bad(d);
	tap_check(&t, !ret && !bad && bo_mem(fd, d->h) == DRM_SIMGPU_MEM_TT &&
		  bo_mem(fd, a->h) == DRM_SIMGPU_MEM_VRAM0,
		  "COPY from a SYSTEM BO (migrated to %s, now in %s) to VRAM, TT and a SYSTEM BO (now in %s) in one submission: %llu bad bytes (%d)",
		  mem_name(in_system), mem_name(bo_mem(fd, a->h)),
		  mem_name(bo_mem(fd, d->h)), (unsigned long long)bad, ret);
}

static void copy_within(struct obj *a, struct obj *b)
{
	struct drm_simgpu_cmd cmd[2];
	uint64_t bad;
	int ret;

	cmd[0] = cmd_copy(a->h, 0, a->h, MiB, MiB / 2);
	cmd[1] = cmd_copy(a->h, 3 * MiB / 2 + 8, a->h, 4096, 100000);
	ret = gpu_run(fd, cmd, 2);
	memmove(a->want + MiB, a->want, MiB / 2);
	memmove(a->want + 4096, a->want + 3 * MiB / 2 + 8, 100000);
	/* Overlapping: behaves like memmove, both directions. */
	cmd[0] = cmd_copy(b->h, 0, b->h, 4100, MiB);
	cmd[1] = cmd_copy(b->h, MiB + 64, b->h, MiB, 500000);
	ret = ret ? ret : gpu_run(fd, cmd, 2);
	memmove(b->want + 4100, b->want, MiB);
	memmove(b->want + MiB, b->want + MiB + 64, 500000);
	bad = obj_bad(a) + obj_bad(b);
	tap_check(&t, !ret && !bad,
		  "COPY within one BO, disjoint and overlapping ranges: %llu bad bytes (%d)",
		  (unsigned long long)bad, ret);
}

static void fill(struct obj *b, struct obj *c)
{
	struct drm_simgpu_cmd cmd[3];
	uint64_t bad, seqno = 0;
	int ret, idle;

	cmd[0] = cmd_fill(b->h, 8192, 65536, 0xdeadbeef);
	cmd[1] = cmd_fill(c->h, 4, BO_SIZE - 8, 0x01020304);
	cmd[2] = cmd_fill(b->h, BO_SIZE - 4, 4, 0);
	ret = gpu_submit(fd, cmd, 3, &seqno);
	want_fill(b, 8192, 65536, 0xdeadbeef);
	want_fill(c, 4, BO_SIZE - 8, 0x01020304);
	want_fill(b, BO_SIZE - 4, 4, 0);
	ret = ret ? ret : seqno_wait(fd, seqno, 10 * SECOND);
	idle = bo_wait(fd, b->h, 0) | bo_wait(fd, c->h, 0) |
	       seqno_wait(fd, seqno, 0);
	bad = obj_bad(b) + obj_bad(c);
	tap_check(&t, !ret && !idle && !bad,
		  "FILL three ranges, WAIT on the seqno, then idle: %llu bad bytes (%d, %d)",
		  (unsigned long long)bad, ret, idle);
}

/* Queue a slow COPY a -> b; returns its seqno or 0. */
static uint64_t slow_copy(struct obj *a, struct obj *b, uint64_t seed)
{
	struct drm_simgpu_cmd cmd = cmd_copy(a->h, 0, b->h, 0, BO_SIZE);
	uint64_t seqno = 0;

	obj_pattern(a, seed);
	memcpy(b->want, a->want, BO_SIZE);
	if (dbg_write("fault_stall_us", STALL_US) ||
	    gpu_submit(fd, &cmd, 1, &seqno))
		return 0;
	return seqno;
}

static void wait_busy(struct obj *a, struct obj *b)
{
	struct drm_simgpu_gem_query gq;
	uint64_t seqno = slow_copy(a, b, 2), bad;
	int zero_bo, zero_seq, short_seq, short_bo, busy, done, idle;

	zero_bo = bo_wait(fd, b->h, 0);
	zero_seq = seqno_wait(fd, seqno, 0);
	short_seq = seqno_wait(fd, seqno, 1000000);
	short_bo = bo_wait(fd, b->h, 1000000);
	busy = !bo_query(fd, b->h, &gq) && gq.busy;
	done = bo_wait(fd, b->h, 10 * SECOND);
	idle = !bo_query(fd, b->h, &gq) && !gq.busy;
	dbg_write("fault_stall_us", "0");
	bad = obj_bad(b);
	tap_check(&t, seqno && zero_bo == -ETIME && zero_seq == -ETIME &&
		  short_seq == -ETIME && short_bo == -ETIME && busy,
		  "slow COPY: WAIT with zero and 1 ms timeouts on BO and seqno returns -ETIME, query says busy (%d %d %d %d)",
		  zero_bo, zero_seq, short_seq, short_bo);
	tap_check(&t, !done && idle && !bad && !seqno_wait(fd, seqno, 0),
		  "slow COPY: WAIT with a long timeout returns 0, then idle, %llu bad bytes (%d)",
		  (unsigned long long)bad, done);
}

/*
 * Migrate @a and @b to VRAM0 for an eviction test: the test means
 * nothing unless they are there.  Returns whether both are.
 */
static bool both_in_vram0(struct obj *a, struct obj *b)
{
	int ra = bo_migrate(fd, a->h, DRM_SIMGPU_MEM_VRAM0, 0);
	int rb = bo_migrate(fd, b->h, DRM_SIMGPU_MEM_VRAM0, 0);
	int ma = bo_mem(fd, a->h), mb = bo_mem(fd, b->h);

	if (!ra && !rb && ma == DRM_SIMGPU_MEM_VRAM0 &&
	    mb == DRM_SIMGPU_MEM_VRAM0)
		return true;
	tap_diag("migrations to VRAM0: %d (now in %s), %d (now in %s)", ra,
		 mem_name(ma), rb, mem_name(mb));
	return false;
}

static long long vram0_evictions(void)
{
	return stat_get("evict_vram0_tt") + stat_get("evict_vram0_system");
}

static void evict_busy_debugfs(struct obj *a, struct obj *b)
{
	bool in_vram = both_in_vram0(a, b);
	long long ev0 = vram0_evictions(), ev;
	uint64_t seqno, bad;
	int ret, mem;

	seqno = slow_copy(a, b, 3);
	ret = dbg_write("evict_vram", "1");
	mem = bo_mem(fd, b->h);
	ev = vram0_evictions() - ev0;
	/* The eviction waited for the copy: it is done already. */
	ret = ret ? ret : seqno_wait(fd, seqno, 0);
	dbg_write("fault_stall_us", "0");
	bad = obj_bad(a) + obj_bad(b);
	tap_check(&t, seqno && !ret && in_vram && ev >= 2 &&
		  mem != DRM_SIMGPU_MEM_VRAM0 &&
		  bo_mem(fd, a->h) != DRM_SIMGPU_MEM_VRAM0 && !bad,
		  "debugfs eviction of a BO with a slow COPY queued: both BOs were in VRAM0 (%s), %lld evictions counted, waited, BO in %s, %llu bad bytes (%d)",
		  in_vram ? "yes" : "NO", ev, mem_name(mem),
		  (unsigned long long)bad, ret);
}

static void evict_busy_pressure(struct obj *a, struct obj *b,
				const struct drm_simgpu_device_query *q)
{
	unsigned int i, n = q->regions[0].size / FILLER_SIZE, made = 0;
	bool in_vram = both_in_vram0(a, b);
	long long ev0 = vram0_evictions(), ev1;
	uint32_t *fh = calloc(n, sizeof(*fh));
	uint64_t seqno, bad;

	seqno = slow_copy(a, b, 4);
	/* VRAM-only fillers the size of VRAM push everything else out. */
	for (i = 0; fh && i < n; i++)
		made += !bo_create(fd, FILLER_SIZE,
				   DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0),
				   DRM_SIMGPU_MEM_VRAM0, 0, &fh[i]);
	dbg_write("fault_stall_us", "0");
	ev1 = vram0_evictions();
	bad = obj_bad(a) + obj_bad(b);
	tap_check(&t, seqno && made == n && in_vram && ev1 - ev0 >= 2 &&
		  bo_mem(fd, a->h) != DRM_SIMGPU_MEM_VRAM0 &&
		  bo_mem(fd, b->h) != DRM_SIMGPU_MEM_VRAM0 && !bad,
		  "VRAM pressure (%u fillers of %llu MiB) evicted both BOs from VRAM0 (were there: %s), one with a slow COPY queued (%lld evictions): %llu bad bytes",
		  made, FILLER_SIZE / MiB, in_vram ? "yes" : "NO", ev1 - ev0,
		  (unsigned long long)bad);
	for (i = 0; i < made; i++)
		gem_close(fd, fh[i]);
	free(fh);
}

static void engine_error(struct obj *b)
{
	struct drm_simgpu_cmd cmd = cmd_fill(b->h, 0, BO_SIZE, 0x0badf00d);
	long long r0 = stat_get("engine_resets");
	uint64_t seqno = 0, bad;
	int seq, bo, again, after;

	/* The injected failure touches nothing: the content stays. */
	if (dbg_write("fault_fail_count", "1") ||
	    gpu_submit(fd, &cmd, 1, &seqno))
		seqno = 0;
	seq = seqno_wait(fd, seqno, 10 * SECOND);
	bo = bo_wait(fd, b->h, 0);
	bad = obj_bad(b);
	cmd.value = 0x600df00d;
	again = gpu_run(fd, &cmd, 1);
	want_fill(b, 0, BO_SIZE, 0x600df00d);
	after = bo_wait(fd, b->h, 0);
	bad += obj_bad(b);
	tap_check(&t, seqno && seq == -EIO && bo == -EIO && !again && !after &&
		  stat_get("engine_resets") > r0 && !bad,
		  "an engine error fails a submission: WAIT on seqno and BO returns -EIO (%d %d), the engine is reset, the next submission works (%d %d), %llu bad bytes",
		  seq, bo, again, after, (unsigned long long)bad);
}

int main(void)
{
	struct drm_simgpu_device_query q;
	uint32_t all, sys = DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
			    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM);
	struct obj a, b, c, d;
	long long s0;

	tap_plan(&t, 10);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0, "render node opens"))
		return tap_finish(&t);
	all = placements_all(&q);
	s0 = stat_get("submits");
	if (!tap_check(&t, obj_new(&a, all, DRM_SIMGPU_MEM_VRAM0) &&
		       obj_new(&b, all, DRM_SIMGPU_MEM_VRAM0) &&
		       obj_new(&c, sys, DRM_SIMGPU_MEM_TT) &&
		       obj_new(&d, sys, DRM_SIMGPU_MEM_SYSTEM),
		       "BOs of %llu MiB in VRAM0, VRAM0, TT, SYSTEM",
		       BO_SIZE / MiB))
		return tap_finish(&t);

	copy_between(&a, &b, &c, &d);
	copy_within(&a, &b);
	fill(&b, &c);
	wait_busy(&a, &b);
	evict_busy_debugfs(&a, &b);
	evict_busy_pressure(&a, &b, &q);
	engine_error(&b);
	tap_diag("submits counted: %lld", stat_get("submits") - s0);
	return tap_finish(&t);
}
