// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-race: concurrency.  Threads and processes use the same BOs while
 * others move them, shrink them, purge them and close them; every byte is
 * checked, every ioctl may fail only with a documented error, and the
 * driver's debugfs counters must show that the path each mode is about
 * really ran.  One mode per run:
 *
 * Usage: simgpu-race MODE [--seconds N] [--threads N] [--procs N]
 *                         [--bos N] [--bo-mb N] [--rounds N] [--deadline N]
 *                         [--syscall LIST]
 *
 *   faults   (--seconds, --threads) threads CPU-fault the same BOs through
 *            their own mmaps (each writes its stripe of pages with a new
 *            generation, reads it back exactly and checks a window of the
 *            BO; every word names its BO, offset and generation, so any
 *            reader can check any word) while other threads migrate them
 *            between every placement
 *            (CPU-visible VRAM or not), run shrink passes and evict_vram,
 *            cycle a separate set of purgeable BOs through DONTNEED and
 *            WILLNEED (a BO read while DONTNEED holds its content, then
 *            zeroes; WILLNEED with retained=0 must read zero, retained=1
 *            the whole content), and create BOs that other threads map
 *            and that their creator GEM-closes and unmaps while the others
 *            still read them through their own mappings (all of a BO
 *            before a reader unmaps it).  At the end every byte of every
 *            BO must hold its last generation.  Allowed errors: ENOSPC
 *            (migrate), ENOENT (migrate of a closed handle).
 *   fork     (--seconds, --procs) children read and write the mappings they
 *            inherited (each its stripe, and a window of the whole; a
 *            grandchild reads all) and remap some of them, while the parent migrates the BOs, runs shrink
 *            passes, GEM-closes one BO's handle and unmaps its own mapping
 *            of another; then the parent checks every byte.
 *   kaccess  (--bo-mb, --rounds, --deadline) the kernel accesses BO memory:
 *            pwrite(), write(), pread(), read() on a tmpfs file (memfd)
 *            and write()/read() on a pipe with a mapped BO as the user
 *            buffer, the BO backed up by a shrink pass before each loop
 *            and by two more during it (each soon after the kernel's
 *            fault restored it), under a 200 us SIGALRM itimer
 *            (handler, no SA_RESTART).  Each call
 *            must complete, or return a partial count, EINTR or EFAULT,
 *            and each loop must finish.  Each syscall loop runs in a child
 *            with a deadline; a child that misses it is stuck in the
 *            kernel: its state is printed (and the CPUs' backtraces via
 *            sysrq), and the program exits at once without waiting.
 *            --syscall pwrite,write,pread,read,pipe-write,pipe-read (a
 *            comma-separated subset) runs only those loops.
 *   many     (--bos, 20000 by default) one-page BOs created in VRAM0 (which
 *            must hold them), then mapped and filled; evict_vram sends them all to TT
 *            and, as the GART fills up, on to SYSTEM; a shrink pass backs
 *            every one up; migrations to VRAM0 and CPU faults restore
 *            them.  Every byte verified after each step; the counters
 *            must show the evictions, backups and restores.
 *   gart     TT-only BOs of an eighth of the GART each, 11 of them: the
 *            older ones are evicted to SYSTEM, nothing lost.  A TT-only
 *            BO larger than the GART fails with ENOSPC, as does migrating
 *            a bigger TT|SYSTEM one to TT; a submission whose TT-only BOs
 *            exceed the GART fails (ENOSPC/ENOMEM) and changes nothing;
 *            one that fills the GART exactly runs.  VRAM eviction works
 *            with a full GART: BOs migrated into full VRAM0 evict others
 *            while the GART is full of idle TT-only BOs, and a submission
 *            that holds the whole GART and needs room in full VRAM0 must
 *            evict VRAM BOs to SYSTEM (run with a small --gart; this
 *            last step needs a reserved GART window in the driver and
 *            runs only with --full-gart 1).
 *   regions  (--procs, --rounds) two VRAM regions under pressure at once:
 *            processes migrate BOs with cross-region placement masks
 *            (VRAM0|VRAM1, VRAM1|TT, VRAM0|SYSTEM, ...) and verify every
 *            byte after each move; evictions from both regions counted.
 *
 * Every mode ends with the smoke checks (the device still works).
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define PAGE 4096ULL
#define PL(mem) DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_##mem)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static struct {
	double seconds;
	unsigned int threads;
	unsigned int procs;
	unsigned int bos;
	unsigned int bo_mb;
	unsigned int rounds;
	unsigned int deadline;
} opt = {
	.seconds = 15, .threads = 3, .procs = 3, .bos = 20000, .bo_mb = 8,
	.rounds = 4, .deadline = 60,
};

/* ------------------------------------------------------------------ */
/* Output from several threads: one line at a time. */

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint notes;

static void vdiag(const char *fmt, va_list ap)
{
	char buf[600];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	pthread_mutex_lock(&out_lock);
	printf("# %s\n", buf);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

/* A diagnostic about a failure: the first 40 of a run are printed. */
static void note(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&notes, 1) >= 40)
		return;
	va_start(ap, fmt);
	vdiag(fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/*
 * Self-describing words: the top 16 bits are a generation, the low 48 a
 * hash of (BO key, byte offset, generation).  Any reader can check any
 * word of a BO that others write (it must be a word of that BO at that
 * offset, of some generation); the writer checks its generation exactly.
 * Zero is never a valid word.
 */
#define GEN_MASK 0xffffULL
#define VAL_MASK ((1ULL << 48) - 1)

static inline uint64_t smix(uint64_t key, uint64_t off, uint64_t gen)
{
	uint64_t z = key * 0x9e3779b97f4a7c15ULL ^
		     (off >> 3) * 0xd1b54a32d192ed03ULL ^
		     (gen + 1) * 0x8cb92ba72f3d8dd7ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t sword(uint64_t key, uint64_t off, uint64_t gen)
{
	gen &= GEN_MASK;
	return gen << 48 | (smix(key, off, gen) & VAL_MASK);
}

static unsigned int byte_diff(uint64_t x)
{
	unsigned int n = 0;

	for (; x; x >>= 8)
		n += (x & 0xff) != 0;
	return n;
}

/* Write generation @gen over [off, off + len) of the BO mapped at @base. */
static void sfill(void *base, uint64_t off, uint64_t len, uint64_t key,
		  uint64_t gen)
{
	uint64_t *w = (uint64_t *)((char *)base + off);
	uint64_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = sword(key, off + 8 * i, gen);
}

struct bad {
	uint64_t bytes;
	uint64_t off;		/* of the first bad word */
	uint64_t got, want;
};

static void bad_word(struct bad *b, uint64_t off, uint64_t got,
		     uint64_t want)
{
	if (!b->bytes) {
		b->off = off;
		b->got = got;
		b->want = want;
	}
	b->bytes += byte_diff(got ^ want);
}

/* scheck()'s generation for "any": generations fit in 16 bits. */
#define GEN_ANY UINT64_MAX

/*
 * Bytes of [off, off + len) that are not generation @gen, or with
 * GEN_ANY, no valid word of any generation.
 */
static uint64_t scheck(const void *base, uint64_t off, uint64_t len,
		       uint64_t key, uint64_t gen, struct bad *b)
{
	const volatile uint64_t *w =
		(const volatile uint64_t *)((const char *)base + off);
	struct bad local = { 0 };
	uint64_t i;

	if (!b)
		b = &local;
	for (i = 0; i < len / 8; i++) {
		uint64_t got = w[i];
		uint64_t want = sword(key, off + 8 * i,
				      gen == GEN_ANY ? got >> 48 : gen);

		if (got != want)
			bad_word(b, off + 8 * i, got, want);
	}
	return b->bytes;
}

static uint64_t scheck_any(const void *base, uint64_t off, uint64_t len,
			   uint64_t key, struct bad *b)
{
	return scheck(base, off, len, key, GEN_ANY, b);
}

/* Bytes of [off, off + len) that are not zero. */
static uint64_t zcheck(const void *base, uint64_t off, uint64_t len,
		       struct bad *b)
{
	const volatile uint64_t *w =
		(const volatile uint64_t *)((const char *)base + off);
	struct bad local = { 0 };
	uint64_t i;

	if (!b)
		b = &local;
	for (i = 0; i < len / 8; i++)
		if (w[i])
			bad_word(b, off + 8 * i, w[i], 0);
	return b->bytes;
}

/* ------------------------------------------------------------------ */
/* The driver's counters: a snapshot of simgpu_stats. */

#define SNAP_MAX 128

struct snap {
	unsigned int n;
	char name[SNAP_MAX][40];
	long long val[SNAP_MAX];
};

static void snap_take(struct snap *s)
{
	glob_t g;
	FILE *f = NULL;

	s->n = 0;
	if (!glob("/sys/kernel/debug/dri/*/simgpu_stats", 0, NULL, &g)) {
		if (g.gl_pathc)
			f = fopen(g.gl_pathv[0], "r");
		globfree(&g);
	}
	if (!f)
		return;
	while (s->n < SNAP_MAX &&
	       fscanf(f, "%39s %lld", s->name[s->n], &s->val[s->n]) == 2)
		s->n++;
	fclose(f);
}

static long long snap_val(const struct snap *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->val[i];
	return -1;
}

static long long dlt(const struct snap *a, const struct snap *b,
		     const char *name)
{
	return snap_val(b, name) - snap_val(a, name);
}

static const char *const mem_lc[] = { "vram0", "vram1", "tt", "system" };

static long long dmove(const struct snap *a, const struct snap *b,
		       uint32_t from, uint32_t to)
{
	char name[40];

	snprintf(name, sizeof(name), "move_%s_%s", mem_lc[from], mem_lc[to]);
	return dlt(a, b, name);
}

static long long devict(const struct snap *a, const struct snap *b,
			uint32_t from, uint32_t to)
{
	char name[40];

	snprintf(name, sizeof(name), "evict_%s_%s", mem_lc[from], mem_lc[to]);
	return dlt(a, b, name);
}

/* One diagnostic line with every counter that changed from @a to @b. */
static void snap_diag(const char *what, const struct snap *a,
		      const struct snap *b)
{
	char line[1500];
	size_t len = 0;
	unsigned int i;

	line[0] = '\0';
	for (i = 0; i < b->n && len < sizeof(line) - 64; i++) {
		long long d = b->val[i] - snap_val(a, b->name[i]);

		if (!d || strstr(b->name[i], "_used_bytes") ||
		    strstr(b->name[i], "able_pages"))
			continue;
		len += snprintf(line + len, sizeof(line) - len, " %s %+lld",
				b->name[i], d);
	}
	diag("%s:%s", what, len ? line : " no counter changed");
}

/* ------------------------------------------------------------------ */
/* Small helpers. */

static int xmadvise(int fd, uint32_t handle, uint32_t madv,
		    uint32_t *retained)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);

	*retained = m.retained;
	return ret;
}

static int shrink(uint64_t pages, bool writeback)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%llu%s", (unsigned long long)pages,
		 writeback ? " w" : "");
	return dbg_write("shrink", buf);
}

static int mmap_offset(int fd, uint32_t handle, uint64_t *offset)
{
	struct drm_simgpu_gem_mmap_offset m = { .handle = handle };
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m);

	*offset = m.offset;
	return ret;
}

static void *map_at(int fd, uint64_t offset, uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       offset);

	return p == MAP_FAILED ? NULL : p;
}

