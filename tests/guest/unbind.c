// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-unbind: hot-unplug with clients.
 *
 * simgpu-unbind [inflight]  (the default)
 *   1. A client works; then a second client puts BOs in every placement,
 *      has some backed up (debugfs shrink) and some DONTNEED, runs engine
 *      work and closes everything with work still queued: every gauge of
 *      simgpu_stats must return to zero on the live device.
 *   2. The engine is slowed (fault_stall_us, timeout_ms raised so that it
 *      is not reset).  A submission S1 is queued, a thread starts moving a
 *      VRAM BO to TT, and the test reads the device's ring registers
 *      (BAR0 through sysfs) until the engine works on that move's COPY.
 *      A submission S3 is queued behind it and three threads block in
 *      DRM_IOCTL_SIMGPU_WAIT (S1's seqno, S3's seqno, S3's BO).  Then the
 *      device is unbound, with the move's fence still pending in the
 *      hardware.  The unbind waits for the move; the move ends; every
 *      WAIT returns what the uapi documents for what the hardware did:
 *      0 for work whose fence the engine wrote (FENCE_SEQNO, read after
 *      the unbind; S1's engine fence is the one written when the move
 *      started, S3's the one after the move's), -EIO for work the unbind
 *      dropped.
 *   3. The client's ioctls then fail with -ENODEV, its mapping reads the
 *      dummy page (zeroes, not the BO's data), it closes; the module is
 *      removed and loaded again; a fresh client works and the gauges of
 *      the new device are zero after it closed.
 *   4. A client closes BOs with slow engine work queued and exits; the
 *      device is unbound at once, bound again, and must work.
 *
 * simgpu-unbind stress [--rounds N]
 *   Threads fault on mappings, submit and wait, migrate, madvise and
 *   shrink (debugfs shrink, drop_caches) while backed-up and DONTNEED BOs
 *   exist; the device is unbound from the driver (odd rounds) or removed
 *   from the PCI bus (even rounds, "hot-unplug").  The unbind must end,
 *   the threads must end, every ioctl must then fail with -ENODEV, the
 *   mappings must read the dummy page; the device is bound again (or
 *   rescanned) and must pass the smoke checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bo.h"
#include "simgpu_hw.h"
#include "tap.h"

#define BO_SIZE		(1 * MiB)
#define SECOND_NS	1000000000LL
#define DRIVER_DIR	"/sys/bus/pci/drivers/simgpu"
#define TIMEOUT_PARAM	"/sys/module/simgpu/parameters/timeout_ms"
/* Per engine command while the move is caught: 0.8 s. */
#define STALL_US	"800000"

static struct tap t;

static uint32_t mask_of(uint32_t mem)
{
	return DRM_SIMGPU_PLACEMENT(mem);
}

/* A client's round trip: create, write, copy on the engine, migrate. */
static bool client_works(int fd, uint64_t seed)
{
	uint32_t h1 = 0, h2 = 0;
	struct drm_simgpu_cmd c;
	uint8_t *p1, *p2;
	uint64_t bad = 1;
	bool ok = false;

	p1 = bo_new(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT_ALL &
		    ~mask_of(DRM_SIMGPU_MEM_VRAM1),
		    DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
		    &h1);
	p2 = bo_new(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
		    DRM_SIMGPU_MEM_TT, 0, &h2);
	if (p1 && p2) {
		pattern_fill(p1, 0, BO_SIZE, seed);
		c = cmd_copy(h1, 0, h2, 0, BO_SIZE);
		ok = !gpu_run(fd, &c, 1) &&
		     !bo_migrate(fd, h1, DRM_SIMGPU_MEM_SYSTEM, 0) &&
		     !bo_migrate(fd, h1, DRM_SIMGPU_MEM_VRAM0, 0);
		bad = pattern_check(p1, 0, BO_SIZE, seed) +
		      pattern_check(p2, 0, BO_SIZE, seed);
	}
	if (p1)
		munmap(p1, BO_SIZE);
	if (p2)
		munmap(p2, BO_SIZE);
	if (h1)
		gem_close(fd, h1);
	if (h2)
		gem_close(fd, h2);
	return ok && !bad;
}

static int madvise_bo(int fd, uint32_t handle, uint32_t madv,
		      uint32_t *retained)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);

	if (retained)
		*retained = m.retained;
	return ret;
}

/* A debugfs shrink pass over everything: "N" pages, waits for the GPU. */
static int shrink_all(void)
{
	return dbg_write("shrink", "1000000");
}

/*
 * The register BAR of the device, read-only, through sysfs: the test's
 * view of what the hardware is doing.  NULL on failure.
 */
