// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-shrink: the driver's system-memory shrinker and TTM's other
 * reclaim paths.  Every BO gets its own pattern; every byte is checked
 * after every shrink/restore round, and between two rounds every BO is
 * rewritten with a new pattern (a new seed): a restore that brought back
 * an older backup, or a backup that was not redone after the BO changed,
 * shows as the previous round's pattern.
 *
 * Usage: simgpu-shrink MODE [--total-mb N] [--bo-mb N] [--procs N]
 *                           [--vram] [--compressible] [--anon] [--limit-mb N]
 *
 *   forced     BOs in SYSTEM and TT shrunk through debugfs "shrink":
 *              DONTNEED BOs purged first, the others backed up and
 *              restored by CPU faults, a submission and a migration.
 *   pressure   BOs totalling --total-mb (more than guest RAM): the kernel's
 *              own reclaim backs them up to swap; all are checked twice.
 *              --procs: split over N processes; --vram: BOs start in VRAM
 *              and go back there before the second check (VRAM -> TT ->
 *              backup -> swap and back); --anon: the same with anonymous
 *              memory instead of BOs, the reference for BO swap.
 *   watermark  TTM's own swapout with ttm.pages_limit set to --limit-mb,
 *              on BOs the shrinker leaves alone (module parameter
 *              watermark_swapout=1 or pool=coherent).
 *   churn      BOs in and out of DONTNEED under shrink passes: purged
 *              ones read zero, the others intact; no global counters
 *              checked, so it runs beside other workloads.
 *   noswap     without swap: DONTNEED BOs purged, then -ENOMEM for new
 *              BOs (no OOM kill), every other BO intact, recovery.
 *   signal     restores of a backed-up BO under a fast SIGALRM itimer
 *              (MIGRATE ioctls and CPU faults), with TTM's
 *              backup_fault_inject stopping them part-way (debug
 *              kernel): interrupted, resumed, nothing lost.
 *   enomem     a restore failing half-way for lack of memory
 *              (fail_page_alloc, debug kernel) and its retry.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define PAGE 4096ULL
/*
 * BOs live in SYSTEM/TT (what the shrinker shrinks); VRAM0 is allowed too
 * so that migrating a backed-up BO there can be tested.
 */
#define PLACEMENTS (DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) | \
		    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM) | \
		    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0))

struct obj {
	uint32_t handle;
	uint64_t seed;
	uint64_t size;
	uint8_t *map;
	bool dontneed;
};

static bool compressible;
static bool anon;
static uint64_t bytes_verified;

/*
 * The pattern word at @off: random, or (compressible) one random word in
 * eight, the others a per-BO constant (zram keeps about a fifth).
 */
static uint64_t word(uint64_t seed, uint64_t off)
{
	if (compressible && (off >> 3) & 7)
		return seed * 0x0101010101010101ULL;
	return pattern_word(seed, off);
}

static void fill(struct obj *o)
{
	uint64_t *w = (uint64_t *)o->map, i;

	for (i = 0; i < o->size / 8; i++)
		w[i] = word(o->seed, 8 * i);
}

/*
 * Rewrite @o with a new pattern: what a stale backup would bring back
 * differs from it everywhere.
 */
static void refill(struct obj *o)
{
	o->seed += 0x100000;
	fill(o);
}

/* Bytes of @o that differ from its pattern (or from zero). */
static uint64_t check(const struct obj *o, bool zero)
{
	const uint64_t *w = (const uint64_t *)o->map;
	uint64_t i, bad = 0;

	for (i = 0; i < o->size / 8; i++) {
		uint64_t x = w[i] ^ (zero ? 0 : word(o->seed, 8 * i));
		unsigned int b;

		for (b = 0; x && b < 8; b++, x >>= 8)
			bad += (x & 0xff) != 0;
	}
	bytes_verified += o->size;
	return bad;
}

static int madvise_bo(int fd, uint32_t handle, uint32_t madv,
		      uint32_t *retained)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };
	int ret;

	do {
		ret = ioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);
	} while (ret && errno == EINTR);
	if (ret)
		return -errno;
	*retained = m.retained;
	return 0;
}

static int shrink(uint64_t pages, bool writeback)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu%s", (unsigned long long)pages,
		 writeback ? " w" : "");
	return dbg_write("shrink", buf);
}

