// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-vram: scattered VRAM.  VRAM resources are made of buddy blocks;
 * every path that reaches them must walk the blocks.
 *
 * Usage: simgpu-vram frag|ring|visible|bigcopy|window
 *
 *   frag     a fragmenting workload of mixed, mostly not power-of-two
 *            sizes, in VRAM region 0 (small-BAR), run twice in one VM:
 *            with scattered resources, then with vram_contiguous=1.  Each
 *            BO is verified after every move, by the engine and then by
 *            the CPU (force_cpu_copy=1); the scattered run must have made
 *            scattered resources, split moves into several engine
 *            commands and CPU-copied scattered resources page by page.
 *            Prints the evictions each run needed.
 *   ring     VRAM cut into 4 KiB holes: a BO of more pieces than the
 *            engine's ring has slots is cleared, moved to TT and back
 *            (the submission waits for ring space, telling the device
 *            what it queued so far), CPU-faulted page by page, and
 *            copied within itself over overlapping ranges both ways
 *            (must behave like memmove()).
 *   visible  small-BAR: a BO larger than half the CPU-visible window, in
 *            invisible VRAM, is CPU-faulted while a small BO is in the
 *            window: it must move into the window as blocks, beside the
 *            small BO (one aligned power-of-two block would mean evicting
 *            it).  Needs --vram 256M --visible-vram 64M.
 *   bigcopy  a move far longer than the engine timeout (timeout_ms) on a
 *            slow engine (--engine-bandwidth): made of bounded commands,
 *            it must never be taken for a hang (no engine reset).
 *   window   a VRAM BO larger than the TT part of the GART is evicted to
 *            SYSTEM and brought back (migration and debugfs evict_vram)
 *            through the driver's GART window; then, with TT full of
 *            busy TT-only BOs (a slowed engine), a VRAM BO moves to
 *            SYSTEM through the window without evicting them.  Needs
 *            --vram 64M --gart 16M.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define KiB		1024ULL
#define PAGE		4096ULL
#define SECOND_NS	1000000000LL
#define VRAM0		DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0)
#define TT		DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT)
#define PARAM(name)	"/sys/module/simgpu/parameters/" name

static struct tap t;

struct bo {
	uint32_t handle;
	uint64_t size;
	uint64_t seed;
	uint8_t *map;
};

static int bo_open(int fd, struct bo *b, uint64_t size, uint32_t placements,
		   uint32_t preferred, uint32_t flags, uint64_t seed)
{
	b->size = size;
	b->seed = seed;
	b->map = bo_new(fd, size, placements, preferred, flags, &b->handle);
	if (!b->map)
		return -1;
	pattern_fill(b->map, 0, size, seed);
	return 0;
}

static void bo_close(int fd, struct bo *b)
{
	munmap(b->map, b->size);
	gem_close(fd, b->handle);
	b->map = NULL;
}

/* Bytes of @b that do not hold its pattern. */
static uint64_t bo_bad(struct bo *b)
{
	return pattern_check(b->map, 0, b->size, b->seed);
}

/*
 * Migrate @b to @mem and check it got there with its content; rewrite it
 * with a new pattern (a stale copy must show).  Counts into @bad.
 */
static int bo_move_check(int fd, struct bo *b, uint32_t mem, uint32_t flags,
			 uint64_t *bad)
{
	int ret = bo_migrate(fd, b->handle, mem, flags);

	if (ret)
		return ret;
	if (bo_mem(fd, b->handle) != (int)mem)
		return -EAGAIN;
	*bad += bo_bad(b);
	b->seed = b->seed * 31 + 7;
	pattern_fill(b->map, 0, b->size, b->seed);
	return 0;
}

/* A size of 16 KiB to 2 MiB, in pages, rarely a power of two. */
static uint64_t mixed_size(uint64_t *rng)
{
	return (4 + rnd_next(rng) % 509) * PAGE;
}

#define FRAG_LIVE	48
#define FRAG_STEPS	160

/*
 * The fragmenting workload: BOs of mixed sizes come and go in VRAM;
 * each step brings one back into VRAM (evicting others) and moves it to
 * TT and back.  Returns the VRAM evictions it caused, or -1.
 */
