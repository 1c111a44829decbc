// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-dmabuf: sharing BOs through dma-buf, with simgpu as exporter and
 * as importer, under eviction and the shrinker.
 *
 *   simgpu-dmabuf share [--rounds N]
 *          two simgpu devices: A exports a BO, B imports it dynamically;
 *          B's engine copies from it (and into it) while A evicts it,
 *          migrates it, and its shrinker backs it up, from another
 *          thread.  Every byte is verified; the counters prove that A
 *          invalidated B's mappings and that B mapped again.
 *   simgpu-dmabuf pin
 *          B imports statically (module parameter dynamic_import=N): A
 *          pins the BO on B's map; a pinned BO is not migrated (-EBUSY),
 *          evicted or shrunk; after B lets go, it moves again.
 *   simgpu-dmabuf foreign
 *          udmabuf (memfd pages) and vgem buffers imported into simgpu
 *          and used by its engine (read and write), a simgpu BO imported
 *          into vgem; content checked through each side's mapping.
 *   simgpu-dmabuf bad
 *          a closed fd, a buffer too small for the command, a BO that
 *          another device cannot reach (VRAM only, no peer-to-peer),
 *          DONTNEED on a shared BO: the documented errors, nothing lost.
 *   simgpu-dmabuf sync
 *          implicit fences across devices: A's work on the BO waits for
 *          B's write to the import; the dma-buf's exported sync_file is
 *          B's fence; a fence imported into the dma-buf (an unsignalled
 *          vgem fence) holds B's engine back until it signals.
 *   simgpu-dmabuf unbind
 *          B is unbound while it has A's buffers imported, mapped and a
 *          copy queued (its mappings go back, the dma-buf's sync_file of
 *          its fence signals, A's BOs move on); then A is unbound while
 *          B has them mapped (B's copies from them fail, B works on).
 *          Both devices are bound again at the end.
 *   simgpu-dmabuf all
 *          each of the above, in one boot.
 *   simgpu-dmabuf virgl
 *          with a virtio-gpu-gl-pci (run-vm.sh --gpu virgl): a texture
 *          cleared by virglrenderer on the host, exported by virtio-gpu,
 *          imported into simgpu, copied by its engine into VRAM and
 *          through eviction and the shrinker, every pixel checked; a
 *          simgpu BO imported into virtio-gpu: refused in 3D mode.
 *   simgpu-dmabuf bench
 *          B's engine copying 64 MiB from an import of A's TT BO and of
 *          A's VRAM BO vs from its own TT BO ("# bench" lines, MiB/s), and
 *          the cost of an invalidate + re-map cycle of a 64 MiB TT BO
 *          ("# bench-us" line: A's moves out of TT and back, B's copy of
 *          a page, minus the same for a BO of A and one of B that are
 *          not shared).
 *
 * Copyright (c) 2026 The simgpu authors
 */

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <linux/dma-buf.h>
#include <linux/udmabuf.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>
#include <virtgpu_drm.h>

#include "bo.h"
#include "tap.h"

#define PAGE 4096ULL
#define VRAM0 DRM_SIMGPU_MEM_VRAM0
#define TT DRM_SIMGPU_MEM_TT
#define SYSTEM DRM_SIMGPU_MEM_SYSTEM
#define PL(m) DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_##m)
#define SHARE_SIZE (8 * MiB)

static unsigned int rounds = 24;
/* --p2p yes|no: whether A must let B reach its VRAM peer-to-peer. */
static int want_p2p = -1;
/* --pressure MIB: anonymous memory a thread keeps touching in the race. */
static unsigned int pressure_mib;

/* A simgpu device: its render node and its debugfs directory. */
struct gpu {
	int fd;
	char dbg[256];
};

/* The PCI address of the device behind render node @fd. */
static int fd_bdf(int fd, char *bdf, size_t len)
{
	char link[PATH_MAX], path[96];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st))
		return -errno;
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/device",
		 major(st.st_rdev), minor(st.st_rdev));
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	snprintf(bdf, len, "%s", strrchr(link, '/') + 1);
	return 0;
}

/* Open simgpu number @idx (by render node order) and find its debugfs. */
static int gpu_open(struct gpu *g, unsigned int idx)
{
	char path[64], bdf[64], name[256];
	unsigned int i, found = 0;
	glob_t gl;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	for (i = 128; i < 136; i++) {
		char drv[16] = "";
		struct drm_version v = { .name = drv, .name_len = sizeof(drv) - 1 };
		int fd;

		snprintf(path, sizeof(path), "/dev/dri/renderD%u", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(drv, "simgpu") &&
		    found++ == idx) {
			g->fd = fd;
			break;
		}
		close(fd);
	}
	if (g->fd < 0 || fd_bdf(g->fd, bdf, sizeof(bdf)))
		return -ENODEV;
	/* Each device's debugfs directory names it: "simgpu dev=BDF ...". */
	if (glob("/sys/kernel/debug/dri/*/name", 0, NULL, &gl))
		return -ENOENT;
	for (i = 0; i < gl.gl_pathc; i++) {
		FILE *f = fopen(gl.gl_pathv[i], "r");

		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && strstr(name, bdf)) {
			snprintf(g->dbg, sizeof(g->dbg), "%s", gl.gl_pathv[i]);
			*strrchr(g->dbg, '/') = '\0';
		}
		fclose(f);
		if (g->dbg[0])
			break;
	}
	globfree(&gl);
	return g->dbg[0] ? 0 : -ENOENT;
}

static long long gpu_stat(const struct gpu *g, const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/simgpu_stats", g->dbg);
	return keyed_get(path, name);
}

static int gpu_dbg_write(const struct gpu *g, const char *file, const char *v)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", g->dbg, file);
	return file_write(path, v);
}

static int set_param(const char *name, const char *val)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/module/simgpu/parameters/%s", name);
	return file_write(path, val);
}

/* @handle of @fd as a dma-buf fd, or -errno. */
static int export_fd(int fd, uint32_t handle)
{
	struct drm_prime_handle p = {
		.handle = handle, .flags = DRM_CLOEXEC | DRM_RDWR,
	};
	int ret = drm_xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &p);

	return ret ? ret : p.fd;
}

/* dma-buf @dmabuf as a handle of @fd; 0 or -errno. */
static int import_fd(int fd, int dmabuf, uint32_t *handle)
{
	struct drm_prime_handle p = { .fd = dmabuf };
	int ret = drm_xioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &p);

	*handle = p.handle;
	return ret;
}

static int madvise_bo(int fd, uint32_t handle, uint32_t madv)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };

	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);
}

static int copy_bo(int fd, uint32_t src, uint32_t dst, uint64_t len)
{
	struct drm_simgpu_cmd c = cmd_copy(src, 0, dst, 0, len);

	return gpu_run(fd, &c, 1);
}

/* Bytes of the mapping @fd/@handle that differ from @seed's pattern. */
static uint64_t bo_check(int fd, uint32_t handle, uint64_t size, uint64_t seed)
{
	void *p = bo_map(fd, handle, size);
	uint64_t bad;

	if (!p)
		return size;
	bad = pattern_check(p, 0, size, seed);
	munmap(p, size);
	return bad;
}

static int bo_fill(int fd, uint32_t handle, uint64_t size, uint64_t seed)
{
	void *p = bo_map(fd, handle, size);

	if (!p)
		return -errno;
	pattern_fill(p, 0, size, seed);
	munmap(p, size);
	return 0;
}

/* The mapping of a dma-buf fd, checked between DMA_BUF_IOCTL_SYNC. */
static uint64_t dmabuf_check(int dmabuf, uint64_t size, uint64_t seed)
{
	struct dma_buf_sync s = { .flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_READ };
	uint64_t bad = size;
	void *p;

	p = mmap(NULL, size, PROT_READ, MAP_SHARED, dmabuf, 0);
	if (p == MAP_FAILED)
		return size;
	if (!ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &s)) {
		bad = pattern_check(p, 0, size, seed);
		s.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_READ;
		ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &s);
	}
	munmap(p, size);
	return bad;
}