static int create(int fd, struct obj *o, uint64_t size, uint32_t mem,
		  uint64_t seed)
{
	int ret;

	if (anon) {
		o->map = mmap(NULL, size, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (o->map == MAP_FAILED)
			return -errno;
		o->size = size;
		o->seed = seed;
		return 0;
	}
	ret = bo_create(fd, size, PLACEMENTS, mem, 0, &o->handle);
	if (ret)
		return ret;
	o->size = size;
	o->seed = seed;
	o->map = bo_map(fd, o->handle, size);
	return o->map ? 0 : -ENOMEM;
}

static void stats_diag(void)
{
	tap_diag("stats: shrinkable %lld purgeable %lld backed_up %lld passes %lld purged %lld backups %lld written_back %lld restored %lld interrupted %lld failed %lld",
		 stat_get("shrinkable_pages"), stat_get("purgeable_pages"),
		 stat_get("backed_up_pages"), stat_get("shrink_passes"),
		 stat_get("pages_purged"), stat_get("pages_backed_up"),
		 stat_get("pages_written_back"), stat_get("pages_restored"),
		 stat_get("restore_interrupted"), stat_get("restore_failed"));
}

#define NFORCED 8

static int forced(void)
{
	uint64_t size = 4 * MiB, np = size / PAGE, bad, seqno;
	long long purged0, backups0, restored0, v;
	struct obj o[NFORCED], dst;
	struct drm_simgpu_cmd cmd;
	unsigned int i;
	uint32_t retained;
	struct tap t;
	int fd, ret;

	tap_plan(&t, 17);
	fd = dev_open(NULL);
	if (fd < 0)
		return 1;
	memset(o, 0, sizeof(o));
	for (i = 0; i < NFORCED; i++) {
		ret = create(fd, &o[i], size,
			     i & 1 ? DRM_SIMGPU_MEM_TT : DRM_SIMGPU_MEM_SYSTEM,
			     0x1000 + i);
		if (ret)
			return tap_check(&t, false, "create BO %u: %d", i, ret),
			       tap_finish(&t);
		fill(&o[i]);
	}
	/* BOs 2 and 3 (SYSTEM and TT) may be dropped. */
	o[2].dontneed = o[3].dontneed = true;
	ret = madvise_bo(fd, o[2].handle, DRM_SIMGPU_MADV_DONTNEED, &retained);
	ret |= madvise_bo(fd, o[3].handle, DRM_SIMGPU_MADV_DONTNEED,
			  &retained);
	tap_check(&t, !ret && retained, "madvise DONTNEED, content retained");
	tap_check(&t, stat_get("purgeable_pages") == (long long)(2 * np) &&
		  stat_get("shrinkable_pages") ==
		  (long long)((NFORCED - 2) * np),
		  "accounting: %lld purgeable, %lld shrinkable pages",
		  stat_get("purgeable_pages"), stat_get("shrinkable_pages"));

	/* A pass just big enough for the purgeable BOs purges only them. */
	purged0 = stat_get("pages_purged");
	backups0 = stat_get("pages_backed_up");
	ret = shrink(2 * np, false);
	tap_check(&t, !ret && stat_get("pages_purged") - purged0 ==
		  (long long)(2 * np) &&
		  stat_get("pages_backed_up") == backups0,
		  "purgeable BOs purged first (%lld pages), nothing backed up",
		  stat_get("pages_purged") - purged0);
	tap_check(&t, stat_get("purgeable_pages") == 0,
		  "no purgeable pages left");

	/* Everything else gets backed up. */
	ret = shrink(NFORCED * np, false);
	v = stat_get("pages_backed_up") - backups0;
	tap_check(&t, !ret && v == (long long)((NFORCED - 2) * np),
		  "%lld pages backed up", v);
	tap_check(&t, stat_get("backed_up_pages") ==
		  (long long)((NFORCED - 2) * np) &&
		  stat_get("shrinkable_pages") == 0,
		  "accounting: %lld backed up, %lld shrinkable",
		  stat_get("backed_up_pages"), stat_get("shrinkable_pages"));
	tap_check(&t, bo_mem(fd, o[1].handle) == DRM_SIMGPU_MEM_SYSTEM,
		  "a backed-up TT BO is in SYSTEM");
	stats_diag();

	/* Engine use restores: copy BO 1 (backed up) into a new BO. */
	restored0 = stat_get("pages_restored");
	ret = create(fd, &dst, size, DRM_SIMGPU_MEM_TT, o[1].seed);
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = DRM_SIMGPU_CMD_COPY;
	cmd.src_handle = o[1].handle;
	cmd.dst_handle = dst.handle;
	cmd.length = size;
	if (!ret)
		ret = gpu_submit(fd, &cmd, 1, &seqno);
	if (!ret)
		ret = seqno_wait(fd, seqno, 10000000000LL);
	bad = ret ? 1 : check(&dst, false);
	tap_check(&t, !bad && stat_get("pages_restored") - restored0 ==
		  (long long)np,
		  "submission restored the source (%llu bad bytes)",
		  (unsigned long long)bad);

	/* Migration restores: BO 4 to VRAM (populated before the copy). */
	ret = bo_migrate(fd, o[4].handle, DRM_SIMGPU_MEM_VRAM0, 0);
	tap_check(&t, !ret && stat_get("pages_restored") - restored0 ==
		  (long long)(2 * np), "migration to VRAM restored (%d)", ret);

	/* DONTNEED on a backed-up BO drops the backup. */
	ret = madvise_bo(fd, o[5].handle, DRM_SIMGPU_MADV_DONTNEED, &retained);
	tap_check(&t, !ret && !retained,
		  "madvise DONTNEED on a backed-up BO: content dropped");
	o[5].dontneed = true;

	/* CPU faults restore everything else; every byte checked. */
	bad = 0;
	for (i = 0; i < NFORCED; i++) {
		if (o[i].dontneed) {
			ret = madvise_bo(fd, o[i].handle,
					 DRM_SIMGPU_MADV_WILLNEED, &retained);
			tap_check(&t, !ret && !retained &&
				  !check(&o[i], true),
				  "BO %u: WILLNEED reports the content lost, reads zero",
				  i);
			continue;
		}
		bad += check(&o[i], false);
	}
	bad += check(&dst, false);
	tap_check(&t, !bad, "non-purgeable BOs intact after restore (%llu bad bytes)",
		  (unsigned long long)bad);
	/* BO 5's dropped backup reads back as zeroes: counted restored. */
	tap_check(&t, stat_get("pages_restored") - restored0 ==
		  (long long)((NFORCED - 2) * np) &&
		  stat_get("backed_up_pages") == 0,
		  "%lld pages restored, none left backed up",
		  stat_get("pages_restored") - restored0);

	/*
	 * A second round on new content: every BO (the purged ones too,
	 * WILLNEED again) gets a new pattern, is backed up and written out,
	 * restored, checked: an old backup brought back would show.
	 */
	ret = bo_migrate(fd, o[4].handle, DRM_SIMGPU_MEM_SYSTEM, 0);
	for (i = 0; i < NFORCED; i++) {
		o[i].dontneed = false;
		refill(&o[i]);
	}
	backups0 = stat_get("pages_backed_up");
	restored0 = stat_get("pages_restored");
	v = stat_get("pages_written_back");
	ret = ret ? ret : shrink(1 << 20, true);
	v = stat_get("pages_written_back") - v;
	tap_check(&t, !ret && v >= (long long)(NFORCED * np) &&
		  v == stat_get("pages_backed_up") - backups0,
		  "\"shrink N w\" backed up and wrote out all %lld pages of the rewritten BOs",
		  v);
	bad = 0;
	for (i = 0; i < NFORCED; i++)
		bad += check(&o[i], false);
	tap_check(&t, !ret && !bad &&
		  stat_get("pages_restored") - restored0 ==
		  (long long)(NFORCED * np),
		  "second round with writeback, new patterns: %lld pages restored, %llu bad bytes",
		  stat_get("pages_restored") - restored0,
		  (unsigned long long)bad);
	stats_diag();
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
	return tap_finish(&t);
}

/* Pages swapped out/in: of BOs (driver counters) or anonymous memory. */
static long long swapped_out(void)
{
	return anon ? vmstat_get("pswpout") : stat_get("pages_backed_up");
}

static long long swapped_in(void)
{
	return anon ? vmstat_get("pswpin") : stat_get("pages_restored");
}

static double since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return t1.tv_sec - t0->tv_sec + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Options of the pressure, watermark and noswap modes. */
static struct {
	uint64_t total_mb;
	uint64_t bo_mb;
	uint64_t limit_mb;
	unsigned int procs;
	bool vram;
} opt = { .bo_mb = 8, .procs = 1 };

/*
 * A test point in a single process, a diagnostic in one of several (the
 * parent reports their result).
 */
static bool report(struct tap *t, unsigned int id, bool ok, const char *msg)
{
	if (t)
		return tap_check(t, ok, "%s", msg);
	tap_diag("process %u: %s%s", id, ok ? "" : "FAILED: ", msg);
	return ok;
}

/* Fill the BOs (or anonymous memory) of one process, check them twice. */
static int pressure_worker_tap(unsigned int id, struct tap *t)
{
	uint64_t size = opt.bo_mb * MiB, mb = opt.total_mb / opt.procs;
	uint64_t n = mb / opt.bo_mb, bad, i;
	const char *what = anon ? "anonymous memory" : "BOs";
	struct obj *o = calloc(n, sizeof(*o));
	unsigned int round, fails = 0, migrate_errs;
	struct timespec t0;
	char msg[160];
	double secs;
	uint32_t mem;
	int fd = -1, ret;

	if (!anon)
		fd = dev_open(NULL);
	if ((!anon && fd < 0) || !o)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		mem = i & 1 ? DRM_SIMGPU_MEM_TT : DRM_SIMGPU_MEM_SYSTEM;
		ret = create(fd, &o[i], size, opt.vram ? DRM_SIMGPU_MEM_VRAM0 : mem,
			     0x2000 + ((uint64_t)id << 16) + i);
		if (ret)
			break;
		fill(&o[i]);
	}
	secs = since(&t0);
	snprintf(msg, sizeof(msg), "%llu MiB of %s created and filled in %.1f s",
		 (unsigned long long)(i * opt.bo_mb), what, secs);
	if (!report(t, id, i == n, msg))
		return 1;
	/* Machine-readable for the benchmarks: phase, MiB, seconds. */
	tap_diag("timing fill %llu %.3f", (unsigned long long)mb, secs);

	for (round = 0; round < 2; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bad = 0;
		migrate_errs = 0;
		for (i = 0; i < n; i++) {
			/* Round 1 of a chain: each BO back to VRAM first. */
			if (opt.vram && round == 1 &&
			    bo_migrate(fd, o[i].handle, DRM_SIMGPU_MEM_VRAM0, 0))
				migrate_errs++;
			bad += check(&o[i], false);
			/* New content for round 1: stale backups show. */
			if (round == 0)
				refill(&o[i]);
		}
		secs = since(&t0);
		snprintf(msg, sizeof(msg),
			 "round %u: every byte of %llu MiB verified%s in %.1f s (%llu bad, %u failed migrations)",
			 round, (unsigned long long)mb,
			 round ? " (the new patterns)" : ", then rewritten",
			 secs, (unsigned long long)bad, migrate_errs);
		fails += !report(t, id, !bad && !migrate_errs, msg);
		tap_diag("timing verify%u %llu %.3f", round,
			 (unsigned long long)mb, secs);
	}
	for (i = 0; i < n; i++)
		munmap(o[i].map, size);
	if (fd >= 0)
		close(fd);
	free(o);
	tap_diag("process %u: %llu bytes verified", id,
		 (unsigned long long)bytes_verified);
	return fails;
}

