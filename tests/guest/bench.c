// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-bench: throughput figures for bench/ (run by bench/bench.py).
 * Every figure is checked: the bytes moved are verified afterwards, and a
 * run that could not measure fails its test point.
 *
 * Usage: simgpu-bench copy [--mb N] [--reps R]
 *        simgpu-bench evict [--mb N] [--bo-mb M] [--reps R]
 *
 *   copy   engine COPY submissions of N MiB (default 64) between BOs
 *          pinned (by their placement mask) in VRAM0, TT and VRAM1:
 *          VRAM0->TT, TT->VRAM0, VRAM0->VRAM1 (VRAM1 needs two regions),
 *          one unmeasured warm-up and R (default 5) timed runs each;
 *          before each run the source gets a new pattern and after it
 *          the destination is verified (a repetition that copied
 *          nothing, or only part, shows the previous pattern), and the
 *          driver's counters must show one submission per run and no
 *          BO moved (only the timed submission is timed).
 *   evict  N MiB (default 64) of BOs of M MiB (default 4) in VRAM0,
 *          evicted to TT by debugfs evict_vram and migrated back, R
 *          (default 3) times with pipelined engine moves, R times with
 *          synchronous ones (sync_moves=1), then R times with the CPU
 *          (force_cpu_copy=1; module parameters switched at run time);
 *          every byte verified after each eviction; the statistics must
 *          show the expected mover and commit.
 *
 * Machine-readable lines, one per figure (seconds, MiB per second):
 *   # bench FIGURE mib N reps R median_s S best_s S mibps M
 * with mibps = N / median_s.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define FORCE_CPU_COPY "/sys/module/simgpu/parameters/force_cpu_copy"
#define SYNC_MOVES "/sys/module/simgpu/parameters/sync_moves"
#define MAX_REPS 100

static unsigned int mb = 64, bo_mb = 4, reps;

struct pinned {
	uint32_t mem;
	uint32_t handle;
	uint8_t *map;
};

static int copy_pair(struct tap *t, int fd, struct pinned *src,
		     struct pinned *dst, uint64_t seed)
{
	uint64_t size = mb * MiB, bad;
	struct drm_simgpu_cmd c = cmd_copy(src->handle, 0, dst->handle, 0,
					   size);
	double times[MAX_REPS], t0;
	struct stats st0, st1;
	char figure[64], moves[512] = "?";
	unsigned int i, bad_reps = 0;
	long long subs = -1;
	int ret;

	ret = stats_read(&st0);
	bad = 0;
	for (i = 0; i <= reps && !ret; i++) {
		uint64_t b;

		/* A new pattern each run: each copy is checked on its own. */
		pattern_fill(src->map, 0, size, seed * 1000 + i);
		t0 = now_s();
		ret = gpu_run(fd, &c, 1);
		if (i)	/* run 0 is the warm-up */
			times[i - 1] = now_s() - t0;
		b = ret ? 0 : pattern_check(dst->map, 0, size, seed * 1000 + i);
		bad += b;
		bad_reps += b != 0;
	}
	if (!ret && !stats_read(&st1)) {
		subs = stats_delta(&st0, &st1, "submits");
		stats_diff(&st0, &st1, "move_", moves, sizeof(moves));
	}
	snprintf(figure, sizeof(figure), "copy_%s_%s", mem_name(src->mem),
		 mem_name(dst->mem));
	if (!tap_check(t, !ret, "%s: %u + 1 engine copies of %u MiB (%d)",
		       figure, reps, mb, ret))
		return -1;
	bench_report(figure, mb, times, reps);
	return tap_check(t, !bad && bo_mem(fd, src->handle) == (int)src->mem &&
			 bo_mem(fd, dst->handle) == (int)dst->mem &&
			 subs == (long long)reps + 1 && !strcmp(moves, "none"),
			 "%s: destination verified after each of the %u runs, each with a new pattern (%llu bad bytes in %u runs), %lld submissions counted, BOs stayed in place (moves: %s)",
			 figure, reps + 1, (unsigned long long)bad, bad_reps,
			 subs, moves) ? 0 : -1;
}

static int copy(void)
{
	struct drm_simgpu_device_query q = { 0 };
	struct pinned b[3] = {
		{ .mem = DRM_SIMGPU_MEM_VRAM0 },
		{ .mem = DRM_SIMGPU_MEM_TT },
		{ .mem = DRM_SIMGPU_MEM_VRAM1 },
	};
	uint64_t size = mb * MiB;
	unsigned int i, n;
	struct tap t;
	int fd;

	fd = dev_open(&q);
	n = q.num_regions >= 2 ? 3 : 2;
	tap_plan(&t, 1 + 2 * n);
	if (!tap_check(&t, fd >= 0, "render node opens (%d regions)",
		       fd >= 0 ? q.num_regions : 0))
		return tap_finish(&t);
	for (i = 0; i < n; i++) {
		b[i].map = bo_new(fd, size, DRM_SIMGPU_PLACEMENT(b[i].mem),
				  b[i].mem, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
				  &b[i].handle);
		if (!b[i].map)
			return tap_finish(&t);
	}
	copy_pair(&t, fd, &b[0], &b[1], 1);
	copy_pair(&t, fd, &b[1], &b[0], 2);
	if (n == 3)
		copy_pair(&t, fd, &b[0], &b[2], 3);
	else
		tap_diag("one VRAM region: no VRAM0->VRAM1 figure");
	for (i = 0; i < n; i++) {
		munmap(b[i].map, size);
		gem_close(fd, b[i].handle);
	}
	close(fd);
	return tap_finish(&t);
}