static volatile uint32_t *regs_map(const char *bdf)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf,
		 SIMGPU_REG_BAR);
	fd = open(path, O_RDONLY | O_SYNC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, SIMGPU_REG_BAR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static uint32_t reg(volatile uint32_t *regs, uint32_t off)
{
	return regs[off / 4];
}

static uint64_t hw_fence_seqno(volatile uint32_t *regs)
{
	uint32_t hi, lo;

	do {
		hi = reg(regs, SIMGPU_REG_FENCE_SEQNO_HI);
		lo = reg(regs, SIMGPU_REG_FENCE_SEQNO_LO);
	} while (hi != reg(regs, SIMGPU_REG_FENCE_SEQNO_HI));
	return (uint64_t)hi << 32 | lo;
}

/*
 * Part 1: BOs in every placement, backed up, DONTNEED, purged, engine
 * work queued at the close; every gauge must come back to zero.
 */
static void gauges_after_close(const struct drm_simgpu_device_query *q)
{
	struct {
		uint32_t mem, mask, flags;
		uint32_t h;
		uint8_t *p;
	} b[] = {
		{ .mem = DRM_SIMGPU_MEM_VRAM0,
		  .flags = DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS },
		{ .mem = DRM_SIMGPU_MEM_VRAM1,
		  .flags = DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS },
		{ .mem = DRM_SIMGPU_MEM_TT },		/* engine target */
		{ .mem = DRM_SIMGPU_MEM_TT },		/* stays populated */
		{ .mem = DRM_SIMGPU_MEM_TT },		/* DONTNEED, populated */
		{ .mem = DRM_SIMGPU_MEM_SYSTEM },	/* backed up */
		{ .mem = DRM_SIMGPU_MEM_SYSTEM },	/* backed up, restored */
		{ .mem = DRM_SIMGPU_MEM_SYSTEM },	/* backed up, DONTNEED */
		{ .mem = DRM_SIMGPU_MEM_SYSTEM },	/* DONTNEED, purged */
		{ .mem = DRM_SIMGPU_MEM_SYSTEM },	/* never touched */
	};
	const unsigned int n = sizeof(b) / sizeof(b[0]);
	struct drm_simgpu_cmd c[3];
	char why[512], why2[512];
	long long g[6];
	unsigned int i;
	uint32_t ret1;
	bool ok = true;
	int fd, ret;

	fd = dev_open(NULL);
	if (fd < 0) {
		tap_check(&t, false, "BOs in every placement: open %d", fd);
		tap_check(&t, false, "every gauge is zero after the last close");
		return;
	}
	for (i = 0; i < n; i++) {
		if (b[i].mem == DRM_SIMGPU_MEM_VRAM1 && q->num_regions < 2)
			b[i].mem = DRM_SIMGPU_MEM_VRAM0;
		b[i].mask = mask_of(b[i].mem);
		if (b[i].mem <= DRM_SIMGPU_MEM_VRAM1)
			b[i].mask |= mask_of(DRM_SIMGPU_MEM_TT);
		b[i].p = bo_new(fd, BO_SIZE, b[i].mask, b[i].mem, b[i].flags,
				&b[i].h);
		ok = ok && b[i].p;
		if (b[i].p && i != n - 1)
			pattern_fill(b[i].p, 0, BO_SIZE, 100 + i);
	}
	/* Everything in SYSTEM/TT backed up, then two restored by faults. */
	ok = ok && !shrink_all();
	ok = ok && !pattern_check(b[3].p, 0, BO_SIZE, 103) &&
	     !pattern_check(b[4].p, 0, BO_SIZE, 104) &&
	     !pattern_check(b[6].p, 0, BO_SIZE, 106);
	ok = ok && !madvise_bo(fd, b[4].h, DRM_SIMGPU_MADV_DONTNEED, NULL) &&
	     !madvise_bo(fd, b[7].h, DRM_SIMGPU_MADV_DONTNEED, &ret1);
	/* Populate #8 again, mark it DONTNEED and have it purged. */
	ok = ok && !pattern_check(b[8].p, 0, BO_SIZE, 108) &&
	     !madvise_bo(fd, b[8].h, DRM_SIMGPU_MADV_DONTNEED, NULL);
	/* One of #4 and #8 is purged, whichever the walk meets first. */
	ok = ok && !dbg_write("shrink", "256");
	/* Engine work: VRAM -> TT copies, a fill; the last left queued. */
	c[0] = cmd_copy(b[0].h, 0, b[2].h, 0, BO_SIZE);
	c[1] = cmd_copy(b[1].h, 0, b[2].h, 0, BO_SIZE / 2);
	c[2] = cmd_fill(b[1].h, 0, BO_SIZE, 0x5a5a5a5a);
	ok = ok && !gpu_run(fd, c, 2);
	ok = ok && !pattern_check_at(b[2].p, 0, BO_SIZE / 2, 101) &&
	     !pattern_check(b[2].p, BO_SIZE / 2, BO_SIZE / 2, 100);

	g[0] = stat_get("vram0_used_bytes");
	g[1] = stat_get("tt_used_bytes");
	g[2] = stat_get("shrinkable_pages");
	g[3] = stat_get("purgeable_pages");
	g[4] = stat_get("backed_up_pages");
	g[5] = stat_get("bo_system_pages");
	snprintf(why, sizeof(why),
		 "vram0 %lld tt %lld bytes; shrinkable %lld purgeable %lld backed_up %lld bo_system %lld pages",
		 g[0], g[1], g[2], g[3], g[4], g[5]);
	tap_check(&t, ok && g[0] > 0 && g[1] > 0 && g[2] > 0 && g[3] > 0 &&
		  g[4] > 0 && g[5] > 0,
		  "BOs in every placement, backed up, DONTNEED, purged, after engine work: %s",
		  why);

	/* A slow fill still queued when the client goes. */
	dbg_write("fault_stall_us", "200000");
	ret = gpu_submit(fd, &c[2], 1, NULL);
	for (i = 0; i < n; i++)
		if (b[i].p)
			munmap(b[i].p, BO_SIZE);
	close(fd);
	ret = ret ? ret : gauges_wait_zero(15, why, sizeof(why));
	dbg_write("fault_stall_us", "0");
	if (ret > 0)
		tap_diag("after 15 s: %s", why);
	gauges_nonzero(why2, sizeof(why2));
	tap_check(&t, !ret, "every gauge is zero after the last close (%d%s%s)",
		  ret, ret ? ": " : "", ret ? why2 : "");
}

/* Part 2: threads that sit in ioctls across the unbind. */
struct waiter {
	pthread_t thread;
	int fd;
	uint32_t handle;	/* 0: wait for @seqno */
	uint64_t seqno;
	atomic_int started;
	atomic_int done;
	int ret;
};

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	atomic_store(&w->started, 1);
	w->ret = w->handle ? bo_wait(w->fd, w->handle, 60 * SECOND_NS) :
		 seqno_wait(w->fd, w->seqno, 60 * SECOND_NS);
	atomic_store(&w->done, 1);
	return NULL;
}

