// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-fuzz: random and mutated ioctls, mmaps and page touches on the
 * render node from several processes at once.
 *
 * Each process opens its own DRM file and runs a bounded number of
 * operations: every simgpu ioctl with valid arguments on live BOs (which
 * must succeed, or fail only for lack of room), the same ioctls with
 * mutated arguments (bit flips in every field, padding and flags
 * included, odd sizes, offsets and handles, huge counts, arguments and
 * command arrays in unmapped, partially mapped or read-only memory,
 * wrong sizes in the ioctl number), random ioctl numbers in the driver's
 * range, a few DRM core ioctls, and mmap/munmap/touches of BOs.  A mutated
 * operation must fail with an errno from a known set, or succeed.
 *
 * Every process keeps a canary BO with a known pattern that only valid
 * operations see (mutated handles and mmap offsets never name it) and
 * verifies it through its mapping every CANARY_EVERY operations and at
 * the end: no other client's fuzzing may corrupt it.  Once the processes
 * are done, the checks of simgpu-smoke show the driver still works.
 *
 * Operation N of process P draws its random numbers from a generator
 * seeded with (seed + P, N) only, so a failure reported with its seed,
 * process and operation number can be replayed (--procs 1 --seed S+P, and
 * --trace to print every operation).
 *
 * Usage: simgpu-fuzz [--ops N] [--seed S] [--procs P] [--time-limit SECS]
 *                    [--trace]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define PAGE		4096ULL
#define MAX_BOS		64
#define MAX_BO_SIZE	(4 * MiB)
#define LIVE_BUDGET	(32 * MiB)	/* per process, canary excluded */
#define LEAK_SIZE	(64 * 1024)	/* most a possibly lost BO may have */
#define CANARY_SIZE	(1 * MiB)
#define CANARY_EVERY	1000
#define MAX_DIAGS	20		/* failure reports per process */
#define MAX_PROCS	64
#define STUCK_SECS	60		/* an operation this long is a hang */
#define SCRATCH_SIZE	(16 * 1024 + 256)

enum kind {
	K_DEVICE_QUERY, K_GEM_CREATE, K_MMAP_OFFSET, K_GEM_QUERY,
	K_GEM_MIGRATE, K_SUBMIT, K_WAIT, K_GEM_MADVISE, K_GEM_CLOSE,
	K_DRM, K_RAW, K_MMAP, K_TOUCH, NUM_KINDS
};

static const char *const kind_name[NUM_KINDS] = {
	"query", "create", "mmap-offset", "bo-query", "migrate", "submit",
	"wait", "madvise", "close", "drm", "raw", "mmap", "touch",
};

/* The simgpu ioctl of each kind, and its argument size. */
static const struct {
	unsigned long req;
	size_t size;
} simgpu_ioctl[] = {
	[K_DEVICE_QUERY] = { DRM_IOCTL_SIMGPU_DEVICE_QUERY,
			     sizeof(struct drm_simgpu_device_query) },
	[K_GEM_CREATE] = { DRM_IOCTL_SIMGPU_GEM_CREATE,
			   sizeof(struct drm_simgpu_gem_create) },
	[K_MMAP_OFFSET] = { DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET,
			    sizeof(struct drm_simgpu_gem_mmap_offset) },
	[K_GEM_QUERY] = { DRM_IOCTL_SIMGPU_GEM_QUERY,
			  sizeof(struct drm_simgpu_gem_query) },
	[K_GEM_MIGRATE] = { DRM_IOCTL_SIMGPU_GEM_MIGRATE,
			    sizeof(struct drm_simgpu_gem_migrate) },
	[K_SUBMIT] = { DRM_IOCTL_SIMGPU_SUBMIT,
		       sizeof(struct drm_simgpu_submit) },
	[K_WAIT] = { DRM_IOCTL_SIMGPU_WAIT, sizeof(struct drm_simgpu_wait) },
	[K_GEM_MADVISE] = { DRM_IOCTL_SIMGPU_GEM_MADVISE,
			    sizeof(struct drm_simgpu_gem_madvise) },
};

#define NUM_SIMGPU_IOCTLS	(K_GEM_MADVISE + 1)

/* Errno sets, zero-terminated. */
static const int errs_room[] = { ENOMEM, ENOSPC, 0 };
static const int errs_wait[] = { ETIME, 0 };
static const int errs_none[] = { 0 };
static const int errs_busy[] = { EBUSY, 0 };
static const int errs_mutated[] = {
	EINVAL, ENOENT, ENOMEM, ENOSPC, EFAULT, EBUSY, EINTR, ENOTTY,
	EOPNOTSUPP, E2BIG, EIO, ETIME, ETIMEDOUT, EAGAIN, 0
};
static const int errs_drm[] = {
	EINVAL, ENOENT, ENOMEM, ENOSPC, EFAULT, EBUSY, EINTR, ENOTTY,
	EOPNOTSUPP, E2BIG, EIO, ETIME, ETIMEDOUT, EAGAIN, EACCES, EPERM,
	ENOSYS, 0
};
static const int errs_mmap[] = {
	EINVAL, EACCES, ENOMEM, EPERM, EOVERFLOW, EAGAIN, 0
};

struct counts {
	uint64_t ok, err, bad;
};

/* What a process reports to the parent (shared memory). */
struct result {
	volatile uint64_t cur_op;	/* operation running, for the watchdog */
	volatile int cur_fn;		/* its index in ops[] */
	volatile int started;
	uint64_t ops;
	uint64_t bad;			/* unexpected results */
	uint64_t canary_checks;
	uint64_t canary_bad;		/* bytes that differed */
	uint64_t segv_expected;		/* deliberate bad touches caught */
	uint64_t leaked;		/* handles created but not returned */
	uint64_t adopted;		/* BOs made by mutated creates */
	int time_limited;
	int setup_failed;
	struct counts k[NUM_KINDS];
};

struct fbo {
	uint32_t handle;
	uint32_t placements;
	uint32_t preferred;
	uint32_t flags;
	uint64_t size;
	uint64_t offset;	/* mmap offset, 0 until asked for */
	void *map;		/* whole-BO read/write mapping, or NULL */
	bool exported;		/* PRIME-exported: DONTNEED fails, -EBUSY */
};

struct fuzz {
	int fd;
	unsigned int proc;
	uint64_t seed;
	uint64_t op;
	uint64_t rnd;		/* this operation's generator */
	struct drm_simgpu_device_query q;
	uint32_t all;		/* placements the device has */
	struct fbo bo[MAX_BOS];
	unsigned int nbos;
	uint64_t live;		/* bytes in bo[] */
	uint32_t canary;
	uint64_t canary_off;
	uint64_t canary_seed;
	uint8_t *canary_map;
	uint64_t last_seqno;
	uint32_t syncobj;	/* a timeline syncobj for valid submissions */
	uint64_t sync_point;	/* its last point signalled by a submission */
	uint8_t *zone;		/* [read/write][PROT_NONE][read-only] pages */
	uint8_t *scratch;
	unsigned long req;	/* the last ioctl */
	void *arg;
	int taint_fd;
	unsigned long taint;	/* kernel taint flags seen so far */
	int kmsg_fd;		/* /dev/kmsg, read as it grows */
	unsigned int diags;
	bool trace;
	struct result *res;
};

