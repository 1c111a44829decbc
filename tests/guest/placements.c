// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-placements: buffer objects in every placement.
 *
 * Default: for each placement the device has (VRAM0, VRAM1 if there are
 * two regions, TT, SYSTEM) create a BO there, check that it reads as
 * zero, that GEM_QUERY reports the placement and the creation arguments,
 * and that a pattern written through mmap reads back; then migrate one BO
 * between every ordered pair of placements, checking every byte after
 * every move; a migration outside the allowed mask must fail with
 * -EINVAL and leave the BO alone.
 *
 * Each migration is also checked for the path it took, on the driver's
 * counters read just before and after the ioctl: GEM_QUERY reports the
 * new placement at once (before the CPU touches the BO), the move
 * counters grew by exactly the moves expected and no eviction happened,
 * and the bytes were moved by the expected mover.  With the engine
 * (--expect engine, the default), VRAM <-> SYSTEM goes through TT (two
 * moves: the engine reaches system pages only through the GART), every
 * move to or from VRAM is one engine copy of the BO and no CPU copy, and
 * TT <-> SYSTEM copies nothing (the pages stay, only the GART binding
 * changes).  With --expect cpu (force_cpu_copy=1): direct moves, CPU
 * copies only.  A rejected migration changes no counter.
 *
 * --small-bar: VRAM0 larger than its CPU-visible window.  VRAM-only BOs
 * without NEEDS_CPU_ACCESS fill VRAM beyond the window; each is cleared
 * and written by the engine (through a TT staging BO), then mapped: the
 * CPU fault must move it into the visible window, every byte must be
 * there, and the invisible-fault counter must count the faults.
 *
 * The small-BAR faults are checked the same way: each is one move within
 * VRAM0 (into the window), copied by the engine, the CPU copying nothing
 * (it cannot reach invisible VRAM).
 *
 * Usage: simgpu-placements [--small-bar] [--expect engine|cpu]
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "bo.h"
#include "tap.h"

#define BO_SIZE		(2 * MiB)
#define SB_BO_SIZE	(4 * MiB)
#define SB_BOS		12

static struct tap t;
static bool cpu_mode;	/* --expect cpu: force_cpu_copy=1 */

static bool mem_is_vram(uint32_t mem)
{
	return mem == DRM_SIMGPU_MEM_VRAM0 || mem == DRM_SIMGPU_MEM_VRAM1;
}

/*
 * Whether the counters from @a to @b show exactly the path expected of a
 * migration of a @size byte BO from @s to @d; describes it in @why.
 */
static bool move_path_ok(const struct stats *a, const struct stats *b,
			 uint32_t s, uint32_t d, uint64_t size, char *why,
			 size_t len)
{
	long long want[DRM_SIMGPU_NUM_MEM][DRM_SIMGPU_NUM_MEM] = { { 0 } };
	long long eng = stats_delta(a, b, "engine_bytes");
	long long cpu = stats_delta(a, b, "cpu_bytes");
	long long want_eng = 0, want_cpu = 0;
	bool copy = mem_is_vram(s) || mem_is_vram(d), ok = true;
	char moves[512], evs[512];
	uint32_t x, y;

	if (!cpu_mode && copy && (s == DRM_SIMGPU_MEM_SYSTEM ||
				  d == DRM_SIMGPU_MEM_SYSTEM)) {
		want[s][DRM_SIMGPU_MEM_TT]++;	/* a hop through TT */
		want[DRM_SIMGPU_MEM_TT][d]++;
	} else {
		want[s][d]++;
	}
	if (copy && cpu_mode)
		want_cpu = size;
	else if (copy)
		want_eng = size;
	for (x = 0; x < DRM_SIMGPU_NUM_MEM; x++)
		for (y = 0; y < DRM_SIMGPU_NUM_MEM; y++)
			ok &= stats_delta(a, b, stats_move_name("move", x, y)) ==
			      want[x][y] &&
			      !stats_delta(a, b,
					   stats_move_name("evict", x, y));
	ok &= eng == want_eng && cpu == want_cpu;
	snprintf(why, len, "moves %s, evictions %s, engine bytes %lld, CPU bytes %lld (want %lld, %lld)",
		 stats_diff(a, b, "move_", moves, sizeof(moves)),
		 stats_diff(a, b, "evict_", evs, sizeof(evs)), eng, cpu,
		 want_eng, want_cpu);
	return ok;
}