static int pressure_worker(unsigned int id)
{
	return pressure_worker_tap(id, NULL);
}

static long long vram_evictions(void)
{
	return stat_get("evict_vram0_tt") + stat_get("evict_vram0_system");
}

static int pressure(void)
{
	long long out0 = swapped_out(), in0 = swapped_in();
	long long ev0 = vram_evictions();
	unsigned int fails;
	struct tap t;

	tap_plan(&t, (opt.procs == 1 ? 3 : 1) + 2 + opt.vram);
	if (opt.procs == 1) {
		pressure_worker_tap(0, &t);
	} else {
		fails = run_procs(opt.procs, pressure_worker);
		tap_check(&t, !fails,
			  "%u processes filled %llu MiB and verified every byte twice (%u failed)",
			  opt.procs, (unsigned long long)opt.total_mb, fails);
	}
	stats_diag();
	tap_check(&t, swapped_out() > out0, "reclaim swapped out %lld pages",
		  swapped_out() - out0);
	tap_check(&t, swapped_in() > in0, "%lld pages swapped in",
		  swapped_in() - in0);
	if (opt.vram)
		tap_check(&t, vram_evictions() > ev0,
			  "%lld evictions from VRAM", vram_evictions() - ev0);
	return tap_finish(&t);
}

/*
 * Purgeable churn, safe beside other workloads (no global counters): BOs
 * go DONTNEED, shrink passes (and any other pressure) purge some, and
 * WILLNEED tells which: those read zero, the others keep their pattern.
 */