/* --- share: A exports, B imports dynamically ----------------------------- */

struct mover {
	struct gpu *a;
	uint32_t handle;
	uint64_t filler;
	volatile int stop;
	unsigned int moves, errors;
};

/* A's side of the race: move the exported BO around, and shrink. */
static void *mover_fn(void *arg)
{
	struct mover *m = arg;
	uint64_t rnd = 0x5eed;
	unsigned int i = 0;
	uint32_t h;
	int ret;

	while (!m->stop) {
		switch (rnd_next(&rnd) % 5) {
		case 0:
			ret = gpu_dbg_write(m->a, "evict_vram", "1");
			break;
		case 4:
			/* Pressure: a new VRAM BO, cleared by the engine. */
			ret = bo_create(m->a->fd, m->filler, PL(VRAM0), VRAM0, 0,
					&h);
			if (!ret)
				gem_close(m->a->fd, h);
			break;
		case 1:
			ret = bo_migrate(m->a->fd, m->handle, VRAM0, 0);
			break;
		case 2:
			ret = bo_migrate(m->a->fd, m->handle, TT, 0);
			break;
		default:
			ret = gpu_dbg_write(m->a, "shrink", "100000");
			break;
		}
		/* A migration may find VRAM busy for a moment. */
		if (ret && ret != -ENOSPC && m->errors++ < 3)
			tap_diag("mover step %u: %s", i, strerror(-ret));
		m->moves++;
		i++;
		usleep(2000);
	}
	return NULL;
}

/* Anonymous memory touched over and over: the shrinkers run in reclaim. */
static void *pressure_fn(void *arg)
{
	struct mover *m = arg;
	size_t len = (size_t)pressure_mib << 20;
	size_t off;

	while (!m->stop) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		for (off = 0; off < len && !m->stop; off += PAGE)
			p[off] = (char)off;
		munmap(p, len);
	}
	return NULL;
}

static void share_counters(struct tap *t, const char *what, struct gpu *a,
			   struct gpu *b, long long a_inv0, long long b_inv0,
			   long long b_map0)
{
	long long ai = gpu_stat(a, "dmabuf_invalidations") - a_inv0;
	long long bi = gpu_stat(b, "import_invalidations") - b_inv0;
	long long bm = gpu_stat(b, "import_maps") - b_map0;

	tap_check(t, ai > 0 && bi > 0 && bm > 1,
		  "%s: A invalidated the importers %lld times, B dropped its mapping %lld times and mapped again %lld times",
		  what, ai, bi, bm);
}