/* A random placement of @mask. */
static uint32_t rnd_mem(uint64_t *rng, uint32_t mask)
{
	uint32_t mem;

	do
		mem = rnd_next(rng) % DRM_SIMGPU_NUM_MEM;
	while (!(mask & DRM_SIMGPU_PLACEMENT(mem)));
	return mem;
}

static const char *errname(int err)
{
	static __thread char buf[24];

	switch (err) {
	case 0: return "0";
	case -ENOSPC: return "ENOSPC";
	case -ENOMEM: return "ENOMEM";
	case -ENOENT: return "ENOENT";
	case -EINVAL: return "EINVAL";
	case -EINTR: return "EINTR";
	case -EBUSY: return "EBUSY";
	case -EIO: return "EIO";
	case -EFAULT: return "EFAULT";
	case -EDEADLK: return "EDEADLK";
	case -EAGAIN: return "EAGAIN";
	case -EACCES: return "EACCES";
	case -E2BIG: return "E2BIG";
	case -512: return "ERESTARTSYS";
	}
	snprintf(buf, sizeof(buf), "%d", err);
	return buf;
}

static void sleep_us(uint64_t us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* The smoke checks as one test point. */
static void smoke_point(struct tap *t)
{
	int bad = smoke_checks(NULL);

	tap_check(t, !bad, "the device still works (smoke checks: %d failed)",
		  bad);
}

/* ------------------------------------------------------------------ */
/* faults: threads fault, migrate, shrink, purge and close the same BOs. */

#define FS_NBOS 6	/* shared BOs, striped between the faulting threads */
#define FP_NBOS 4	/* purgeable BOs of the madvise thread */
#define FE_SLOTS 3	/* BOs of the lifecycle thread, published to others */
#define FE_MAPS 4	/* of those, mapped at once by one faulting thread */
#define F_MAX_THREADS 8

static const uint64_t fs_sizes[FS_NBOS] = {
	64 << 10, 512 << 10, 128 << 10, 1 << 20, 192 << 10, 256 << 10,
};

/* Bytes of a BO a faulting thread checks each time: a random window. */
#define F_WINDOW (128 << 10)

static void f_window(uint64_t *rng, uint64_t size, uint64_t *off,
		     uint64_t *len)
{
	*len = size < F_WINDOW ? size : F_WINDOW;
	*off = (rnd_next(rng) % ((size - *len) / PAGE + 1)) * PAGE;
}

struct fbo {
	uint32_t handle;
	uint64_t size;
	uint64_t key;
	uint64_t offset;
	uint32_t mask;
};

enum { SLOT_EMPTY, SLOT_OPEN, SLOT_CLOSED };

struct fslot {
	pthread_mutex_t lock;
	int state;
	struct fbo bo;
	_Atomic uint32_t handle;	/* for the migrators, read unlocked */
};

static struct {
	int fd;
	uint32_t all;
	unsigned int nf;
	struct fbo s[FS_NBOS];
	struct fbo p[FP_NBOS];
	uint8_t *pmap[FP_NBOS];
	struct fslot e[FE_SLOTS];
	atomic_bool stop;
	uint32_t final_gen[F_MAX_THREADS][FS_NBOS];
	uint64_t final_pgen[FP_NBOS];
	/* faulting threads */
	atomic_ullong iters, bad_s, remaps, map_errs;
	atomic_ullong e_maps, e_reads, e_reads_closed, bad_e;
	/* lifecycle thread */
	atomic_ullong e_created, e_closes, e_errs;
	/* madvise thread */
	atomic_ullong m_cycles, m_purged, m_read_dontneed, m_viol, m_errs;
	/* migrators */
	atomic_ullong mig_ok[DRM_SIMGPU_NUM_MEM], mig_nospc, mig_enoent,
		mig_bad;
	/* shrinker */
	atomic_ullong shrinks, shrink_errs, evicts, evict_errs;
} F;

static void f_ebad(unsigned int t, const struct fbo *bo, const struct bad *bad)
{
	if (bad->bytes)
		note("faulter %u: BO 0x%llx of the lifecycle thread: %llu bad bytes, first at 0x%llx: 0x%016llx, want 0x%016llx",
		     t, (unsigned long long)bo->key,
		     (unsigned long long)bad->bytes,
		     (unsigned long long)bad->off,
		     (unsigned long long)bad->got,
		     (unsigned long long)bad->want);
	F.bad_e += bad->bytes;
}

static void *f_faulter(void *arg)
{
	unsigned int t = (unsigned int)(uintptr_t)arg, nf = F.nf, b, i;
	uint64_t rng = 0x1234567ULL + 7919ULL * t, p;
	struct {
		uint8_t *map;
		struct fbo bo;
		unsigned int slot;
	} em[FE_MAPS];
	uint8_t *map[FS_NBOS];
	uint32_t gen[FS_NBOS] = { 0 };
	unsigned int next_em = 0;

	memset(em, 0, sizeof(em));
	for (b = 0; b < FS_NBOS; b++) {
		map[b] = map_at(F.fd, F.s[b].offset, F.s[b].size);
		if (!map[b]) {
			note("faulter %u: mmap of BO %u failed: %s", t, b,
			     strerror(errno));
			F.map_errs++;
			return NULL;
		}
	}
	while (!F.stop) {
		const struct fbo *bo;
		struct bad bad = { 0 };
		uint64_t np, woff, wlen;

		b = rnd_next(&rng) % FS_NBOS;
		bo = &F.s[b];
		np = bo->size / PAGE;
		if (rnd_next(&rng) % 16 == 0) {
			/* A new mapping of our own; the others keep theirs. */
			munmap(map[b], bo->size);
			map[b] = map_at(F.fd, bo->offset, bo->size);
			F.remaps++;
			if (!map[b]) {
				note("faulter %u: mmap of BO %u again failed: %s",
				     t, b, strerror(errno));
				F.map_errs++;
				return NULL;
			}
		}
		gen[b]++;
		for (p = t; p < np; p += nf)
			sfill(map[b], p * PAGE, PAGE, bo->key, gen[b]);
		for (p = t; p < np; p += nf)
			scheck(map[b], p * PAGE, PAGE, bo->key, gen[b], &bad);
		if (bad.bytes)
			note("faulter %u: BO %u (%llu KiB) generation %u: %llu bad bytes in its own pages, first at 0x%llx: 0x%016llx, want 0x%016llx",
			     t, b, (unsigned long long)bo->size >> 10,
			     gen[b], (unsigned long long)bad.bytes,
			     (unsigned long long)bad.off,
			     (unsigned long long)bad.got,
			     (unsigned long long)bad.want);
		F.bad_s += bad.bytes;
		memset(&bad, 0, sizeof(bad));
		f_window(&rng, bo->size, &woff, &wlen);
		scheck_any(map[b], woff, wlen, bo->key, &bad);
		if (bad.bytes)
			note("faulter %u: BO %u: %llu bytes that are no word of it, first at 0x%llx: 0x%016llx, want 0x%016llx",
			     t, b, (unsigned long long)bad.bytes,
			     (unsigned long long)bad.off,
			     (unsigned long long)bad.got,
			     (unsigned long long)bad.want);
		F.bad_s += bad.bytes;

		/* Map a BO of the lifecycle thread while it is open. */
		if (rnd_next(&rng) % 4 == 0) {
			unsigned int j = rnd_next(&rng) % FE_SLOTS;
			struct fslot *sl = &F.e[j];

			i = next_em++ % FE_MAPS;
			if (em[i].map) {
				/* All of it once, before it goes. */
				memset(&bad, 0, sizeof(bad));
				scheck(em[i].map, 0, em[i].bo.size,
				       em[i].bo.key, 0, &bad);
				f_ebad(t, &em[i].bo, &bad);
				munmap(em[i].map, em[i].bo.size);
			}
			em[i].map = NULL;
			pthread_mutex_lock(&sl->lock);
			if (sl->state == SLOT_OPEN) {
				em[i].bo = sl->bo;
				em[i].slot = j;
				em[i].map = map_at(F.fd, sl->bo.offset,
						   sl->bo.size);
				if (!em[i].map) {
					note("faulter %u: mmap of an open BO of the lifecycle thread failed: %s",
					     t, strerror(errno));
					F.map_errs++;
				} else {
					F.e_maps++;
				}
			}
			pthread_mutex_unlock(&sl->lock);
		}
		for (i = 0; i < FE_MAPS; i++) {
			struct fslot *sl = &F.e[em[i].slot];
			bool closed;

			if (!em[i].map)
				continue;
			memset(&bad, 0, sizeof(bad));
			f_window(&rng, em[i].bo.size, &woff, &wlen);
			scheck(em[i].map, woff, wlen, em[i].bo.key, 0, &bad);
			f_ebad(t, &em[i].bo, &bad);
			F.e_reads++;
			pthread_mutex_lock(&sl->lock);
			closed = sl->state != SLOT_OPEN ||
				 sl->bo.key != em[i].bo.key;
			pthread_mutex_unlock(&sl->lock);
			F.e_reads_closed += closed;
		}
		F.iters++;
	}
	for (b = 0; b < FS_NBOS; b++) {
		F.final_gen[t][b] = gen[b];
		munmap(map[b], F.s[b].size);
	}
	for (i = 0; i < FE_MAPS; i++) {
		struct bad bad = { 0 };

		if (!em[i].map)
			continue;
		scheck(em[i].map, 0, em[i].bo.size, em[i].bo.key, 0, &bad);
		f_ebad(t, &em[i].bo, &bad);
		munmap(em[i].map, em[i].bo.size);
	}
	return NULL;
}

/*
 * Creates BOs, publishes them for the faulting threads to map, and after
 * a while GEM-closes them and unmaps its own mapping: the BOs live on in
 * the others' mappings.
 */
static void *f_lifecycle(void *arg)
{
	uint64_t rng = 0xfeedfaceULL, k = 0;
	uint8_t *own[FE_SLOTS] = { NULL };
	unsigned int j;
	int ret;

	(void)arg;
	while (!F.stop) {
		struct fslot *sl;
		struct fbo bo = { 0 };

		j = k++ % FE_SLOTS;
		sl = &F.e[j];
		pthread_mutex_lock(&sl->lock);
		if (sl->state == SLOT_OPEN) {
			ret = gem_close(F.fd, sl->bo.handle);
			if (ret) {
				note("lifecycle: GEM_CLOSE: %s", errname(ret));
				F.e_errs++;
			}
			sl->state = SLOT_CLOSED;
			F.e_closes++;
		}
		pthread_mutex_unlock(&sl->lock);
		if (own[j])
			munmap(own[j], sl->bo.size);
		own[j] = NULL;

		bo.size = (1 + rnd_next(&rng) % 8) * (64 << 10);
		bo.key = 0xe000000ULL + k;
		bo.mask = F.all;
		ret = bo_create(F.fd, bo.size, bo.mask,
				rnd_mem(&rng, bo.mask),
				k & 1 ? DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS : 0,
				&bo.handle);
		if (!ret)
			ret = mmap_offset(F.fd, bo.handle, &bo.offset);
		if (!ret) {
			own[j] = map_at(F.fd, bo.offset, bo.size);
			ret = own[j] ? 0 : -errno;
		}
		if (ret) {
			note("lifecycle: create/map of a %llu KiB BO: %s",
			     (unsigned long long)bo.size >> 10, errname(ret));
			F.e_errs++;
			sleep_us(10000);
			continue;
		}
		sfill(own[j], 0, bo.size, bo.key, 0);
		F.e_created++;
		pthread_mutex_lock(&sl->lock);
		sl->bo = bo;
		sl->state = SLOT_OPEN;
		sl->handle = bo.handle;
		pthread_mutex_unlock(&sl->lock);
		sleep_us(5000 + rnd_next(&rng) % 15000);
	}
	for (j = 0; j < FE_SLOTS; j++) {
		struct fslot *sl = &F.e[j];
		struct bad bad = { 0 };

		pthread_mutex_lock(&sl->lock);
		if (sl->state == SLOT_OPEN && own[j]) {
			scheck(own[j], 0, sl->bo.size, sl->bo.key, 0, &bad);
			F.bad_e += bad.bytes;
			gem_close(F.fd, sl->bo.handle);
			sl->state = SLOT_CLOSED;
		}
		pthread_mutex_unlock(&sl->lock);
		if (own[j])
			munmap(own[j], sl->bo.size);
	}
	return NULL;
}

/*
 * Purgeable BOs: DONTNEED, perhaps a shrink pass and a read (the words
 * hold their generation up to the purge, zero after it), then WILLNEED:
 * retained=1 must mean the whole content is there, retained=0 that the BO
 * reads zero (and must be reported if the read saw zeroes).
 */
static void *f_madvise(void *arg)
{
	uint64_t rng = 0xabcdef01ULL, gen[FP_NBOS] = { 0 };
	unsigned int b;

	(void)arg;
	while (!F.stop) {
		const struct fbo *bo;
		const volatile uint64_t *w;
		uint32_t r1 = 0, r2 = 0;
		bool saw_zero = false;
		struct bad bad = { 0 };
		uint64_t i, viol = 0;
		int ret;

		b = rnd_next(&rng) % FP_NBOS;
		bo = &F.p[b];
		w = (const volatile uint64_t *)F.pmap[b];
		ret = xmadvise(F.fd, bo->handle, DRM_SIMGPU_MADV_DONTNEED, &r1);
		if (ret) {
			note("madvise DONTNEED: %s", errname(ret));
			F.m_errs++;
			continue;
		}
		if (rnd_next(&rng) % 2 && shrink(1 + rnd_next(&rng) % 256, false)) {
			note("madvise thread: shrink pass failed");
			F.m_errs++;
		}
		if (rnd_next(&rng) % 2) {
			F.m_read_dontneed++;
			for (i = 0; i < bo->size / 8; i++) {
				uint64_t x = w[i], want = sword(bo->key, 8 * i,
								gen[b]);

				if (!x) {
					saw_zero = true;
				} else if (saw_zero || !r1 || x != want) {
					if (!viol++)
						note("madvise: BO %u read while DONTNEED (retained %u): 0x%016llx at 0x%llx, want 0x%016llx%s",
						     b, r1,
						     (unsigned long long)x,
						     (unsigned long long)(8 * i),
						     (unsigned long long)(r1 ? want : 0),
						     saw_zero ? " after zeroes" : "");
				}
			}
		}
		ret = xmadvise(F.fd, bo->handle, DRM_SIMGPU_MADV_WILLNEED, &r2);
		if (ret) {
			note("madvise WILLNEED: %s", errname(ret));
			F.m_errs++;
			continue;
		}
		if (r2 && (!r1 || saw_zero)) {
			note("madvise: BO %u: WILLNEED says retained, but %s",
			     b, r1 ? "it read zeroes while DONTNEED" :
			     "DONTNEED had dropped the content");
			viol++;
		}
		if (r2)
			scheck(F.pmap[b], 0, bo->size, bo->key, gen[b], &bad);
		else
			zcheck(F.pmap[b], 0, bo->size, &bad);
		if (bad.bytes) {
			note("madvise: BO %u after WILLNEED (retained %u): %llu bad bytes, first at 0x%llx: 0x%016llx, want 0x%016llx",
			     b, r2, (unsigned long long)bad.bytes,
			     (unsigned long long)bad.off,
			     (unsigned long long)bad.got,
			     (unsigned long long)bad.want);
			viol++;
		}
		F.m_viol += viol;
		F.m_purged += !r2;
		F.m_cycles++;
		gen[b]++;
		sfill(F.pmap[b], 0, bo->size, bo->key, gen[b]);
	}
	for (b = 0; b < FP_NBOS; b++)
		F.final_pgen[b] = gen[b];
	return NULL;
}

static void *f_migrator(void *arg)
{
	uint64_t rng = 0x9e3779b9ULL + (uintptr_t)arg;

	while (!F.stop) {
		unsigned int x = rnd_next(&rng) % 8;
		uint32_t handle, mask, mem, flags;
		bool ephemeral = false;
		int ret;

		if (x < 4) {
			handle = F.s[rnd_next(&rng) % FS_NBOS].handle;
			mask = F.all;
		} else if (x < 6) {
			const struct fbo *bo = &F.p[rnd_next(&rng) % FP_NBOS];

			handle = bo->handle;
			mask = bo->mask;
		} else {
			handle = F.e[rnd_next(&rng) % FE_SLOTS].handle;
			mask = F.all;
			ephemeral = true;
			if (!handle)
				continue;
		}
		mem = rnd_mem(&rng, mask);
		/* Now and then from one VRAM region straight to the other. */
		if ((mask & (PL(VRAM0) | PL(VRAM1))) == (PL(VRAM0) | PL(VRAM1)) &&
		    rnd_next(&rng) % 3 == 0) {
			int cur = bo_mem(F.fd, handle);

			if (cur == DRM_SIMGPU_MEM_VRAM0 ||
			    cur == DRM_SIMGPU_MEM_VRAM1)
				mem = !cur;
		}
		flags = rnd_next(&rng) % 4 ? 0 : DRM_SIMGPU_MIGRATE_CPU_VISIBLE;
		ret = bo_migrate(F.fd, handle, mem, flags);
		if (!ret)
			F.mig_ok[mem]++;
		else if (ret == -ENOSPC)
			F.mig_nospc++;
		else if (ret == -ENOENT && ephemeral)
			F.mig_enoent++;
		else {
			note("migrate handle %u to %s%s: %s", handle,
			     mem_name(mem), flags ? " (CPU-visible)" : "",
			     errname(ret));
			F.mig_bad++;
		}
		sleep_us(rnd_next(&rng) % 3000);
	}
	return NULL;
}

static void *f_shrinker(void *arg)
{
	uint64_t rng = 0x5151ULL;
	int ret;

	(void)arg;
	while (!F.stop) {
		bool wb = rnd_next(&rng) % 8 == 0;

		ret = shrink(16 + rnd_next(&rng) % 1024, wb);
		F.shrinks++;
		if (ret) {
			note("shrink pass: %s", errname(ret));
			F.shrink_errs++;
		}
		if (rnd_next(&rng) % 32 == 0) {
			ret = dbg_write("evict_vram", "1");
			F.evicts++;
			if (ret) {
				note("evict_vram: %s", errname(ret));
				F.evict_errs++;
			}
		}
		sleep_us(1000 + rnd_next(&rng) % 4000);
	}
	return NULL;
}

static int f_create(struct fbo *bo, uint64_t size, uint32_t mask,
		    uint32_t preferred, uint32_t flags, uint64_t key)
{
	int ret;

	bo->size = size;
	bo->mask = mask;
	bo->key = key;
	ret = bo_create(F.fd, size, mask, preferred, flags, &bo->handle);
	if (!ret)
		ret = mmap_offset(F.fd, bo->handle, &bo->offset);
	return ret;
}

static int faults_mode(void)
{
	struct drm_simgpu_device_query q;
	pthread_t th[F_MAX_THREADS + 5];
	unsigned int nth = 0, b, t, i;
	struct snap s0, s1;
	uint8_t *smap[FS_NBOS];
	struct bad bad = { 0 };
	bool pairs_ok = true, moves_ok = true;
	uint64_t p;
	char line[300];
	size_t len = 0;
	struct tap tp;
	int ret = 0;

	tap_plan(&tp, 9);
	F.nf = opt.threads < 1 ? 1 : opt.threads > F_MAX_THREADS ?
	       F_MAX_THREADS : opt.threads;
	F.fd = dev_open(&q);
	if (F.fd < 0) {
		tap_check(&tp, false, "open the render node: %d", F.fd);
		return tap_finish(&tp);
	}
	F.all = placements_all(&q);
	for (b = 0; b < FS_NBOS && !ret; b++) {
		uint32_t pref = b % DRM_SIMGPU_NUM_MEM;

		if (!(F.all & DRM_SIMGPU_PLACEMENT(pref)))
			pref = DRM_SIMGPU_MEM_TT;
		ret = f_create(&F.s[b], fs_sizes[b], F.all, pref,
			       b & 1 ? DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS : 0,
			       0x5000 + b);
		smap[b] = ret ? NULL : map_at(F.fd, F.s[b].offset, F.s[b].size);
		if (!ret && !smap[b])
			ret = -errno;
		if (!ret)
			sfill(smap[b], 0, F.s[b].size, F.s[b].key, 0);
	}
	for (b = 0; b < FP_NBOS && !ret; b++) {
		ret = f_create(&F.p[b], 256 << 10, PL(VRAM0) | PL(TT) | PL(SYSTEM),
			       DRM_SIMGPU_MEM_SYSTEM, 0, 0x6000 + b);
		F.pmap[b] = ret ? NULL : map_at(F.fd, F.p[b].offset,
						F.p[b].size);
		if (!ret && !F.pmap[b])
			ret = -errno;
		if (!ret)
			sfill(F.pmap[b], 0, F.p[b].size, F.p[b].key, 0);
	}
	for (i = 0; i < FE_SLOTS; i++)
		pthread_mutex_init(&F.e[i].lock, NULL);
	if (!tap_check(&tp, !ret, "%u shared and %u purgeable BOs created, mapped and filled (%s); %u faulting threads for %.0f s",
		       FS_NBOS, FP_NBOS, errname(ret), F.nf, opt.seconds))
		return tap_finish(&tp);

	snap_take(&s0);
	for (t = 0; t < F.nf; t++)
		pthread_create(&th[nth++], NULL, f_faulter, (void *)(uintptr_t)t);
	pthread_create(&th[nth++], NULL, f_lifecycle, NULL);
	pthread_create(&th[nth++], NULL, f_madvise, NULL);
	pthread_create(&th[nth++], NULL, f_migrator, (void *)1);
	pthread_create(&th[nth++], NULL, f_migrator, (void *)2);
	pthread_create(&th[nth++], NULL, f_shrinker, NULL);
	sleep_us((uint64_t)(opt.seconds * 1e6));
	F.stop = true;
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	snap_take(&s1);

	tap_check(&tp, F.iters > 0 && !F.bad_s && !F.map_errs,
		  "faulting threads: %llu iterations, %llu remaps; own pages read back, a window of the BO checked each time: %llu bad bytes, %llu failed mmaps",
		  (unsigned long long)F.iters, (unsigned long long)F.remaps,
		  (unsigned long long)F.bad_s,
		  (unsigned long long)F.map_errs);
	tap_check(&tp, F.e_closes > 0 && F.e_reads_closed > 0 && !F.bad_e &&
		  !F.e_errs,
		  "%llu BOs created, %llu GEM-closed and unmapped by their creator; %llu mapped by other threads, read %llu times (%llu after the close): %llu bad bytes, %llu errors",
		  (unsigned long long)F.e_created,
		  (unsigned long long)F.e_closes,
		  (unsigned long long)F.e_maps, (unsigned long long)F.e_reads,
		  (unsigned long long)F.e_reads_closed,
		  (unsigned long long)F.bad_e, (unsigned long long)F.e_errs);
	tap_check(&tp, F.m_cycles > 0 && F.m_purged > 0 && !F.m_viol &&
		  !F.m_errs,
		  "madvise: %llu DONTNEED/WILLNEED cycles, %llu purged (read zero), %llu read while DONTNEED: %llu violations, %llu errors",
		  (unsigned long long)F.m_cycles,
		  (unsigned long long)F.m_purged,
		  (unsigned long long)F.m_read_dontneed,
		  (unsigned long long)F.m_viol, (unsigned long long)F.m_errs);
	for (i = 0; i < DRM_SIMGPU_NUM_MEM; i++) {
		if (!(F.all & DRM_SIMGPU_PLACEMENT(i)))
			continue;
		pairs_ok &= F.mig_ok[i] > 0;
		len += snprintf(line + len, sizeof(line) - len, "%s%s %llu",
				len ? ", " : "", mem_name(i),
				(unsigned long long)F.mig_ok[i]);
	}
	tap_check(&tp, pairs_ok && !F.mig_bad,
		  "migrations to %s; %llu ENOSPC, %llu ENOENT (closed handles), %llu other errors",
		  line, (unsigned long long)F.mig_nospc,
		  (unsigned long long)F.mig_enoent,
		  (unsigned long long)F.mig_bad);
	tap_check(&tp, F.shrinks > 0 && !F.shrink_errs,
		  "%llu shrink passes (%llu failed), %llu evict_vram (%llu failed)",
		  (unsigned long long)F.shrinks,
		  (unsigned long long)F.shrink_errs,
		  (unsigned long long)F.evicts,
		  (unsigned long long)F.evict_errs);

	/* Every page holds its owner's last generation. */
	for (b = 0; b < FS_NBOS; b++) {
		uint64_t np = F.s[b].size / PAGE;

		for (p = 0; p < np; p++)
			scheck(smap[b], p * PAGE, PAGE, F.s[b].key,
			       F.final_gen[p % F.nf][b], &bad);
	}
	for (b = 0; b < FP_NBOS; b++)
		scheck(F.pmap[b], 0, F.p[b].size, F.p[b].key, F.final_pgen[b],
		       &bad);
	tap_check(&tp, !bad.bytes,
		  "afterwards every byte of every BO holds its last generation (%llu bad, first at 0x%llx)",
		  (unsigned long long)bad.bytes, (unsigned long long)bad.off);

	/* The paths ran: moves between the placements, backup, restore. */
	snap_diag("counters", &s0, &s1);
	len = 0;
	for (i = 0; i < DRM_SIMGPU_NUM_MEM; i++) {
		for (t = 0; t < DRM_SIMGPU_NUM_MEM; t++) {
			long long d;

			if (i == t || !(F.all & DRM_SIMGPU_PLACEMENT(i)) ||
			    !(F.all & DRM_SIMGPU_PLACEMENT(t)))
				continue;
			/* VRAM <-> SYSTEM goes through TT with the engine */
			if ((i == DRM_SIMGPU_MEM_SYSTEM && t < 2) ||
			    (t == DRM_SIMGPU_MEM_SYSTEM && i < 2))
				continue;
			d = dmove(&s0, &s1, i, t);
			moves_ok &= d > 0;
			len += snprintf(line + len, sizeof(line) - len,
					"%s%s->%s %lld", len ? ", " : "",
					mem_lc[i], mem_lc[t], d);
		}
	}
	tap_check(&tp, moves_ok && dlt(&s0, &s1, "pages_backed_up") > 0 &&
		  dlt(&s0, &s1, "pages_restored") > 0 &&
		  dlt(&s0, &s1, "pages_purged") > 0,
		  "counters: moves %s; %lld pages backed up, %lld restored, %lld purged",
		  line, dlt(&s0, &s1, "pages_backed_up"),
		  dlt(&s0, &s1, "pages_restored"),
		  dlt(&s0, &s1, "pages_purged"));
	close(F.fd);
	smoke_point(&tp);
	return tap_finish(&tp);
}

/* ------------------------------------------------------------------ */
/* fork: children use inherited mappings while the parent moves the BOs. */

#define FK_NBOS 6
#define FK_MAX_PROCS 8

static const uint64_t fk_sizes[FK_NBOS] = {
	64 << 10, 128 << 10, 256 << 10, 512 << 10, 1 << 20, 2 << 20,
};

struct fk_result {
	uint32_t gen[FK_NBOS];
	uint64_t iters;
	uint64_t bad;
};

/* Check every word of every BO, @rounds times: bad bytes. */
static uint64_t fk_read_all(const struct fbo *bo, uint8_t *const *map,
			    unsigned int rounds, const char *who)
{
	uint64_t bad_total = 0;
	unsigned int r, b;

	for (r = 0; r < rounds; r++) {
		for (b = 0; b < FK_NBOS; b++) {
			struct bad bad = { 0 };

			scheck_any(map[b], 0, bo[b].size, bo[b].key, &bad);
			if (bad.bytes)
				note("%s: BO %u: %llu bytes that are no word of it, first at 0x%llx: 0x%016llx, want 0x%016llx",
				     who, b, (unsigned long long)bad.bytes,
				     (unsigned long long)bad.off,
				     (unsigned long long)bad.got,
				     (unsigned long long)bad.want);
			bad_total += bad.bytes;
		}
	}
	return bad_total;
}

static int fk_child(unsigned int c, unsigned int nc, int fd,
		    const struct fbo *bo, uint8_t **map, double end, int wfd)
{
	uint64_t rng = 0xc0ffeeULL + 131ULL * c, p;
	struct fk_result r;
	char who[32];
	pid_t gc = -1;
	int status;

	memset(&r, 0, sizeof(r));
	snprintf(who, sizeof(who), "child %u", c);
	while (now_s() < end) {
		unsigned int b = rnd_next(&rng) % FK_NBOS;
		uint64_t np = bo[b].size / PAGE, woff, wlen;
		struct bad bad = { 0 };

		/* BO 0's handle gets closed: its inherited mapping stays. */
		if (b && rnd_next(&rng) % 32 == 0) {
			munmap(map[b], bo[b].size);
			map[b] = map_at(fd, bo[b].offset, bo[b].size);
			if (!map[b]) {
				note("child %u: mmap of BO %u again: %s", c, b,
				     strerror(errno));
				r.bad++;
				break;
			}
		}
		r.gen[b]++;
		for (p = c; p < np; p += nc)
			sfill(map[b], p * PAGE, PAGE, bo[b].key, r.gen[b]);
		for (p = c; p < np; p += nc)
			scheck(map[b], p * PAGE, PAGE, bo[b].key, r.gen[b],
			       &bad);
		if (bad.bytes)
			note("child %u: BO %u generation %u: %llu bad bytes in its own pages, first at 0x%llx: 0x%016llx, want 0x%016llx",
			     c, b, r.gen[b], (unsigned long long)bad.bytes,
			     (unsigned long long)bad.off,
			     (unsigned long long)bad.got,
			     (unsigned long long)bad.want);
		r.bad += bad.bytes;
		memset(&bad, 0, sizeof(bad));
		f_window(&rng, bo[b].size, &woff, &wlen);
		scheck_any(map[b], woff, wlen, bo[b].key, &bad);
		if (bad.bytes)
			note("child %u: BO %u: %llu bytes that are no word of it, first at 0x%llx: 0x%016llx, want 0x%016llx",
			     c, b, (unsigned long long)bad.bytes,
			     (unsigned long long)bad.off,
			     (unsigned long long)bad.got,
			     (unsigned long long)bad.want);
		r.bad += bad.bytes;
		/* A grandchild reads what it inherited from a child. */
		if (c == 0 && r.iters == 20) {
			fflush(stdout);
			gc = fork();
			if (gc == 0)
				_exit(fk_read_all(bo, map, 20, "grandchild") ?
				      1 : 0);
			if (gc < 0) {
				note("child 0: fork: %s", strerror(errno));
				r.bad++;
			}
		}
		r.iters++;
	}
	if (gc > 0 && (waitpid(gc, &status, 0) != gc || !WIFEXITED(status) ||
		       WEXITSTATUS(status))) {
		note("child 0: the grandchild failed (status 0x%x)", status);
		r.bad++;
	}
	if (write(wfd, &r, sizeof(r)) != sizeof(r))
		r.bad++;
	return r.bad ? 1 : 0;
}

static int fork_mode(void)
{
	struct drm_simgpu_device_query q;
	unsigned int nc = opt.procs, c, b, alive, i, k = 0;
	struct fk_result res[FK_MAX_PROCS];
	uint64_t mig_ok[DRM_SIMGPU_NUM_MEM] = { 0 }, nospc = 0, mig_bad = 0;
	uint64_t shrinks = 0, op_errs = 0, iters = 0, rng = 0xf0f0ULL, p;
	int pfd[FK_MAX_PROCS][2], status[FK_MAX_PROCS], fd, ret = 0;
	int close_ret = -1, enoent_ret = -1;
	pid_t pid[FK_MAX_PROCS];
	struct fbo bo[FK_NBOS];
	uint8_t *map[FK_NBOS];
	bool migr_ok = true, children_ok = true, moves_ok = true;
	double start, end;
	struct bad bad = { 0 };
	struct snap s0, s1;
	char line[200];
	size_t len = 0;
	uint32_t all;
	struct tap t;

	tap_plan(&t, 6);
	if (nc < 1 || nc > FK_MAX_PROCS)
		nc = 3;
	fd = dev_open(&q);
	if (fd < 0) {
		tap_check(&t, false, "open the render node: %d", fd);
		return tap_finish(&t);
	}
	all = placements_all(&q);
	memset(bo, 0, sizeof(bo));
	for (b = 0; b < FK_NBOS && !ret; b++) {
		uint32_t pref = b % DRM_SIMGPU_NUM_MEM;

		if (!(all & DRM_SIMGPU_PLACEMENT(pref)))
			pref = DRM_SIMGPU_MEM_TT;
		bo[b].size = fk_sizes[b];
		bo[b].key = 0xf000 + b;
		bo[b].mask = all;
		ret = bo_create(fd, bo[b].size, all, pref,
				b & 1 ? DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS : 0,
				&bo[b].handle);
		if (!ret)
			ret = mmap_offset(fd, bo[b].handle, &bo[b].offset);
		map[b] = ret ? NULL : map_at(fd, bo[b].offset, bo[b].size);
		if (!ret && !map[b])
			ret = -errno;
		if (!ret)
			sfill(map[b], 0, bo[b].size, bo[b].key, 0);
	}
	if (!tap_check(&t, !ret, "%u BOs created, mapped and filled (%s); %u children for %.0f s",
		       FK_NBOS, errname(ret), nc, opt.seconds))
		return tap_finish(&t);

	snap_take(&s0);
	start = now_s();
	end = start + opt.seconds;
	memset(res, 0, sizeof(res));
	for (c = 0; c < nc; c++) {
		if (pipe(pfd[c]))
			return 1;
		fflush(stdout);
		pid[c] = fork();
		if (pid[c] == 0) {
			close(pfd[c][0]);
			_exit(fk_child(c, nc, fd, bo, map, end, pfd[c][1]));
		}
		close(pfd[c][1]);
		status[c] = -1;
		if (pid[c] < 0)
			return 1;
	}

	/* Move the BOs under the children's feet. */
	for (alive = nc; alive; k++) {
		uint32_t mem, flags;

		for (c = 0; c < nc; c++) {
			if (pid[c] > 0 &&
			    waitpid(pid[c], &status[c], WNOHANG) == pid[c]) {
				pid[c] = 0;
				alive--;
			}
		}
		if (!alive || now_s() > end + 60)
			break;
		b = rnd_next(&rng) % FK_NBOS;
		mem = rnd_mem(&rng, all);
		flags = rnd_next(&rng) % 4 ? 0 : DRM_SIMGPU_MIGRATE_CPU_VISIBLE;
		if (b || close_ret) {
			ret = bo_migrate(fd, bo[b].handle, mem, flags);
			if (!ret) {
				mig_ok[mem]++;
			} else if (ret == -ENOSPC) {
				nospc++;
			} else {
				note("parent: migrate BO %u to %s: %s", b,
				     mem_name(mem), errname(ret));
				mig_bad++;
			}
		}
		if (k % 4 == 0) {
			shrinks++;
			if (shrink(16 + rnd_next(&rng) % 1024,
				   rnd_next(&rng) % 8 == 0)) {
				note("parent: shrink pass failed");
				op_errs++;
			}
		}
		if (k % 32 == 31 && dbg_write("evict_vram", "1")) {
			note("parent: evict_vram failed");
			op_errs++;
		}
		/* Half-way: close BO 0's handle, unmap BO 1 here. */
		if (close_ret && now_s() > start + opt.seconds / 2) {
			close_ret = gem_close(fd, bo[0].handle);
			enoent_ret = bo_migrate(fd, bo[0].handle,
						DRM_SIMGPU_MEM_TT, 0);
			munmap(map[1], bo[1].size);
			map[1] = NULL;
		}
		sleep_us(500 + rnd_next(&rng) % 2000);
	}
	for (c = 0; c < nc; c++) {
		if (pid[c] > 0) {
			note("child %u did not finish within 60 s of its end: killed",
			     c);
			kill(pid[c], SIGKILL);
			children_ok = false;
			continue;
		}
		if (read(pfd[c][0], &res[c], sizeof(res[c])) != sizeof(res[c]) ||
		    !WIFEXITED(status[c]) || WEXITSTATUS(status[c])) {
			note("child %u failed (status 0x%x)", c, status[c]);
			children_ok = false;
		}
		iters += res[c].iters;
	}
	snap_take(&s1);
	tap_check(&t, children_ok && iters > 0,
		  "%u children (and a grandchild) wrote their pages and checked the BOs through inherited mappings: %llu iterations",
		  nc, (unsigned long long)iters);
	for (i = 0; i < DRM_SIMGPU_NUM_MEM; i++) {
		if (!(all & DRM_SIMGPU_PLACEMENT(i)))
			continue;
		migr_ok &= mig_ok[i] > 0;
		len += snprintf(line + len, sizeof(line) - len, "%s%s %llu",
				len ? ", " : "", mem_name(i),
				(unsigned long long)mig_ok[i]);
	}
	tap_check(&t, migr_ok && !mig_bad && !op_errs && !close_ret &&
		  enoent_ret == -ENOENT,
		  "parent: migrations to %s (%llu ENOSPC, %llu other errors), %llu shrink passes (%llu errors); BO 0's handle closed under the children (%s), then migrating it: %s",
		  line, (unsigned long long)nospc,
		  (unsigned long long)mig_bad, (unsigned long long)shrinks,
		  (unsigned long long)op_errs, errname(close_ret),
		  errname(enoent_ret));

	/* The parent maps BO 1 again; each page holds its child's last generation. */
	if (!map[1])
		map[1] = map_at(fd, bo[1].offset, bo[1].size);
	for (b = 0; b < FK_NBOS && map[1]; b++)
		for (p = 0; p < bo[b].size / PAGE; p++)
			scheck(map[b], p * PAGE, PAGE, bo[b].key,
			       res[p % nc].gen[b], &bad);
	tap_check(&t, map[1] && children_ok && !bad.bytes,
		  "afterwards every byte of every BO holds its last generation (%llu bad, first at 0x%llx)",
		  (unsigned long long)bad.bytes, (unsigned long long)bad.off);

	snap_diag("counters", &s0, &s1);
	moves_ok = dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT) > 0 &&
		   dmove(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_VRAM0) > 0 &&
		   dmove(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM) > 0 &&
		   dmove(&s0, &s1, DRM_SIMGPU_MEM_SYSTEM, DRM_SIMGPU_MEM_TT) > 0;
	tap_check(&t, moves_ok && dlt(&s0, &s1, "pages_backed_up") > 0 &&
		  dlt(&s0, &s1, "pages_restored") > 0,
		  "counters: moves vram0->tt %lld, tt->vram0 %lld, tt->system %lld, system->tt %lld; %lld pages backed up, %lld restored",
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT),
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_VRAM0),
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM),
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_SYSTEM, DRM_SIMGPU_MEM_TT),
		  dlt(&s0, &s1, "pages_backed_up"),
		  dlt(&s0, &s1, "pages_restored"));
	close(fd);
	smoke_point(&t);
	return tap_finish(&t);
}