static int churn(void)
{
	uint64_t size = opt.bo_mb * MiB, n = opt.total_mb / opt.bo_mb, i;
	uint64_t bad, purged;
	struct obj *o = calloc(n, sizeof(*o));
	unsigned int round, rounds = 3;
	uint32_t retained;
	struct tap t;
	int fd, ret;

	tap_plan(&t, rounds);
	fd = dev_open(NULL);
	if (fd < 0 || !o)
		return 1;
	for (i = 0; i < n; i++) {
		if (create(fd, &o[i], size, i & 1 ? DRM_SIMGPU_MEM_TT :
			   DRM_SIMGPU_MEM_SYSTEM, 0x7000 + i))
			return 1;
		fill(&o[i]);
	}
	for (round = 0; round < rounds; round++) {
		bad = purged = 0;
		for (i = 0; i < n; i++)
			bad += !!madvise_bo(fd, o[i].handle,
					    DRM_SIMGPU_MADV_DONTNEED, &retained);
		ret = shrink(n * size / PAGE / 2, false);
		for (i = 0; i < n; i++) {
			if (madvise_bo(fd, o[i].handle,
				       DRM_SIMGPU_MADV_WILLNEED, &retained)) {
				bad++;
				continue;
			}
			bad += check(&o[i], !retained);
			purged += !retained;
			/* Every BO gets new content for the next round. */
			refill(&o[i]);
		}
		tap_check(&t, !ret && !bad,
			  "round %u: %llu of %llu DONTNEED BOs purged and read zero, the others intact (%llu bad)",
			  round, (unsigned long long)purged,
			  (unsigned long long)n, (unsigned long long)bad);
	}
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
	close(fd);
	return tap_finish(&t);
}