static int share_mode(struct tap *t)
{
	struct gpu a, b;
	uint32_t x, hb, d, src;
	uint64_t bad = 0;
	long long ai0, bi0, bm0, am0, bu0, p2p;
	struct mover m = { 0 };
	struct drm_simgpu_device_query q;
	long long ev0, sp0, ri0, ri;
	uint64_t a_vram;
	pthread_t th, pth;
	unsigned int i, errs = 0;
	int dmabuf, ret;

	memset(&q, 0, sizeof(q));
	if (gpu_open(&a, 0) || gpu_open(&b, 1) ||
	    drm_xioctl(a.fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q)) {
		tap_check(t, false, "share: two simgpu devices with debugfs");
		return 1;
	}
	a_vram = q.regions[0].size;
	/* 1. A exports a VRAM BO, B imports it. */
	ret = bo_create(a.fd, SHARE_SIZE, PL(VRAM0) | PL(TT) | PL(SYSTEM),
			VRAM0, 0, &x);
	if (!ret)
		ret = bo_fill(a.fd, x, SHARE_SIZE, 1);
	dmabuf = ret ? ret : export_fd(a.fd, x);
	ret = dmabuf < 0 ? dmabuf : import_fd(b.fd, dmabuf, &hb);
	if (!ret)
		ret = bo_create(b.fd, SHARE_SIZE, PL(VRAM0), VRAM0, 0, &d);
	if (!ret)
		ret = bo_create(b.fd, SHARE_SIZE, PL(VRAM0), VRAM0, 0, &src);
	/* Whether A let B's attachment reach its VRAM peer-to-peer. */
	p2p = gpu_stat(&a, "dmabuf_attach_p2p");
	if (!tap_check(t, !ret && p2p >= 0 && gpu_stat(&b, "imports") == 1 &&
		       gpu_stat(&a, "dmabuf_attach") + p2p == 1 &&
		       (want_p2p < 0 || want_p2p == (p2p > 0)),
		       "share: A's 8 MiB VRAM BO exported and imported into B (%s; peer-to-peer: %s)",
		       strerror(-ret), p2p > 0 ? "yes" : "no"))
		return 1;

	/* 2. B's engine reads it. */
	am0 = gpu_stat(&a, "dmabuf_maps");
	ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
	bad = ret ? SHARE_SIZE : bo_check(b.fd, d, SHARE_SIZE, 1);
	tap_check(t, !ret && !bad && gpu_stat(&a, "dmabuf_maps") > am0 &&
		  gpu_stat(&b, "import_maps") == 1 &&
		  (p2p > 0 ? bo_mem(a.fd, x) == VRAM0 &&
			     gpu_stat(&a, "dmabuf_maps_vram") == 1 :
			     bo_mem(a.fd, x) == TT),
		  "share: B's engine copied the import (%s, %llu bad bytes); A mapped it %s, now in %s",
		  strerror(-ret), (unsigned long long)bad,
		  p2p > 0 ? "peer-to-peer from VRAM" : "in TT",
		  mem_name(bo_mem(a.fd, x)));

	/*
	 * 3. Moves and backups of A invalidate B's mapping; new content
	 * written by A's CPU in between must be what B reads next.
	 */
	ai0 = gpu_stat(&a, "dmabuf_invalidations");
	bi0 = gpu_stat(&b, "import_invalidations");
	bm0 = gpu_stat(&b, "import_maps") - 1;
	bu0 = gpu_stat(&a, "pages_backed_up");
	ret = bo_migrate(a.fd, x, VRAM0, 0);
	if (!ret)
		ret = gpu_dbg_write(&a, "evict_vram", "1");
	if (!ret)
		ret = bo_fill(a.fd, x, SHARE_SIZE, 2);
	if (!ret)
		ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
	bad = ret ? SHARE_SIZE : bo_check(b.fd, d, SHARE_SIZE, 2);
	if (!ret)
		ret = bo_migrate(a.fd, x, TT, 0);
	if (!ret)
		ret = gpu_dbg_write(&a, "shrink", "100000");
	/* B's engine restores it from the backup, A's CPU sees its own. */
	if (!ret)
		ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
	if (!ret)
		bad += bo_check(b.fd, d, SHARE_SIZE, 2);
	tap_check(t, !ret && !bad &&
		  gpu_stat(&a, "pages_backed_up") - bu0 >= (long long)(SHARE_SIZE / PAGE),
		  "share: migrated, evicted, rewritten by A's CPU, backed up by A's shrinker: B read the new content each time (%s, %llu bad bytes, %lld pages backed up)",
		  strerror(-ret), (unsigned long long)bad,
		  gpu_stat(&a, "pages_backed_up") - bu0);
	share_counters(t, "share (sequential)", &a, &b, ai0, bi0, bm0);

	/*
	 * 4. The race: B writes generation i into the import and reads it
	 * back on its engine while A moves and shrinks the BO.
	 */
	ai0 = gpu_stat(&a, "dmabuf_invalidations");
	bi0 = gpu_stat(&b, "import_invalidations");
	bm0 = gpu_stat(&b, "import_maps");
	ev0 = gpu_stat(&a, "evict_vram0_tt");
	sp0 = gpu_stat(&a, "shrink_passes");
	ri0 = gpu_stat(&a, "dmabuf_invalidations_reclaim");
	m.a = &a;
	m.handle = x;
	m.filler = a_vram / 2;
	if (pthread_create(&th, NULL, mover_fn, &m) ||
	    (pressure_mib && pthread_create(&pth, NULL, pressure_fn, &m))) {
		tap_check(t, false, "share: mover thread");
		return 1;
	}
	for (i = 0, bad = 0; i < rounds && !errs; i++) {
		uint64_t seed = 100 + i;

		ret = bo_fill(b.fd, src, SHARE_SIZE, seed);
		if (!ret)
			ret = copy_bo(b.fd, src, hb, SHARE_SIZE);
		if (!ret)
			ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
		if (ret) {
			tap_diag("round %u: %s", i, strerror(-ret));
			errs++;
			break;
		}
		bad += bo_check(b.fd, d, SHARE_SIZE, seed);
	}
	m.stop = 1;
	pthread_join(th, NULL);
	if (pressure_mib)
		pthread_join(pth, NULL);
	ri = gpu_stat(&a, "dmabuf_invalidations_reclaim") - ri0;
	tap_diag("during the race A evicted VRAM0->TT %lld times and ran %lld shrink passes (%s); %lld invalidations came from reclaim",
		 gpu_stat(&a, "evict_vram0_tt") - ev0,
		 gpu_stat(&a, "shrink_passes") - sp0,
		 pressure_mib ? "debugfs and reclaim" : "debugfs", ri);
	/* What B wrote last is in A's BO, wherever it is now. */
	bad += bo_check(a.fd, x, SHARE_SIZE, 100 + i - 1);
	bad += dmabuf_check(dmabuf, SHARE_SIZE, 100 + i - 1);
	tap_check(t, !errs && !bad && i == rounds,
		  "share: %u rounds of B writing and reading the import on its engine while A moved or shrank it %u times (%lld invalidations from reclaim): %llu bad bytes, A's CPU and the dma-buf mapping see B's last write",
		  i, m.moves, ri, (unsigned long long)bad);
	share_counters(t, "share (race)", &a, &b, ai0, bi0, bm0);

	/*
	 * 5. Reclaim: with X idle in TT and mapped by B, anonymous memory
	 * grows until A's shrinker, called by reclaim, backs X up; the
	 * invalidation then runs in reclaim, under A's reservation.
	 */
	if (pressure_mib) {
		uint64_t seed = 100 + i - 1, grown = 0, cap;
		char *chunks[64];
		unsigned int n = 0;

		ret = bo_migrate(a.fd, x, TT, 0);
		if (!ret)
			ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
		if (!ret)
			ret = bo_wait(a.fd, x, 10000000000LL);
		/*
		 * At most what is available plus half the free swap: more
		 * only stalls the allocations (and OOM-kills).
		 */
		cap = (meminfo_kb("MemAvailable") +
		       meminfo_kb("SwapFree") / 2) >> 10;
		ri0 = gpu_stat(&a, "dmabuf_invalidations_reclaim");
		while (!ret && n < 64 && grown + 16 <= cap &&
		       gpu_stat(&a, "dmabuf_invalidations_reclaim") == ri0) {
			char *c = mmap(NULL, 16 * MiB, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			uint64_t off;

			if (c == MAP_FAILED)
				break;
			for (off = 0; off < 16 * MiB; off += PAGE)
				c[off] = (char)(off >> 12) | 1;
			chunks[n++] = c;
			grown += 16;
		}
		ri = gpu_stat(&a, "dmabuf_invalidations_reclaim") - ri0;
		while (n)
			munmap(chunks[--n], 16 * MiB);
		if (!ret)
			ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
		bad = ret ? SHARE_SIZE : bo_check(b.fd, d, SHARE_SIZE, seed);
		tap_check(t, !ret && !bad && ri > 0,
			  "share: %llu MiB of anonymous memory (at most %llu) made reclaim run A's shrinker, which invalidated B's mapping %lld times (want > 0); B's next copy read the content back (%s, %llu bad bytes)",
			  (unsigned long long)grown, (unsigned long long)cap,
			  ri, strerror(-ret),
			  (unsigned long long)bad);
	}

	gem_close(b.fd, hb);
	gem_close(b.fd, d);
	gem_close(b.fd, src);
	close(dmabuf);
	gem_close(a.fd, x);
	close(a.fd);
	close(b.fd);
	return 0;
}

/* --- pin: a static importer pins the BO ---------------------------------- */

static int pin_mode(struct tap *t)
{
	struct gpu a, b;
	uint32_t x, hb, d;
	long long pins0, bu0;
	uint64_t bad;
	int dmabuf, ret, mem0, mem1, mig, i;

	if (gpu_open(&a, 0) || gpu_open(&b, 1)) {
		tap_check(t, false, "pin: two simgpu devices with debugfs");
		return 1;
	}
	pins0 = gpu_stat(&a, "dmabuf_pins");
	ret = set_param("dynamic_import", "N");
	if (!ret)
		ret = bo_create(a.fd, SHARE_SIZE, PL(VRAM0) | PL(TT) | PL(SYSTEM),
				VRAM0, 0, &x);
	if (!ret)
		ret = bo_fill(a.fd, x, SHARE_SIZE, 7);
	dmabuf = ret ? ret : export_fd(a.fd, x);
	ret = dmabuf < 0 ? dmabuf : import_fd(b.fd, dmabuf, &hb);
	set_param("dynamic_import", "Y");
	if (!ret)
		ret = bo_create(b.fd, SHARE_SIZE, PL(VRAM0), VRAM0, 0, &d);
	if (!ret)
		ret = copy_bo(b.fd, hb, d, SHARE_SIZE);
	bad = ret ? SHARE_SIZE : bo_check(b.fd, d, SHARE_SIZE, 7);
	mem0 = bo_mem(a.fd, x);
	if (!tap_check(t, !ret && !bad && gpu_stat(&a, "dmabuf_pins") > pins0,
		       "pin: B imported statically and copied the BO (%s, %llu bad bytes): A pinned it in %s",
		       strerror(-ret), (unsigned long long)bad, mem_name(mem0)))
		return 1;

	/* Pinned: no migration, no eviction, no backup. */
	bu0 = gpu_stat(&a, "pages_backed_up");
	mig = bo_migrate(a.fd, x, mem0 == TT ? VRAM0 : TT, 0);
	ret = gpu_dbg_write(&a, "evict_vram", "1");
	if (!ret)
		ret = gpu_dbg_write(&a, "shrink", "100000");
	mem1 = bo_mem(a.fd, x);
	bad = bo_check(a.fd, x, SHARE_SIZE, 7);
	tap_check(t, mig == -EBUSY && !ret && mem1 == mem0 && !bad &&
		  gpu_stat(&a, "pages_backed_up") == bu0,
		  "pin: migrating the pinned BO fails with %s (want EBUSY); after evict_vram and a shrink pass it is still in %s, %lld pages backed up, %llu bad bytes",
		  strerror(-mig), mem_name(mem1),
		  gpu_stat(&a, "pages_backed_up") - bu0, (unsigned long long)bad);

	/* B lets go: the BO moves again. */
	gem_close(b.fd, hb);
	close(dmabuf);
	/* The import goes (and unpins) in B's TTM delayed delete. */
	for (i = 0; i < 100; i++) {
		ret = bo_migrate(a.fd, x, SYSTEM, 0);
		if (ret != -EBUSY)
			break;
		usleep(20000);
	}
	bad = bo_check(a.fd, x, SHARE_SIZE, 7);
	tap_check(t, !ret && !bad && bo_mem(a.fd, x) == SYSTEM,
		  "pin: once B closed the import, the BO migrates to SYSTEM (%s), content intact (%llu bad bytes)",
		  strerror(-ret), (unsigned long long)bad);
	gem_close(b.fd, d);
	gem_close(a.fd, x);
	close(a.fd);
	close(b.fd);
	return 0;
}

/* --- foreign: udmabuf and vgem ------------------------------------------- */

/* A udmabuf of @size over a sealed memfd; its mapping in *@map. */
static int udmabuf_new(uint64_t size, void **map)
{
	struct udmabuf_create c = { .flags = UDMABUF_FLAGS_CLOEXEC, .size = size };
	int memfd, dev, buf;

	memfd = memfd_create("simgpu-dmabuf", MFD_ALLOW_SEALING);
	if (memfd < 0)
		return -errno;
	if (ftruncate(memfd, size) ||
	    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
		close(memfd);
		return -errno;
	}
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0 || *map == MAP_FAILED) {
		close(memfd);
		return -ENODEV;
	}
	c.memfd = memfd;
	buf = ioctl(dev, UDMABUF_CREATE, &c);
	buf = buf < 0 ? -errno : buf;
	close(dev);
	close(memfd);
	return buf;
}