/* ------------------------------------------------------------------ */
/* kaccess: syscalls with a backed-up BO as their user buffer. */

enum {
	K_PWRITE, K_WRITE, K_PREAD, K_READ, K_PIPE_WRITE, K_PIPE_READ, K_NUM
};

static const struct {
	const char *id;	/* for --syscall */
	const char *name;
	bool from_bo;	/* the kernel reads the BO (else it writes it) */
	bool pipe;
} kops[K_NUM] = {
	[K_PWRITE] = { "pwrite", "pwrite() from a BO to a tmpfs file", true, false },
	[K_WRITE] = { "write", "write() from a BO to a tmpfs file", true, false },
	[K_PREAD] = { "pread", "pread() from a tmpfs file into a BO", false, false },
	[K_READ] = { "read", "read() from a tmpfs file into a BO", false, false },
	[K_PIPE_WRITE] = { "pipe-write", "write() from a BO to a pipe", true, true },
	[K_PIPE_READ] = { "pipe-read", "read() from a pipe into a BO", false, true },
};

/* kaccess --syscall: run only these (comma-separated ids), NULL: all. */
static const char *k_only;

static bool k_selected(int op)
{
	size_t n = strlen(kops[op].id);
	const char *p;

	if (!k_only)
		return true;
	for (p = k_only; (p = strstr(p, kops[op].id)); p += n)
		if ((p == k_only || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

static volatile sig_atomic_t k_alarms;

static void k_on_alarm(int sig)
{
	(void)sig;
	k_alarms++;
}

static void k_itimer(long us)
{
	struct itimerval it = {
		.it_interval = { .tv_usec = us },
		.it_value = { .tv_usec = us },
	};

	setitimer(ITIMER_REAL, &it, NULL);
}

struct kstats {
	unsigned long calls, eintr, partial, efault;
	unsigned int passes;	/* shrink passes during the calls */
	long long restored;	/* pages restored while the calls ran */
};

/* Where a syscall loop is, for the parent to tell if it hangs. */
struct kprogress {
	volatile unsigned int round;
	volatile unsigned long calls, eintr;
	volatile uint64_t done;
	volatile int in_call;
};

static struct kprogress *kprog;

/* The other end of the pipe, in a thread that never gets SIGALRM. */
struct kpeer {
	int fd;
	uint8_t *buf;
	uint64_t size;
	bool write;
	int err;
};

/*
 * Shrink passes during a syscall loop: two, each soon after the kernel's
 * fault restored the BO, so that it is backed up again while the kernel
 * copies it; the loop can still finish (each pass makes the next fault
 * restore all of it).
 */
struct kduring {
	uint64_t rng;
	long long restored;	/* pages_restored when the loop started */
	unsigned int passes;
	int err;
};

static void *k_during(void *arg)
{
	struct kduring *d = arg;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		double t0 = now_s();

		while (stat_get("pages_restored") <= d->restored &&
		       now_s() - t0 < 5)
			sleep_us(2000);
		sleep_us(rnd_next(&d->rng) % 3000);
		if (shrink(1 << 20, false))
			d->err = -EIO;
		d->passes++;
		d->restored = stat_get("pages_restored");
	}
	return NULL;
}

static void *k_peer(void *arg)
{
	struct kpeer *k = arg;
	uint64_t done = 0;

	while (done < k->size) {
		ssize_t n = k->write ? write(k->fd, k->buf + done, k->size - done) :
				       read(k->fd, k->buf + done, k->size - done);

		if (n > 0) {
			done += n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else {
			k->err = n ? -errno : -ENODATA;
			break;
		}
	}
	return NULL;
}

/* One call with @p as its buffer: bytes, 0 at EOF, or -errno. */
static long k_call(int op, int fd, uint8_t *p, uint64_t len, uint64_t pos)
{
	ssize_t n;

	switch (op) {
	case K_PWRITE:
		n = pwrite(fd, p, len, pos);
		break;
	case K_WRITE:
	case K_PIPE_WRITE:
		n = write(fd, p, len);
		break;
	case K_PREAD:
		n = pread(fd, p, len, pos);
		break;
	default:
		n = read(fd, p, len);
		break;
	}
	return n < 0 ? -errno : n;
}

/* Transfer @size bytes between @map and @fd: 0, or an unexpected -errno. */
static int k_transfer(int op, int fd, uint8_t *map, uint64_t size,
		      struct kstats *st)
{
	unsigned int efault_run = 0;
	uint64_t done = 0;

	if ((op == K_WRITE || op == K_READ) && lseek(fd, 0, SEEK_SET))
		return -errno;
	while (done < size) {
		long n;

		kprog->done = done;
		kprog->in_call = 1;
		n = k_call(op, fd, map + done, size - done, done);
		kprog->in_call = 0;
		st->calls++;
		kprog->calls = st->calls;
		kprog->eintr = st->eintr;
		if (n > 0) {
			st->partial += (uint64_t)n < size - done;
			done += n;
			efault_run = 0;
		} else if (n == -EINTR) {
			st->eintr++;
		} else if (n == -EFAULT) {
			st->efault++;
			/* Allowed, but the loop must get somewhere. */
			if (++efault_run > 1000)
				return -EFAULT;
		} else {
			return n ? (int)n : -ENODATA;
		}
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, uint64_t size)
{
	uint64_t done = 0;

	while (done < size) {
		ssize_t n = pwrite(fd, buf + done, size - done, done);

		if (n <= 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += n;
	}
	return 0;
}

static int pread_all(int fd, uint8_t *buf, uint64_t size)
{
	uint64_t done = 0;

	while (done < size) {
		ssize_t n = pread(fd, buf + done, size - done, done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n ? -errno : -ENODATA;
		done += n;
	}
	return 0;
}

/* The syscall loop of @op, in its own process. */
static int k_child(int op, uint8_t *map, uint64_t size)
{
	struct sigaction sa;
	struct kstats st = { 0 };
	uint8_t *buf = malloc(size);
	uint64_t bad = 0, np = size / PAGE;
	int fd = -1, pfd[2] = { -1, -1 }, err = 0;
	unsigned int r;
	sigset_t alrm;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = k_on_alarm;	/* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	if (!buf)
		return 1;
	if (kops[op].pipe) {
		if (pipe(pfd))
			return 1;
		fd = kops[op].from_bo ? pfd[1] : pfd[0];
	} else {
		fd = memfd_create("simgpu-race", 0);
		if (fd < 0 || ftruncate(fd, size))
			return 1;
	}

	for (r = 0; r < opt.rounds && !err; r++) {
		uint64_t seed = 0xca5e0000ULL + 64 * op + r;
		struct kpeer peer = {
			.fd = kops[op].from_bo ? pfd[0] : pfd[1],
			.buf = buf, .size = size, .write = !kops[op].from_bo,
		};
		struct kduring during = { .rng = seed };
		pthread_t th, dth;
		long long restored0;

		kprog->round = r;

		/* The data, written without the timer. */
		if (kops[op].from_bo)
			pattern_fill(map, 0, size, seed);
		else
			pattern_fill(buf, 0, size, seed);
		if (!kops[op].from_bo && !kops[op].pipe)
			err = pwrite_all(fd, buf, size);
		/* Back the BO up, as far as a pass gets. */
		if (!err)
			err = shrink(1 << 20, false);
		/* Helper threads never take the SIGALRMs. */
		restored0 = stat_get("pages_restored");
		during.restored = restored0;
		pthread_sigmask(SIG_BLOCK, &alrm, NULL);
		if (kops[op].pipe && !err)
			err = -pthread_create(&th, NULL, k_peer, &peer);
		if (!err)
			err = -pthread_create(&dth, NULL, k_during, &during);
		pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
		if (err)
			break;
		k_itimer(200);
		err = k_transfer(op, fd, map, size, &st);
		k_itimer(0);
		pthread_join(dth, NULL);
		st.passes += during.passes;
		st.restored += stat_get("pages_restored") - restored0;
		if (!err)
			err = during.err;
		if (kops[op].pipe) {
			pthread_join(th, NULL);
			if (!err)
				err = peer.err;
		}
		if (err) {
			diag("%s: round %u: %s", kops[op].name, r, errname(err));
			break;
		}
		/* Where the data went. */
		if (kops[op].from_bo && !kops[op].pipe)
			err = pread_all(fd, buf, size);
		if (kops[op].from_bo)
			bad += pattern_check(buf, 0, size, seed);
		else
			bad += pattern_check(map, 0, size, seed);
		if (kops[op].from_bo && !kops[op].pipe)
			memset(buf, 0, size);
	}
	diag("%s: %u rounds of %llu MiB: %lu calls, %lu EINTR, %lu partial, %lu EFAULT, %d alarms; %u shrink passes during the calls, %lld pages restored during them; %llu bad bytes",
	     kops[op].name, r, (unsigned long long)size >> 20, st.calls,
	     st.eintr, st.partial, st.efault, (int)k_alarms, st.passes,
	     st.restored, (unsigned long long)bad);
	if (!err && st.restored < (long long)np)
		diag("%s: the BO was never restored by the calls: the path did not run",
		     kops[op].name);
	return err || bad || st.restored < (long long)np;
}

/* /proc/PID/stat: state, user and system ticks; false if it is gone. */
static bool k_pstat(pid_t pid, char *state, unsigned long *ut,
		    unsigned long *stime)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 state, ut, stime) != 3)
		return false;
	return true;
}

/*
 * Print /proc/PID/FILE, trying up to @tries times 50 ms apart while it
 * is empty (the kernel stack of a task running on a CPU cannot be read;
 * a preempted one can).
 */
static void k_show_file(const char *what, pid_t pid, const char *file,
			unsigned int tries)
{
	char path[64], buf[2048];
	ssize_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	while (tries--) {
		fd = open(path, O_RDONLY);
		if (fd < 0)
			return;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0)
			break;
		sleep_us(50000);
	}
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		diag("%s: %s", what, line);
}

/* What a child that missed its deadline is doing; then leave it. */
static void k_hang_report(pid_t pid, uint64_t size)
{
	unsigned long ut0, st0, ut1, st1;
	long hz = sysconf(_SC_CLK_TCK);
	char s0 = '?', s1 = '?';
	long long intr;

	diag("stuck child %d: in round %u of %u, call %lu %s (%lu EINTR so far), %llu of %llu bytes transferred before it",
	     (int)pid, kprog->round, opt.rounds, kprog->calls + 1,
	     kprog->in_call ? "still inside the syscall" : "not in a syscall",
	     kprog->eintr, (unsigned long long)kprog->done,
	     (unsigned long long)size);
	if (!k_pstat(pid, &s0, &ut0, &st0))
		return;
	intr = stat_get("restore_interrupted");
	sleep_us(1000000);
	intr = stat_get("restore_interrupted") - intr;
	if (k_pstat(pid, &s1, &ut1, &st1))
		diag("stuck child %d: state %c, in 1 s %.2f s of system time and %.2f s of user time: %s",
		     (int)pid, s1, (double)(st1 - st0) / hz,
		     (double)(ut1 - ut0) / hz,
		     st1 > st0 ? "spinning in the kernel" : "sleeping");
	diag("meanwhile the driver counted %lld more restores interrupted by a signal (restore_interrupted)",
	     intr);
	k_show_file("syscall", pid, "syscall", 1);
	k_show_file("kernel stack", pid, "stack", 40);
	kill(pid, SIGKILL);
	sleep_us(1000000);
	if (k_pstat(pid, &s1, &ut1, &st1))
		diag("stuck child %d: still there 1 s after SIGKILL (state %c): unkillable",
		     (int)pid, s1);
	diag("backtraces of all CPUs follow on the console (sysrq l)");
	file_write("/proc/sysrq-trigger", "l");
	sleep_us(500000);
}

static int kaccess_mode(void)
{
	uint64_t size = (uint64_t)opt.bo_mb * MiB;
	struct drm_simgpu_device_query q;
	struct snap s0, s1, a, b;
	uint32_t handle[2];
	uint8_t *map[2] = { NULL, NULL };
	struct tap t;
	int fd, op, i;

	tap_plan(&t, 1 + K_NUM + 2);
	kprog = mmap(NULL, sizeof(*kprog), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kprog == MAP_FAILED)
		return 1;
	fd = dev_open(&q);
	for (i = 0; i < 2 && fd >= 0; i++)
		map[i] = bo_new(fd, size, PL(SYSTEM) | PL(TT) | PL(VRAM0),
				DRM_SIMGPU_MEM_SYSTEM, 0, &handle[i]);
	if (!tap_check(&t, fd >= 0 && map[0] && map[1],
		       "two %u MiB BOs; %u rounds per syscall, %u s deadline each",
		       opt.bo_mb, opt.rounds, opt.deadline))
		return tap_finish(&t);

	snap_take(&s0);
	for (op = 0; op < K_NUM; op++) {
		double t0 = now_s(), secs;
		int status = 0;
		bool done = false;
		pid_t pid;

		if (!k_selected(op)) {
			tap_check(&t, true, "%s # SKIP not selected",
				  kops[op].name);
			continue;
		}
		snap_take(&a);
		memset((void *)kprog, 0, sizeof(*kprog));
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(k_child(op, map[op & 1], size));
		while (pid > 0 && now_s() - t0 < opt.deadline) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				done = true;
				break;
			}
			sleep_us(20000);
		}
		secs = now_s() - t0;
		if (!done) {
			tap_check(&t, false, "%s under a 200 us SIGALRM itimer, the BO backed up: did not return within %u s (child %d stuck in the kernel)",
				  kops[op].name, opt.deadline, (int)pid);
			k_hang_report(pid, size);
			for (op++; op < K_NUM; op++) {
				if (!k_selected(op))
					tap_check(&t, true, "%s # SKIP not selected",
						  kops[op].name);
				else
					tap_check(&t, false, "%s: not run, an earlier syscall loop hung",
						  kops[op].name);
			}
			tap_check(&t, false, "counters: not checked, a syscall loop hung");
			tap_check(&t, false, "smoke checks: not run, a syscall loop hung");
			tap_diag("exiting without waiting for the stuck child");
			return tap_finish(&t);
		}
		snap_take(&b);
		tap_check(&t, WIFEXITED(status) && !WEXITSTATUS(status),
			  "%s under a 200 us SIGALRM itimer, the BO backed up before and during each loop: finished in %.1f s, every byte verified (status 0x%x; %lld pages backed up, %lld restored meanwhile)",
			  kops[op].name, secs, status,
			  dlt(&a, &b, "pages_backed_up"),
			  dlt(&a, &b, "pages_restored"));
	}
	snap_take(&s1);
	snap_diag("counters", &s0, &s1);
	tap_check(&t, dlt(&s0, &s1, "pages_backed_up") > 0 &&
		  dlt(&s0, &s1, "pages_restored") > 0,
		  "counters: %lld pages backed up, %lld restored, %lld restores interrupted",
		  dlt(&s0, &s1, "pages_backed_up"),
		  dlt(&s0, &s1, "pages_restored"),
		  dlt(&s0, &s1, "restore_interrupted"));
	munmap(map[0], size);
	munmap(map[1], size);
	close(fd);
	smoke_point(&t);
	return tap_finish(&t);
}