static uint64_t opt_ops = 100000;
static uint64_t opt_seed = 1;
static unsigned int opt_procs = 4;
static unsigned int opt_time_limit;
static bool opt_trace;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(struct fuzz *f)
{
	return rnd_next(&f->rnd);
}

static uint64_t below(struct fuzz *f, uint64_t n)
{
	return n ? rnd(f) % n : 0;
}

static bool chance(struct fuzz *f, unsigned int percent)
{
	return below(f, 100) < percent;
}

/* ---- signals around touches of mappings ---- */

static sigjmp_buf touch_jb;
static volatile sig_atomic_t in_touch;

static void on_fault(int sig)
{
	if (!in_touch) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	in_touch = 0;
	siglongjmp(touch_jb, sig);
}

static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/*
 * Read and write the 8-byte word at @off of @p (if @write), keeping its
 * value.  Returns 0 or the signal that hit.
 */
static int touch(volatile uint64_t *p, uint64_t off, bool write)
{
	volatile uint64_t *w = p + off / 8;
	int sig;

	sig = sigsetjmp(touch_jb, 1);
	if (sig)
		return sig;
	in_touch = 1;
	if (write)
		*w = *w;
	else
		(void)*w;
	in_touch = 0;
	return 0;
}

/* ---- reporting ---- */

static void hexdump(const void *p, size_t len)
{
	const uint8_t *b = p;
	char line[3 * 32 + 1];
	size_t i, n = 0;

	for (i = 0; i < len && i < 256; i++) {
		n += snprintf(line + n, sizeof(line) - n, "%02x ", b[i]);
		if (i % 32 == 31 || i + 1 == len || i == 255) {
			printf("#   %04zx: %s\n", i & ~(size_t)31, line);
			n = 0;
		}
	}
}

static void fail(struct fuzz *f, enum kind k, const char *what, int ret,
		 const void *arg, size_t len)
{
	f->res->bad++;
	f->res->k[k].bad++;
	if (f->diags++ >= MAX_DIAGS)
		return;
	printf("# FAIL proc %u seed %llu op %llu: %s %s: %d (%s); last ioctl 0x%lx arg %p\n",
	       f->proc, (unsigned long long)f->seed, (unsigned long long)f->op,
	       kind_name[k], what, ret, ret < 0 ? strerror(-ret) : "-",
	       f->req, f->arg);
	if (arg && len)
		hexdump(arg, len);
	fflush(stdout);
}

static bool in_set(int err, const int *set)
{
	for (; *set; set++)
		if (*set == err)
			return true;
	return false;
}

/* Kernel taints that mean a WARN, BUG/oops, bad page or soft lockup. */
#define TAINT_BAD	((1UL << 5) | (1UL << 7) | (1UL << 9) | (1UL << 14))

static unsigned long taint_read(struct fuzz *f)
{
	char buf[32];
	ssize_t n;

	if (f->taint_fd < 0)
		return 0;
	n = pread(f->taint_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoul(buf, NULL, 10);
}

/* Kernel log lines that fail a test run (as the VM tests' console check). */
static const char *const kmsg_bad[] = {
	"WARNING:", "BUG:", "Oops", "Call Trace", "lockdep", "possible circular",
	"possible recursive", "KASAN", "UBSAN", "blocked for more than",
	"soft lockup", "vmalloc error", "page allocation failure",
};

/* The first new kernel log line that fails a run, in @line; false if none. */
static bool kmsg_check(struct fuzz *f, char *line, size_t len)
{
	char rec[1024], *msg;
	bool found = false;
	unsigned int i;
	ssize_t n;

	if (f->kmsg_fd < 0)
		return false;
	while ((n = read(f->kmsg_fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;	/* records were overwritten */
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = '\0';
		for (i = 0; !found && i < sizeof(kmsg_bad) / sizeof(*kmsg_bad); i++)
			if (strstr(msg, kmsg_bad[i])) {
				size_t m = strnlen(msg, len - 1);

				memcpy(line, msg, m);
				line[m] = '\0';
				found = true;
			}
	}
	return found;
}

/*
 * Count @ret of an operation; a failure not in @set is reported, and so
 * is a kernel warning, oops or splat that happened meanwhile (in this
 * operation, or in another process's at the same time).
 */
static bool account(struct fuzz *f, enum kind k, int ret, const int *set,
		    const char *what, const void *arg, size_t len)
{
	unsigned long taint = taint_read(f);
	char line[200], msg[400];
	bool tainted = (taint & ~f->taint) & TAINT_BAD;
	bool logged = kmsg_check(f, line, sizeof(line));

	if (logged || tainted) {
		if (logged)
			snprintf(msg, sizeof(msg),
				 "%s: during this or a concurrent op the kernel logged '%s'",
				 what, line);
		else
			snprintf(msg, sizeof(msg),
				 "%s: during this or a concurrent op the kernel became tainted 0x%lx",
				 what, taint);
		f->taint = taint;
		fail(f, k, msg, ret, arg, len);
		return false;
	}
	if (!ret) {
		f->res->k[k].ok++;
		return true;
	}
	if (ret < 0 && in_set(-ret, set)) {
		f->res->k[k].err++;
		return true;
	}
	fail(f, k, what, ret, arg, len);
	return false;
}

static int xioctl(struct fuzz *f, unsigned long req, void *arg)
{
	f->req = req;
	f->arg = arg;
	return ioctl(f->fd, req, arg) ? -errno : 0;
}

/* ---- the BO table ---- */

static struct fbo *pick_bo(struct fuzz *f)
{
	return f->nbos ? &f->bo[below(f, f->nbos)] : NULL;
}

static struct fbo *find_bo(struct fuzz *f, uint32_t handle)
{
	unsigned int i;

	for (i = 0; i < f->nbos; i++)
		if (f->bo[i].handle == handle)
			return &f->bo[i];
	return NULL;
}

static void forget_bo(struct fuzz *f, struct fbo *b)
{
	if (b->map)
		munmap(b->map, b->size);
	f->live -= b->size;
	*b = f->bo[--f->nbos];
}

static bool bo_room(struct fuzz *f, uint64_t size)
{
	return f->nbos < MAX_BOS && f->live + size <= LIVE_BUDGET;
}

static void add_bo(struct fuzz *f, const struct drm_simgpu_gem_create *c)
{
	struct fbo *b = &f->bo[f->nbos++];

	memset(b, 0, sizeof(*b));
	b->handle = c->handle;
	b->placements = c->placements;
	b->preferred = c->preferred;
	b->flags = c->flags;
	b->size = (c->size + PAGE - 1) & ~(PAGE - 1);
	f->live += b->size;
}

/*
 * A BO made by a mutated operation: keep it if it is small enough,
 * close it otherwise.
 */
static void adopt(struct fuzz *f, const struct drm_simgpu_gem_create *c)
{
	f->res->adopted++;
	if (c->handle == f->canary || find_bo(f, c->handle)) {
		fail(f, K_GEM_CREATE, "returned a handle already in use",
		     (int)c->handle, c, sizeof(*c));
		return;
	}
	if (c->size && c->size <= MAX_BO_SIZE && bo_room(f, c->size))
		add_bo(f, c);
	else if (gem_close(f->fd, c->handle))
		fail(f, K_GEM_CLOSE, "of a BO from a mutated create", -EINVAL,
		     c, sizeof(*c));
}

static uint64_t bo_offset(struct fuzz *f, struct fbo *b)
{
	struct drm_simgpu_gem_mmap_offset m = { .handle = b->handle };
	int ret;

	if (b->offset)
		return b->offset;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m);
	if (account(f, K_MMAP_OFFSET, ret, errs_none, "of a live BO", &m,
		    sizeof(m)) && !ret)
		b->offset = m.offset;
	return b->offset;
}

static void *bo_mapping(struct fuzz *f, struct fbo *b)
{
	void *p;

	if (b->map || !bo_offset(f, b))
		return b->map;
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 b->offset);
	if (!account(f, K_MMAP, p == MAP_FAILED ? -errno : 0, errs_room,
		     "of a whole live BO", b, sizeof(*b)) || p == MAP_FAILED)
		return NULL;
	b->map = p;
	return p;
}

/* Touch @n random words of the first @len bytes of @p; 0 or a signal. */
static int touch_pages(struct fuzz *f, void *p, uint64_t len, unsigned int n,
		       bool write)
{
	int sig = 0;

	while (n-- && !sig)
		sig = touch(p, below(f, len / 8) * 8, write);
	return sig;
}

/* ---- mutation ---- */

static const uint64_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 0x3f, 0x40, 0x41, 0x7f, 0x80, 0xff, 0xfff,
	0x1000, 0x1001, 0xffff, 0x10000, 0x100000, 0x400000, 0x400001,
	0x7fffffff, 0x80000000, 0xfffff000, 0xffffffff, 0x100000000ULL,
	0x100001000ULL, 1ULL << 40, 0x7fffffffffffffffULL,
	0x8000000000000000ULL, 0xfffffffffffff000ULL, 0xffffffffffffffffULL,
};

