// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-evict: VRAM overcommit.  Creates BOs totalling several times
 * VRAM, each with its own pattern; every round migrates them back into
 * VRAM in a random (fixed-seed) order, which evicts the others, checks
 * every byte, rewrites the BO with a new pattern, and at the end of the
 * round checks every byte of every BO wherever it is.
 *
 * Usage: simgpu-evict [--ratio N] [--bo-mb N] [--rounds N] [--procs N]
 *                     [--expect engine|cpu|any] [--faults]
 *                     [--redo-by-engine]
 *   --procs N     N processes, each thrashing its own BOs (ratio / N each)
 *   --expect      which mover the statistics must show doing the work
 *                 (default engine); "any" when other workloads share the
 *                 device (simgpu-soak): only that evictions happened
 *   --faults      inject engine errors and hangs while evicting
 *   --redo-by-engine  the CPU never redoes a failed pipelined move
 *                 (debugfs redo_by_cpu=N): the engine must
 *
 * Which path ran is checked on the driver's counters, taken once every
 * process has created and filled its BOs (creation clears new VRAM and
 * evicts too, and must not count) and again at the end: evictions from
 * VRAM0 happened; with --expect engine the engine moved at least the
 * evicted bytes and the CPU moved none (no fallback); with --expect cpu
 * the opposite; with --faults the injected errors and hangs fired
 * (engine errors and resets counted).  How the engine's moves were
 * committed follows the module parameter sync_moves: pipelined (the
 * evictions from VRAM pipelined, the other moves through ghost objects,
 * every ghost released in the end, and with --faults the failed moves
 * redone, by the CPU or with --redo-by-engine by the engine, none lost)
 * or synchronous (nothing pipelined).  With the eviction policy
 * evict_to_system=1 (docs/prototyping.md), the evictions must all have
 * gone on to SYSTEM instead (through TT and out of it again).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

struct obj {
	uint32_t handle;
	uint64_t seed;
	void *map;
};

static unsigned int ratio = 4, bo_mb = 2, rounds = 3, procs = 1;
static const char *expect;
static bool faults, redo_by_engine;

static uint64_t bytes_verified;

/*
 * Shared by the workers: the statistics once every worker has set up its
 * BOs (worker 0 takes them when all are ready, then lets them go).
 */
static struct setup_sync {
	unsigned int ready;
	unsigned int go;
	int stats_ret;
	struct stats after_setup;
} *sync_;

static void setup_done(unsigned int id)
{
	__atomic_add_fetch(&sync_->ready, 1, __ATOMIC_SEQ_CST);
	if (id == 0) {
		while (__atomic_load_n(&sync_->ready, __ATOMIC_SEQ_CST) < procs)
			usleep(1000);
		sync_->stats_ret = stats_read(&sync_->after_setup);
		__atomic_store_n(&sync_->go, 1, __ATOMIC_SEQ_CST);
	}
	while (!__atomic_load_n(&sync_->go, __ATOMIC_SEQ_CST))
		usleep(1000);
}