/* Create a BO in @mem and check it; returns its mapping or NULL. */
static void *check_create(int fd, uint32_t mask, uint32_t mem,
			  uint32_t *handle)
{
	struct drm_simgpu_gem_query gq;
	uint64_t nonzero = 0;
	void *p;

	p = bo_new(fd, BO_SIZE, mask, mem,
		   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, handle);
	if (!p || bo_query(fd, *handle, &gq)) {
		tap_check(&t, false, "BO in %s: create, map and query", mem_name(mem));
		return NULL;
	}
	nonzero = bytes_check(p, BO_SIZE, 0);
	pattern_fill(p, 0, BO_SIZE, mem + 1);
	tap_check(&t, gq.mem == mem && gq.size == BO_SIZE &&
		  gq.placements == mask && gq.preferred == mem &&
		  gq.create_flags == DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS &&
		  gq.cpu_visible && !nonzero && bo_mem(fd, *handle) == (int)mem &&
		  !pattern_check(p, 0, BO_SIZE, mem + 1),
		  "BO in %s (mask 0x%x): query says %s, %llu non-zero bytes when new, pattern reads back",
		  mem_name(mem), mask, mem_name(gq.mem),
		  (unsigned long long)nonzero);
	return p;
}

static int run_placements(int fd, const struct drm_simgpu_device_query *q)
{
	uint32_t all = placements_all(q), h[DRM_SIMGPU_NUM_MEM], mh, s, d;
	void *map[DRM_SIMGPU_NUM_MEM] = { NULL }, *p;
	uint64_t seed = 100, bad;
	int ret;

	/* One BO per placement, allowed there only; they stay put. */
	for (s = 0; s < DRM_SIMGPU_NUM_MEM; s++)
		if (all & DRM_SIMGPU_PLACEMENT(s))
			map[s] = check_create(fd, DRM_SIMGPU_PLACEMENT(s), s,
					      &h[s]);

	/* One BO allowed everywhere, moved between every pair. */
	p = bo_new(fd, BO_SIZE, all, DRM_SIMGPU_MEM_SYSTEM, 0, &mh);
	if (!p)
		return 1;
	pattern_fill(p, 0, BO_SIZE, seed);
	for (s = 0; s < DRM_SIMGPU_NUM_MEM; s++) {
		for (d = 0; d < DRM_SIMGPU_NUM_MEM; d++) {
			struct stats st0, st1;
			char why[1200] = "";
			bool path_ok = false;
			int at_s, at_d;

			if (s == d || !(all & DRM_SIMGPU_PLACEMENT(s)) ||
			    !(all & DRM_SIMGPU_PLACEMENT(d)))
				continue;
			ret = bo_migrate(fd, mh, s, 0);
			at_s = bo_mem(fd, mh);
			bad = pattern_check(p, 0, BO_SIZE, seed);
			pattern_fill(p, 0, BO_SIZE, ++seed);
			if (!ret)
				ret = stats_read(&st0);
			ret = ret ? ret : bo_migrate(fd, mh, d, 0);
			at_d = bo_mem(fd, mh);
			if (!ret && !stats_read(&st1))
				path_ok = move_path_ok(&st0, &st1, s, d,
						       BO_SIZE, why,
						       sizeof(why));
			bad += pattern_check(p, 0, BO_SIZE, seed);
			tap_diag("migrate %s -> %s: %s", mem_name(s),
				 mem_name(d), why);
			tap_check(&t, !ret && at_s == (int)s &&
				  at_d == (int)d && path_ok &&
				  bo_mem(fd, mh) == (int)d && !bad,
				  "migrate %s -> %s: was in %s, then in %s, path %s, %llu bad bytes (%d)",
				  mem_name(s), mem_name(d), mem_name(at_s),
				  mem_name(at_d),
				  path_ok ? "as expected" : "WRONG",
				  (unsigned long long)bad, ret);
		}
	}

	/* Migrations outside the mask of the single-placement BOs. */
	for (s = 0; s < DRM_SIMGPU_NUM_MEM; s++) {
		struct stats st0, st1;
		char moves[512];
		int fails = 0;

		if (!map[s])
			continue;
		fails += stats_read(&st0) != 0;
		for (d = 0; d < DRM_SIMGPU_NUM_MEM; d++)
			if (d != s && (all & DRM_SIMGPU_PLACEMENT(d)) &&
			    bo_migrate(fd, h[s], d, 0) != -EINVAL)
				fails++;
		fails += stats_read(&st1) != 0;
		stats_diff(&st0, &st1, "move_", moves, sizeof(moves));
		fails += strcmp(moves, "none") != 0 ||
			 stats_delta(&st0, &st1, "engine_bytes") ||
			 stats_delta(&st0, &st1, "cpu_bytes");
		bad = pattern_check(map[s], 0, BO_SIZE, s + 1);
		tap_check(&t, !fails && bo_mem(fd, h[s]) == (int)s && !bad,
			  "%s-only BO: migrations elsewhere fail with -EINVAL, it stays, moves counted: %s, %llu bad bytes",
			  mem_name(s), moves, (unsigned long long)bad);
		munmap(map[s], BO_SIZE);
	}
	munmap(p, BO_SIZE);
	return 0;
}