/* vgem's card (loaded on first use), or -ENODEV. */
static int vgem_card(void)
{
	static int fd = -1;

	if (fd < 0)
		fd = vgem_open();
	return fd;
}

/* A dumb BO of vgem of @size (a multiple of 4 KiB), mapped in *@map. */
static int vgem_bo(int vfd, uint64_t size, uint32_t *handle, void **map)
{
	struct drm_mode_create_dumb c = {
		.width = 1024, .height = size / 4096, .bpp = 32,
	};
	struct drm_mode_map_dumb m = { 0 };
	int ret = drm_xioctl(vfd, DRM_IOCTL_MODE_CREATE_DUMB, &c);

	if (ret)
		return ret;
	m.handle = c.handle;
	ret = drm_xioctl(vfd, DRM_IOCTL_MODE_MAP_DUMB, &m);
	if (ret)
		return ret;
	*map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vfd,
		    m.offset);
	*handle = c.handle;
	return *map == MAP_FAILED ? -errno : 0;
}

/*
 * The engine of @g reads the foreign buffer @buf (which holds @seed) and
 * writes @seed + 1 back into it; @map is the exporter's mapping.
 */
static uint64_t engine_roundtrip(struct gpu *g, int buf, void *map,
				 uint64_t size, uint64_t seed, int *err)
{
	uint32_t h, d;
	uint64_t bad;

	*err = import_fd(g->fd, buf, &h);
	if (!*err)
		*err = bo_create(g->fd, size, PL(VRAM0), VRAM0, 0, &d);
	if (*err)
		return size;
	*err = copy_bo(g->fd, h, d, size);
	bad = *err ? size : bo_check(g->fd, d, size, seed);
	if (!*err)
		*err = bo_fill(g->fd, d, size, seed + 1);
	if (!*err)
		*err = copy_bo(g->fd, d, h, size);
	bad += *err ? size : pattern_check(map, 0, size, seed + 1);
	/* The import's own mapping goes through the dma-buf. */
	bad += bo_check(g->fd, h, size, seed + 1);
	gem_close(g->fd, d);
	gem_close(g->fd, h);
	return bad;
}

static int foreign_mode(struct tap *t)
{
	const uint64_t size = 4 * MiB;
	struct gpu a;
	long long im0 = 0, at0;
	uint32_t vh, x, hv;
	uint64_t bad;
	void *map;
	int buf, vfd, ret;

	if (gpu_open(&a, 0)) {
		tap_check(t, false, "foreign: a simgpu device with debugfs");
		return 1;
	}
	/* udmabuf -> simgpu */
	im0 = gpu_stat(&a, "imports");
	buf = udmabuf_new(size, &map);
	if (buf >= 0)
		pattern_fill(map, 0, size, 11);
	bad = buf < 0 ? size : engine_roundtrip(&a, buf, map, size, 11, &ret);
	ret = buf < 0 ? buf : ret;
	tap_check(t, !ret && !bad && gpu_stat(&a, "imports") > im0,
		  "foreign: a udmabuf (memfd pages) imported into simgpu, read and written by its engine, checked through the memfd and the import's mapping (%s, %llu bad bytes)",
		  strerror(-ret), (unsigned long long)bad);
	if (buf >= 0) {
		close(buf);
		munmap(map, size);
	}

	/* vgem -> simgpu */
	vfd = vgem_card();
	ret = vfd < 0 ? vfd : vgem_bo(vfd, size, &vh, &map);
	if (!ret) {
		pattern_fill(map, 0, size, 21);
		buf = export_fd(vfd, vh);
		ret = buf < 0 ? buf : 0;
	}
	bad = ret ? size : engine_roundtrip(&a, buf, map, size, 21, &ret);
	tap_check(t, !ret && !bad,
		  "foreign: a vgem BO imported into simgpu, read and written by its engine, checked through vgem's mapping (%s, %llu bad bytes)",
		  strerror(-ret), (unsigned long long)bad);
	if (!ret) {
		close(buf);
		munmap(map, size);
	}

	/*
	 * simgpu -> vgem: vgem attaches (it maps imports only through the
	 * dma-buf: DRM refuses dumb mmap offsets of imported objects).
	 */
	at0 = gpu_stat(&a, "dmabuf_attach");
	ret = vfd < 0 ? vfd : bo_create(a.fd, size, PL(VRAM0) | PL(TT) | PL(SYSTEM),
					VRAM0, 0, &x);
	if (!ret)
		ret = bo_fill(a.fd, x, size, 31);
	buf = ret ? ret : export_fd(a.fd, x);
	ret = buf < 0 ? buf : import_fd(vfd, buf, &hv);
	bad = ret ? size : dmabuf_check(buf, size, 31);
	tap_check(t, !ret && !bad && gpu_stat(&a, "dmabuf_attach") > at0,
		  "foreign: a simgpu VRAM BO imported into vgem (attached: %lld), read through the dma-buf's mapping (%s, %llu bad bytes)",
		  gpu_stat(&a, "dmabuf_attach") - at0, strerror(-ret),
		  (unsigned long long)bad);
	if (buf >= 0)
		close(buf);
	close(a.fd);
	return 0;
}

/* --- bad: what must fail, and what must survive --------------------------- */