/* One thrashing worker; returns the number of failures. */
static int worker(unsigned int id, uint64_t vram, struct tap *t)
{
	uint64_t size = bo_mb * MiB, rng = 0x5eed + id;
	unsigned int n = ratio * vram / size / procs, i, r, bad_ops = 0;
	unsigned int misplaced = 0, where[DRM_SIMGPU_NUM_MEM];
	uint64_t bad_bytes = 0;
	struct obj *o = calloc(n, sizeof(*o));
	unsigned int *order = calloc(n, sizeof(*order));
	int fd = dev_open(NULL), fails = 0, ret;

	if (fd < 0 || !o || !order) {
		setup_done(id);
		return 1;
	}
	for (i = 0; i < n; i++) {
		ret = bo_create(fd, size,
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
				DRM_SIMGPU_MEM_VRAM0,
				DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
				&o[i].handle);
		o[i].map = ret ? NULL : bo_map(fd, o[i].handle, size);
		if (!o[i].map) {
			tap_diag("worker %u: BO %u: create/map failed (%d)",
				 id, i, ret);
			setup_done(id);
			return 1;
		}
		o[i].seed = (uint64_t)id << 32 | i;
		pattern_fill(o[i].map, 0, size, o[i].seed);
		order[i] = i;
	}
	setup_done(id);

	for (r = 0; r < rounds; r++) {
		for (i = n - 1; i > 0; i--) {
			unsigned int j = rnd_next(&rng) % (i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (i = 0; i < n; i++) {
			struct obj *b = &o[order[i]];
			uint64_t bad;

			if (faults && id == 0 && i % 5 == 1)
				dbg_write(rnd_next(&rng) & 1 ? "fault_hang" :
					  "fault_fail_count", "1");
			ret = bo_migrate(fd, b->handle, DRM_SIMGPU_MEM_VRAM0,
					 DRM_SIMGPU_MIGRATE_CPU_VISIBLE);
			if (ret && ret != -EIO && ret != -ENOSPC)
				bad_ops++;
			/*
			 * Where the migration put it, before the CPU touches
			 * it (one process only: others evict it at any time).
			 */
			if (!ret && procs == 1 &&
			    bo_mem(fd, b->handle) != DRM_SIMGPU_MEM_VRAM0)
				misplaced++;
			bad = pattern_check(b->map, 0, size, b->seed);
			bytes_verified += size;
			bad_bytes += bad;
			b->seed = b->seed * 31 + r + 1;
			pattern_fill(b->map, 0, size, b->seed);
		}
		memset(where, 0, sizeof(where));
		for (i = 0; i < n; i++) {
			bad_bytes += pattern_check(o[i].map, 0, size, o[i].seed);
			bytes_verified += size;
			ret = bo_mem(fd, o[i].handle);
			if (ret >= 0 && ret < DRM_SIMGPU_NUM_MEM)
				where[ret]++;
		}
		if (t) {
			tap_diag("round %u: BOs now in VRAM0 %u, TT %u, SYSTEM %u",
				 r, where[DRM_SIMGPU_MEM_VRAM0],
				 where[DRM_SIMGPU_MEM_TT],
				 where[DRM_SIMGPU_MEM_SYSTEM]);
			fails += !tap_check(t, !bad_bytes && !bad_ops &&
					    !misplaced,
				"round %u: %u BOs of %u MiB migrated and verified (%llu bad bytes, %u failed migrations, %u not in VRAM0 after a successful migration)",
				r, n, bo_mb, (unsigned long long)bad_bytes,
				bad_ops, misplaced);
		} else if (bad_bytes || bad_ops) {
			fails++;
		}
	}
	if (faults)
		dbg_write("fault_hang", "0");
	close(fd);
	tap_diag("worker %u: %llu bytes verified", id,
		 (unsigned long long)bytes_verified);
	return fails;
}

/* The device query reports the same statistics as debugfs (now idle). */
static uint64_t vram_size;

static int proc_worker(unsigned int id)
{
	return worker(id, vram_size, NULL);
}

static void check_query_stats(struct tap *t, int fd)
{
	struct drm_simgpu_device_query q = { 0 };
	long long ev;
	bool ok;

	ok = !drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	ev = q.stats.evictions[DRM_SIMGPU_MEM_VRAM0][DRM_SIMGPU_MEM_TT] +
	     q.stats.evictions[DRM_SIMGPU_MEM_VRAM0][DRM_SIMGPU_MEM_SYSTEM];
	ok = ok && ev == stat_get("evict_vram0_tt") + stat_get("evict_vram0_system") &&
	     (long long)q.stats.engine_bytes == stat_get("engine_bytes") &&
	     (long long)q.stats.cpu_bytes == stat_get("cpu_bytes") &&
	     (long long)q.stats.engine_resets == stat_get("engine_resets");
	tap_check(t, ok, "device query statistics match debugfs (%lld evictions from VRAM0)",
		  ev);
}

static long long evictions_from_vram0(const struct stats *a,
				      const struct stats *b)
{
	return stats_delta(a, b, "evict_vram0_tt") +
	       stats_delta(a, b, "evict_vram0_system");
}

/* Which path the evictions after setup took (see the top of the file). */
static void check_path(struct tap *t, const struct stats *a,
		       const struct stats *b)
{
	long long ev = evictions_from_vram0(a, b);
	long long eng = stats_delta(a, b, "engine_bytes");
	long long cpu = stats_delta(a, b, "cpu_bytes");
	long long fb = stats_delta(a, b, "engine_fallbacks");
	long long errs = stats_delta(a, b, "engine_errors");
	long long rs = stats_delta(a, b, "engine_resets");
	long long evicted = ev * (long long)(bo_mb * MiB);
	char diff[1024];

	tap_diag("after setup: %lld evictions from VRAM0 (%lld MiB), engine bytes %lld, CPU bytes %lld, fallbacks %lld, engine errors %lld, resets %lld",
		 ev, evicted / (long long)MiB, eng, cpu, fb, errs, rs);
	tap_diag("after setup: moves %s", stats_diff(a, b, "move_", diff,
						     sizeof(diff)));
	tap_check(t, ev > 0, "evictions from VRAM0 after setup happened (%lld)",
		  ev);
	if (expect && !strcmp(expect, "any"))
		tap_check(t, eng + cpu > 0,
			  "evictions moved data (engine %lld, CPU %lld bytes; other workloads share the device: mover not checked)",
			  eng, cpu);
	else if (expect && !strcmp(expect, "cpu"))
		tap_check(t, eng == 0 && cpu >= evicted && evicted > 0,
			  "evictions done by the CPU: CPU bytes %lld >= %lld evicted, engine bytes %lld (want 0)",
			  cpu, evicted, eng);
	else if (faults)
		tap_check(t, errs > 0 && rs > 0 && eng > 0,
			  "injected faults fired: %lld engine errors, %lld resets, %lld fallbacks; engine still moved %lld bytes",
			  errs, rs, fb, eng);
	else
		tap_check(t, eng >= evicted && evicted > 0 && cpu == 0 &&
			  fb == 0,
			  "evictions done by the engine: engine bytes %lld >= %lld evicted, CPU bytes %lld and fallbacks %lld (want 0)",
			  eng, evicted, cpu, fb);
}

/* How the engine's moves were committed (see the top of the file). */
static void check_commit(struct tap *t, const struct stats *a,
			 const struct stats *b)
{
	long long pipelined = stats_delta(a, b, "pipelined_moves");
	long long pev = stats_delta(a, b, "pipelined_evictions");
	long long ev = stats_delta(a, b, "evict_vram0_tt");
	long long ghosts = stats_delta(a, b, "ghost_moves");
	long long redo_cpu = stats_delta(a, b, "move_redos_cpu");
	long long redo_engine = stats_delta(a, b, "move_redos_engine");
	long long lost = stats_delta(a, b, "moves_lost");
	long long ev_sys = stats_delta(a, b, "evict_vram0_system");
	long long legs = stats_delta(a, b, "move_tt_system");
	int sync = param_bool("sync_moves");
	double t0 = now_s();

	if (param_bool("evict_to_system") == 1) {
		/* The policy sends every eviction on to SYSTEM. */
		tap_check(t, ev == 0 && ev_sys > 0 && legs >= ev_sys && lost == 0,
			  "evict_to_system=1: %lld evictions from VRAM0 to SYSTEM, %lld to TT (want 0), %lld moves on from TT to SYSTEM (want >= evictions), %lld lost",
			  ev_sys, ev, legs, lost);
		return;
	}
	if (sync == 1) {
		tap_check(t, pipelined == 0 && lost == 0,
			  "sync_moves=1: no move pipelined (%lld), none lost (%lld)",
			  pipelined, lost);
		return;
	}
	/* TTM deletes ghosts from a worker once their fence signalled. */
	while (stat_get("ghosts_released") != stat_get("ghost_moves") &&
	       now_s() - t0 < 10)
		usleep(10000);
	tap_check(t, sync == 0 && pev >= ev && ev > 0 && ghosts > 0 &&
		  stat_get("ghosts_released") == stat_get("ghost_moves") &&
		  stat_get("move_fences_pending") == 0 && lost == 0 &&
		  (!faults || (redo_by_engine ? redo_engine > 0 && !redo_cpu :
					       redo_cpu > 0)),
		  "pipelined moves (sync_moves=%d): %lld pipelined evictions of %lld to TT, %lld moves through ghosts, all %lld ghosts released, %lld move fences pending; failed moves redone by the CPU %lld, by the engine %lld, lost %lld",
		  sync, pev, ev, ghosts, stat_get("ghosts_released"),
		  stat_get("move_fences_pending"), redo_cpu, redo_engine, lost);
}

int main(int argc, char **argv)
{
	struct drm_simgpu_device_query q;
	struct stats end;
	struct tap t;
	int i, fd, fails = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ratio") && i + 1 < argc)
			ratio = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bo-mb") && i + 1 < argc)
			bo_mb = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
			rounds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			procs = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--expect") && i + 1 < argc)
			expect = argv[++i];
		else if (!strcmp(argv[i], "--faults"))
			faults = true;
		else if (!strcmp(argv[i], "--redo-by-engine"))
			redo_by_engine = true;
	}
	if (!procs || !bo_mb || !ratio ||
	    (expect && strcmp(expect, "engine") && strcmp(expect, "cpu") &&
	     strcmp(expect, "any"))) {
		fprintf(stderr, "usage: simgpu-evict [--ratio N] [--bo-mb N] [--rounds N] [--procs N] [--expect engine|cpu|any] [--faults] [--redo-by-engine]\n");
		return 2;
	}

	tap_plan(&t, (procs == 1 ? rounds : 1) + 4 +
		 (!expect || !strcmp(expect, "engine")));
	fd = dev_open(&q);
	sync_ = mmap(NULL, sizeof(*sync_), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!tap_check(&t, fd >= 0 && sync_ != MAP_FAILED,
		       "render node opens and answers the query"))
		return tap_finish(&t);
	/* Looked up now: stats_read() in the workers finds it. */
	stat_get("engine_bytes");
	if (redo_by_engine && dbg_write("redo_by_cpu", "N")) {
		tap_check(&t, false, "debugfs redo_by_cpu writable");
		return tap_finish(&t);
	}

	if (procs == 1) {
		worker(0, q.regions[0].size, &t);
	} else {
		vram_size = q.regions[0].size;
		fails = run_procs(procs, proc_worker);
		tap_check(&t, !fails,
			  "%u processes thrashed %u x VRAM in %u MiB BOs for %u rounds, every byte verified",
			  procs, ratio, bo_mb, rounds);
	}

	if (sync_->stats_ret || stats_read(&end)) {
		tap_check(&t, false, "driver statistics readable (%d)",
			  sync_->stats_ret);
		tap_check(&t, false, "no path checked");
		if (!expect || !strcmp(expect, "engine"))
			tap_check(&t, false, "no commit checked");
	} else {
		check_path(&t, &sync_->after_setup, &end);
		if (!expect || !strcmp(expect, "engine"))
			check_commit(&t, &sync_->after_setup, &end);
	}
	tap_diag("bytes verified (process 0) %llu",
		 (unsigned long long)bytes_verified);
	check_query_stats(&t, fd);
	close(fd);
	return tap_finish(&t);
}