static uint64_t pick_interesting(struct fuzz *f)
{
	uint64_t v = interesting[below(f, sizeof(interesting) /
					 sizeof(interesting[0]))];

	return chance(f, 20) ? -v : v;
}

/* Keep mutated arguments off the canary: no 32-bit word may name it. */
static void scrub(struct fuzz *f, void *buf, size_t len)
{
	uint32_t *w = buf;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] == f->canary)
			w[i] ^= 0x10000;
}

/* 1 to 3 random mutations of @len bytes at @buf. */
static void mutate(struct fuzz *f, void *buf, size_t len)
{
	unsigned int n = 1 + below(f, 3);
	uint8_t *b = buf;

	if (!len)
		return;
	while (n--) {
		size_t at;
		uint64_t v;

		switch (below(f, 5)) {
		case 0:
		case 1:	/* a bit flip anywhere */
			b[below(f, len)] ^= 1 << below(f, 8);
			break;
		case 2:	/* an interesting 32-bit word */
			if (len < 4)
				break;
			at = below(f, len / 4) * 4;
			v = pick_interesting(f);
			memcpy(b + at, &v, 4);
			break;
		case 3:	/* an interesting 64-bit word */
			if (len < 8)
				break;
			at = below(f, len / 8) * 8;
			v = pick_interesting(f);
			memcpy(b + at, &v, 8);
			break;
		default: {	/* a 32-bit word off by a little */
			uint32_t w;

			if (len < 4)
				break;
			at = below(f, len / 4) * 4;
			memcpy(&w, b + at, 4);
			w += (uint32_t)below(f, 9) - 4;
			memcpy(b + at, &w, 4);
		}
		}
	}
	scrub(f, buf, len);
}

/* A handle: a live one, a closed or made-up one, or an odd value. */
static uint32_t some_handle(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	uint32_t h;

	switch (below(f, 4)) {
	case 0:
	case 1:
		h = b ? b->handle : 1;
		break;
	case 2:
		h = below(f, 2 * MAX_BOS + 8);
		break;
	default:
		h = pick_interesting(f);
	}
	return h == f->canary ? h ^ 0x10000 : h;
}

enum where { W_LOCAL, W_RO, W_PARTIAL, W_NONE, W_NULL, W_KERNEL,
	     W_NONCANON };

static enum where pick_where(struct fuzz *f)
{
	uint64_t w = below(f, 100);

	if (w < 84)
		return W_LOCAL;
	if (w < 88)
		return W_RO;
	if (w < 92)
		return W_PARTIAL;
	if (w < 95)
		return W_NONE;
	if (w < 97)
		return W_NULL;
	if (w < 99)
		return W_KERNEL;
	return W_NONCANON;
}

/*
 * Where an argument of @len bytes at @buf is passed from: @buf itself,
 * a read-only copy, a copy that runs into a PROT_NONE page, a PROT_NONE
 * page, NULL, a kernel or a non-canonical address.
 */
static void *place(struct fuzz *f, enum where w, void *buf, size_t len)
{
	uint8_t *none = f->zone + PAGE, *ro = f->zone + 2 * PAGE;

	switch (w) {
	case W_LOCAL:
		return buf;
	case W_RO:
		len = len < PAGE ? len : PAGE;
		mprotect(ro, PAGE, PROT_READ | PROT_WRITE);
		memcpy(ro, buf, len);
		mprotect(ro, PAGE, PROT_READ);
		return ro;
	case W_PARTIAL: {
		size_t head = len > 1 ? below(f, len - 1) + 1 : 0;

		head = head < PAGE ? head : PAGE;
		memcpy(none - head, buf, head);
		return none - head;
	}
	case W_NONE:
		return none + below(f, PAGE / 8) * 8;
	case W_NULL:
		return NULL;
	case W_KERNEL:
		return (void *)(uintptr_t)0xffffffff81000000ULL;
	default:
		return (void *)(uintptr_t)0x0000800000000000ULL;
	}
}

/* ---- valid operations ---- */

static uint32_t pick_placements(struct fuzz *f, uint32_t *preferred)
{
	uint32_t mask, mem;

	do {
		mask = below(f, 16) & f->all;
	} while (!mask);
	do {
		mem = below(f, DRM_SIMGPU_NUM_MEM);
	} while (!(mask & DRM_SIMGPU_PLACEMENT(mem)));
	*preferred = mem;
	return mask;
}

static uint64_t pick_size(struct fuzz *f, uint64_t max)
{
	uint64_t pages = 1ULL << below(f, 11), size;

	size = (pages + below(f, pages)) * PAGE;
	if (chance(f, 20))
		size -= below(f, PAGE);
	return size > max ? max : size;
}

static void op_close(struct fuzz *f);

static void op_create(struct fuzz *f)
{
	struct drm_simgpu_gem_create c = { 0 };
	int ret;

	c.size = pick_size(f, MAX_BO_SIZE);
	c.placements = pick_placements(f, &c.preferred);
	c.flags = below(f, 2) ? DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS : 0;
	if (!bo_room(f, c.size)) {
		op_close(f);
		return;
	}
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_CREATE, &c);
	if (account(f, K_GEM_CREATE, ret, errs_room, "valid", &c,
		    sizeof(c)) && !ret)
		add_bo(f, &c);
}