#define TTM_PAGES_LIMIT "/sys/module/ttm/parameters/pages_limit"

/*
 * TTM's watermark swapout (ttm.pages_limit) on BOs the shrinker leaves
 * alone (module parameter watermark_swapout=1 or pool=coherent).
 */
static int watermark(void)
{
	uint64_t size = opt.bo_mb * MiB, n = opt.total_mb / opt.bo_mb, i, bad;
	long long out0 = stat_get("ttm_swapout_pages");
	long long in0 = stat_get("ttm_swapin_pages"), backups0;
	unsigned long long old_limit = 0;
	struct obj *o = calloc(n, sizeof(*o));
	char buf[32];
	unsigned int round;
	struct tap t;
	FILE *f;
	int fd;

	tap_plan(&t, 7);
	fd = dev_open(NULL);
	f = fopen(TTM_PAGES_LIMIT, "r");
	if (fd < 0 || !o || !f || fscanf(f, "%llu", &old_limit) != 1)
		return 1;
	fclose(f);
	snprintf(buf, sizeof(buf), "%llu",
		 (unsigned long long)(opt.limit_mb * MiB / PAGE));
	if (!tap_check(&t, !file_write(TTM_PAGES_LIMIT, buf),
		       "ttm pages_limit %s pages (%llu MiB, was %llu pages)",
		       buf, (unsigned long long)opt.limit_mb, old_limit))
		return tap_finish(&t);

	for (i = 0; i < n; i++) {
		if (create(fd, &o[i], size,
			   i & 1 ? DRM_SIMGPU_MEM_TT : DRM_SIMGPU_MEM_SYSTEM,
			   0x4000 + i))
			break;
		fill(&o[i]);
	}
	tap_check(&t, i == n, "%llu MiB of BOs created and filled",
		  (unsigned long long)(i * opt.bo_mb));
	tap_check(&t, stat_get("shrinkable_pages") == 0 &&
		  stat_get("unshrinkable_pages") > 0,
		  "the shrinker counts none of them (%lld unshrinkable pages)",
		  stat_get("unshrinkable_pages"));
	backups0 = stat_get("pages_backed_up");
	shrink(1 << 20, false);
	tap_check(&t, stat_get("pages_backed_up") == backups0 &&
		  stat_get("ttm_swapout_pages") > out0,
		  "TTM swapped out %lld pages, a shrink pass backed up none",
		  stat_get("ttm_swapout_pages") - out0);
	for (round = 0; round < 2; round++) {
		bad = 0;
		for (i = 0; i < n; i++) {
			bad += check(&o[i], false);
			if (round == 0)
				refill(&o[i]);
		}
		tap_check(&t, !bad, "round %u: every byte verified%s (%llu bad)",
			  round, round ? " (the new patterns)" :
			  ", then rewritten", (unsigned long long)bad);
	}
	tap_check(&t, stat_get("ttm_swapin_pages") > in0,
		  "%lld pages swapped back in",
		  stat_get("ttm_swapin_pages") - in0);
	stats_diag();
	snprintf(buf, sizeof(buf), "%llu", old_limit);
	file_write(TTM_PAGES_LIMIT, buf);
	return tap_finish(&t);
}

/* Whether /proc/swaps lists a swap device. */
static bool have_swap(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		found |= line[0] == '/';
	fclose(f);
	return found;
}

/* Create a BO and give it pages by moving it to TT: 0 or -errno. */
static int create_populated(int fd, struct obj *o, uint64_t size,
			    uint64_t seed)
{
	int ret = create(fd, o, size, DRM_SIMGPU_MEM_SYSTEM, seed);

	if (!ret)
		ret = bo_migrate(fd, o->handle, DRM_SIMGPU_MEM_TT, 0);
	if (ret && o->map) {
		munmap(o->map, size);
		gem_close(fd, o->handle);
		o->map = NULL;
	}
	return ret;
}