/*
 * The path of the first CPU access to small-BAR BO @i: if it was
 * invisible (@moved), one move VRAM0 -> VRAM0 into the window, besides
 * evictions from VRAM0 to TT that made room; otherwise no move.  Every
 * move an engine copy of the BO, no CPU copy.
 */
static bool fault_path_ok(const struct stats *a, const struct stats *b,
			  unsigned int i, bool moved)
{
	long long ev = stats_delta(a, b, "evict_vram0_tt");
	long long eng = stats_delta(a, b, "engine_bytes");
	long long cpu = stats_delta(a, b, "cpu_bytes");
	long long in_vram = stats_delta(a, b, "move_vram0_vram0");
	long long to_tt = stats_delta(a, b, "move_vram0_tt");
	char moves[512], evs[512];
	bool ok;

	stats_diff(a, b, "move_", moves, sizeof(moves));
	stats_diff(a, b, "evict_", evs, sizeof(evs));
	if (moved)
		ok = in_vram == 1 && to_tt == ev &&
		     eng == (1 + ev) * (long long)SB_BO_SIZE && cpu == 0 &&
		     stats_delta(a, b, "invisible_faults") == 1;
	else
		ok = !strcmp(moves, "none") && !eng && !cpu;
	if (!ok)
		tap_diag("BO %u (%s): moves %s, evictions %s, engine bytes %lld, CPU bytes %lld",
			 i, moved ? "invisible" : "visible", moves, evs, eng,
			 cpu);
	return ok;
}

/* A VRAM BO bigger than the visible window: a CPU fault moves it to TT. */
static void big_bo(int fd, uint64_t size)
{
	uint64_t nonzero = 0, bad = 0;
	uint32_t h;
	void *p;
	int mem;

	struct stats st0, st1;
	bool path_ok = false;
	char moves[512] = "";
	int created_in;

	p = bo_new(fd, size, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0),
		   DRM_SIMGPU_MEM_VRAM0, 0, &h);
	created_in = p ? bo_mem(fd, h) : -1;
	if (p && !stats_read(&st0)) {
		nonzero = bytes_check(p, size, 0);
		/* The fault moved it VRAM0 -> TT on the engine. */
		if (!stats_read(&st1)) {
			stats_diff(&st0, &st1, "move_", moves, sizeof(moves));
			path_ok = stats_delta(&st0, &st1, "move_vram0_tt") == 1 &&
				  stats_delta(&st0, &st1, "engine_bytes") ==
				  (long long)size &&
				  !stats_delta(&st0, &st1, "cpu_bytes");
		}
		pattern_fill(p, 0, size, 77);
		bad = pattern_check(p, 0, size, 77);
		munmap(p, size);
	}
	mem = p ? bo_mem(fd, h) : -1;
	tap_check(&t, p && created_in == DRM_SIMGPU_MEM_VRAM0 &&
		  mem == DRM_SIMGPU_MEM_TT && path_ok && !nonzero && !bad,
		  "a %llu MiB VRAM BO (more than the window), created in %s, is mapped from %s (moves %s, one engine copy: %s): %llu non-zero bytes when new, %llu bad bytes",
		  (unsigned long long)(size / MiB), mem_name(created_in),
		  mem_name(mem), moves, path_ok ? "yes" : "NO",
		  (unsigned long long)nonzero, (unsigned long long)bad);
	if (p)
		gem_close(fd, h);
}