static int bad_mode(struct tap *t)
{
	struct drm_simgpu_cmd c;
	struct gpu a, b;
	uint32_t x, h, d, y, hy, self;
	int buf, closed, ret, r1, r2, r3, r4, r5, r6;
	uint64_t bad;
	void *map;

	if (gpu_open(&a, 0)) {
		tap_check(t, false, "bad: a simgpu device with debugfs");
		return 1;
	}
	/* A closed fd. */
	closed = dup(0);
	close(closed);
	r1 = import_fd(a.fd, closed, &h);

	/* One page of udmabuf, a two-page command. */
	buf = udmabuf_new(PAGE, &map);
	r2 = buf < 0 ? buf : import_fd(a.fd, buf, &h);
	ret = r2 ? r2 : bo_create(a.fd, 2 * PAGE, PL(VRAM0), VRAM0, 0, &d);
	r3 = 0;		/* not run */
	if (!ret) {
		pattern_fill(map, 0, PAGE, 41);
		c = cmd_copy(h, 0, d, 0, 2 * PAGE);
		r3 = gpu_run(a.fd, &c, 1);
		c = cmd_copy(h, 0, d, 0, PAGE);
		ret = gpu_run(a.fd, &c, 1);
	}
	bad = ret ? PAGE : bo_check(a.fd, d, PAGE, 41);
	tap_check(t, r1 == -EBADF && !r2 && r3 == -EINVAL && !ret && !bad,
		  "bad: importing a closed fd fails with %s (want EBADF); a two-page copy from a one-page import with %s (want EINVAL), and a one-page copy from it then works (%s, %llu bad bytes)",
		  strerror(-r1), strerror(-r3), strerror(-ret),
		  (unsigned long long)bad);

	/* DONTNEED and sharing exclude each other; the content stays. */
	ret = bo_create(a.fd, PAGE, PL(TT) | PL(SYSTEM), TT, 0, &x);
	if (!ret)
		ret = bo_fill(a.fd, x, PAGE, 42);
	r4 = ret ? ret : madvise_bo(a.fd, x, DRM_SIMGPU_MADV_DONTNEED);
	r5 = export_fd(a.fd, x);
	if (!r4 && r5 >= 0)
		r4 = -EEXIST;
	madvise_bo(a.fd, x, DRM_SIMGPU_MADV_WILLNEED);
	buf = export_fd(a.fd, x);
	r6 = buf < 0 ? buf : madvise_bo(a.fd, x, DRM_SIMGPU_MADV_DONTNEED);
	ret = r2 ? r2 : madvise_bo(a.fd, h, DRM_SIMGPU_MADV_DONTNEED);
	/* Imported into its own device: the same BO. */
	if (buf >= 0 && !import_fd(a.fd, buf, &self) && self != x)
		r6 = -EEXIST;
	gpu_dbg_write(&a, "shrink", "100000");
	bad = bo_check(a.fd, x, PAGE, 42);
	tap_check(t, !r4 && r5 == -EBUSY && r6 == -EBUSY && ret == -EBUSY &&
		  !bad,
		  "bad: exporting a DONTNEED BO fails with %s, DONTNEED on an exported BO with %s, on an imported one with %s (want EBUSY each); imported into its own device it is the same handle; after a shrink pass, %llu bad bytes",
		  strerror(-r5), strerror(-r6), strerror(-ret),
		  (unsigned long long)bad);
	if (buf >= 0)
		close(buf);

	/*
	 * A BO only in VRAM cannot go to TT: another device reaches it
	 * peer-to-peer or not at all.
	 */
	if (gpu_open(&b, 1)) {
		tap_check(t, false, "bad: a second simgpu device");
		return 1;
	}
	set_param("p2p", "N");
	ret = bo_create(a.fd, 4 * PAGE, PL(VRAM0), VRAM0, 0, &y);
	if (!ret)
		ret = bo_fill(a.fd, y, 4 * PAGE, 43);
	buf = ret ? ret : export_fd(a.fd, y);
	r1 = buf < 0 ? buf : import_fd(b.fd, buf, &hy);
	set_param("p2p", "Y");
	r2 = buf < 0 ? buf : import_fd(b.fd, buf, &hy);
	bad = bo_check(a.fd, y, 4 * PAGE, 43);
	if (!r2) {
		ret = bo_create(b.fd, 4 * PAGE, PL(VRAM0), VRAM0, 0, &d);
		if (!ret)
			ret = copy_bo(b.fd, hy, d, 4 * PAGE);
		bad += ret ? 4 * PAGE : bo_check(b.fd, d, 4 * PAGE, 43);
	}
	tap_check(t, r1 == -EOPNOTSUPP && !bad &&
		  (want_p2p < 0 ? r2 == -EOPNOTSUPP || (!r2 && !ret) :
		   want_p2p ? !r2 && !ret : r2 == -EOPNOTSUPP),
		  "bad: a VRAM-only BO imported into another device without peer-to-peer fails with %s (want EOPNOTSUPP); with p2p=Y: %s; %llu bad bytes",
		  strerror(-r1), r2 ? strerror(-r2) : "imported and copied peer-to-peer",
		  (unsigned long long)bad);
	if (buf >= 0)
		close(buf);
	close(a.fd);
	close(b.fd);
	return 0;
}

/* --- sync: fences across devices ------------------------------------------ */

static bool fd_signalled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static int sync_mode(struct tap *t)
{
	const uint64_t size = 32 * MiB;
	struct dma_buf_export_sync_file es = { .flags = DMA_BUF_SYNC_WRITE };
	struct dma_buf_import_sync_file is = { .flags = DMA_BUF_SYNC_WRITE };
	struct drm_simgpu_cmd c;
	struct vgem_fence_attach fa = { 0 };
	struct vgem_fence_signal sig = { 0 };
	struct gpu a, b;
	uint32_t x, hb, s, y, vh;
	uint64_t bad, seqno;
	bool early, after;
	int buf, vbuf, vfd, ret, waited;
	void *vmap;

	if (gpu_open(&a, 0) || gpu_open(&b, 1)) {
		tap_check(t, false, "sync: two simgpu devices with debugfs");
		return 1;
	}
	/*
	 * 1. B writes 32 MiB into the import (slowly: the scenario limits
	 * the engines' bandwidth); A at once copies the BO on its engine.
	 * A's job must wait for B's fence in the shared reservation.
	 */
	ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT), VRAM0, 0, &x);
	if (!ret)
		ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT), VRAM0, 0, &y);
	if (!ret)
		ret = bo_fill(a.fd, x, size, 51);
	buf = ret ? ret : export_fd(a.fd, x);
	ret = buf < 0 ? buf : import_fd(b.fd, buf, &hb);
	if (!ret)
		ret = bo_create(b.fd, size, PL(VRAM0), VRAM0, 0, &s);
	if (!ret)
		ret = bo_fill(b.fd, s, size, 52);
	/* B's import mapped once, so that the next copy only waits. */
	if (!ret)
		ret = copy_bo(b.fd, hb, s, PAGE);
	if (!ret)
		ret = bo_fill(b.fd, s, size, 52);
	early = true;
	if (!ret) {
		c = cmd_copy(s, 0, hb, 0, size);
		ret = gpu_submit(b.fd, &c, 1, &seqno);
	}
	if (!ret) {
		es.fd = -1;
		ret = ioctl(buf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &es) ? -errno : 0;
		early = ret || fd_signalled(es.fd);
	}
	if (!ret) {
		c = cmd_copy(x, 0, y, 0, size);
		ret = gpu_run(a.fd, &c, 1);
	}
	after = !ret && fd_signalled(es.fd);
	bad = ret ? size : bo_check(a.fd, y, size, 52);
	tap_check(t, !ret && !bad && !early && after,
		  "sync: A's copy of the BO waited for B's write to the import (%s, %llu bad bytes); the dma-buf's sync_file was %s right after B's submission and signalled after A's copy",
		  strerror(-ret), (unsigned long long)bad,
		  early ? "already signalled" : "unsignalled");
	if (es.fd >= 0)
		close(es.fd);
	seqno_wait(b.fd, seqno, 10000000000LL);

	/*
	 * 2. An unsignalled vgem fence imported into the dma-buf as a
	 * writer: B's read of the import waits for it.
	 */
	vfd = vgem_card();
	ret = vfd < 0 ? vfd : vgem_bo(vfd, PAGE, &vh, &vmap);
	if (!ret) {
		fa.handle = vh;
		fa.flags = VGEM_FENCE_WRITE;
		ret = drm_xioctl(vfd, IOCTL_VGEM_FENCE_ATTACH, &fa);
	}
	vbuf = ret ? ret : export_fd(vfd, vh);
	ret = vbuf < 0 ? vbuf : 0;
	es.fd = -1;
	if (!ret && ioctl(vbuf, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &es))
		ret = -errno;
	is.fd = es.fd;
	if (!ret && ioctl(buf, DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &is))
		ret = -errno;
	waited = 0;
	if (!ret) {
		c = cmd_copy(hb, 0, s, 0, size);
		ret = gpu_submit(b.fd, &c, 1, &seqno);
	}
	if (!ret) {
		waited = seqno_wait(b.fd, seqno, 300000000LL);
		sig.fence = fa.out_fence;
		ret = drm_xioctl(vfd, IOCTL_VGEM_FENCE_SIGNAL, &sig);
	}
	if (!ret)
		ret = seqno_wait(b.fd, seqno, 10000000000LL);
	bad = ret ? size : bo_check(b.fd, s, size, 52);
	tap_check(t, !ret && waited == -ETIME && !bad,
		  "sync: a vgem fence imported into the dma-buf held B's copy back (wait before the signal: %s, want ETIME), which then completed (%s, %llu bad bytes)",
		  strerror(-waited), strerror(-ret), (unsigned long long)bad);
	if (es.fd >= 0)
		close(es.fd);
	if (vbuf >= 0)
		close(vbuf);
	if (buf >= 0)
		close(buf);
	close(a.fd);
	close(b.fd);
	return 0;
}

/* --- unbind: either side goes while the other holds the buffer ---------- */

#define DRIVER_DIR "/sys/bus/pci/drivers/simgpu"

static int rebind(const char *bdf)
{
	int ret = write_deadline(DRIVER_DIR "/bind", bdf, 60);
	double end = now_s() + 30;
	char path[128];

	snprintf(path, sizeof(path), DRIVER_DIR "/%s", bdf);
	while (!ret && access(path, F_OK) && now_s() < end)
		usleep(50000);
	return ret;
}