/* ------------------------------------------------------------------ */
/* many: tens of thousands of one-page BOs through eviction and shrink. */

static uint64_t many_check(uint8_t **m, unsigned int n, const uint64_t *seed)
{
	uint64_t bad = 0;
	unsigned int i, reported = 0;

	for (i = 0; i < n; i++) {
		uint64_t b = pattern_check(m[i], 0, PAGE, seed[i]);

		if (b && reported++ < 5)
			note("BO %u: %llu bad bytes", i, (unsigned long long)b);
		bad += b;
	}
	return bad;
}

static int many_mode(void)
{
	struct drm_simgpu_device_query q;
	unsigned int n = opt.bos, i, made = 0, migrated = 0, mig_errs = 0;
	uint64_t vram_pages, gart_pages, bad, *seed;
	long long in_vram, outside;
	uint32_t *h;
	uint8_t **m;
	long long v;
	struct snap s0, s1, s2, s3, s4;
	double t0;
	struct tap t;
	int fd, ret = 0;

	tap_plan(&t, 6);
	fd = dev_open(&q);
	h = calloc(n, sizeof(*h));
	m = calloc(n, sizeof(*m));
	seed = calloc(n, sizeof(*seed));
	if (fd < 0 || !h || !m || !seed) {
		tap_check(&t, false, "open the render node: %d", fd);
		return tap_finish(&t);
	}
	vram_pages = q.regions[0].size / PAGE;
	gart_pages = q.tt_size / PAGE;

	/*
	 * 1. Created in VRAM0 as far as it holds them, then mapped and
	 * filled: the engine clears them while the loop goes on.  (Filling
	 * each right after its creation makes every fault wait for its own
	 * clear: ~3x slower under TCG on the debug kernel, no other path.)
	 */
	snap_take(&s0);
	t0 = now_s();
	for (made = 0; made < n; made++) {
		ret = bo_create(fd, PAGE, PL(VRAM0) | PL(TT) | PL(SYSTEM),
				DRM_SIMGPU_MEM_VRAM0, 0, &h[made]);
		if (ret)
			break;
	}
	for (i = 0; i < made; i++) {
		m[i] = bo_map(fd, h[i], PAGE);
		if (!m[i]) {
			ret = -errno;
			made = i;
			break;
		}
		seed[i] = 0x10000000ULL + i;
		pattern_fill(m[i], 0, PAGE, seed[i]);
	}
	t0 = now_s() - t0;
	snap_take(&s1);
	/* The gauges say where they are (a query per BO costs too much). */
	in_vram = snap_val(&s1, "vram0_used_bytes") / PAGE;
	if (!tap_check(&t, made == n && in_vram > (long long)gart_pages,
		       "%u one-page BOs created preferring VRAM0, mapped and filled in %.1f s (%s): %lld pages in VRAM0 (it holds %llu, the GART %llu)",
		       made, t0, errname(ret), in_vram,
		       (unsigned long long)vram_pages,
		       (unsigned long long)gart_pages))
		return tap_finish(&t);

	/*
	 * 2. Evicting VRAM sends every BO there to TT, and as the GART fills
	 * up, the oldest ones in TT on to SYSTEM.  Every sixteenth BO is
	 * checked here, all of them after the restore.
	 */
	t0 = now_s();
	ret = dbg_write("evict_vram", "1");
	t0 = now_s() - t0;
	snap_take(&s2);
	snap_diag("counters of the eviction", &s1, &s2);
	for (i = 0, bad = 0; i < n; i += 16)
		bad += many_check(&m[i], 1, &seed[i]);
	outside = snap_val(&s2, "bo_system_pages");
	tap_check(&t, !ret && !bad && snap_val(&s2, "vram0_used_bytes") == 0 &&
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT) +
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM) >= in_vram &&
		  devict(&s1, &s2, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM) > 0,
		  "evict_vram in %.1f s (%s): evicted VRAM0->TT %lld, TT->SYSTEM %lld, VRAM0->SYSTEM %lld; %lld bytes left in VRAM0, %lld in TT; every 16th BO checked (%llu bad bytes)",
		  t0, errname(ret),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM),
		  snap_val(&s2, "vram0_used_bytes"),
		  snap_val(&s2, "tt_used_bytes"), (unsigned long long)bad);

	/* 3. A shrink pass backs up every one of them. */
	t0 = now_s();
	ret = shrink(4ULL * n, false);
	s1 = s2;
	snap_take(&s2);
	v = dlt(&s1, &s2, "pages_backed_up");
	tap_check(&t, !ret && v >= outside &&
		  snap_val(&s2, "backed_up_pages") >= outside,
		  "a shrink pass backed up %lld pages in %.1f s (%lld BO pages in system memory before it; %lld pages backed up now)",
		  v, now_s() - t0, outside, snap_val(&s2, "backed_up_pages"));

	/*
	 * 4. Every sixteenth BO migrated to VRAM0: restored by the
	 * migration (VRAM0 is empty, nothing is evicted).
	 */
	t0 = now_s();
	for (i = 0; i < n; i += 16) {
		int r = bo_migrate(fd, h[i], DRM_SIMGPU_MEM_VRAM0, 0);

		if (!r)
			migrated++;
		else if (mig_errs++ < 5)
			note("migrate BO %u to VRAM0: %s", i, errname(r));
	}
	snap_take(&s3);
	v = dlt(&s2, &s3, "pages_restored");
	tap_check(&t, !mig_errs && v >= migrated,
		  "%u backed-up BOs migrated to VRAM0 in %.1f s, %lld pages restored (%u failed)",
		  migrated, now_s() - t0, v, mig_errs);

	/* 5. CPU faults restore the others; every byte checked. */
	t0 = now_s();
	bad = many_check(m, n, seed);
	snap_take(&s4);
	v = dlt(&s2, &s4, "pages_restored");
	tap_check(&t, !bad && v >= dlt(&s1, &s2, "pages_backed_up") &&
		  snap_val(&s4, "backed_up_pages") == 0,
		  "CPU faults restored the rest in %.1f s (%lld pages restored in all, %lld left backed up), every byte verified (%llu bad)",
		  now_s() - t0, v, snap_val(&s4, "backed_up_pages"),
		  (unsigned long long)bad);
	snap_diag("counters", &s0, &s4);
	/* The BOs go when the process exits. */
	smoke_point(&t);
	return tap_finish(&t);
}