/* Grow the stack by 256 KiB now, while there is memory for it. */
static void __attribute__((noinline)) touch_stack(void)
{
	volatile char room[256 << 10];
	size_t i;

	for (i = 0; i < sizeof(room); i += 4096)
		room[i] = 1;
}

/*
 * Without swap: DONTNEED BOs are purged, ordinary BOs keep their pages
 * and new ones fail with -ENOMEM, without an OOM kill.
 */
static int noswap(void)
{
	uint64_t size = opt.bo_mb * MiB, n = opt.total_mb / opt.bo_mb;
	uint64_t np = 4, i, made, bad = 0, lost = 0;
	long long purged0 = stat_get("pages_purged");
	struct obj *o = calloc(n, sizeof(*o)), extra = { 0 };
	uint32_t retained;
	void *reserve;
	struct tap t;
	int fd, ret = 0;

	/*
	 * The heap this test needs later, made resident now and kept
	 * (no trim): once BOs took all memory, a page fault of the test's
	 * own would be an OOM kill, not the -ENOMEM under test.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	/* At most 32 MiB (glibc refuses more): 4 MiB come from the heap. */
	mallopt(M_MMAP_THRESHOLD, 16 << 20);
	reserve = malloc(4 << 20);
	/*
	 * Not zeroes: the kernel's THP shrinker (6.12) maps zero-filled
	 * pages of an underused huge page to the shared zero page under
	 * pressure, and the next write would need a page again.
	 */
	if (reserve)
		memset(reserve, 0xa5, 4 << 20);
	/* A store the compiler must not drop (it would: freed unread). */
	__asm__ volatile("" : : "r"(reserve) : "memory");
	free(reserve);
	/*
	 * And stays resident: the heap, a grown stack and what the test
	 * maps later (BO mappings are special and not locked).
	 */
	touch_stack();
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		tap_diag("mlockall: %s", strerror(errno));

	tap_plan(&t, 6);
	fd = dev_open(NULL);
	if (fd < 0 || !o)
		return 1;
	tap_check(&t, !have_swap(), "no swap device");

	/* The first few BOs may go. */
	for (i = 0; i < np; i++) {
		if (create_populated(fd, &o[i], size, 0x5000 + i))
			return 1;
		fill(&o[i]);
		o[i].dontneed = !madvise_bo(fd, o[i].handle,
					    DRM_SIMGPU_MADV_DONTNEED, &retained);
	}
	for (made = np; made < n; made++) {
		ret = create_populated(fd, &o[made], size, 0x5000 + made);
		if (ret)
			break;
		fill(&o[made]);
	}
	tap_check(&t, ret == -ENOMEM || ret == -ENOSPC,
		  "out of memory after %llu MiB of BOs: %s", (unsigned long long)
		  (made * opt.bo_mb), ret ? strerror(-ret) : "no error");
	tap_check(&t, stat_get("pages_purged") > purged0,
		  "%lld pages of DONTNEED BOs purged",
		  stat_get("pages_purged") - purged0);
	for (i = 0; i < made; i++) {
		if (!o[i].dontneed) {
			bad += check(&o[i], false);
			continue;
		}
		/*
		 * A retained BO holds its pattern; a purged one has no
		 * pages, and reading it would need memory there is none
		 * of: it is dropped, as userspace would.
		 */
		if (madvise_bo(fd, o[i].handle, DRM_SIMGPU_MADV_WILLNEED,
			       &retained))
			bad++;
		else if (retained)
			bad += check(&o[i], false);
		else
			lost++;
	}
	tap_check(&t, !bad && lost, "every BO holds its pattern except %llu purged ones (%llu bad bytes)",
		  lost, (unsigned long long)bad);
	for (i = 0; i < np; i++) {
		munmap(o[i].map, size);
		gem_close(fd, o[i].handle);
	}

	/* Give back a quarter more: allocation works again. */
	for (i = np; i < made && i < np + made / 4; i++) {
		munmap(o[i].map, size);
		gem_close(fd, o[i].handle);
	}
	ret = create_populated(fd, &extra, size, 0x5fff);
	if (!ret)
		fill(&extra);
	tap_check(&t, !ret && !check(&extra, false),
		  "after freeing %llu MiB a new BO gets its pages (%d)",
		  (unsigned long long)((i - np) * opt.bo_mb), ret);
	tap_check(&t, stat_get("backed_up_pages") == 0,
		  "nothing backed up without swap");
	stats_diag();
	return tap_finish(&t);
}

#define FAIL_PAGE_ALLOC "/sys/kernel/debug/fail_page_alloc/"