static int unbind_mode(struct tap *t)
{
	const uint64_t size = 8 * MiB;
	struct dma_buf_export_sync_file es = { .flags = DMA_BUF_SYNC_RW };
	struct gpu a, b;
	char abdf[64], bbdf[64];
	uint32_t x, y, hx, hy, d, e;
	struct drm_simgpu_cmd c;
	uint64_t bad, seqno;
	long long inv0, inv;
	int bx, by, ret, r1, r2, r3;

	if (gpu_open(&a, 0) || gpu_open(&b, 1) ||
	    fd_bdf(a.fd, abdf, sizeof(abdf)) ||
	    fd_bdf(b.fd, bbdf, sizeof(bbdf))) {
		tap_check(t, false, "unbind: two simgpu devices with debugfs");
		return 1;
	}
	/*
	 * 1. B imports a TT and a VRAM BO of A, maps both, has a copy from
	 * one queued, and is unbound: its mappings go back to A first (the
	 * DMA API debugger fails the run otherwise); the sync_file of B's
	 * fence outlives B; A's BOs still move, content intact.
	 */
	ret = bo_create(a.fd, size, PL(TT) | PL(SYSTEM), TT, 0, &x);
	if (!ret)
		ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT), VRAM0, 0, &y);
	if (!ret)
		ret = bo_fill(a.fd, x, size, 61);
	if (!ret)
		ret = bo_fill(a.fd, y, size, 62);
	bx = ret ? ret : export_fd(a.fd, x);
	by = bx < 0 ? bx : export_fd(a.fd, y);
	ret = by < 0 ? by : import_fd(b.fd, bx, &hx);
	if (!ret)
		ret = import_fd(b.fd, by, &hy);
	if (!ret)
		ret = bo_create(b.fd, size, PL(VRAM0), VRAM0, 0, &d);
	if (!ret)
		ret = copy_bo(b.fd, hy, d, size);
	if (!ret) {
		c = cmd_copy(hx, 0, d, 0, size);
		ret = gpu_submit(b.fd, &c, 1, &seqno);
	}
	es.fd = -1;
	if (!ret && ioctl(bx, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &es))
		ret = -errno;
	r1 = ret ? ret : write_deadline(DRIVER_DIR "/unbind", bbdf, 60);
	gem_close(b.fd, hx);
	gem_close(b.fd, hy);
	gem_close(b.fd, d);
	close(b.fd);
	r2 = r1 ? r1 : bo_migrate(a.fd, x, SYSTEM, 0);
	if (!r2)
		r2 = bo_migrate(a.fd, y, TT, 0);
	bad = bo_check(a.fd, x, size, 61) + bo_check(a.fd, y, size, 62);
	tap_check(t, !ret && !r1 && !r2 && !bad && es.fd >= 0 &&
		  poll(&(struct pollfd){ .fd = es.fd, .events = POLLIN }, 1,
		       5000) == 1,
		  "unbind: B unbound with A's TT and VRAM BOs imported and mapped and a copy queued (%s, unbind %s); the dma-buf's sync_file signalled, A's BOs migrate (%s), %llu bad bytes",
		  strerror(-ret), strerror(-r1), strerror(-r2),
		  (unsigned long long)bad);
	if (es.fd >= 0)
		close(es.fd);
	ret = rebind(bbdf);
	if (!ret && gpu_open(&b, 1))
		ret = -ENODEV;
	tap_check(t, !ret, "unbind: B bound again (%s)", strerror(-ret));
	if (ret)
		return 1;

	/*
	 * 2. A is unbound while B holds both imports mapped: B's next use
	 * fails (the buffer is gone with A), nothing hangs, B still works.
	 */
	ret = import_fd(b.fd, bx, &hx);
	if (!ret)
		ret = import_fd(b.fd, by, &hy);
	if (!ret)
		ret = bo_create(b.fd, size, PL(VRAM0), VRAM0, 0, &d);
	if (!ret)
		ret = bo_create(b.fd, size, PL(VRAM0), VRAM0, 0, &e);
	if (!ret)
		ret = copy_bo(b.fd, hx, d, size);
	if (!ret)
		ret = copy_bo(b.fd, hy, e, size);
	bad = ret ? size : bo_check(b.fd, d, size, 61) +
			   bo_check(b.fd, e, size, 62);
	gem_close(a.fd, x);
	gem_close(a.fd, y);
	close(a.fd);
	inv0 = gpu_stat(&b, "import_invalidations");
	r1 = ret ? ret : write_deadline(DRIVER_DIR "/unbind", abdf, 60);
	inv = gpu_stat(&b, "import_invalidations") - inv0;
	r2 = copy_bo(b.fd, hx, d, size);
	r3 = copy_bo(b.fd, hy, e, size);
	ret = ret ? ret : bo_fill(b.fd, d, size, 63);
	if (!ret)
		ret = copy_bo(b.fd, d, e, size);
	bad += ret ? size : bo_check(b.fd, e, size, 63);
	tap_check(t, !r1 && !ret && !bad && inv == 2 && r2 == -ENODEV &&
		  r3 == -ENODEV,
		  "unbind: A unbound while B had its TT and VRAM BOs imported and mapped (unbind %s): B dropped %lld mappings (want 2), its copies from them then fail with %s and %s (want ENODEV), B's own copy works (%s), %llu bad bytes",
		  strerror(-r1), inv, r2 ? strerror(-r2) : "success",
		  r3 ? strerror(-r3) : "success", strerror(-ret),
		  (unsigned long long)bad);
	gem_close(b.fd, hx);
	gem_close(b.fd, hy);
	gem_close(b.fd, d);
	gem_close(b.fd, e);
	close(b.fd);
	close(bx);
	close(by);
	rebind(abdf);
	return 0;
}

/* --- virgl: a virtio-gpu 3D resource rendered by virglrenderer ----------- */

/* The virgl protocol (virglrenderer's virgl_protocol.h), what a clear needs. */
#define VIRGL_CMD0(cmd, obj, len)	((cmd) | ((obj) << 8) | ((len) << 16))
#define VIRGL_CCMD_CREATE_OBJECT	1
#define VIRGL_CCMD_SET_FRAMEBUFFER_STATE 5
#define VIRGL_CCMD_CLEAR		7
#define VIRGL_OBJECT_SURFACE		8
#define VIRGL_OBJ_SURFACE_SIZE		5
#define VIRGL_OBJ_CLEAR_SIZE		8
#define VIRGL_FORMAT_B8G8R8A8_UNORM	1
#define VIRGL_BIND_RENDER_TARGET	(1 << 1)
#define PIPE_TEXTURE_2D			2
#define PIPE_CLEAR_COLOR0		(1 << 2)

#define VIRGL_W 256
#define VIRGL_H 256
/* (0.2, 0.4, 0.6, 1.0) as B8G8R8A8: bytes 0x99 0x66 0x33 0xff. */
#define VIRGL_PIXEL 0xff336699u

/* The render node of the virtio-gpu with virgl 3D, or -ENODEV. */
static int virgl_open(void)
{
	struct drm_virtgpu_getparam gp = { .param = VIRTGPU_PARAM_3D_FEATURES };
	char path[32], name[16];
	int value = 0, i, fd;

	if (system("modprobe virtio-gpu"))
		return -ENODEV;
	for (i = 128; i < 136; i++) {
		struct drm_version v = { .name = name, .name_len = sizeof(name) - 1 };

		snprintf(path, sizeof(path), "/dev/dri/renderD%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		gp.value = (uintptr_t)&value;
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) &&
		    !strcmp(name, "virtio_gpu") &&
		    !ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &gp) && value == 1)
			return fd;
		close(fd);
	}
	return -ENODEV;
}

static float virgl_f(uint32_t *u, float f)
{
	memcpy(u, &f, sizeof(*u));
	return f;
}

/*
 * A 256x256 B8G8R8A8 texture of virtio-gpu @vfd cleared on the host by
 * virglrenderer (a surface, the framebuffer, a clear) and transferred to
 * its guest pages; its GEM handle in *@bo.
 */