static long long frag_run(int fd, uint64_t seed, uint32_t flags,
			  uint64_t *bad, unsigned int *failed)
{
	struct bo live[FRAG_LIVE] = { 0 };
	struct stats a, b;
	uint64_t rng = seed;
	unsigned int i, k;
	long long ev;

	if (stats_read(&a))
		return -1;
	for (i = 0; i < FRAG_STEPS; i++) {
		k = rnd_next(&rng) % FRAG_LIVE;
		if (live[k].map && rnd_next(&rng) % 3 == 0)
			bo_close(fd, &live[k]);
		if (!live[k].map &&
		    bo_open(fd, &live[k], mixed_size(&rng), VRAM0 | TT,
			    DRM_SIMGPU_MEM_VRAM0, flags, rng)) {
			(*failed)++;
			break;
		}
		k = rnd_next(&rng) % FRAG_LIVE;
		if (!live[k].map)
			continue;
		if (bo_move_check(fd, &live[k], DRM_SIMGPU_MEM_VRAM0,
				  DRM_SIMGPU_MIGRATE_CPU_VISIBLE, bad) ||
		    bo_move_check(fd, &live[k], DRM_SIMGPU_MEM_TT, 0, bad) ||
		    bo_move_check(fd, &live[k], DRM_SIMGPU_MEM_VRAM0,
				  DRM_SIMGPU_MIGRATE_CPU_VISIBLE, bad))
			(*failed)++;
	}
	for (k = 0; k < FRAG_LIVE; k++) {
		if (!live[k].map)
			continue;
		*bad += bo_bad(&live[k]);
		bo_close(fd, &live[k]);
	}
	if (stats_read(&b))
		return -1;
	ev = 0;
	for (k = DRM_SIMGPU_MEM_VRAM0; k <= DRM_SIMGPU_MEM_SYSTEM; k++)
		ev += stats_delta(&a, &b, stats_move_name("evict",
							  DRM_SIMGPU_MEM_VRAM0,
							  k));
	return ev;
}

static int frag_test(void)
{
	long long scattered_ev, contiguous_ev, cmds, moves;
	unsigned int failed = 0, cpu_failed = 0;
	uint64_t bad = 0, cpu_bad = 0;
	struct stats a, b, c;
	int fd;

	tap_plan(&t, 5);
	fd = dev_open(NULL);
	if (fd < 0 || stats_read(&a))
		return tap_finish(&t);

	scattered_ev = frag_run(fd, 1, 0, &bad, &failed);
	stats_read(&b);
	cmds = stats_delta(&a, &b, "engine_cmds");
	moves = 0;
	for (unsigned int s = 0; s < DRM_SIMGPU_NUM_MEM; s++)
		for (unsigned int d = 0; d < DRM_SIMGPU_NUM_MEM; d++)
			if (s != d && (s <= DRM_SIMGPU_MEM_VRAM1 ||
				       d <= DRM_SIMGPU_MEM_VRAM1))
				moves += stats_delta(&a, &b,
						     stats_move_name("move", s, d));
	tap_check(&t, !failed && !bad, "scattered VRAM: %u steps, every BO "
		  "verified after every move (%llu bad bytes, %u failed moves)",
		  FRAG_STEPS, (unsigned long long)bad, failed);
	tap_check(&t, stats_delta(&a, &b, "vram_scattered") > 0 &&
		  cmds > moves, "resources were scattered (%lld) and moves "
		  "split: %lld engine commands for %lld VRAM moves",
		  stats_delta(&a, &b, "vram_scattered"), cmds, moves);

	/*
	 * The same with the CPU: page by page through the BAR, so in the
	 * visible window only (the CPU cannot clear invisible VRAM).
	 */
	file_write(PARAM("force_cpu_copy"), "1");
	frag_run(fd, 2, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &cpu_bad,
		 &cpu_failed);
	file_write(PARAM("force_cpu_copy"), "0");
	stats_read(&c);
	tap_check(&t, !cpu_failed && !cpu_bad &&
		  stats_delta(&b, &c, "cpu_copies_scattered") > 0,
		  "CPU copies (force_cpu_copy=1): %lld of scattered resources, "
		  "%llu bad bytes, %u failed moves",
		  stats_delta(&b, &c, "cpu_copies_scattered"),
		  (unsigned long long)cpu_bad, cpu_failed);

	/* The same workload, every resource contiguous. */
	bad = 0;
	failed = 0;
	file_write(PARAM("vram_contiguous"), "1");
	contiguous_ev = frag_run(fd, 1, 0, &bad, &failed);
	file_write(PARAM("vram_contiguous"), "0");
	stats_read(&a);
	tap_check(&t, !failed && !bad &&
		  stats_delta(&c, &a, "vram_scattered") == 0,
		  "vram_contiguous=1: the same workload, no scattered resource "
		  "(%lld), %llu bad bytes, %u failed moves",
		  stats_delta(&c, &a, "vram_scattered"),
		  (unsigned long long)bad, failed);
	tap_diag("evictions from VRAM for the same %u steps: scattered %lld, "
		 "contiguous %lld", FRAG_STEPS, scattered_ev, contiguous_ev);
	printf("# timing frag-evictions scattered %lld contiguous %lld\n",
	       scattered_ev, contiguous_ev);
	tap_check(&t, smoke_checks(NULL) == 0, "the driver still works");
	close(fd);
	return tap_finish(&t);
}