/*
 * Fail every page allocation of the tasks that ask for it (make-it-fail)
 * once @pages pages were allocated: a single failure would be absorbed
 * by the pool's fallback to smaller orders.  0 or -errno.
 */
static int fail_alloc_setup(uint64_t pages, bool on)
{
	static const char *const knobs[][2] = {
		{ "interval", "1" }, { "times", "-1" }, { "verbose", "0" },
		{ "task-filter", "Y" }, { "ignore-gfp-wait", "N" },
		{ "ignore-gfp-highmem", "N" }, { "min-order", "0" },
	};
	char path[128], val[32];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]) && !ret; i++) {
		snprintf(path, sizeof(path), FAIL_PAGE_ALLOC "%s", knobs[i][0]);
		ret = file_write(path, knobs[i][1]);
	}
	snprintf(val, sizeof(val), "%llu", (unsigned long long)pages);
	if (!ret)
		ret = file_write(FAIL_PAGE_ALLOC "space", val);
	if (!ret)
		ret = file_write(FAIL_PAGE_ALLOC "probability", on ? "100" : "0");
	return ret;
}

/*
 * Migrate a BO in a child process whose allocations fail (the parent's
 * never do); returns the ioctl's result, 0 or -errno.
 */
static int migrate_failing(int fd, uint32_t handle, uint32_t mem)
{
	int status, ret;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (file_write("/proc/self/make-it-fail", "1"))
			_exit(255);
		ret = bo_migrate(fd, handle, mem, 0);
		_exit(ret < 0 && ret > -255 ? -ret : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) == 255)
		return -ECHILD;
	return -WEXITSTATUS(status);
}

/*
 * A restore that runs out of memory half-way (fail_page_alloc): the
 * migration fails with -ENOMEM, the BO stays backed up, and a retry
 * restores the rest, every byte intact.
 */