struct mover {
	pthread_t thread;
	int fd;
	uint32_t handle;
	atomic_int done;
	int ret;
};

static void *mover_fn(void *arg)
{
	struct mover *m = arg;

	m->ret = bo_migrate(m->fd, m->handle, DRM_SIMGPU_MEM_TT, 0);
	atomic_store(&m->done, 1);
	return NULL;
}

/* Wait up to @secs for *@flag; returns it. */
static int wait_flag(atomic_int *flag, double secs)
{
	double end = now_s() + secs;

	while (!atomic_load(flag) && now_s() < end)
		usleep(1000);
	return atomic_load(flag);
}

/*
 * A client closes BOs with engine work still queued (TTM frees them when
 * the work ends) and is gone; the device is unbound at once, which drops
 * that work.  The unbind must cope with BOs whose release is still
 * pending, and the device must work again after a bind.
 */
static void busy_close_unbind(const char *bdf)
{
	struct drm_simgpu_cmd c[4];
	char why[256] = "";
	uint32_t h[2];
	int fd, r1, r2, r3, r4, ret;
	bool ok;

	fd = dev_open(NULL);
	r1 = file_write(TIMEOUT_PARAM, "60000");
	r2 = dbg_write("fault_stall_us", "200000");
	r3 = fd < 0 ? fd :
	     bo_create(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
		       DRM_SIMGPU_MEM_TT, 0, &h[0]) ||
	     bo_create(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_VRAM0),
		       DRM_SIMGPU_MEM_VRAM0, 0, &h[1]);
	c[0] = cmd_fill(h[0], 0, BO_SIZE, 1);
	c[1] = cmd_copy(h[0], 0, h[1], 0, BO_SIZE);
	c[2] = cmd_fill(h[1], 0, BO_SIZE, 2);
	c[3] = cmd_copy(h[1], 0, h[0], 0, BO_SIZE);
	r4 = r3 ? r3 : gpu_submit(fd, c, 4, NULL);
	if (fd >= 0)
		close(fd);
	ret = write_deadline(DRIVER_DIR "/unbind", bdf, 60);
	ok = !r1 && !r2 && !r3 && !r4 && !ret;
	tap_diag("busy BOs closed: timeout_ms %d, stall %d, create %d, submit %d, unbind %d",
		 r1, r2, r3, r4, ret);
	if (ret != -ETIMEDOUT) {
		ret = write_deadline(DRIVER_DIR "/bind", bdf, 60);
		ok = ok && !ret && wait_bound(20);
		ret = ok ? smoke_checks(NULL) : -1;
		if (!ret)
			ret = gauges_wait_zero(10, why, sizeof(why));
	}
	tap_check(&t, ok && !ret,
		  "BOs closed with work queued, the client gone, the device unbound at once, bound again: it works%s%s",
		  why[0] ? ": " : "", why);
}