#define RING_BO		(6 * MiB)

/* The CPU's memmove() of a pattern, to compare an engine copy against. */
static void expect_memmove(uint8_t *want, uint64_t size, uint64_t seed,
			   uint64_t src, uint64_t dst, uint64_t len)
{
	pattern_fill(want, 0, size, seed);
	memmove(want + dst, want + src, len);
}

static int ring_test(void)
{
	struct drm_simgpu_device_query q;
	struct stats a, b;
	uint32_t *holes = NULL;
	unsigned int n = 0, i;
	uint64_t bad = 0, pages;
	long long cmds, blocks;
	struct bo big;
	uint8_t *want = NULL;
	char why[256] = "";
	int fd, ret, ok = 1;

	tap_plan(&t, 4);
	fd = dev_open(&q);
	if (fd < 0)
		return tap_finish(&t);
	/* VRAM in 4 KiB BOs, then every other one freed: 4 KiB holes. */
	pages = q.regions[0].size / PAGE;
	holes = calloc(pages, sizeof(*holes));
	want = malloc(RING_BO);
	if (!holes || !want)
		return tap_finish(&t);
	for (n = 0; n < pages; n++)
		if (bo_create(fd, PAGE, VRAM0 | TT, DRM_SIMGPU_MEM_VRAM0, 0,
			      &holes[n]))
			break;
	/*
	 * Their clears done (pipelined: a BO is busy until then), so that
	 * the closed ones are freed at once, not by TTM's delayed delete
	 * while the big BO is placed.
	 */
	for (i = 0; i < n; i++)
		bo_wait(fd, holes[i], 10 * SECOND_NS);
	for (i = 0; i < n; i += 2)
		gem_close(fd, holes[i]);
	blocks = stat_get("vram0_used_blocks");
	stats_read(&a);
	ret = bo_open(fd, &big, RING_BO, VRAM0 | TT, DRM_SIMGPU_MEM_VRAM0, 0, 5);
	stats_read(&b);
	cmds = stats_delta(&a, &b, "engine_cmds");
	ok = !ret && bo_mem(fd, big.handle) == DRM_SIMGPU_MEM_VRAM0;
	tap_check(&t, ok && stats_val(&b, "vram0_used_blocks") - blocks >=
		  (long long)(RING_BO / PAGE) && cmds >= (long long)(RING_BO / PAGE),
		  "a %llu MiB BO in %lld blocks of VRAM, cleared with %lld engine "
		  "commands (the ring has 1024 slots)", RING_BO / MiB,
		  stats_val(&b, "vram0_used_blocks") - blocks, cmds);
	if (!ok)
		return tap_finish(&t);

	/* Filled through CPU faults, page by page; read back the same way. */
	bad = bo_bad(&big);
	stats_read(&a);
	ret = bo_move_check(fd, &big, DRM_SIMGPU_MEM_TT, 0, &bad) ||
	      bo_move_check(fd, &big, DRM_SIMGPU_MEM_VRAM0, 0, &bad);
	stats_read(&b);
	cmds = stats_delta(&a, &b, "engine_cmds");
	tap_check(&t, !ret && !bad && cmds >= 2 * (long long)(RING_BO / PAGE),
		  "moved to TT and back by the engine in %lld commands, every "
		  "byte verified (%llu bad)", cmds, (unsigned long long)bad);

	/* Overlapping copies within the scattered BO, both ways. */
	{
		const uint64_t len = 5 * MiB, up = PAGE + 8;
		struct drm_simgpu_cmd c = cmd_copy(big.handle, 0, big.handle,
						   up, len);
		uint64_t bad_up, bad_down;

		expect_memmove(want, RING_BO, big.seed, 0, up, len);
		ret = gpu_run(fd, &c, 1);
		bad_up = ret ? RING_BO : (uint64_t)memcmp(want, big.map,
							   RING_BO) != 0;
		c = cmd_copy(big.handle, up, big.handle, 0, len);
		memmove(want, want + up, len);
		ret = ret ? ret : gpu_run(fd, &c, 1);
		bad_down = ret ? RING_BO : (uint64_t)memcmp(want, big.map,
							     RING_BO) != 0;
		tap_check(&t, !bad_up && !bad_down,
			  "overlapping copies within the BO behave like "
			  "memmove(): up %s, down %s", bad_up ? "WRONG" : "ok",
			  bad_down ? "WRONG" : "ok");
	}

	bo_close(fd, &big);
	for (i = 1; i < n; i += 2)
		gem_close(fd, holes[i]);
	tap_check(&t, gauges_wait_zero(10, why, sizeof(why)) == 0,
		  "every gauge back to zero after the last close %s", why);
	free(want);
	free(holes);
	close(fd);
	return tap_finish(&t);
}

