// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-shrink: the driver's system-memory shrinker.  Every BO gets its
 * own pattern; every byte is checked after every shrink/restore round.
 *
 * Usage: simgpu-shrink forced
 *        simgpu-shrink pressure --total-mb N [--bo-mb N] [--compressible]
 *                               [--anon]
 *        simgpu-shrink signal [--bo-mb N]
 *
 *   forced     BOs in SYSTEM and TT shrunk through debugfs "shrink":
 *              DONTNEED BOs purged first, the others backed up and
 *              restored by CPU faults, a submission and a migration.
 *   pressure   BOs totalling --total-mb (more than guest RAM): the kernel's
 *              own reclaim backs them up to swap; all are checked twice.
 *              --anon: the same with anonymous memory instead of BOs,
 *              the reference that BO swap is compared with.
 *   signal     restores of a backed-up BO under a fast SIGALRM itimer
 *              (MIGRATE ioctls and CPU faults): interrupted, resumed,
 *              nothing lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

	/* A second round: back up and write out, restore, check. */
	backups0 = stat_get("pages_backed_up");
	v = stat_get("pages_written_back");
	ret = shrink(1 << 20, true);
	v = stat_get("pages_written_back") - v;
	tap_check(&t, !ret && v > 0 &&
		  v == stat_get("pages_backed_up") - backups0,
		  "\"shrink N w\" wrote all %lld backed-up pages out", v);
	bad = 0;
	for (i = 0; i < NFORCED; i++)
		bad += check(&o[i], o[i].dontneed);
	tap_check(&t, !ret && !bad,
		  "second round with writeback: %llu bad bytes",
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

static int pressure(uint64_t total_mb, uint64_t bo_mb)
{
	uint64_t size = bo_mb * MiB, bad = 0, n = total_mb / bo_mb, i;
	long long out0 = swapped_out(), in0 = swapped_in();
	const char *what = anon ? "anonymous memory" : "BOs";
	struct obj *o = calloc(n, sizeof(*o));
	unsigned int round;
	struct timespec t0;
	double secs;
	struct tap t;
	int fd = -1, ret;

	tap_plan(&t, 5);
	if (!anon)
		fd = dev_open(NULL);
	if ((!anon && fd < 0) || !o)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		ret = create(fd, &o[i], size,
			     i & 1 ? DRM_SIMGPU_MEM_TT : DRM_SIMGPU_MEM_SYSTEM,
			     0x2000 + i);
		if (ret)
			break;
		fill(&o[i]);
	}
	secs = since(&t0);
	tap_check(&t, i == n, "%llu MiB of %s created and filled in %.1f s",
		  (unsigned long long)(i * bo_mb), what, secs);
	/* Machine-readable for the benchmarks: phase, MiB, seconds. */
	tap_diag("timing fill %llu %.3f", (unsigned long long)(i * bo_mb),
		 secs);
	stats_diag();
	if (i < n)
		return tap_finish(&t);
	tap_check(&t, swapped_out() > out0, "reclaim swapped out %lld pages",
		  swapped_out() - out0);

	for (round = 0; round < 2; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		bad = 0;
		for (i = 0; i < n; i++)
			bad += check(&o[i], false);
		secs = since(&t0);
		tap_check(&t, !bad,
			  "round %u: every byte of %llu MiB verified in %.1f s (%llu bad)",
			  round, (unsigned long long)total_mb, secs,
			  (unsigned long long)bad);
		tap_diag("timing verify%u %llu %.3f", round,
			 (unsigned long long)total_mb, secs);
		stats_diag();
	}
	tap_check(&t, swapped_in() > in0, "%lld pages swapped in (%lld out)",
		  swapped_in() - in0, swapped_out() - out0);
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
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

static int signal_test(uint64_t bo_mb)
{
	uint64_t size = bo_mb * MiB, np = size / PAGE, bad;
	struct drm_simgpu_gem_migrate m = { 0 };
	struct sigaction sa = { .sa_handler = on_alarm };
	long long intr0 = stat_get("restore_interrupted"), restored0;
	unsigned int round, eintr = 0, tries;
	struct obj o;
	struct tap t;
	int fd, ret;

	tap_plan(&t, 5);
	fd = dev_open(NULL);
	if (fd < 0 || create(fd, &o, size, DRM_SIMGPU_MEM_SYSTEM, 0x3000))
		return 1;
	fill(&o);
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: ioctls see EINTR */

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
		/* Back to SYSTEM for the next round. */
		if (bo_migrate(fd, o.handle, DRM_SIMGPU_MEM_SYSTEM, 0))
			break;
	}
	tap_check(&t, round == 3, "3 migrations restored under SIGALRM (%u EINTR, %u alarms)",
		  eintr, alarms);
	bad = check(&o, false);
	tap_check(&t, !bad, "after migrations: %llu bad bytes",
		  (unsigned long long)bad);

	/* CPU faults restore; the fault is retried after each signal. */
	restored0 = stat_get("pages_restored");
	ret = shrink(np, false);
	itimer(100);
	bad = check(&o, false);
	itimer(0);
	tap_check(&t, !ret && !bad &&
		  stat_get("pages_restored") - restored0 == (long long)np,
		  "after faults under SIGALRM: %llu bad bytes",
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
	uint64_t total_mb = 0, bo_mb = 8;
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--total-mb") && i + 1 < argc)
			total_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--bo-mb") && i + 1 < argc)
			bo_mb = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--compressible"))
			compressible = true;
		else if (!strcmp(argv[i], "--anon"))
			anon = true;
		else
			goto usage;
	}
	if (argc >= 2 && !strcmp(argv[1], "forced"))
		return forced();
	if (argc >= 2 && !strcmp(argv[1], "pressure") && total_mb && bo_mb)
		return pressure(total_mb, bo_mb);
	if (argc >= 2 && !strcmp(argv[1], "signal") && bo_mb)
		return signal_test(bo_mb);
usage:
	fprintf(stderr, "usage: simgpu-shrink forced|pressure|signal [--total-mb N] [--bo-mb N] [--compressible] [--anon]\n");
	return 2;
}