static void op_close(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	void *map;
	int ret, sig;

	if (!b)
		return;
	map = b->map;
	if (map && chance(f, 50)) {
		munmap(map, b->size);
		map = NULL;
	}
	ret = gem_close(f->fd, b->handle);
	account(f, K_GEM_CLOSE, ret, errs_none, "of a live BO", b, sizeof(*b));
	if (map) {
		/* The mapping keeps the BO alive. */
		sig = touch_pages(f, map, b->size, 2, true);
		account(f, K_TOUCH, sig ? -EFAULT : 0, errs_none,
			"of a mapping of a closed BO", b, sizeof(*b));
	}
	forget_bo(f, b);
}

static void op_mmap_offset(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	struct drm_simgpu_gem_mmap_offset m = { 0 };
	int ret;

	if (!b)
		return;
	m.handle = b->handle;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m);
	if (!account(f, K_MMAP_OFFSET, ret, errs_none, "valid", &m, sizeof(m)) ||
	    ret)
		return;
	if (!m.offset || m.offset % PAGE || (b->offset && m.offset != b->offset))
		fail(f, K_MMAP_OFFSET, "bad or changed offset", 0, &m, sizeof(m));
	b->offset = m.offset;
}

static void op_gem_query(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	struct drm_simgpu_gem_query q = { 0 };
	int ret;

	if (!b)
		return;
	q.handle = b->handle;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_QUERY, &q);
	if (!account(f, K_GEM_QUERY, ret, errs_none, "valid", &q, sizeof(q)) ||
	    ret)
		return;
	if (q.size != b->size || q.placements != b->placements ||
	    q.preferred != b->preferred || q.create_flags != b->flags ||
	    q.mem >= DRM_SIMGPU_NUM_MEM || q.busy > 1 || q.cpu_visible > 1 ||
	    !((b->placements | DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
	       DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM)) &
	      DRM_SIMGPU_PLACEMENT(q.mem)))
		fail(f, K_GEM_QUERY, "answer does not match the BO", 0, &q,
		     sizeof(q));
}

static void op_migrate(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	struct drm_simgpu_gem_migrate m = { 0 };
	int ret;

	if (!b)
		return;
	m.handle = b->handle;
	do {
		m.mem = below(f, DRM_SIMGPU_NUM_MEM);
	} while (!(b->placements & DRM_SIMGPU_PLACEMENT(m.mem)));
	m.flags = below(f, 2) ? DRM_SIMGPU_MIGRATE_CPU_VISIBLE : 0;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_MIGRATE, &m);
	account(f, K_GEM_MIGRATE, ret, errs_room, "valid", &m, sizeof(m));
}

#define GPU_PLACEMENTS (DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) | \
			DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1) | \
			DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT))

/* A BO the engine may use, or NULL. */
static struct fbo *pick_gpu_bo(struct fuzz *f)
{
	unsigned int tries;

	for (tries = 0; tries < 8; tries++) {
		struct fbo *b = pick_bo(f);

		if (b && (b->placements & GPU_PLACEMENTS))
			return b;
	}
	return NULL;
}

/* A valid command on live BOs; false if there are none to use. */
static bool valid_cmd(struct fuzz *f, struct drm_simgpu_cmd *c)
{
	struct fbo *src = pick_gpu_bo(f), *dst = pick_gpu_bo(f);
	uint64_t len;

	if (!src || !dst)
		return false;
	if (chance(f, 50)) {
		uint64_t max = src->size < dst->size ? src->size : dst->size;

		if (chance(f, 50) && max > 4096)
			max = 4096;
		len = 1 + below(f, max);
		*c = cmd_copy(src->handle, below(f, src->size - len + 1),
			      dst->handle, below(f, dst->size - len + 1), len);
	} else {
		len = 4 * (1 + below(f, chance(f, 50) ? dst->size / 4 : 1024));
		len = len < dst->size ? len : dst->size;
		*c = cmd_fill(dst->handle, 4 * below(f, (dst->size - len) / 4 + 1),
			      len, (uint32_t)rnd(f));
	}
	return true;
}

static void op_submit(struct fuzz *f)
{
	struct drm_simgpu_cmd cmds[4];
	struct drm_simgpu_submit s = { 0 };
	unsigned int i, n = 1 + below(f, 4);
	struct drm_simgpu_sync in = { .handle = f->syncobj };
	struct drm_simgpu_sync out = { .handle = f->syncobj };
	int ret;

	for (i = 0; i < n; i++)
		if (!valid_cmd(f, &cmds[i]))
			return;
	s.cmds = (uintptr_t)cmds;
	s.num_cmds = n;
	/* Explicit sync on the timeline: wait for its last point, add one. */
	if (f->syncobj && f->sync_point && chance(f, 30)) {
		in.point = f->sync_point - below(f, f->sync_point);
		s.in_syncs = (uintptr_t)&in;
		s.num_in_syncs = 1;
	}
	if (f->syncobj && chance(f, 30)) {
		out.point = f->sync_point + 1;
		s.out_syncs = (uintptr_t)&out;
		s.num_out_syncs = 1;
	}
	if (chance(f, 10))
		s.flags = DRM_SIMGPU_SUBMIT_FENCE_OUT;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_SUBMIT, &s);
	if (account(f, K_SUBMIT, ret, errs_room, "valid", cmds,
		    n * sizeof(cmds[0])) && !ret) {
		f->last_seqno = s.seqno;
		f->sync_point += s.num_out_syncs;
		if (s.flags & DRM_SIMGPU_SUBMIT_FENCE_OUT && s.out_fence_fd >= 0)
			close(s.out_fence_fd);
	}
}

static int64_t pick_timeout(struct fuzz *f)
{
	static const int64_t t[] = { 0, 1000, 1000000, 100000000, 2000000000 };

	return t[below(f, 5)];
}

static void op_wait(struct fuzz *f)
{
	struct drm_simgpu_wait w = { 0 };
	struct fbo *b = pick_bo(f);
	int ret;

	w.timeout_ns = pick_timeout(f);
	if (f->last_seqno && (!b || chance(f, 50))) {
		w.flags = DRM_SIMGPU_WAIT_SEQNO;
		w.seqno = f->last_seqno;
	} else if (b) {
		w.handle = b->handle;
	} else {
		return;
	}
	ret = xioctl(f, DRM_IOCTL_SIMGPU_WAIT, &w);
	account(f, K_WAIT, ret, errs_wait, "valid", &w, sizeof(w));
}

static void op_madvise(struct fuzz *f)
{
	struct drm_simgpu_gem_madvise m = { 0 };
	struct fbo *b = pick_bo(f);
	int ret;

	if (!b)
		return;
	m.handle = b->handle;
	m.madv = chance(f, 30) ? DRM_SIMGPU_MADV_DONTNEED :
				 DRM_SIMGPU_MADV_WILLNEED;
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);
	/* A shared BO stays WILLNEED (uapi: struct drm_simgpu_gem_madvise). */
	if (b->exported && m.madv == DRM_SIMGPU_MADV_DONTNEED && ret != -EBUSY)
		fail(f, K_GEM_MADVISE, "DONTNEED on an exported BO: not EBUSY",
		     ret, &m, sizeof(m));
	else if (account(f, K_GEM_MADVISE, ret,
			 b->exported ? errs_busy : errs_none, "valid", &m,
			 sizeof(m)) &&
	    !ret && m.retained > 1)
		fail(f, K_GEM_MADVISE, "retained is not 0 or 1", 0, &m,
		     sizeof(m));
}