static int visible_test(void)
{
	const uint32_t cpu = DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS;
	struct drm_simgpu_device_query q;
	struct drm_simgpu_gem_query gq;
	struct bo small, filler, big;
	uint64_t win, size, bad;
	struct stats a, b;
	long long evictions = 0;
	unsigned int d;
	int fd, ok;

	tap_plan(&t, 4);
	fd = dev_open(&q);
	if (fd < 0)
		return tap_finish(&t);
	win = q.regions[0].visible_size;
	size = win / 2 + win / 5;
	if (win + size > q.regions[0].size) {
		tap_diag("needs a small BAR: --vram 256M --visible-vram 64M");
		return tap_finish(&t);
	}
	/*
	 * A small BO and a filler take the window; the big BO goes to
	 * invisible VRAM; the filler goes.  The window then has room for
	 * the big BO beside the small one, but no free aligned block of
	 * the power of two above its size.
	 */
	ok = !bo_open(fd, &small, 4 * MiB, VRAM0, DRM_SIMGPU_MEM_VRAM0, cpu, 1) &&
	     !bo_open(fd, &filler, win - 4 * MiB, VRAM0, DRM_SIMGPU_MEM_VRAM0,
		      cpu, 2) &&
	     !bo_open(fd, &big, size, VRAM0 | TT, DRM_SIMGPU_MEM_TT, 0, 3) &&
	     !bo_migrate(fd, big.handle, DRM_SIMGPU_MEM_VRAM0, 0) &&
	     !bo_query(fd, big.handle, &gq) &&
	     gq.mem == DRM_SIMGPU_MEM_VRAM0 && !gq.cpu_visible;
	tap_check(&t, ok, "a %llu MiB BO in invisible VRAM (window %llu MiB)",
		  (unsigned long long)(size / MiB),
		  (unsigned long long)(win / MiB));
	if (!ok)
		return tap_finish(&t);
	bo_close(fd, &filler);

	/* A fresh mapping: the first access faults. */
	munmap(big.map, big.size);
	big.map = bo_map(fd, big.handle, big.size);
	stats_read(&a);
	bad = big.map ? bo_bad(&big) : size;
	stats_read(&b);
	for (d = DRM_SIMGPU_MEM_VRAM0; d <= DRM_SIMGPU_MEM_SYSTEM; d++)
		evictions += stats_delta(&a, &b, stats_move_name(
			"evict", DRM_SIMGPU_MEM_VRAM0, d));
	ok = !bo_query(fd, big.handle, &gq);
	tap_check(&t, ok && !bad && gq.mem == DRM_SIMGPU_MEM_VRAM0 &&
		  gq.cpu_visible &&
		  stats_delta(&a, &b, "invisible_faults") > 0,
		  "the CPU fault moved it into the window: in %s, visible %u, "
		  "%llu bad bytes", mem_name(gq.mem), gq.cpu_visible,
		  (unsigned long long)bad);
	d = bo_mem(fd, small.handle);
	tap_check(&t, !evictions && d == DRM_SIMGPU_MEM_VRAM0 &&
		  !bo_bad(&small), "beside the small BO, which stayed: in %s "
		  "(%lld evictions from VRAM)", mem_name(d), evictions);
	bo_close(fd, &big);
	bo_close(fd, &small);
	tap_check(&t, smoke_checks(NULL) == 0, "the driver still works");
	close(fd);
	return tap_finish(&t);
}