static int inflight(void)
{
	struct drm_simgpu_device_query q;
	struct drm_simgpu_cmd c, fills[8];
	struct waiter w[3];
	struct mover m = { 0 };
	char bdf[64], path[128], why[512];
	volatile uint32_t *regs;
	volatile uint8_t *p;
	uint32_t h, h2, h4, t0, head = 0, tail = 0, ring;
	uint64_t s1 = 0, s3 = 0, hw = 0, hw_s1 = 0, i, zero;
	int fd, r1, r2, r3, r4, r5, r6, r7, ret;
	bool caught = false, started;
	/* Pipelined, the migration returns before its move ran. */
	bool pipelined = param_bool("sync_moves") == 0;
	long long pending = -1;
	double t_unbind;

	tap_plan(&t, 12);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0 && dev_bdf() && client_works(fd, 1),
		       "client works before the unbind"))
		return tap_finish(&t);
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());

	gauges_after_close(&q);

	/* A mapped VRAM BO to move, two TT BOs for user work. */
	p = bo_new(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_VRAM0) |
		   mask_of(DRM_SIMGPU_MEM_TT), DRM_SIMGPU_MEM_VRAM0,
		   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h);
	regs = regs_map(bdf);
	if (!p || !regs ||
	    bo_create(fd, 4 * BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
		      DRM_SIMGPU_MEM_TT, 0, &h2) ||
	    bo_create(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
		      DRM_SIMGPU_MEM_TT, 0, &h4)) {
		tap_diag("setup failed (registers %s)", regs ? "mapped" : "not mapped");
		return tap_finish(&t);
	}
	pattern_fill((void *)p, 0, BO_SIZE, 2);
	ring = reg(regs, SIMGPU_REG_RING_SIZE);

	/* The engine crawls; the driver must not take that for a hang. */
	r1 = file_write(TIMEOUT_PARAM, "60000");
	r2 = dbg_write("fault_stall_us", STALL_US);
	c = cmd_fill(h2, 0, 4 * BO_SIZE, 0x12345678);
	t0 = reg(regs, SIMGPU_REG_RING_TAIL);
	r3 = gpu_submit(fd, &c, 1, &s1);
	/* The scheduler writes S1 (FILL + FENCE) to the ring a moment later. */
	for (i = 0; !r3 && i < 10000; i++) {
		tail = reg(regs, SIMGPU_REG_RING_TAIL);
		if (((tail - t0) & (ring - 1)) == 2 * SIMGPU_CMD_SIZE)
			break;
		usleep(1000);
	}
	t0 = reg(regs, SIMGPU_REG_RING_TAIL);
	m.fd = fd;
	m.handle = h;
	r4 = pthread_create(&m.thread, NULL, mover_fn, &m);
	/*
	 * The move is the next thing on the ring: a COPY at t0 and its
	 * FENCE.  Caught when both are queued and the engine is on the
	 * COPY (RING_HEAD is the command it executes): its fence cannot
	 * signal for two stalls, 1.6 s.
	 */
	for (i = 0; !r1 && !r2 && !r3 && !r4 && i < 20000; i++) {
		tail = reg(regs, SIMGPU_REG_RING_TAIL);
		head = reg(regs, SIMGPU_REG_RING_HEAD);
		if (((tail - t0) & (ring - 1)) == 2 * SIMGPU_CMD_SIZE &&
		    head == t0) {
			/* S1's FENCE, just before the move, is written. */
			hw_s1 = hw_fence_seqno(regs);
			caught = true;
			break;
		}
		if (!pipelined && atomic_load(&m.done))
			break;
		usleep(1000);
	}
	/* Work queued behind the move: it cannot run before the unbind. */
	for (i = 0; i < 8; i++)
		fills[i] = cmd_fill(h4, 0, BO_SIZE, 0xdead0000 + i);
	r5 = caught ? gpu_submit(fd, fills, 8, &s3) : -1;
	memset(w, 0, sizeof(w));
	w[0].seqno = s1;
	w[1].seqno = s3;
	w[2].handle = h4;
	started = !r5;
	for (i = 0; started && i < 3; i++) {
		w[i].fd = fd;
		started = !pthread_create(&w[i].thread, NULL, waiter_fn, &w[i]) &&
			  wait_flag(&w[i].started, 10);
	}
	usleep(50000);
	/* Still in flight: the engine has not written the move's fence. */
	hw = hw_fence_seqno(regs);
	head = reg(regs, SIMGPU_REG_RING_HEAD);
	if (pipelined)
		pending = stat_get("move_fences_pending");
	caught = caught && started && hw == hw_s1 &&
		 (pipelined ? pending > 0 : !atomic_load(&m.done)) &&
		 !atomic_load(&w[1].done) && !atomic_load(&w[2].done);
	tap_check(&t, caught,
		  "a move is in flight on the slowed engine (timeout_ms %d, stall %d, S1 %d seqno %llu, ring head 0x%x tail 0x%x from 0x%x, engine fence %llu, S3 %d seqno %llu, waiters %s, %s)",
		  r1, r2, r3, (unsigned long long)s1, head, tail, t0,
		  (unsigned long long)hw, r5, (unsigned long long)s3,
		  started ? "blocked" : "not started",
		  pipelined ? (pending > 0 ? "pipelined: its move fence pending" :
			       "pipelined: no move fence pending") :
			      "its migration not returned");
	if (!caught) {
		tap_diag("the move was not caught in flight: the rest would test nothing");
		return tap_finish(&t);
	}

	t_unbind = now_s();
	r1 = file_write(DRIVER_DIR "/unbind", bdf);
	t_unbind = now_s() - t_unbind;
	hw = hw_fence_seqno(regs);
	wait_flag(&m.done, 30);
	ret = atomic_load(&m.done) ? pthread_join(m.thread, NULL) : -1;
	tap_check(&t, !r1 && !ret && (!m.ret || m.ret == -ENODEV),
		  "unbind %s with a move in flight: %d after %.2f s; the move ended: %d (0 or -ENODEV)",
		  bdf, r1, t_unbind, ret ? -ETIMEDOUT : m.ret);

	/* (b) what each WAIT reported against what the hardware did */
	for (i = 0; i < 3; i++)
		if (wait_flag(&w[i].done, 30))
			pthread_join(w[i].thread, NULL);
	why[0] = '\0';
	ret = 0;
	/*
	 * Seqnos are the file's; on the engine, S1's fence came just before
	 * the move's, S3's just after.
	 */
	for (i = 0; i < 3; i++) {
		uint64_t s = i ? s3 : s1, s_hw = i ? hw_s1 + 2 : hw_s1;
		int want = s_hw <= hw ? 0 : -EIO;
		bool good = atomic_load(&w[i].done) && w[i].ret == want;

		ret += !good;
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 "%s%s %llu %s: %d want %d", i ? "; " : "",
			 w[i].handle ? "BO of seqno" : "seqno",
			 (unsigned long long)s, s_hw <= hw ? "done" : "dropped",
			 atomic_load(&w[i].done) ? w[i].ret : -ETIMEDOUT, want);
	}
	if (hw_s1 + 2 <= hw)
		tap_diag("S3 ran before the unbind: no dropped work was waited for");
	tap_check(&t, !ret && hw_s1 <= hw,
		  "WAITs blocked across the unbind report what happened (engine's last fence %llu): %s",
		  (unsigned long long)hw, why);

	r1 = bo_mem(fd, h);
	r2 = bo_create(fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
		       DRM_SIMGPU_MEM_TT, 0, &h2);
	r3 = gpu_submit(fd, &c, 1, NULL);
	r4 = bo_wait(fd, h4, SECOND_NS);
	r5 = seqno_wait(fd, s1, SECOND_NS);
	r6 = bo_migrate(fd, h, DRM_SIMGPU_MEM_SYSTEM, 0);
	r7 = madvise_bo(fd, h, DRM_SIMGPU_MADV_DONTNEED, NULL);
	tap_check(&t, r1 == -ENODEV && r2 == -ENODEV && r3 == -ENODEV &&
		  r4 == -ENODEV && r5 == -ENODEV && r6 == -ENODEV &&
		  r7 == -ENODEV,
		  "the client's ioctls fail with -ENODEV (query %d create %d submit %d wait %d %d migrate %d madvise %d)",
		  r1, r2, r3, r4, r5, r6, r7);

	/* The mapping now reads a dummy page; writes go nowhere. */
	zero = bytes_check((const void *)p, BO_SIZE, 0);
	tap_check(&t, !zero,
		  "the old mapping reads the dummy page (%llu non-zero bytes)",
		  (unsigned long long)zero);
	for (i = 0; i < BO_SIZE; i += 4096)
		p[i] = p[i + 1];
	munmap((void *)p, BO_SIZE);
	munmap((void *)regs, SIMGPU_REG_BAR_SIZE);
	close(fd);

	tap_check(&t, !system("rmmod simgpu") && !system("modprobe simgpu"),
		  "after the last close the module is removed, and loaded again");
	snprintf(path, sizeof(path), DRIVER_DIR "/%s", bdf);
	fd = dev_open(&q);
	tap_check(&t, fd >= 0 && !access(path, F_OK) && client_works(fd, 3),
		  "a fresh client works after the reload");
	if (fd >= 0)
		close(fd);
	ret = gauges_wait_zero(10, why, sizeof(why));
	tap_check(&t, !ret, "the new device's gauges are zero after its client closed%s%s",
		  ret ? ": " : "", why);

	busy_close_unbind(bdf);
	return tap_finish(&t);
}