static void op_device_query(struct fuzz *f)
{
	struct drm_simgpu_device_query q;
	int ret;

	memset(&q, 0, sizeof(q));
	ret = xioctl(f, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	if (account(f, K_DEVICE_QUERY, ret, errs_none, "valid", &q, 64) &&
	    !ret && (q.num_regions != f->q.num_regions ||
		     q.gart_size != f->q.gart_size ||
		     memcmp(q.regions, f->q.regions, sizeof(q.regions))))
		fail(f, K_DEVICE_QUERY, "answer changed", 0, &q, 64);
}

static void op_touch(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	void *p;
	int sig;

	if (!b)
		return;
	p = bo_mapping(f, b);
	if (!p)
		return;
	sig = touch_pages(f, p, b->size, 1 + below(f, 4), chance(f, 70));
	account(f, K_TOUCH, sig ? -EFAULT : 0, errs_none,
		!sig ? "of a live BO" : sig == SIGBUS ? "SIGBUS on a live BO" :
		"SIGSEGV on a live BO", b, sizeof(*b));
}

static void op_munmap(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);

	if (b && b->map) {
		munmap(b->map, b->size);
		b->map = NULL;
	}
}

/* A write through a read-only mapping must raise SIGSEGV, and only that. */
static void op_bad_touch(struct fuzz *f)
{
	struct fbo *b = pick_bo(f);
	void *p;
	int sig;

	if (!b || !bo_offset(f, b))
		return;
	p = mmap(NULL, b->size, PROT_READ, MAP_SHARED, f->fd, b->offset);
	if (!account(f, K_MMAP, p == MAP_FAILED ? -errno : 0, errs_room,
		     "read-only of a live BO", b, sizeof(*b)) || p == MAP_FAILED)
		return;
	sig = touch_pages(f, p, b->size, 1, false);
	if (sig)
		fail(f, K_TOUCH, "read of a read-only mapping", -EFAULT, b,
		     sizeof(*b));
	sig = touch(p, below(f, b->size / 8) * 8, true);
	if (sig == SIGSEGV) {
		f->res->segv_expected++;
		f->res->k[K_TOUCH].err++;
	} else {
		fail(f, K_TOUCH, "write to a read-only mapping did not fault",
		     sig, b, sizeof(*b));
	}
	munmap(p, b->size);
}

/* ---- mutated operations ---- */

/* A valid-looking argument for simgpu ioctl @k, in @buf. */
static void base_arg(struct fuzz *f, enum kind k, void *buf,
		     struct drm_simgpu_cmd *cmds, unsigned int *ncmds)
{
	struct fbo *b = pick_bo(f);
	uint32_t h = some_handle(f);

	switch (k) {
	case K_GEM_CREATE: {
		struct drm_simgpu_gem_create *c = buf;

		c->size = pick_size(f, LEAK_SIZE);
		c->placements = pick_placements(f, &c->preferred);
		c->flags = below(f, 2);
		break;
	}
	case K_MMAP_OFFSET:
		((struct drm_simgpu_gem_mmap_offset *)buf)->handle = h;
		break;
	case K_GEM_QUERY:
		((struct drm_simgpu_gem_query *)buf)->handle = h;
		break;
	case K_GEM_MIGRATE: {
		struct drm_simgpu_gem_migrate *m = buf;

		m->handle = h;
		m->mem = below(f, DRM_SIMGPU_NUM_MEM);
		m->flags = below(f, 2);
		break;
	}
	case K_SUBMIT: {
		unsigned int i;

		*ncmds = chance(f, 10) ? DRM_SIMGPU_MAX_CMDS : 1 + below(f, 4);
		for (i = 0; i < *ncmds; i++) {
			if (!valid_cmd(f, &cmds[i]))
				cmds[i] = cmd_fill(h, 0, 4, 0);
			if (chance(f, 60))
				mutate(f, &cmds[i], sizeof(cmds[i]));
		}
		((struct drm_simgpu_submit *)buf)->num_cmds = *ncmds;
		break;
	}
	case K_WAIT: {
		struct drm_simgpu_wait *w = buf;

		w->timeout_ns = pick_timeout(f);
		if (chance(f, 50)) {
			w->flags = DRM_SIMGPU_WAIT_SEQNO;
			w->seqno = f->last_seqno + below(f, 3);
		} else {
			w->handle = b ? b->handle : h;
		}
		break;
	}
	case K_GEM_MADVISE: {
		struct drm_simgpu_gem_madvise *m = buf;

		m->handle = h;
		m->madv = below(f, 2);
		break;
	}
	default:
		break;
	}
}

/*
 * Keep the size of a mutated create out of the range where the new BO
 * could take a big part of the guest's memory: above MAX_BO_SIZE (or
 * LEAK_SIZE if the handle may not come back, so nothing can free the BO)
 * and up to twice the GART.  Bigger BOs fit only SYSTEM and never get
 * pages, as nothing maps them.
 */
static void clamp_create(struct fuzz *f, void *buf, size_t len, bool may_leak)
{
	uint64_t size, limit = may_leak ? LEAK_SIZE : MAX_BO_SIZE;

	if (len < 8)
		return;
	memcpy(&size, buf, 8);
	if (size > limit && size <= 2 * f->q.gart_size + MAX_BO_SIZE)
		size %= limit;
	memcpy(buf, &size, 8);
}

/* After a successful mutated ioctl: take note of handles made or closed. */
static void mutated_done(struct fuzz *f, enum kind k, bool readable,
			 void *buf, size_t len)
{
	if (k != K_GEM_CREATE)
		return;
	if (!readable || len < sizeof(struct drm_simgpu_gem_create)) {
		f->res->leaked++;
		return;
	}
	adopt(f, buf);
}

/* Simgpu ioctl @k with mutated arguments. */
static void op_mutated(struct fuzz *f, enum kind k)
{
	union {
		struct drm_simgpu_device_query dq;
		uint8_t bytes[512];
	} u;
	struct drm_simgpu_cmd cmds[DRM_SIMGPU_MAX_CMDS];
	struct drm_simgpu_submit *s = (void *)&u;
	unsigned long req = simgpu_ioctl[k].req;
	size_t len = simgpu_ioctl[k].size, ulen = len;
	unsigned int ncmds = 0;
	enum where w, cw;
	bool wrong_size = chance(f, 10);
	void *arg;
	int ret;

	memset(&u, 0, sizeof(u));
	base_arg(f, k, &u, cmds, &ncmds);
	if (chance(f, 90))
		mutate(f, &u, len);
	if (wrong_size) {
		/* The right number with a wrong size or direction. */
		ulen = chance(f, 50) ? below(f, len + 64) :
				       len + 8 * ((int)below(f, 5) - 2);
		ulen = ulen > sizeof(u) ? sizeof(u) : ulen;
		req = _IOC(below(f, 4), DRM_IOCTL_BASE, _IOC_NR(req), ulen);
	}
	w = pick_where(f);
	if (k == K_GEM_CREATE)
		clamp_create(f, &u, len, w != W_LOCAL || wrong_size);
	if (k == K_SUBMIT) {
		cw = pick_where(f);
		s->cmds = (uintptr_t)place(f, cw, cmds,
					   ncmds * sizeof(cmds[0]));
		if (chance(f, 10))
			s->num_cmds = pick_interesting(f);
		if (chance(f, 5))
			s->cmds = pick_interesting(f);
	}
	scrub(f, &u, sizeof(u));
	arg = place(f, w, &u, ulen);
	ret = xioctl(f, req, arg);
	if (!account(f, k, ret, errs_mutated, wrong_size ? "mutated, wrong size"
		     : "mutated", &u, ulen))
		return;
	if (!ret)
		mutated_done(f, k, w == W_LOCAL &&
			     (!wrong_size || _IOC_DIR(req) & _IOC_READ), &u,
			     ulen);
	if (!ret && k == K_SUBMIT && w == W_LOCAL && !wrong_size) {
		f->last_seqno = s->seqno;
		if (s->flags & DRM_SIMGPU_SUBMIT_FENCE_OUT && s->out_fence_fd >= 0)
			close(s->out_fence_fd);
	}
}