static int virgl_clear(int vfd, uint32_t *bo)
{
	struct drm_virtgpu_resource_create rc = {
		.target = PIPE_TEXTURE_2D, .format = VIRGL_FORMAT_B8G8R8A8_UNORM,
		.bind = VIRGL_BIND_RENDER_TARGET, .width = VIRGL_W,
		.height = VIRGL_H, .depth = 1, .array_size = 1,
		.size = VIRGL_W * VIRGL_H * 4, .stride = VIRGL_W * 4,
	};
	struct drm_virtgpu_3d_transfer_from_host tf = { 0 };
	struct drm_virtgpu_execbuffer eb = { 0 };
	struct drm_virtgpu_3d_wait w = { 0 };
	uint32_t cmd[32], n = 0;
	int ret;

	ret = drm_xioctl(vfd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE, &rc);
	if (ret)
		return ret;
	*bo = rc.bo_handle;
	cmd[n++] = VIRGL_CMD0(VIRGL_CCMD_CREATE_OBJECT, VIRGL_OBJECT_SURFACE,
			      VIRGL_OBJ_SURFACE_SIZE);
	cmd[n++] = 1;			/* surface handle */
	cmd[n++] = rc.res_handle;
	cmd[n++] = VIRGL_FORMAT_B8G8R8A8_UNORM;
	cmd[n++] = 0;			/* level */
	cmd[n++] = 0;			/* first | last layer << 16 */
	cmd[n++] = VIRGL_CMD0(VIRGL_CCMD_SET_FRAMEBUFFER_STATE, 0, 1 + 2);
	cmd[n++] = 1;			/* color buffers */
	cmd[n++] = 0;			/* no depth/stencil surface */
	cmd[n++] = 1;			/* the surface */
	cmd[n++] = VIRGL_CMD0(VIRGL_CCMD_CLEAR, 0, VIRGL_OBJ_CLEAR_SIZE);
	cmd[n++] = PIPE_CLEAR_COLOR0;
	virgl_f(&cmd[n++], 0.2f);
	virgl_f(&cmd[n++], 0.4f);
	virgl_f(&cmd[n++], 0.6f);
	virgl_f(&cmd[n++], 1.0f);
	cmd[n++] = 0;			/* depth, a double */
	cmd[n++] = 0;
	cmd[n++] = 0;			/* stencil */
	eb.command = (uintptr_t)cmd;
	eb.size = n * sizeof(cmd[0]);
	eb.bo_handles = (uintptr_t)bo;
	eb.num_bo_handles = 1;
	ret = drm_xioctl(vfd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb);
	if (ret)
		return ret;
	tf.bo_handle = *bo;
	tf.box.w = VIRGL_W;
	tf.box.h = VIRGL_H;
	tf.box.d = 1;
	ret = drm_xioctl(vfd, DRM_IOCTL_VIRTGPU_TRANSFER_FROM_HOST, &tf);
	if (ret)
		return ret;
	w.handle = *bo;
	return drm_xioctl(vfd, DRM_IOCTL_VIRTGPU_WAIT, &w);
}

/* Pixels of @p (VIRGL_W x VIRGL_H) that are not the clear colour. */
static uint64_t virgl_check(const void *p)
{
	const uint32_t *px = p;
	uint64_t bad = 0, i;

	for (i = 0; i < VIRGL_W * VIRGL_H; i++)
		bad += px[i] != VIRGL_PIXEL;
	return bad;
}

static uint64_t bo_check_virgl(int fd, uint32_t handle)
{
	const uint64_t size = VIRGL_W * VIRGL_H * 4;
	void *p = bo_map(fd, handle, size);
	uint64_t bad;

	if (!p)
		return VIRGL_W * VIRGL_H;
	bad = virgl_check(p);
	munmap(p, size);
	return bad;
}

static int virgl_mode(struct tap *t)
{
	const uint64_t size = VIRGL_W * VIRGL_H * 4;
	struct drm_virtgpu_map vm = { 0 };
	uint64_t bad = size, bad_map = size;
	long long im0, at0, pins0;
	uint32_t vbo, h, d, x, hv;
	int vfd, buf, ret, r2;
	struct gpu a;
	void *p;

	vfd = virgl_open();
	if (gpu_open(&a, 0) || vfd < 0) {
		tap_check(t, false, "virgl: a simgpu and a virtio-gpu with virgl 3D (%s)",
			  strerror(-vfd));
		return 1;
	}
	/* 1. virglrenderer clears a texture; its guest pages show it. */
	ret = virgl_clear(vfd, &vbo);
	if (!ret) {
		vm.handle = vbo;
		ret = drm_xioctl(vfd, DRM_IOCTL_VIRTGPU_MAP, &vm);
	}
	if (!ret) {
		p = mmap(NULL, size, PROT_READ, MAP_SHARED, vfd, vm.offset);
		if (p != MAP_FAILED) {
			bad_map = virgl_check(p);
			munmap(p, size);
		}
	}
	tap_check(t, !ret && !bad_map,
		  "virgl: a 256x256 texture cleared to (0.2, 0.4, 0.6, 1) by virglrenderer on the host's software GL, transferred to the guest: %llu pixels differ (%s)",
		  (unsigned long long)bad_map, strerror(-ret));

	/*
	 * 2. Exported and imported into simgpu, whose engine copies it into
	 * VRAM; the copy goes through eviction and the shrinker.
	 */
	im0 = gpu_stat(&a, "imports");
	buf = ret ? ret : export_fd(vfd, vbo);
	ret = buf < 0 ? buf : import_fd(a.fd, buf, &h);
	if (!ret)
		ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT) | PL(SYSTEM),
				VRAM0, 0, &d);
	if (!ret)
		ret = copy_bo(a.fd, h, d, size);
	if (!ret)
		bad = bo_check_virgl(a.fd, d);
	if (!ret)
		ret = gpu_dbg_write(&a, "evict_vram", "1");
	if (!ret)
		ret = bo_migrate(a.fd, d, SYSTEM, 0);
	if (!ret)
		ret = gpu_dbg_write(&a, "shrink", "100000");
	if (!ret)
		ret = bo_migrate(a.fd, d, VRAM0, 0);
	if (!ret)
		bad += bo_check_virgl(a.fd, d);
	tap_check(t, !ret && !bad && gpu_stat(&a, "imports") > im0,
		  "virgl: the texture exported by virtio-gpu, imported into simgpu, copied by its engine into VRAM, evicted, backed up and restored: %llu pixels differ (%s)",
		  (unsigned long long)bad, strerror(-ret));

	/*
	 * 3. The other way: virtio-gpu in 3D mode imports no foreign
	 * buffer (its import_sg_table is -ENODEV; only 2D blob mode imports
	 * dynamically, which QEMU offers only with host udmabuf).  Its
	 * static attach pins simgpu's BO for the moment it tries.
	 */
	at0 = gpu_stat(&a, "dmabuf_attach");
	pins0 = gpu_stat(&a, "dmabuf_pins");
	ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT) | PL(SYSTEM), VRAM0, 0,
			&x);
	if (!ret)
		ret = bo_fill(a.fd, x, size, 71);
	if (buf >= 0)
		close(buf);
	buf = ret ? ret : export_fd(a.fd, x);
	r2 = buf < 0 ? buf : import_fd(vfd, buf, &hv);
	ret = buf < 0 ? buf : bo_migrate(a.fd, x, SYSTEM, 0);
	bad = bo_check(a.fd, x, size, 71);
	tap_check(t, r2 == -ENODEV && !ret && !bad &&
		  gpu_stat(&a, "dmabuf_attach") > at0 &&
		  gpu_stat(&a, "dmabuf_pins") > pins0,
		  "virgl: a simgpu BO imported into virtio-gpu (3D mode) fails with %s (want ENODEV) after a static attach and pin; the BO is unpinned after (migrates: %s), %llu bad bytes",
		  strerror(-r2), strerror(-ret), (unsigned long long)bad);
	if (buf >= 0)
		close(buf);
	close(vfd);
	close(a.fd);
	return 0;
}