/*
 * Stress: threads at work across an unbind or a hot-unplug.
 */
#define S_BOS		18
#define S_HOT_RW	6	/* BOs 0..5: faulted, written */
#define S_HOT_RO	12	/* 6..11: faulted read-only, migrated */
/* 12..13 backed up and never touched; 14..15 DONTNEED; 16 scratch; 17 dst */

struct stress {
	int fd;
	uint32_t h[S_BOS];
	uint32_t mask[S_BOS];
	uint8_t *p[S_BOS];
	atomic_int stop;
	atomic_int gone;	/* an ioctl returned -ENODEV */
	atomic_long ops;
	atomic_long kind_ops[5];	/* fault, submit, migrate, madvise, shrink */
	atomic_int unexpected;
	char err[256];
	pthread_mutex_t lock;
};

static void note(struct stress *s, const char *who, int ret)
{
	pthread_mutex_lock(&s->lock);
	if (!s->unexpected++)
		snprintf(s->err, sizeof(s->err), "%s: %d", who, ret);
	pthread_mutex_unlock(&s->lock);
}

/* An ioctl's result: go on, or stop the thread (-ENODEV). */
enum { K_FAULT, K_SUBMIT, K_MIGRATE, K_MADVISE, K_SHRINK };

static bool check_ret(struct stress *s, int kind, const char *who, int ret,
		      const int *allowed)
{
	atomic_fetch_add(&s->ops, 1);
	atomic_fetch_add(&s->kind_ops[kind], 1);
	if (ret == -ENODEV) {
		atomic_store(&s->gone, 1);
		return false;
	}
	for (; *allowed; allowed++)
		if (ret == *allowed)
			return true;
	if (ret)
		note(s, who, ret);
	return true;
}