static void op_mutated_any(struct fuzz *f)
{
	op_mutated(f, below(f, NUM_SIMGPU_IOCTLS));
}

/* Random numbers in the driver's ioctl range, random payloads. */
static void op_raw(struct fuzz *f)
{
	unsigned int nr = DRM_COMMAND_BASE + below(f, 0x20);
	unsigned int dir = below(f, 4);
	size_t len = chance(f, 80) ? below(f, 160) : below(f, SCRATCH_SIZE);
	unsigned long req;
	size_t i;
	int ret;

	for (i = 0; i < len; i++)
		f->scratch[i] = chance(f, 50) ? 0 : (uint8_t)rnd(f);
	scrub(f, f->scratch, len);
	if (nr == DRM_COMMAND_BASE + DRM_SIMGPU_GEM_CREATE)
		clamp_create(f, f->scratch, len, true);
	/* A command array, if any, is the (scrubbed) payload itself. */
	if (nr == DRM_COMMAND_BASE + DRM_SIMGPU_SUBMIT && len >= 8 &&
	    chance(f, 50))
		*(uint64_t *)f->scratch = (uintptr_t)f->scratch;
	req = _IOC(dir, DRM_IOCTL_BASE, nr, len);
	ret = xioctl(f, req, f->scratch);
	if (account(f, K_RAW, ret, errs_mutated, "random number", f->scratch,
		    len > 64 ? 64 : len) && !ret &&
	    nr == DRM_COMMAND_BASE + DRM_SIMGPU_GEM_CREATE)
		mutated_done(f, K_GEM_CREATE, dir & _IOC_READ, f->scratch, len);
}

/* DRM core ioctls with odd arguments. */
static void op_drm(struct fuzz *f)
{
	enum where w = pick_where(f);
	union {
		struct drm_gem_close close;
		struct drm_version version;
		struct drm_get_cap cap;
		struct drm_gem_flink flink;
		struct drm_prime_handle prime;
		uint8_t bytes[64];
	} u;
	unsigned long req;
	size_t len;
	int ret;

	memset(&u, 0, sizeof(u));
	switch (below(f, 5)) {
	case 0:
		req = DRM_IOCTL_GEM_CLOSE;
		len = sizeof(u.close);
		u.close.handle = some_handle(f);
		if (u.close.handle && find_bo(f, u.close.handle) && chance(f, 70))
			u.close.handle = 0x10000 + below(f, 0x10000);
		break;
	case 1:
		req = DRM_IOCTL_VERSION;
		len = sizeof(u.version);
		u.version.name = place(f, pick_where(f), f->scratch, 64);
		u.version.name_len = below(f, 2) ? pick_interesting(f) : 64;
		u.version.date = place(f, pick_where(f), f->scratch + 64, 64);
		u.version.date_len = below(f, 2) ? pick_interesting(f) : 64;
		u.version.desc = place(f, pick_where(f), f->scratch + 128, 64);
		u.version.desc_len = below(f, 2) ? pick_interesting(f) : 64;
		/* The kernel writes at most the string: 64 bytes are room. */
		if (u.version.name_len > 64 && (uint8_t *)u.version.name ==
		    f->scratch)
			u.version.name_len = 64;
		if (u.version.date_len > 64 && (uint8_t *)u.version.date ==
		    f->scratch + 64)
			u.version.date_len = 64;
		if (u.version.desc_len > 64 && (uint8_t *)u.version.desc ==
		    f->scratch + 128)
			u.version.desc_len = 64;
		break;
	case 2:
		req = DRM_IOCTL_GET_CAP;
		len = sizeof(u.cap);
		u.cap.capability = chance(f, 50) ? below(f, 0x20) :
						   pick_interesting(f);
		break;
	case 3:
		req = DRM_IOCTL_GEM_FLINK;
		len = sizeof(u.flink);
		u.flink.handle = some_handle(f);
		break;
	default:
		req = DRM_IOCTL_PRIME_HANDLE_TO_FD;
		len = sizeof(u.prime);
		u.prime.handle = some_handle(f);
		u.prime.flags = chance(f, 50) ? DRM_CLOEXEC : pick_interesting(f);
		u.prime.fd = -1;
		break;
	}
	if (chance(f, 30) && req != DRM_IOCTL_VERSION)
		mutate(f, &u, len);
	scrub(f, &u, len);
	/* A dma-buf fd the kernel made but could not return would leak. */
	if (req == DRM_IOCTL_PRIME_HANDLE_TO_FD)
		w = W_LOCAL;
	ret = xioctl(f, req, place(f, w, &u, len));
	if (!account(f, K_DRM, ret, errs_drm, "core ioctl", &u, len) || ret)
		return;
	if (req == DRM_IOCTL_PRIME_HANDLE_TO_FD) {
		struct fbo *b = find_bo(f, u.prime.handle);

		close(u.prime.fd);
		/* DRM keeps the dma-buf while the handle lives. */
		if (b)
			b->exported = true;
	}
	/* Read-only arguments: it closed the handle wherever they were. */
	if (req == DRM_IOCTL_GEM_CLOSE) {
		struct fbo *b = find_bo(f, u.close.handle);

		if (b)
			forget_bo(f, b);
	}
}

/* mmap() with odd offsets, lengths, protections and flags. */
static void op_bad_mmap(struct fuzz *f)
{
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	struct fbo *b = pick_bo(f), *target = NULL;
	uint64_t off = 0, len, size = b ? b->size : PAGE, desc[3];
	int prot = prots[below(f, 6)];
	int flags = chance(f, 85) ? MAP_SHARED : MAP_PRIVATE;
	void *p;
	int ret;

	if (b && bo_offset(f, b)) {
		off = b->offset;
		if (chance(f, 50))
			target = b;
		else
			off += PAGE * (below(f, 9) - 4);
	}
	if (chance(f, 15))
		off = chance(f, 50) ? pick_interesting(f) : rnd(f);
	switch (below(f, 7)) {
	case 0:
		len = 0;
		break;
	case 1:
		len = 1 + below(f, PAGE);
		break;
	case 2:
		len = size - PAGE * below(f, size / PAGE);
		break;
	case 3:
		len = size + PAGE * (1 + below(f, 4));
		break;
	case 4:
		len = pick_interesting(f);
		break;
	default:
		len = size;
	}
	/* Never map the canary here: its pattern is written only once. */
	if (off < f->canary_off + CANARY_SIZE &&
	    (len > UINT64_MAX - off || off + len > f->canary_off))
		off = f->canary_off + CANARY_SIZE + PAGE * below(f, 4);
	if (off != (b ? b->offset : 0) || len > size)
		target = NULL;
	p = mmap(NULL, len, prot, flags, f->fd, off);
	ret = p == MAP_FAILED ? -errno : 0;
	desc[0] = off;
	desc[1] = len;
	desc[2] = (uint64_t)prot << 32 | flags;
	if (!account(f, K_MMAP, ret, errs_mmap, "odd mmap (offset, length, prot << 32 | flags)",
		     desc, sizeof(desc)) || ret)
		return;
	/* Only the BO it was meant to map is touched. */
	if (target && (prot & PROT_READ) && flags == MAP_SHARED) {
		ret = touch_pages(f, p, len, 2, prot & PROT_WRITE);
		account(f, K_TOUCH, ret ? -EFAULT : 0, errs_none,
			"of a partial mapping", b, sizeof(*b));
	}
	munmap(p, len);
}