/* --- bench: what sharing costs ----------------------------------------- */

#define BENCH_MB 64
#define BENCH_REPS 5
#define CYCLE_REPS 9

/*
 * B's engine copies 64 MiB from @src into @dst, BENCH_REPS times, with
 * new content each time (written by @fill_fd's CPU into @fill, not
 * timed) and the destination verified (not timed); returns MiB/s.
 */
static double bench_copy(const char *figure, struct gpu *b, uint32_t src,
			 uint32_t dst, int fill_fd, uint32_t fill,
			 uint64_t *bad)
{
	const uint64_t size = BENCH_MB * MiB;
	double t[BENCH_REPS];
	unsigned int i;

	/* Warm-up: the import mapped, the destination placed. */
	copy_bo(b->fd, src, dst, size);
	for (i = 0; i < BENCH_REPS; i++) {
		double t0;

		bo_fill(fill_fd, fill, size, 200 + i);
		t0 = now_s();
		if (copy_bo(b->fd, src, dst, size))
			*bad += size;
		t[i] = now_s() - t0;
		*bad += bo_check(b->fd, dst, size, 200 + i);
	}
	return bench_report(figure, BENCH_MB, t, BENCH_REPS);
}

/* Median of @n microsecond timings. */
static double median_us(double *t, unsigned int n)
{
	unsigned int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && t[j - 1] > t[j]; j--) {
			double x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	return t[n / 2];
}

/*
 * A moves its BO @x out of TT and back (@import: B has it imported, so
 * each move invalidates B's mapping), then B's engine copies one page of
 * @hb (which maps the whole import again); median µs of CYCLE_REPS.
 */
static double bench_cycle(struct gpu *a, uint32_t x, struct gpu *b,
			  uint32_t hb, uint32_t d, uint64_t *bad)
{
	double t[CYCLE_REPS];
	unsigned int i;

	for (i = 0; i < CYCLE_REPS; i++) {
		double t0 = now_s();

		if (bo_migrate(a->fd, x, SYSTEM, 0) ||
		    bo_migrate(a->fd, x, TT, 0) ||
		    copy_bo(b->fd, hb, d, PAGE))
			*bad += PAGE;
		t[i] = (now_s() - t0) * 1e6;
	}
	return median_us(t, CYCLE_REPS);
}

static int bench_mode(struct tap *t)
{
	const uint64_t size = BENCH_MB * MiB;
	uint32_t xt, xv, xo, hb_t, hb_v, nt, d;
	long long inv0, map0, inv, maps;
	double native, imp_tt, imp_vram, with, without;
	struct gpu a, b;
	uint64_t bad = 0;
	int bt, bv, ret;
	bool p2p;

	if (gpu_open(&a, 0) || gpu_open(&b, 1)) {
		tap_check(t, false, "bench: two simgpu devices with debugfs");
		return 1;
	}
	/* A's TT BO and VRAM BO, shared, and a TT BO it keeps to itself. */
	ret = bo_create(a.fd, size, PL(TT) | PL(SYSTEM), TT, 0, &xt);
	if (!ret)
		ret = bo_create(a.fd, size, PL(VRAM0) | PL(TT), VRAM0, 0, &xv);
	if (!ret)
		ret = bo_create(a.fd, size, PL(TT) | PL(SYSTEM), TT, 0, &xo);
	if (!ret)
		ret = bo_create(b.fd, size, PL(TT), TT, 0, &nt);
	if (!ret)
		ret = bo_create(b.fd, size, PL(VRAM0), VRAM0, 0, &d);
	bt = ret ? ret : export_fd(a.fd, xt);
	bv = bt < 0 ? bt : export_fd(a.fd, xv);
	ret = bv < 0 ? bv : import_fd(b.fd, bt, &hb_t);
	if (!ret)
		ret = import_fd(b.fd, bv, &hb_v);
	if (!tap_check(t, !ret, "bench: 64 MiB BOs of A in TT and VRAM exported, imported into B (%s)",
		       strerror(-ret)))
		return 1;

	native = bench_copy("copy_native_tt", &b, nt, d, b.fd, nt, &bad);
	imp_tt = bench_copy("copy_import_tt", &b, hb_t, d, a.fd, xt, &bad);
	imp_vram = bench_copy("copy_import_vram", &b, hb_v, d, a.fd, xv, &bad);
	p2p = gpu_stat(&a, "dmabuf_maps_vram") > 0 && bo_mem(a.fd, xv) == VRAM0;

	/*
	 * The cycle, and the same without sharing: A moves a BO of its own,
	 * B copies a page of its own TT BO.
	 */
	inv0 = gpu_stat(&b, "import_invalidations");
	map0 = gpu_stat(&b, "import_maps");
	with = bench_cycle(&a, xt, &b, hb_t, d, &bad);
	inv = gpu_stat(&b, "import_invalidations") - inv0;
	maps = gpu_stat(&b, "import_maps") - map0;
	without = bench_cycle(&a, xo, &b, nt, d, &bad);
	printf("# bench-us invalidate_remap mib %d reps %d median_us %.0f baseline_us %.0f cycle_us %.0f\n",
	       BENCH_MB, CYCLE_REPS, with, without, with - without);
	tap_check(t, !bad && native > 0 && imp_tt > 0 && imp_vram > 0 &&
		  inv >= CYCLE_REPS && maps >= CYCLE_REPS,
		  "bench: B's engine copied 64 MiB from its own TT BO at %.0f MiB/s, from A's TT BO at %.0f (%.2fx), from A's VRAM BO (%s) at %.0f (%.2fx); an invalidate + re-map cycle of A's 64 MiB TT BO costs %.0f us (%.0f with B's import invalidated and mapped again, %lld and %lld times, %.0f without); %llu bad bytes",
		  native, imp_tt, imp_tt / native,
		  p2p ? "peer-to-peer through A's BAR" : "moved to TT", imp_vram,
		  imp_vram / native, with - without, with, inv, maps, without,
		  (unsigned long long)bad);
	close(bt);
	close(bv);
	close(a.fd);
	close(b.fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all";
	bool all = !strcmp(mode, "all");
	struct tap t;
	int i;

	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--p2p") && i + 1 < argc) {
			want_p2p = !strcmp(argv[++i], "yes");
		} else if (!strcmp(argv[i], "--pressure") && i + 1 < argc) {
			pressure_mib = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: simgpu-dmabuf [share|pin|foreign|bad|sync|unbind|all|bench|virgl] [--rounds N] [--p2p yes|no] [--pressure MIB]\n");
			return 2;
		}
	}
	if (all)
		tap_plan(&t, 6 + !!pressure_mib + 3 + 3 + 3 + 2 + 3);
	else if (!strcmp(mode, "share"))
		tap_plan(&t, 6 + !!pressure_mib);
	else if (!strcmp(mode, "pin") || !strcmp(mode, "foreign") ||
		 !strcmp(mode, "bad") || !strcmp(mode, "unbind"))
		tap_plan(&t, 3);
	else if (!strcmp(mode, "sync") || !strcmp(mode, "bench"))
		tap_plan(&t, 2);
	else if (!strcmp(mode, "virgl"))
		tap_plan(&t, 3);
	else {
		fprintf(stderr, "simgpu-dmabuf: unknown mode '%s'\n", mode);
		return 2;
	}
	if (all || !strcmp(mode, "share"))
		share_mode(&t);
	if (all || !strcmp(mode, "pin"))
		pin_mode(&t);
	if (all || !strcmp(mode, "foreign"))
		foreign_mode(&t);
	if (all || !strcmp(mode, "bad"))
		bad_mode(&t);
	if (all || !strcmp(mode, "sync"))
		sync_mode(&t);
	if (all || !strcmp(mode, "unbind"))
		unbind_mode(&t);
	if (!strcmp(mode, "bench"))
		bench_mode(&t);
	if (!strcmp(mode, "virgl"))
		virgl_mode(&t);
	return tap_finish(&t);
}