static void run_small_bar(int fd, const struct drm_simgpu_device_query *q)
{
	uint64_t vis = q->regions[0].visible_size, bad = 0, nonzero = 0;
	uint32_t h[SB_BOS], sh;
	unsigned int i, invisible = 0, moved = 0, wrong_path = 0;
	long long f0, f1;
	struct drm_simgpu_gem_query gq;
	struct drm_simgpu_cmd c;
	void *stage, *p[SB_BOS];
	int ret, fails = 0;

	stage = bo_new(fd, SB_BO_SIZE, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
		       DRM_SIMGPU_MEM_TT, 0, &sh);
	for (i = 0; i < SB_BOS && stage; i++) {
		ret = bo_create(fd, SB_BO_SIZE,
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0),
				DRM_SIMGPU_MEM_VRAM0, 0, &h[i]);
		if (ret || bo_query(fd, h[i], &gq) ||
		    gq.mem != DRM_SIMGPU_MEM_VRAM0) {
			fails++;
			break;
		}
		invisible += !gq.cpu_visible;
		/* Read it back through the engine: new VRAM is zero. */
		c = cmd_copy(h[i], 0, sh, 0, SB_BO_SIZE);
		fails += gpu_run(fd, &c, 1) != 0;
		nonzero += bytes_check(stage, SB_BO_SIZE, 0);
		pattern_fill(stage, 0, SB_BO_SIZE, 1000 + i);
		c = cmd_copy(sh, 0, h[i], 0, SB_BO_SIZE);
		fails += gpu_run(fd, &c, 1) != 0;
	}
	tap_check(&t, stage && !fails &&
		  invisible >= (SB_BOS * SB_BO_SIZE - vis) / SB_BO_SIZE &&
		  !nonzero,
		  "%u VRAM-only BOs of %llu MiB, %u of them beyond the %llu MiB visible window, zero when new (%llu non-zero bytes), written by the engine",
		  SB_BOS, SB_BO_SIZE / MiB, invisible,
		  (unsigned long long)(vis / MiB),
		  (unsigned long long)nonzero);
	if (!stage || fails)
		return;

	f0 = stat_get("invisible_faults");
	for (i = 0; i < SB_BOS; i++) {
		struct stats st0, st1;
		bool was_visible;

		bo_query(fd, h[i], &gq);
		was_visible = gq.cpu_visible;
		p[i] = bo_map(fd, h[i], SB_BO_SIZE);
		if (!p[i] || stats_read(&st0)) {
			fails++;
			continue;
		}
		bad += pattern_check(p[i], 0, SB_BO_SIZE, 1000 + i);
		if (bo_query(fd, h[i], &gq) || !gq.cpu_visible ||
		    gq.mem != DRM_SIMGPU_MEM_VRAM0) {
			tap_diag("BO %u: in %s, cpu_visible %u after the fault",
				 i, mem_name(gq.mem), gq.cpu_visible);
			fails++;
		}
		if (stats_read(&st1) ||
		    !fault_path_ok(&st0, &st1, i, !was_visible))
			wrong_path++;
		moved += !was_visible;
	}
	f1 = stat_get("invisible_faults");
	tap_check(&t, !fails && !bad,
		  "mapping moved %u invisible BOs into the visible window, %llu bad bytes",
		  moved, (unsigned long long)bad);
	tap_check(&t, !wrong_path,
		  "each fault was one engine move within VRAM0 (plus engine evictions to make room), no CPU copy (%u faults took another path)",
		  wrong_path);
	tap_check(&t, f1 - f0 >= moved && moved > 0,
		  "invisible_faults counted the faults (%lld for %u BOs)",
		  f1 - f0, moved);

	/* Wherever eviction put them now, every byte is still there. */
	bad = 0;
	for (i = 0; i < SB_BOS; i++) {
		if (!p[i])
			continue;
		bad += pattern_check(p[i], 0, SB_BO_SIZE, 1000 + i);
		munmap(p[i], SB_BO_SIZE);
	}
	tap_check(&t, !bad, "all %u BOs verified again (%llu bad bytes)",
		  SB_BOS, (unsigned long long)bad);
	munmap(stage, SB_BO_SIZE);
	big_bo(fd, vis + SB_BO_SIZE);
}

int main(int argc, char **argv)
{
	struct drm_simgpu_device_query q;
	bool small_bar = false;
	unsigned int n;
	int fd, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--small-bar")) {
			small_bar = true;
		} else if (!strcmp(argv[i], "--expect") && i + 1 < argc &&
			   (!strcmp(argv[i + 1], "engine") ||
			    !strcmp(argv[i + 1], "cpu"))) {
			cpu_mode = !strcmp(argv[++i], "cpu");
		} else {
			fprintf(stderr, "usage: simgpu-placements [--small-bar] [--expect engine|cpu]\n");
			return 2;
		}
	}

	fd = dev_open(&q);
	if (fd < 0) {
		tap_plan(&t, 1);
		tap_check(&t, false, "render node opens (%d)", fd);
		return tap_finish(&t);
	}
	if (small_bar) {
		tap_plan(&t, 6);
		run_small_bar(fd, &q);
	} else {
		/* n creations, n * (n - 1) pairs, n mask checks */
		n = __builtin_popcount(placements_all(&q));
		tap_plan(&t, n * (n + 1));
		run_placements(fd, &q);
	}
	return tap_finish(&t);
}