/* ---- the canary ---- */

static void canary_check(struct fuzz *f, bool last)
{
	struct drm_simgpu_gem_madvise m = { .handle = f->canary };
	volatile uint64_t bad = 0;
	uint64_t off;
	uint32_t mem;
	int sig, ret;

	sig = sigsetjmp(touch_jb, 1);
	if (!sig) {
		in_touch = 1;
		bad = pattern_check(f->canary_map, 0, CANARY_SIZE,
				    f->canary_seed);
		in_touch = 0;
	}
	f->res->canary_checks++;
	if (sig || bad) {
		f->res->canary_bad += sig ? CANARY_SIZE : bad;
		for (off = 0; !sig && off < CANARY_SIZE; off += 8)
			if (pattern_check(f->canary_map, off, 8, f->canary_seed))
				break;
		printf("# FAIL proc %u seed %llu op %llu: canary: %llu bytes differ, first at 0x%llx (signal %d)\n",
		       f->proc, (unsigned long long)f->seed,
		       (unsigned long long)f->op, (unsigned long long)bad,
		       (unsigned long long)off, sig);
		fflush(stdout);
		/* Report each corruption once. */
		pattern_fill(f->canary_map, 0, CANARY_SIZE, f->canary_seed);
	}
	ret = xioctl(f, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);
	if (ret || !m.retained)
		fail(f, K_GEM_MADVISE, "canary not retained", ret, &m,
		     sizeof(m));
	if (last)
		return;
	/* Valid moves only: the canary goes anywhere between checks. */
	do {
		mem = below(f, DRM_SIMGPU_NUM_MEM);
	} while (!(f->all & DRM_SIMGPU_PLACEMENT(mem)));
	ret = bo_migrate(f->fd, f->canary, mem,
			 below(f, 2) ? DRM_SIMGPU_MIGRATE_CPU_VISIBLE : 0);
	account(f, K_GEM_MIGRATE, ret, errs_room, "of the canary", NULL, 0);
}

/* ---- one process ---- */

struct op_desc {
	void (*fn)(struct fuzz *f);
	unsigned int weight;
	const char *name;
};

static void op_mut_query(struct fuzz *f) { op_mutated(f, K_DEVICE_QUERY); }
static void op_mut_create(struct fuzz *f) { op_mutated(f, K_GEM_CREATE); }
static void op_mut_submit(struct fuzz *f) { op_mutated(f, K_SUBMIT); }
static void op_mut_wait(struct fuzz *f) { op_mutated(f, K_WAIT); }

static const struct op_desc ops[] = {
	{ op_create, 8, "create" },
	{ op_close, 5, "close" },
	{ op_mmap_offset, 3, "mmap-offset" },
	{ op_gem_query, 5, "bo-query" },
	{ op_migrate, 6, "migrate" },
	{ op_submit, 8, "submit" },
	{ op_wait, 5, "wait" },
	{ op_madvise, 4, "madvise" },
	{ op_device_query, 2, "query" },
	{ op_touch, 6, "touch" },
	{ op_munmap, 2, "munmap" },
	{ op_bad_touch, 1, "bad-touch" },
	{ op_mutated_any, 24, "mutated" },
	{ op_mut_query, 1, "mutated query" },
	{ op_mut_create, 3, "mutated create" },
	{ op_mut_submit, 6, "mutated submit" },
	{ op_mut_wait, 2, "mutated wait" },
	{ op_raw, 4, "raw" },
	{ op_drm, 4, "drm" },
	{ op_bad_mmap, 5, "bad mmap" },
};

#define NUM_OPS (sizeof(ops) / sizeof(*ops))

static int fuzz_setup(struct fuzz *f)
{
	struct drm_simgpu_gem_mmap_offset m = { 0 };
	uint32_t flags = DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS;
	int ret;

	f->taint_fd = open("/proc/sys/kernel/tainted", O_RDONLY | O_CLOEXEC);
	f->taint = taint_read(f);
	f->kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (f->kmsg_fd >= 0)
		lseek(f->kmsg_fd, 0, SEEK_END);
	f->fd = dev_open(&f->q);
	if (f->fd < 0) {
		printf("# proc %u: open: %d\n", f->proc, f->fd);
		return f->fd;
	}
	f->all = placements_all(&f->q);
	{
		struct drm_syncobj_create c = { 0 };

		if (!ioctl(f->fd, DRM_IOCTL_SYNCOBJ_CREATE, &c))
			f->syncobj = c.handle;
	}
	f->zone = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->scratch = malloc(SCRATCH_SIZE);
	if (f->zone == MAP_FAILED || !f->scratch)
		return -ENOMEM;
	mprotect(f->zone + PAGE, PAGE, PROT_NONE);
	mprotect(f->zone + 2 * PAGE, PAGE, PROT_READ);

	ret = bo_create(f->fd, CANARY_SIZE, f->all, DRM_SIMGPU_MEM_VRAM0, flags,
			&f->canary);
	if (ret) {
		printf("# proc %u: canary create: %d\n", f->proc, ret);
		return ret;
	}
	m.handle = f->canary;
	ret = drm_xioctl(f->fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m);
	f->canary_off = m.offset;
	f->canary_map = ret ? MAP_FAILED :
			mmap(NULL, CANARY_SIZE, PROT_READ | PROT_WRITE,
			     MAP_SHARED, f->fd, m.offset);
	if (f->canary_map == MAP_FAILED) {
		printf("# proc %u: canary map: %d\n", f->proc, ret ? ret : -errno);
		return -ENOMEM;
	}
	f->canary_seed = f->seed * 0x100 + 0xca;
	pattern_fill(f->canary_map, 0, CANARY_SIZE, f->canary_seed);
	return 0;
}

