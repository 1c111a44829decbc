// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-evict: VRAM overcommit.  Creates BOs totalling several times
 * VRAM, each with its own pattern; every round migrates them back into
 * VRAM in a random (fixed-seed) order, which evicts the others, checks
 * every byte, rewrites the BO with a new pattern, and at the end of the
 * round checks every byte of every BO wherever it is.
 *
 * Usage: simgpu-evict [--ratio N] [--bo-mb N] [--rounds N] [--procs N]
 *                     [--expect engine|cpu] [--faults]
 *   --procs N     N processes, each thrashing its own BOs (ratio / N each)
 *   --expect      which mover the statistics must show doing the work
 *   --faults      inject engine errors and hangs while evicting
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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
static bool faults;

static uint64_t bytes_verified;

/* One thrashing worker; returns the number of failures. */
static int worker(unsigned int id, uint64_t vram, struct tap *t)
{
	uint64_t size = bo_mb * MiB, rng = 0x5eed + id;
	unsigned int n = ratio * vram / size / procs, i, r, bad_ops = 0;
	uint64_t bad_bytes = 0;
	struct obj *o = calloc(n, sizeof(*o));
	unsigned int *order = calloc(n, sizeof(*order));
	int fd = dev_open(NULL), fails = 0, ret;

	if (fd < 0 || !o || !order)
		return 1;
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
			return 1;
		}
		o[i].seed = (uint64_t)id << 32 | i;
		pattern_fill(o[i].map, 0, size, o[i].seed);
		order[i] = i;
	}

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
			bad = pattern_check(b->map, 0, size, b->seed);
			bytes_verified += size;
			bad_bytes += bad;
			b->seed = b->seed * 31 + r + 1;
			pattern_fill(b->map, 0, size, b->seed);
		}
		for (i = 0; i < n; i++) {
			bad_bytes += pattern_check(o[i].map, 0, size, o[i].seed);
			bytes_verified += size;
		}
		if (t) {
			fails += !tap_check(t, !bad_bytes && !bad_ops,
				"round %u: %u BOs of %u MiB migrated and verified (%llu bad bytes, %u failed migrations)",
				r, n, bo_mb, (unsigned long long)bad_bytes,
				bad_ops);
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

int main(int argc, char **argv)
{
	struct drm_simgpu_device_query q;
	long long ev0, ev1, eng0, eng1, cpu0, cpu1, rs0, rs1;
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
	}

	tap_plan(&t, (procs == 1 ? rounds : 1) + 4);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0, "render node opens and answers the query"))
		return tap_finish(&t);
	ev0 = stat_get("evict_vram0_tt") + stat_get("evict_vram0_system");
	eng0 = stat_get("engine_bytes");
	cpu0 = stat_get("cpu_bytes");
	rs0 = stat_get("engine_resets");

	if (procs == 1) {
		worker(0, q.regions[0].size, &t);
	} else {
		vram_size = q.regions[0].size;
		fails = run_procs(procs, proc_worker);
		tap_check(&t, !fails,
			  "%u processes thrashed %u x VRAM in %u MiB BOs for %u rounds, every byte verified",
			  procs, ratio, bo_mb, rounds);
	}

	ev1 = stat_get("evict_vram0_tt") + stat_get("evict_vram0_system");
	eng1 = stat_get("engine_bytes");
	cpu1 = stat_get("cpu_bytes");
	rs1 = stat_get("engine_resets");
	tap_diag("evictions from VRAM %lld, engine bytes %lld, CPU bytes %lld, engine resets %lld, bytes verified (process 0) %llu",
		 ev1 - ev0, eng1 - eng0, cpu1 - cpu0, rs1 - rs0,
		 (unsigned long long)bytes_verified);
	tap_check(&t, ev1 - ev0 > 0, "evictions from VRAM happened (%lld)",
		  ev1 - ev0);
	if (expect && !strcmp(expect, "cpu"))
		tap_check(&t, eng1 == eng0 && cpu1 > cpu0,
			  "all moves done by the CPU (engine %lld, CPU %lld bytes)",
			  eng1 - eng0, cpu1 - cpu0);
	else if (faults)
		tap_check(&t, rs1 > rs0,
			  "injected faults reset the engine (%lld resets)",
			  rs1 - rs0);
	else
		tap_check(&t, eng1 - eng0 > 0,
			  "moves done by the engine (%lld bytes, CPU %lld)",
			  eng1 - eng0, cpu1 - cpu0);
	check_query_stats(&t, fd);
	close(fd);
	return tap_finish(&t);
}