/* ------------------------------------------------------------------ */
/* gart: more TT-only BOs than the GART holds. */

#define G_NBOS 11	/* of an eighth of the GART each */
#define G_FIT 8

struct gbo {
	uint32_t handle;
	uint8_t *map;
	uint64_t size;
	uint64_t seed;
	bool zero;	/* never written: reads zero */
};

static int g_new(int fd, struct gbo *o, uint64_t size, uint32_t mask,
		 uint32_t pref, uint32_t flags, uint64_t seed, bool fill)
{
	int ret = bo_create(fd, size, mask, pref, flags, &o->handle);

	o->size = size;
	o->seed = seed;
	o->zero = !fill;
	o->map = NULL;
	if (ret)
		return ret;
	o->map = bo_map(fd, o->handle, size);
	if (!o->map)
		return -errno;
	if (fill)
		pattern_fill(o->map, 0, size, seed);
	return 0;
}

static uint64_t g_check(struct gbo *o, unsigned int n, const char *what)
{
	uint64_t bad = 0, b;
	unsigned int i;

	for (i = 0; i < n; i++) {
		b = o[i].zero ? bytes_check(o[i].map, o[i].size, 0) :
				pattern_check(o[i].map, 0, o[i].size, o[i].seed);
		if (b)
			note("%s %u: %llu bad bytes", what, i,
			     (unsigned long long)b);
		bad += b;
	}
	return bad;
}