static int fuzz_proc(unsigned int proc, uint64_t nops, struct result *res)
{
	uint64_t total = 0, pick;
	double start = now();
	struct fuzz *f;
	unsigned int i;

	f = calloc(1, sizeof(*f));
	if (!f)
		return 1;
	f->proc = proc;
	f->seed = opt_seed + proc;
	f->trace = opt_trace;
	f->res = res;
	catch_faults();
	if (fuzz_setup(f)) {
		res->setup_failed = 1;
		return 1;
	}
	res->started = 1;
	for (i = 0; i < NUM_OPS; i++)
		total += ops[i].weight;

	for (f->op = 0; f->op < nops; f->op++) {
		if (opt_time_limit && now() - start > opt_time_limit) {
			res->time_limited = 1;
			break;
		}
		/* Each operation's numbers depend on (seed, op) only. */
		f->rnd = pattern_word(f->seed, f->op * 8) | 1;
		if (f->op % CANARY_EVERY == 0)
			canary_check(f, false);
		pick = below(f, total);
		for (i = 0; pick >= ops[i].weight; i++)
			pick -= ops[i].weight;
		res->cur_op = f->op;
		res->cur_fn = i;
		if (f->trace) {
			printf("# proc %u op %llu: %s\n", proc,
			       (unsigned long long)f->op, ops[i].name);
			fflush(stdout);
		}
		ops[i].fn(f);
		res->ops++;
	}
	canary_check(f, true);
	while (f->nbos)
		forget_bo(f, &f->bo[0]);
	munmap(f->canary_map, CANARY_SIZE);
	close(f->fd);
	return res->bad || res->canary_bad ? 1 : 0;
}

/* ---- the parent ---- */

static void print_stack(pid_t pid)
{
	char path[64], line[256];
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	fp = fopen(path, "r");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp))
		printf("#   %s", line);
	fclose(fp);
}

/* Wait for the processes; one stuck in an operation is reported, killed. */
static void reap(pid_t *pids, int *status, struct result *res)
{
	uint64_t seen[MAX_PROCS];
	double since[MAX_PROCS];
	unsigned int left = opt_procs, i;

	for (i = 0; i < opt_procs; i++) {
		seen[i] = UINT64_MAX;
		since[i] = now();
	}
	while (left) {
		for (i = 0; i < opt_procs; i++) {
			if (!pids[i])
				continue;
			if (waitpid(pids[i], &status[i], WNOHANG) == pids[i]) {
				pids[i] = 0;
				left--;
				continue;
			}
			if (res[i].ops != seen[i]) {
				seen[i] = res[i].ops;
				since[i] = now();
			} else if (now() - since[i] > STUCK_SECS) {
				printf("# FAIL proc %u seed %llu stuck for %d s in op %llu (%s); kernel stack:\n",
				       i, (unsigned long long)opt_seed + i,
				       STUCK_SECS,
				       (unsigned long long)res[i].cur_op,
				       ops[res[i].cur_fn].name);
				print_stack(pids[i]);
				fflush(stdout);
				kill(pids[i], SIGKILL);
				since[i] = now() + 3600;
			}
		}
		usleep(100000);
	}
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--ops N] [--seed S] [--procs P] [--time-limit SECS] [--trace]\n",
		prog);
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "ops", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ "time-limit", required_argument, NULL, 't' },
		{ "trace", no_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		unsigned long long v = 0;

		if (c != 'T') {
			errno = 0;
			v = strtoull(optarg, &end, 0);
			if (errno || *end || end == optarg)
				usage(argv[0]);
		}
		switch (c) {
		case 'n':
			opt_ops = v;
			break;
		case 's':
			opt_seed = v;
			break;
		case 'p':
			if (!v || v > MAX_PROCS)
				usage(argv[0]);
			opt_procs = v;
			break;
		case 't':
			opt_time_limit = v;
			break;
		case 'T':
			opt_trace = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
}

static void proc_point(struct tap *t, unsigned int i, const struct result *r,
		       int status)
{
	char line[1024];
	size_t n = 0;
	unsigned int k;
	bool exited = WIFEXITED(status);

	for (k = 0; k < NUM_KINDS; k++)
		n += snprintf(line + n, sizeof(line) - n, " %s %llu/%llu%s",
			      kind_name[k], (unsigned long long)r->k[k].ok,
			      (unsigned long long)r->k[k].err,
			      r->k[k].bad ? "/BAD" : "");
	if (!exited)
		tap_diag("proc %u killed by signal %d", i, WTERMSIG(status));
	if (r->time_limited)
		tap_diag("proc %u stopped by --time-limit", i);
	tap_check(t, exited && !WEXITSTATUS(status) && !r->bad &&
		  !r->setup_failed,
		  "proc %u seed %llu: %llu ops, %llu unexpected; ok/failed:%s",
		  i, (unsigned long long)opt_seed + i,
		  (unsigned long long)r->ops, (unsigned long long)r->bad, line);
}

int main(int argc, char **argv)
{
	struct drm_simgpu_device_query q0, q1;
	uint64_t total = 0, checks = 0, bad = 0, segv = 0, leaked = 0;
	int status[MAX_PROCS];
	pid_t pids[MAX_PROCS];
	struct result *res;
	bool all_checked = true;
	double start, secs;
	unsigned int i;
	struct tap t;
	int fd;

	parse_args(argc, argv);
	tap_plan(&t, opt_procs + 2);
	tap_diag("seed %llu, %llu ops, %u processes%s",
		 (unsigned long long)opt_seed, (unsigned long long)opt_ops,
		 opt_procs, opt_time_limit ? ", time limit" : "");
	fd = dev_open(&q0);
	if (fd < 0) {
		tap_diag("cannot open " RENDER_NODE ": %d", fd);
		return 1;
	}

	res = mmap(NULL, MAX_PROCS * sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return 1;
	memset(res, 0, MAX_PROCS * sizeof(*res));
	start = now();
	for (i = 0; i < opt_procs; i++) {
		uint64_t n = opt_ops / opt_procs + (i < opt_ops % opt_procs);

		fflush(stdout);
		pids[i] = fork();
		if (pids[i] == 0)
			exit(fuzz_proc(i, n, &res[i]));
		if (pids[i] < 0) {
			pids[i] = 0;
			status[i] = 0x7f00;	/* exit status 127 */
		}
	}
	reap(pids, status, res);
	secs = now() - start;

	for (i = 0; i < opt_procs; i++) {
		proc_point(&t, i, &res[i], status[i]);
		total += res[i].ops;
		checks += res[i].canary_checks;
		bad += res[i].canary_bad;
		segv += res[i].segv_expected;
		leaked += res[i].leaked;
		all_checked &= res[i].canary_checks > 0 && WIFEXITED(status[i]);
	}
	tap_check(&t, all_checked && !bad,
		  "canaries: %llu checks of %u processes, %llu bytes differ",
		  (unsigned long long)checks, opt_procs, (unsigned long long)bad);

	memset(&q1, 0, sizeof(q1));
	drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q1);
	close(fd);
	tap_check(&t, !smoke_checks(&q0),
		  "the driver still passes the smoke checks");

	tap_diag("%llu ops in %.1f s: %.0f ops/s; %llu deliberate faults caught, %llu handles not returned",
		 (unsigned long long)total, secs, total / (secs > 0 ? secs : 1),
		 (unsigned long long)segv, (unsigned long long)leaked);
	tap_diag("driver: %llu submits, %llu engine errors, %llu resets, %llu bytes by engine, %llu by CPU",
		 (unsigned long long)(q1.stats.submits - q0.stats.submits),
		 (unsigned long long)(q1.stats.engine_errors -
				      q0.stats.engine_errors),
		 (unsigned long long)(q1.stats.engine_resets -
				      q0.stats.engine_resets),
		 (unsigned long long)(q1.stats.engine_bytes -
				      q0.stats.engine_bytes),
		 (unsigned long long)(q1.stats.cpu_bytes - q0.stats.cpu_bytes));
	return tap_finish(&t);
}