static int enomem(void)
{
	uint64_t size = opt.bo_mb * MiB, np = size / PAGE, bad;
	long long failed0 = stat_get("restore_failed"), restored0;
	struct obj o;
	struct tap t;
	int fd, ret;

	tap_plan(&t, 5);
	fd = dev_open(NULL);
	if (fd < 0 || create(fd, &o, size, DRM_SIMGPU_MEM_SYSTEM, 0x6000))
		return 1;
	fill(&o);
	restored0 = stat_get("pages_restored");
	ret = shrink(np, false);
	if (!tap_check(&t, !ret && stat_get("backed_up_pages") == (long long)np,
		       "BO of %llu pages backed up", (unsigned long long)np))
		return tap_finish(&t);

	ret = fail_alloc_setup(np / 2, true);
	if (!ret)
		ret = migrate_failing(fd, o.handle, DRM_SIMGPU_MEM_TT);
	fail_alloc_setup(0, false);
	tap_check(&t, ret == -ENOMEM,
		  "restore with an allocation failure half-way: %s",
		  ret ? strerror(-ret) : "no error");
	tap_check(&t, stat_get("restore_failed") > failed0 &&
		  stat_get("backed_up_pages") == (long long)np &&
		  bo_mem(fd, o.handle) == DRM_SIMGPU_MEM_SYSTEM,
		  "counted as failed, the BO still backed up in SYSTEM");
	ret = bo_migrate(fd, o.handle, DRM_SIMGPU_MEM_TT, 0);
	bad = check(&o, false);
	tap_check(&t, !ret && !bad, "the retry restores it: %d, %llu bad bytes",
		  ret, (unsigned long long)bad);
	tap_check(&t, stat_get("backed_up_pages") == 0 &&
		  stat_get("pages_restored") - restored0 == (long long)np,
		  "%lld pages restored once each, none left backed up",
		  stat_get("pages_restored") - restored0);
	stats_diag();
	return tap_finish(&t);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void itimer(long us)
{
	struct itimerval it = {
		.it_interval = { .tv_usec = us },
		.it_value = { .tv_usec = us },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * TTM's backup_fault_inject (debugfs, fault injection kernels) makes an
 * interruptible restore stop with -EINTR part-way, as a signal would in
 * a swap-in that honoured it: the restore must resume where it stopped.
 * 0 or -errno; without the facility the test fails.
 */
static int restore_inject(bool on)
{
	static const char dir[] = "/sys/kernel/debug/ttm/backup_fault_inject";
	static const char *const attrs[][2] = {
		{ "verbose", "0" }, { "interval", "1" }, { "times", "-1" },
		{ "probability", "2" },
	};
	char path[128];
	unsigned int i;
	int ret;

	for (i = on ? 0 : 3; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, attrs[i][0]);
		ret = file_write(path, on ? attrs[i][1] : "0");
		if (ret) {
			tap_diag("cannot write %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int signal_test(uint64_t bo_mb)
{
	uint64_t size = bo_mb * MiB, np = size / PAGE, bad;
	struct drm_simgpu_gem_migrate m = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm };
	long long intr0 = stat_get("restore_interrupted"), restored0;
	unsigned int round, eintr = 0, tries;
	int alarms0;
	double t0 = now_s();
	struct obj o;
	struct tap t;
	int fd, ret;

	tap_plan(&t, 5);
	bad = 0;
	fd = dev_open(NULL);
	if (fd < 0 || create(fd, &o, size, DRM_SIMGPU_MEM_SYSTEM, 0x3000))
		return 1;
	fill(&o);
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: ioctls see EINTR */
	if (restore_inject(true))
		return tap_finish(&t);

	/* MIGRATE to TT restores; the itimer keeps interrupting it. */
	for (round = 0; round < 3; round++) {
		restored0 = stat_get("pages_restored");
		if (shrink(np, false) ||
		    stat_get("backed_up_pages") != (long long)np)
			break;
		m.handle = o.handle;
		m.mem = DRM_SIMGPU_MEM_TT;
		itimer(200);
		for (tries = 0; tries < 100000; tries++) {
			ret = ioctl(fd, DRM_IOCTL_SIMGPU_GEM_MIGRATE, &m);
			if (!ret || errno != EINTR)
				break;
			eintr++;
		}
		itimer(0);
		if (ret || stat_get("pages_restored") - restored0 !=
		    (long long)np)
			break;
		/* Checked, then new content for the next round. */
		bad += check(&o, false);
		refill(&o);
		/* Back to SYSTEM for the next round. */
		if (bo_migrate(fd, o.handle, DRM_SIMGPU_MEM_SYSTEM, 0))
			break;
	}
	tap_check(&t, round == 3, "3 migrations restored under SIGALRM in %.1f s (%u EINTR, %u alarms)",
		  now_s() - t0, eintr, alarms);
	bad += check(&o, false);
	tap_check(&t, !bad, "after each migration, the BO rewritten after each: %llu bad bytes",
		  (unsigned long long)bad);

	/*
	 * CPU faults restore; the fault is retried after each signal.  Every
	 * millisecond: under TCG a signal's delivery takes tens of
	 * microseconds, and a 100 us timer left the check loop a few
	 * percent of the CPU (85 s instead of 0.5 when the VM ran alone).
	 */
	restored0 = stat_get("pages_restored");
	ret = shrink(np, false);
	t0 = now_s();
	alarms0 = alarms;
	itimer(1000);
	bad = check(&o, false);
	itimer(0);
	restore_inject(false);
	tap_check(&t, !ret && !bad && alarms > alarms0 &&
		  stat_get("pages_restored") - restored0 == (long long)np,
		  "after faults under SIGALRM (%d alarms in %.1f s): %llu bad bytes",
		  alarms - alarms0, now_s() - t0,
		  (unsigned long long)bad);
	tap_check(&t, stat_get("restore_interrupted") > intr0,
		  "%lld restores interrupted and resumed",
		  stat_get("restore_interrupted") - intr0);
	tap_check(&t, stat_get("backed_up_pages") == 0 &&
		  stat_get("restore_failed") == 0,
		  "nothing left backed up, no failed restore");
	stats_diag();
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "";
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--total-mb") && i + 1 < argc)
			opt.total_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--bo-mb") && i + 1 < argc)
			opt.bo_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--limit-mb") && i + 1 < argc)
			opt.limit_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--procs") && i + 1 < argc)
			opt.procs = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--vram"))
			opt.vram = true;
		else if (!strcmp(argv[i], "--compressible"))
			compressible = true;
		else if (!strcmp(argv[i], "--anon"))
			anon = true;
		else
			goto usage;
	}
	if (!opt.bo_mb || !opt.procs || (anon && opt.vram))
		goto usage;
	if (!strcmp(mode, "forced"))
		return forced();
	if (!strcmp(mode, "pressure") && opt.total_mb >= opt.bo_mb * opt.procs)
		return pressure();
	if (!strcmp(mode, "watermark") && opt.total_mb && opt.limit_mb)
		return watermark();
	if (!strcmp(mode, "noswap") && opt.total_mb)
		return noswap();
	if (!strcmp(mode, "churn") && opt.total_mb)
		return churn();
	if (!strcmp(mode, "signal"))
		return signal_test(opt.bo_mb);
	if (!strcmp(mode, "enomem"))
		return enomem();
usage:
	fprintf(stderr, "usage: simgpu-shrink MODE [OPTIONS] (see the comment at the top of shrink.c)\n");
	return 2;
}