struct ebo {
	uint32_t handle;
	uint64_t seed;
	uint8_t *map;
};

/*
 * R rounds of: evict VRAM (timed), verify every byte in TT, migrate every
 * BO back to VRAM0 (timed as "restore"), verify again.  The BOs start in
 * VRAM0.  @who: "engine" (pipelined moves), "sync" (sync_moves=1) or
 * "cpu" (force_cpu_copy=1).
 */
static void evict_runs(struct tap *t, int fd, struct ebo *o, unsigned int n,
		       const char *who)
{
	double ev[MAX_REPS], rs[MAX_REPS], t0;
	bool cpu = !strcmp(who, "cpu"), sync = !strcmp(who, "sync");
	long long eng0, cpu0, pip0, eng, cpub, pip;
	uint64_t size = bo_mb * MiB, bad = 0;
	unsigned int r, i, wrong = 0;
	char figure[64];
	int ret;

	ret = file_write(FORCE_CPU_COPY, cpu ? "1" : "0") ||
	      file_write(SYNC_MOVES, sync ? "1" : "0");
	if (!tap_check(t, !ret, "%s: force_cpu_copy=%d sync_moves=%d written at run time (%d)",
		       who, cpu, sync, ret)) {
		tap_check(t, false, "%s: no eviction measured", who);
		return;
	}
	eng0 = stat_get("engine_bytes");
	cpu0 = stat_get("cpu_bytes");
	pip0 = stat_get("pipelined_moves");
	for (r = 0; r < reps && !ret; r++) {
		t0 = now_s();
		ret = dbg_write("evict_vram", "1");
		ev[r] = now_s() - t0;
		for (i = 0; i < n; i++) {
			wrong += bo_mem(fd, o[i].handle) != DRM_SIMGPU_MEM_TT;
			bad += pattern_check(o[i].map, 0, size, o[i].seed);
		}
		t0 = now_s();
		for (i = 0; i < n && !ret; i++)
			ret = bo_migrate(fd, o[i].handle, DRM_SIMGPU_MEM_VRAM0,
					 DRM_SIMGPU_MIGRATE_CPU_VISIBLE);
		rs[r] = now_s() - t0;
		for (i = 0; i < n; i++) {
			wrong += bo_mem(fd, o[i].handle) != DRM_SIMGPU_MEM_VRAM0;
			bad += pattern_check(o[i].map, 0, size, o[i].seed);
		}
	}
	eng = stat_get("engine_bytes") - eng0;
	cpub = stat_get("cpu_bytes") - cpu0;
	pip = stat_get("pipelined_moves") - pip0;
	tap_diag("%s: engine bytes %lld, CPU bytes %lld, pipelined moves %lld",
		 who, eng, cpub, pip);
	if (!tap_check(t, !ret && !wrong && !bad &&
		       (cpu ? eng == 0 && cpub > 0 : eng > 0 && cpub == 0) &&
		       (!strcmp(who, "engine") ? pip > 0 : pip == 0),
		       "%s: %u x (%u MiB evicted to TT, back to VRAM0), every byte verified (%d, %u misplaced, %llu bad bytes; %lld moves pipelined)",
		       who, reps, mb, ret, wrong, (unsigned long long)bad, pip))
		return;
	snprintf(figure, sizeof(figure), "evict_%s", who);
	bench_report(figure, mb, ev, reps);
	snprintf(figure, sizeof(figure), "restore_%s", who);
	bench_report(figure, mb, rs, reps);
}

static int evict(void)
{
	unsigned int n = mb / bo_mb, i;
	uint64_t size = bo_mb * MiB;
	struct ebo *o = calloc(n, sizeof(*o));
	struct tap t;
	int fd;

	tap_plan(&t, 7);
	fd = dev_open(NULL);
	if (!tap_check(&t, fd >= 0 && o && n, "render node opens, %u BOs of %u MiB",
		       n, bo_mb))
		return tap_finish(&t);
	for (i = 0; i < n; i++) {
		o[i].map = bo_new(fd, size,
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
				  DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
				  DRM_SIMGPU_MEM_VRAM0,
				  DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
				  &o[i].handle);
		if (!o[i].map)
			return tap_finish(&t);
		o[i].seed = 0xe0 + i;
		pattern_fill(o[i].map, 0, size, o[i].seed);
	}
	evict_runs(&t, fd, o, n, "engine");
	evict_runs(&t, fd, o, n, "sync");
	evict_runs(&t, fd, o, n, "cpu");
	file_write(FORCE_CPU_COPY, "0");
	file_write(SYNC_MOVES, "0");
	for (i = 0; i < n; i++) {
		munmap(o[i].map, size);
		gem_close(fd, o[i].handle);
	}
	close(fd);
	free(o);
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "";
	int i;

	reps = strcmp(mode, "evict") ? 5 : 3;
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--mb") && i + 1 < argc)
			mb = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--bo-mb") && i + 1 < argc)
			bo_mb = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = strtoul(argv[++i], NULL, 0);
		else
			goto usage;
	}
	if (!mb || !bo_mb || !reps || reps > MAX_REPS)
		goto usage;
	if (!strcmp(mode, "copy"))
		return copy();
	if (!strcmp(mode, "evict"))
		return evict();
usage:
	fprintf(stderr, "usage: simgpu-bench copy|evict [--mb N] [--bo-mb M] [--reps R] (see bench.c)\n");
	return 2;
}