/*
 * Step 6 of gart: evicting VRAM while a submission holds the whole GART.
 * The driver moves VRAM <-> SYSTEM through a TT hop, so this needs a GART
 * window of the driver's own (the issue that adds it); until then it is
 * run only with --full-gart 1.
 */
static int full_gart;

static int gart_mode(void)
{
	struct drm_simgpu_device_query q;
	struct gbo tt[G_NBOS], big, *v = NULL, x;
	struct drm_simgpu_cmd cmds[G_NBOS + 1];
	unsigned int i, nv, made;
	uint64_t gsize, bsize, vsize, bad;
	uint32_t handle;
	struct snap s0, s1, s2, s3;
	int fd, ret, ret2;
	struct tap t;

	tap_plan(&t, 9);
	fd = dev_open(&q);
	if (fd < 0) {
		tap_check(&t, false, "open the render node: %d", fd);
		return tap_finish(&t);
	}
	gsize = q.tt_size; /* the GART less the driver's window */
	bsize = gsize / G_FIT;
	vsize = 2 * MiB;
	nv = 2 * q.regions[0].size / vsize;
	v = calloc(nv, sizeof(*v));

	/* 1. Eleven TT-only BOs: the GART holds eight. */
	snap_take(&s0);
	for (made = 0, ret = 0; made < G_NBOS && !ret; made++) {
		ret = g_new(fd, &tt[made], bsize, PL(TT), DRM_SIMGPU_MEM_TT, 0,
			    0x6a000 + made, true);
		if (ret)
			break;
	}
	snap_take(&s1);
	bad = ret ? 0 : g_check(tt, G_NBOS, "TT-only BO");
	if (!tap_check(&t, !ret && !bad &&
		       devict(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM) >=
		       G_NBOS - G_FIT &&
		       snap_val(&s1, "tt_used_bytes") <= (long long)gsize,
		       "%u TT-only BOs of %llu MiB in a %llu MiB GART: created (%s), %lld evicted TT->SYSTEM, %lld bytes of GART used, every byte verified (%llu bad)",
		       made, (unsigned long long)bsize >> 20,
		       (unsigned long long)gsize >> 20, errname(ret),
		       devict(&s0, &s1, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM),
		       snap_val(&s1, "tt_used_bytes"),
		       (unsigned long long)bad))
		return tap_finish(&t);

	/* 2. A BO larger than the GART: never in TT. */
	ret = bo_create(fd, gsize + PAGE, PL(TT), DRM_SIMGPU_MEM_TT, 0, &handle);
	if (!ret)
		gem_close(fd, handle);
	ret2 = g_new(fd, &big, gsize + PAGE, PL(TT) | PL(SYSTEM),
		     DRM_SIMGPU_MEM_SYSTEM, 0, 0x6b000, true);
	if (!ret2)
		ret2 = bo_migrate(fd, big.handle, DRM_SIMGPU_MEM_TT, 0);
	bad = big.map ? g_check(&big, 1, "BO larger than the GART") : 1;
	tap_check(&t, ret == -ENOSPC && ret2 == -ENOSPC && !bad,
		  "a TT-only BO larger than the GART: create %s; a TT|SYSTEM one: migration to TT %s, content intact (%llu bad)",
		  errname(ret), errname(ret2), (unsigned long long)bad);
	if (big.map) {
		munmap(big.map, big.size);
		gem_close(fd, big.handle);
	}

	/* 3. A submission whose TT-only BOs exceed the GART: nothing runs. */
	for (i = 0; i < 5; i++)
		cmds[i] = cmd_copy(tt[2 * i].handle, 0, tt[2 * i + 1].handle, 0,
				   bsize);
	ret = gpu_run(fd, cmds, 5);
	bad = g_check(tt, G_NBOS, "TT-only BO");
	tap_check(&t, (ret == -ENOSPC || ret == -ENOMEM) && !bad,
		  "a submission of 10 TT-only BOs (%llu MiB, more than the GART): %s, nothing changed (%llu bad bytes)",
		  (unsigned long long)(10 * bsize) >> 20, errname(ret),
		  (unsigned long long)bad);

	/* 4. One that fills the GART exactly runs. */
	for (i = 0; i < G_FIT / 2; i++)
		cmds[i] = cmd_copy(tt[2 * i].handle, 0, tt[2 * i + 1].handle, 0,
				   bsize);
	ret = gpu_run(fd, cmds, G_FIT / 2);
	if (!ret)
		for (i = 0; i < G_FIT / 2; i++)
			tt[2 * i + 1].seed = tt[2 * i].seed;
	bad = g_check(tt, G_NBOS, "TT-only BO");
	tap_check(&t, !ret && !bad,
		  "a submission of 8 TT-only BOs filling the GART: %s, copies and every other byte verified (%llu bad)",
		  errname(ret), (unsigned long long)bad);

	/* 5. VRAM eviction with a GART full of (evictable) TT-only BOs. */
	for (i = 0, ret = 0; i < G_FIT && !ret; i++)
		ret = bo_migrate(fd, tt[i].handle, DRM_SIMGPU_MEM_TT, 0);
	snap_take(&s1);
	/* Created wherever there is room; migrated to VRAM0, they evict. */
	for (made = 0; made < nv && !ret; made++) {
		ret = g_new(fd, &v[made], vsize, PL(VRAM0) | PL(TT) | PL(SYSTEM),
			    DRM_SIMGPU_MEM_VRAM0,
			    DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
			    0x6c000 + made, true);
		if (!ret)
			ret = bo_migrate(fd, v[made].handle,
					 DRM_SIMGPU_MEM_VRAM0,
					 DRM_SIMGPU_MIGRATE_CPU_VISIBLE);
	}
	snap_take(&s2);
	bad = ret ? 0 : g_check(v, nv, "VRAM BO") + g_check(tt, G_NBOS, "TT-only BO");
	tap_check(&t, !ret && !bad &&
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT) +
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM) > 0,
		  "GART full of TT-only BOs: %u BOs of %llu MiB (2x VRAM0) created and migrated to VRAM0 (%s), evicted VRAM0->TT %lld, VRAM0->SYSTEM %lld, TT->SYSTEM %lld; every byte verified (%llu bad)",
		  made, (unsigned long long)vsize >> 20, errname(ret),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM),
		  devict(&s1, &s2, DRM_SIMGPU_MEM_TT, DRM_SIMGPU_MEM_SYSTEM),
		  (unsigned long long)bad);
	if (ret)
		return tap_finish(&t);

	/*
	 * 6. VRAM eviction while a submission holds the whole GART: VRAM
	 * full again, a new BO (never touched, so it needs no copy) must go
	 * to VRAM0 for the same submission, and the BOs it evicts cannot
	 * go to TT: they must go to SYSTEM.
	 */
	if (!full_gart) {
		tap_check(&t, true, "a submission holding the whole GART and a "
			  "new BO bound for full VRAM0 # SKIP needs a reserved "
			  "GART window in the driver (--full-gart 1)");
		goto again;
	}
	for (i = nv / 2, ret = 0; i < nv && !ret; i++)
		ret = bo_migrate(fd, v[i].handle, DRM_SIMGPU_MEM_VRAM0, 0);
	ret2 = g_new(fd, &x, vsize, PL(VRAM0) | PL(SYSTEM),
		     DRM_SIMGPU_MEM_SYSTEM, 0, 0, false);
	snap_take(&s2);
	for (i = 0; i < G_FIT / 2; i++)
		cmds[i] = cmd_copy(tt[2 * i + 1].handle, 0, tt[2 * i].handle, 0,
				   bsize);
	cmds[G_FIT / 2] = cmd_fill(x.handle, 0, vsize, 0xa5a5a5a5);
	if (!ret && !ret2)
		ret = gpu_run(fd, cmds, G_FIT / 2 + 1);
	snap_take(&s3);
	if (!ret) {
		for (i = 0; i < G_FIT / 2; i++)
			tt[2 * i].seed = tt[2 * i + 1].seed;
	}
	bad = g_check(v, nv, "VRAM BO") + g_check(tt, G_NBOS, "TT-only BO");
	if (!ret2)
		bad += bytes_check(x.map, vsize, ret ? 0 : 0xa5);
	snap_diag("counters of the submission holding the GART", &s2, &s3);
	tap_check(&t, !ret && !ret2 && !bad &&
		  devict(&s2, &s3, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM) > 0,
		  "a submission holding the whole GART and a new BO bound for full VRAM0: %s (%s), evicted VRAM0->SYSTEM %lld, VRAM0->TT %lld; every byte verified (%llu bad)",
		  errname(ret), errname(ret2),
		  devict(&s2, &s3, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM),
		  devict(&s2, &s3, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT),
		  (unsigned long long)bad);

	/* 7. Everything once more, from wherever it is now. */