static void *fault_fn(void *arg)
{
	struct stress *s = arg;
	uint64_t rnd = (uintptr_t)&rnd | 1, i;
	volatile uint64_t sum = 0;

	while (!atomic_load(&s->stop)) {
		unsigned int k = rnd_next(&rnd) % S_HOT_RO;
		volatile uint64_t *w = (volatile uint64_t *)s->p[k];

		for (i = 0; i < BO_SIZE / 8; i += 4096 / 8) {
			sum += w[i];
			if (k < S_HOT_RW)
				w[i + 1] = i;
		}
		atomic_fetch_add(&s->ops, 1);
		atomic_fetch_add(&s->kind_ops[K_FAULT], 1);
	}
	return NULL;
}

static void *submit_fn(void *arg)
{
	static const int ok[] = { -EIO, 0 };
	struct stress *s = arg;
	uint64_t rnd = 7, seqno;
	struct drm_simgpu_cmd c[2];
	int ret;

	while (!atomic_load(&s->stop)) {
		unsigned int k = rnd_next(&rnd) % S_HOT_RO;

		c[0] = cmd_fill(s->h[16], 0, BO_SIZE, (uint32_t)rnd);
		c[1] = cmd_copy(s->h[k], 0, s->h[17], 0, BO_SIZE);
		ret = gpu_submit(s->fd, c, 2, &seqno);
		if (!check_ret(s, K_SUBMIT, "submit", ret, (const int[]){ -ENOSPC, -ENOMEM, 0 }))
			break;
		if (ret)
			continue;
		ret = seqno_wait(s->fd, seqno, 30 * SECOND_NS);
		if (!check_ret(s, K_SUBMIT, "wait", ret, ok))
			break;
	}
	return NULL;
}

static void *migrate_fn(void *arg)
{
	static const int ok[] = { -ENOSPC, -ENOMEM, -EIO, 0 };
	struct stress *s = arg;
	uint64_t rnd = 11;

	while (!atomic_load(&s->stop)) {
		unsigned int k = S_HOT_RW + rnd_next(&rnd) % (S_HOT_RO - S_HOT_RW);
		uint32_t mem = rnd_next(&rnd) % DRM_SIMGPU_NUM_MEM;

		if (!(s->mask[k] & mask_of(mem)))
			continue;
		if (!check_ret(s, K_MIGRATE, "migrate", bo_migrate(s->fd, s->h[k], mem, 0), ok))
			break;
	}
	return NULL;
}