#define BIGCOPY_BO	(96 * MiB)

static int bigcopy_test(void)
{
	long long timeout_ms = file_read_ll(PARAM("timeout_ms"));
	uint64_t bad = 0;
	struct stats a, b;
	struct bo big;
	double t0, secs;
	int fd, ret;

	tap_plan(&t, 3);
	fd = dev_open(NULL);
	if (fd < 0 ||
	    bo_open(fd, &big, BIGCOPY_BO, VRAM0 | TT, DRM_SIMGPU_MEM_TT, 0, 9))
		return tap_finish(&t);
	stats_read(&a);
	t0 = now_s();
	ret = bo_move_check(fd, &big, DRM_SIMGPU_MEM_VRAM0, 0, &bad) ||
	      bo_move_check(fd, &big, DRM_SIMGPU_MEM_TT, 0, &bad);
	secs = now_s() - t0;
	stats_read(&b);
	tap_check(&t, !ret && !bad, "%llu MiB to VRAM and back in %.1f s, "
		  "every byte verified (%llu bad)", BIGCOPY_BO / MiB, secs,
		  (unsigned long long)bad);
	tap_check(&t, secs * 1000 / 2 > timeout_ms &&
		  !stats_delta(&a, &b, "engine_resets") &&
		  !stats_delta(&a, &b, "engine_fallbacks") &&
		  stats_delta(&a, &b, "engine_bytes") >= 2 * (long long)BIGCOPY_BO &&
		  stats_delta(&a, &b, "engine_cmds") >=
		  2 * (long long)(BIGCOPY_BO / (8 * MiB)),
		  "each move took longer than timeout_ms (%lld ms) without a "
		  "reset: %lld resets, %lld fallbacks, %lld engine commands",
		  timeout_ms, stats_delta(&a, &b, "engine_resets"),
		  stats_delta(&a, &b, "engine_fallbacks"),
		  stats_delta(&a, &b, "engine_cmds"));
	bo_close(fd, &big);
	tap_check(&t, smoke_checks(NULL) == 0, "the driver still works");
	close(fd);
	return tap_finish(&t);
}

/* Migrate @b to @mem and verify; 0 or a negative error. */
static int window_move(int fd, struct bo *b, uint32_t mem, uint64_t *bad)
{
	int ret = bo_migrate(fd, b->handle, mem, 0);

	if (!ret && bo_mem(fd, b->handle) != (int)mem)
		ret = -EAGAIN;
	*bad += bo_bad(b);
	return ret;
}

#define WINDOW_TT_BOS	16