again:
	bad = g_check(v, nv, "VRAM BO") + g_check(tt, G_NBOS, "TT-only BO");
	for (i = 0, ret = 0; i < G_NBOS; i++) {
		int r = bo_migrate(fd, tt[i].handle, DRM_SIMGPU_MEM_TT, 0);

		if (r)
			ret = r;
	}
	bad += g_check(tt, G_NBOS, "TT-only BO");
	snap_take(&s3);
	tap_check(&t, !bad && !ret,
		  "afterwards every byte verified, each TT-only BO migrated back to TT (%s; %llu bad)",
		  errname(ret), (unsigned long long)bad);
	snap_diag("counters", &s0, &s3);
	tap_check(&t, snap_val(&s3, "tt_used_bytes") <= (long long)gsize &&
		  snap_val(&s3, "tt_used_bytes") > 0,
		  "GART use %lld of %llu bytes", snap_val(&s3, "tt_used_bytes"),
		  (unsigned long long)gsize);
	for (i = 0; i < nv; i++) {
		munmap(v[i].map, vsize);
		gem_close(fd, v[i].handle);
	}
	for (i = 0; i < G_NBOS; i++) {
		munmap(tt[i].map, bsize);
		gem_close(fd, tt[i].handle);
	}
	if (!ret2) {
		munmap(x.map, vsize);
		gem_close(fd, x.handle);
	}
	close(fd);
	smoke_point(&t);
	return tap_finish(&t);
}