static void *madvise_fn(void *arg)
{
	static const int ok[] = { 0 };
	struct stress *s = arg;
	uint32_t madv = DRM_SIMGPU_MADV_DONTNEED;

	while (!atomic_load(&s->stop)) {
		if (!check_ret(s, K_MADVISE, "madvise", madvise_bo(s->fd, s->h[15], madv, NULL), ok))
			break;
		madv ^= 1;
		usleep(5000);
	}
	return NULL;
}

static void *shrink_fn(void *arg)
{
	struct stress *s = arg;
	unsigned int n = 0;
	int ret;

	while (!atomic_load(&s->stop)) {
		if (n++ % 4 == 3)
			ret = file_write("/proc/sys/vm/drop_caches", "2");
		else
			ret = dbg_write("shrink", n % 8 == 1 ? "512 w" : "512");
		atomic_fetch_add(&s->ops, 1);
		atomic_fetch_add(&s->kind_ops[K_SHRINK], 1);
		/* The debugfs files go with the device. */
		if (ret == -ENODEV || ret == -ENOENT || ret == -EIO)
			break;
		if (ret)
			note(s, "shrink", ret);
		usleep(20000);
	}
	return NULL;
}

static void stress_round(unsigned int round)
{
	static void *(*const fns[])(void *) = {
		fault_fn, fault_fn, submit_fn, migrate_fn, madvise_fn, shrink_fn,
	};
	const unsigned int nthreads = sizeof(fns) / sizeof(fns[0]);
	bool unplug = round % 2 == 0;
	const char *how = unplug ? "hot-unplug (PCI remove)" : "unbind";
	struct drm_simgpu_device_query q;
	struct stress *s;
	pthread_t th[8];
	char bdf[64], path[160], why[256];
	uint64_t zero = 0;
	long long backed, purgeable;
	long ops0;
	unsigned int i, joined = 0;
	uint32_t r;
	int ret, rr[7];
	double t0;
	bool ok = true;

	s = calloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->fd = dev_open(&q);
	if (s->fd < 0 || !dev_bdf()) {
		for (i = 0; i < 6; i++)
			tap_check(&t, false, "round %u: no device (%d)", round, s->fd);
		return;
	}
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());

	for (i = 0; i < S_BOS; i++) {
		uint32_t mem = i % 3 == 0 ? DRM_SIMGPU_MEM_VRAM0 :
			       i % 3 == 1 ? DRM_SIMGPU_MEM_TT :
			       DRM_SIMGPU_MEM_SYSTEM;

		if (i >= 12 && i < 16)
			mem = DRM_SIMGPU_MEM_SYSTEM;
		if (i >= 16)
			mem = DRM_SIMGPU_MEM_TT;
		s->mask[i] = placements_all(&q);
		s->p[i] = bo_new(s->fd, BO_SIZE, s->mask[i], mem,
				 DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &s->h[i]);
		if (!s->p[i]) {
			ok = false;
			break;
		}
		pattern_fill(s->p[i], 0, BO_SIZE, 1000 * round + i);
	}
	/* Back up what is in system memory; 14 and 15 DONTNEED (14 after
	 * its backup: dropped), the hot ones fault back in. */
	ok = ok && !shrink_all();
	ok = ok && !madvise_bo(s->fd, s->h[14], DRM_SIMGPU_MADV_DONTNEED, &r);
	ok = ok && !pattern_check(s->p[15], 0, BO_SIZE, 1000 * round + 15) &&
	     !madvise_bo(s->fd, s->h[15], DRM_SIMGPU_MADV_DONTNEED, &r);
	backed = stat_get("backed_up_pages");
	purgeable = stat_get("purgeable_pages");
	tap_check(&t, ok && backed > 0 && purgeable > 0,
		  "round %u: %u BOs, backed-up (%lld pages) and DONTNEED (%lld pages) among them",
		  round, S_BOS, backed, purgeable);

	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, fns[i], s))
			break;
	/* Let every kind of thread get going (or 5 s pass). */
	t0 = now_s();
	for (;;) {
		for (i = 0; i < 5 && atomic_load(&s->kind_ops[i]) >= 5; i++)
			;
		if (i == 5 || now_s() - t0 > 5)
			break;
		usleep(20000);
	}
	snprintf(why, sizeof(why),
		 "fault %ld submit/wait %ld migrate %ld madvise %ld shrink %ld",
		 atomic_load(&s->kind_ops[0]), atomic_load(&s->kind_ops[1]),
		 atomic_load(&s->kind_ops[2]), atomic_load(&s->kind_ops[3]),
		 atomic_load(&s->kind_ops[4]));
	if (unplug)
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
	else
		snprintf(path, sizeof(path), DRIVER_DIR "/unbind");
	ops0 = atomic_load(&s->ops);
	t0 = now_s();
	ret = write_deadline(path, unplug ? "1" : bdf, 60);
	t0 = now_s() - t0;
	tap_check(&t, !ret, "round %u: %s of %s during %ld ops of %u threads (%s): %d after %.2f s",
		  round, how, bdf, ops0, nthreads, why, ret, t0);
	if (ret == -ETIMEDOUT) {
		tap_diag("the %s hangs: giving up", how);
		exit(tap_finish(&t));
	}

	atomic_store(&s->stop, 1);
	t0 = now_s();
	for (i = 0; i < nthreads; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 30;
		joined += !pthread_timedjoin_np(th[i], NULL, &ts);
	}
	tap_check(&t, joined == nthreads && !atomic_load(&s->unexpected),
		  "round %u: %u of %u threads ended within %.1f s, %ld ops, %d unexpected results%s%s",
		  round, joined, nthreads, now_s() - t0, atomic_load(&s->ops),
		  atomic_load(&s->unexpected), s->unexpected ? ", first " : "",
		  s->err);
	if (joined != nthreads) {
		tap_diag("threads hang after the %s: giving up", how);
		exit(tap_finish(&t));
	}

	rr[0] = bo_mem(s->fd, s->h[0]);
	rr[1] = bo_create(s->fd, BO_SIZE, mask_of(DRM_SIMGPU_MEM_TT),
			  DRM_SIMGPU_MEM_TT, 0, &r);
	rr[2] = gpu_submit(s->fd, (struct drm_simgpu_cmd[]){
			   cmd_fill(s->h[16], 0, BO_SIZE, 1) }, 1, NULL);
	rr[3] = bo_wait(s->fd, s->h[17], SECOND_NS);
	rr[4] = bo_migrate(s->fd, s->h[12], DRM_SIMGPU_MEM_TT, 0);
	rr[5] = madvise_bo(s->fd, s->h[13], DRM_SIMGPU_MADV_DONTNEED, NULL);
	rr[6] = drm_xioctl(s->fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	ret = 0;
	for (i = 0; i < 7; i++)
		ret += rr[i] != -ENODEV;
	tap_check(&t, !ret,
		  "round %u: ioctls fail with -ENODEV (query %d create %d submit %d wait %d migrate %d madvise %d device %d)",
		  round, rr[0], rr[1], rr[2], rr[3], rr[4], rr[5], rr[6]);

	/* Never written after the unplug: they read the dummy page. */
	for (i = S_HOT_RW; i < S_BOS; i++)
		zero += bytes_check((const void *)s->p[i], BO_SIZE, 0);
	tap_check(&t, !zero,
		  "round %u: %u mappings read the dummy page (%llu non-zero bytes)",
		  round, S_BOS - S_HOT_RW, (unsigned long long)zero);
	for (i = 0; i < S_BOS; i++)
		if (s->p[i])
			munmap(s->p[i], BO_SIZE);
	close(s->fd);

	if (unplug)
		ret = write_deadline("/sys/bus/pci/rescan", "1", 60);
	else
		ret = write_deadline(DRIVER_DIR "/bind", bdf, 60);
	ok = !ret && wait_bound(20);
	ret = ok ? smoke_checks(NULL) : -1;
	why[0] = '\0';
	if (!ret)
		ret = gauges_wait_zero(5, why, sizeof(why));
	tap_check(&t, ok && !ret,
		  "round %u: %s again, the device passes the smoke checks, gauges zero%s%s",
		  round, unplug ? "rescanned" : "bound", why[0] ? ": " : "", why);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int stress(unsigned int rounds)
{
	unsigned int i;

	tap_plan(&t, 6 * rounds);
	for (i = 1; i <= rounds; i++)
		stress_round(i);
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	unsigned int rounds = 2;
	int i;

	if (argc < 2 || !strcmp(argv[1], "inflight"))
		return inflight();
	if (!strcmp(argv[1], "stress")) {
		for (i = 2; i + 1 < argc; i += 2)
			if (!strcmp(argv[i], "--rounds"))
				rounds = atoi(argv[i + 1]);
		return stress(rounds ? rounds : 1);
	}
	fprintf(stderr, "usage: simgpu-unbind [inflight | stress [--rounds N]]\n");
	return 2;
}