static int window_test(void)
{
	struct drm_simgpu_device_query q;
	struct bo big, small, tt[WINDOW_TT_BOS];
	unsigned int i, n = 0, busy = 0;
	uint64_t bad = 0, tt_bo;
	struct stats a, b;
	uint64_t seqno;
	int fd, ret;

	tap_plan(&t, 5);
	fd = dev_open(&q);
	if (fd < 0)
		return tap_finish(&t);
	if (!q.tt_size || q.tt_size >= q.gart_size) {
		tap_diag("no GART window reported (tt_size %llu of %llu)",
			 (unsigned long long)q.tt_size,
			 (unsigned long long)q.gart_size);
		return tap_finish(&t);
	}

	/* 1. Larger than TT: out of VRAM and back, only by the window. */
	if (bo_open(fd, &big, q.tt_size + 8 * MiB, VRAM0 | TT |
		    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
		    DRM_SIMGPU_MEM_VRAM0, 0, 1))
		return tap_finish(&t);
	stats_read(&a);
	ret = window_move(fd, &big, DRM_SIMGPU_MEM_SYSTEM, &bad) ||
	      window_move(fd, &big, DRM_SIMGPU_MEM_VRAM0, &bad);
	stats_read(&b);
	tap_check(&t, !ret && !bad && stats_delta(&a, &b, "window_moves") == 2 &&
		  stats_delta(&a, &b, "window_chunks") >= 2 *
		  (long long)((q.tt_size + 8 * MiB) / (q.gart_size - q.tt_size)),
		  "a %llu MiB BO (TT has %llu MiB) to SYSTEM and back through "
		  "the window: %lld moves, %lld chunks, %llu bad bytes",
		  (unsigned long long)(big.size / MiB),
		  (unsigned long long)(q.tt_size / MiB),
		  stats_delta(&a, &b, "window_moves"),
		  stats_delta(&a, &b, "window_chunks"),
		  (unsigned long long)bad);

	stats_read(&a);
	ret = dbg_write("evict_vram", "1");
	stats_read(&b);
	ret = ret ? ret : bo_mem(fd, big.handle) == DRM_SIMGPU_MEM_VRAM0;
	bad = bo_bad(&big);
	tap_check(&t, !ret && !bad && stats_delta(&a, &b, "window_moves") >= 1,
		  "evicted by debugfs evict_vram through the window: in %s, "
		  "%llu bad bytes", mem_name(bo_mem(fd, big.handle)),
		  (unsigned long long)bad);
	bo_close(fd, &big);

	/* 2. TT full of busy TT-only BOs; a VRAM BO leaves VRAM anyway. */
	if (bo_open(fd, &small, 4 * MiB, VRAM0 | TT |
		    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
		    DRM_SIMGPU_MEM_VRAM0, 0, 7))
		return tap_finish(&t);
	tt_bo = q.tt_size / 8;
	for (n = 0; n < WINDOW_TT_BOS && (n + 1) * tt_bo <= q.tt_size; n++)
		if (bo_open(fd, &tt[n], tt_bo, TT, DRM_SIMGPU_MEM_TT, 0,
			    100 + n))
			break;
	dbg_write("fault_stall_us", "100000");
	for (i = 0; i < n; i++) {
		struct drm_simgpu_cmd c = cmd_copy(tt[i].handle, 0,
						   tt[i].handle, 0, 4096);

		busy += !gpu_submit(fd, &c, 1, &seqno);
	}
	stats_read(&a);
	bad = 0;
	ret = window_move(fd, &small, DRM_SIMGPU_MEM_SYSTEM, &bad);
	stats_read(&b);
	dbg_write("fault_stall_us", "0");
	tap_check(&t, !ret && !bad && busy == n && n >= 4 &&
		  stats_delta(&a, &b, "window_moves") == 1 &&
		  stats_delta(&a, &b, stats_move_name("evict", DRM_SIMGPU_MEM_TT,
						      DRM_SIMGPU_MEM_SYSTEM)) == 0,
		  "TT full of %u busy TT BOs: the VRAM BO went to SYSTEM through "
		  "the window (%lld), no TT BO evicted (%lld), %llu bad bytes",
		  n, stats_delta(&a, &b, "window_moves"),
		  stats_delta(&a, &b, stats_move_name("evict", DRM_SIMGPU_MEM_TT,
						      DRM_SIMGPU_MEM_SYSTEM)),
		  (unsigned long long)bad);
	bad = 0;
	for (i = 0; i < n; i++) {
		bad += bo_bad(&tt[i]);
		bo_close(fd, &tt[i]);
	}
	bad += bo_bad(&small);
	bo_close(fd, &small);
	tap_check(&t, !bad, "every TT BO and the moved BO intact (%llu bad "
		  "bytes)", (unsigned long long)bad);
	tap_check(&t, smoke_checks(NULL) == 0, "the driver still works");
	close(fd);
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "frag"))
		return frag_test();
	if (!strcmp(mode, "ring"))
		return ring_test();
	if (!strcmp(mode, "visible"))
		return visible_test();
	if (!strcmp(mode, "bigcopy"))
		return bigcopy_test();
	if (!strcmp(mode, "window"))
		return window_test();
	fprintf(stderr, "usage: %s frag|ring|visible|bigcopy|window\n",
		argv[0]);
	return 2;
}