/* ------------------------------------------------------------------ */
/* regions: both VRAM regions under pressure, cross-region masks. */

static const uint32_t rg_masks[] = {
	PL(VRAM0) | PL(VRAM1),
	PL(VRAM1) | PL(TT),
	PL(VRAM0) | PL(SYSTEM),
	PL(VRAM0) | PL(VRAM1) | PL(TT) | PL(SYSTEM),
	PL(VRAM1) | PL(SYSTEM),
	PL(VRAM0) | PL(TT),
	PL(VRAM1),
	PL(VRAM0),
};

#define RG_BO_SIZE (2 * MiB)

static uint64_t rg_per_proc;

static int rg_worker(unsigned int id)
{
	unsigned int n = rg_per_proc / RG_BO_SIZE, i, r, nospc = 0, errs = 0;
	uint64_t rng = 0x4e6f0000ULL + id, bad = 0, moves = 0;
	struct gbo *o = calloc(n, sizeof(*o));
	unsigned int *order = calloc(n, sizeof(*order));
	int fd = dev_open(NULL), ret = 0;

	if (fd < 0 || !o || !order)
		return 1;
	for (i = 0; i < n && !ret; i++) {
		uint32_t mask = rg_masks[(i + id) % ARRAY_SIZE(rg_masks)];
		uint32_t pref = mask & PL(VRAM0) && (!(mask & PL(VRAM1)) || i & 1) ?
				DRM_SIMGPU_MEM_VRAM0 : DRM_SIMGPU_MEM_VRAM1;

		ret = g_new(fd, &o[i], RG_BO_SIZE, mask, pref,
			    DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
			    (uint64_t)id << 32 | i, true);
		order[i] = i;
	}
	if (ret) {
		diag("process %u: create BO %u: %s", id, i - 1, errname(ret));
		return 1;
	}
	for (r = 0; r < opt.rounds; r++) {
		for (i = n - 1; i > 0; i--) {
			unsigned int j = rnd_next(&rng) % (i + 1), x = order[i];

			order[i] = order[j];
			order[j] = x;
		}
		for (i = 0; i < n; i++) {
			struct gbo *b = &o[order[i]];
			uint32_t mask = rg_masks[(order[i] + id) % ARRAY_SIZE(rg_masks)];
			uint32_t mem = rnd_mem(&rng, mask);
			uint64_t bb;

			unsigned int step, steps = 1;

			/* Mostly into VRAM: that is where the pressure is. */
			if (rnd_next(&rng) % 4 && mask & (PL(VRAM0) | PL(VRAM1)))
				mem = rnd_mem(&rng, mask & (PL(VRAM0) | PL(VRAM1)));
			/* Then straight to the other region, if it may. */
			if ((mask & (PL(VRAM0) | PL(VRAM1))) ==
			    (PL(VRAM0) | PL(VRAM1)))
				steps = 2;
			for (step = 0; step < steps; step++) {
				if (step) {
					int cur = bo_mem(fd, b->handle);

					if (cur != DRM_SIMGPU_MEM_VRAM0 &&
					    cur != DRM_SIMGPU_MEM_VRAM1)
						break;
					mem = !cur;
				}
				ret = bo_migrate(fd, b->handle, mem, 0);
				if (!ret) {
					moves++;
				} else if (ret == -ENOSPC) {
					nospc++;
				} else {
					note("process %u: migrate BO %u to %s: %s",
					     id, order[i], mem_name(mem),
					     errname(ret));
					errs++;
				}
				bb = pattern_check(b->map, 0, b->size, b->seed);
				if (bb)
					note("process %u: BO %u after its move to %s (%s): %llu bad bytes",
					     id, order[i], mem_name(mem),
					     errname(ret), (unsigned long long)bb);
				bad += bb;
			}
			b->seed += 0x1000000ULL;
			pattern_fill(b->map, 0, b->size, b->seed);
		}
		bad += g_check(o, n, "BO");
	}
	diag("process %u: %u BOs of %llu MiB, %u rounds: %llu migrations, %u ENOSPC, %u errors, %llu bad bytes",
	     id, n, (unsigned long long)RG_BO_SIZE >> 20, opt.rounds,
	     (unsigned long long)moves, nospc, errs, (unsigned long long)bad);
	for (i = 0; i < n; i++) {
		munmap(o[i].map, o[i].size);
		gem_close(fd, o[i].handle);
	}
	close(fd);
	return bad || errs || !moves;
}

static int regions_mode(void)
{
	struct drm_simgpu_device_query q;
	unsigned int fails, procs = opt.procs ? opt.procs : 4;
	long long e0, e1;
	struct snap s0, s1;
	struct tap t;
	int fd;

	tap_plan(&t, 5);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0 && q.num_regions >= 2,
		       "two VRAM regions (%u: %llu + %llu MiB); %u processes, %u rounds",
		       q.num_regions,
		       (unsigned long long)q.regions[0].size >> 20,
		       (unsigned long long)q.regions[1].size >> 20, procs,
		       opt.rounds))
		return tap_finish(&t);
	close(fd);
	/* Twice the VRAM of both regions, over all processes. */
	rg_per_proc = 2 * (q.regions[0].size + q.regions[1].size) / procs;
	if (rg_per_proc < RG_BO_SIZE)
		rg_per_proc = RG_BO_SIZE;
	snap_take(&s0);
	fails = run_procs(procs, rg_worker);
	snap_take(&s1);
	snap_diag("counters", &s0, &s1);
	tap_check(&t, !fails,
		  "%u processes migrated BOs with cross-region masks (%llu MiB each, 2x both regions in all) and verified every byte after each move (%u failed)",
		  procs, (unsigned long long)rg_per_proc >> 20, fails);
	e0 = devict(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_TT) +
	     devict(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_SYSTEM);
	e1 = devict(&s0, &s1, DRM_SIMGPU_MEM_VRAM1, DRM_SIMGPU_MEM_TT) +
	     devict(&s0, &s1, DRM_SIMGPU_MEM_VRAM1, DRM_SIMGPU_MEM_SYSTEM);
	tap_check(&t, e0 > 0 && e1 > 0,
		  "evictions from VRAM0 %lld, from VRAM1 %lld", e0, e1);
	tap_check(&t, dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_VRAM1) > 0 &&
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM1, DRM_SIMGPU_MEM_VRAM0) > 0 &&
		  dlt(&s0, &s1, "engine_bytes") > 0,
		  "moves VRAM0->VRAM1 %lld, VRAM1->VRAM0 %lld; %lld engine bytes",
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_MEM_VRAM1),
		  dmove(&s0, &s1, DRM_SIMGPU_MEM_VRAM1, DRM_SIMGPU_MEM_VRAM0),
		  dlt(&s0, &s1, "engine_bytes"));
	smoke_point(&t);
	return tap_finish(&t);
}

/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "";
	int i;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			goto usage;
		if (!strcmp(a, "--seconds"))
			opt.seconds = atof(v);
		else if (!strcmp(a, "--threads"))
			opt.threads = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--procs"))
			opt.procs = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--bos"))
			opt.bos = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--bo-mb"))
			opt.bo_mb = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--rounds"))
			opt.rounds = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--deadline"))
			opt.deadline = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--syscall"))
			k_only = v;
		else if (!strcmp(a, "--full-gart"))
			full_gart = atoi(v);
		else
			goto usage;
		i++;
	}
	if (opt.seconds <= 0 || !opt.bos || !opt.bo_mb || !opt.rounds ||
	    !opt.deadline)
		goto usage;
	/* A test program's output goes to a console, a pipe or a file. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "faults"))
		return faults_mode();
	if (!strcmp(mode, "fork"))
		return fork_mode();
	if (!strcmp(mode, "kaccess"))
		return kaccess_mode();
	if (!strcmp(mode, "many"))
		return many_mode();
	if (!strcmp(mode, "gart"))
		return gart_mode();
	if (!strcmp(mode, "regions"))
		return regions_mode();
usage:
	fprintf(stderr, "usage: simgpu-race faults|fork|kaccess|many|gart|regions [OPTIONS] (see the comment at the top of race.c)\n");
	return 2;
}
