// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-lifetime: what outlives what.
 *
 * simgpu-lifetime fence
 *   A BO is kept busy by a long COPY (the engine slowed with
 *   fault_stall_us, timeout_ms raised so that the driver does not reset
 *   it), exported as a dma-buf (DRM_IOCTL_PRIME_HANDLE_TO_FD), and the
 *   dma-buf's fence as a sync_file (DMA_BUF_IOCTL_EXPORT_SYNC_FILE).  Then
 *   every simgpu handle and file is closed and the device is unbound, so
 *   that the driver's device structure goes; only the sync_file is left.
 *   SYNC_IOC_FILE_INFO and poll() on it must still work: the fence must
 *   read as signalled with an error (the unbind dropped the COPY) and
 *   POLLIN.  Each runs in a child with a deadline, so that a fence whose
 *   lock went with the device fails the test instead of hanging it.  Then
 *   the device is bound again and must pass the smoke checks.
 *
 * simgpu-lifetime clear [--phases same,fill,pool]
 *   New BOs must read zero whatever the memory held before.  Client A
 *   (a process with its own DRM file) fills BOs with a pattern and exits;
 *   client B (another process and file) allocates in the same placements
 *   and must read only zeroes, through its mapping and through an engine
 *   COPY into a BO the engine zeroed.  Phases:
 *     same  the same sizes in each placement (VRAM0, VRAM1, TT, SYSTEM)
 *     fill  A fills each VRAM region completely (1 MiB BOs), B then takes
 *           the whole region again (4 MiB BOs): every range is reused
 *     pool  32 MiB of TT and of SYSTEM BOs, freed and allocated again:
 *           pages recycled by the allocator or, with the module parameter
 *           pool=coherent, by TTM's pool
 *   Each phase waits for every gauge to return to zero between A and B.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <linux/sync_file.h>

#include "bo.h"
#include "tap.h"

#define SECOND_NS	1000000000LL
#define DRIVER_DIR	"/sys/bus/pci/drivers/simgpu"
#define TIMEOUT_PARAM	"/sys/module/simgpu/parameters/timeout_ms"

static struct tap t;

static uint32_t mask_of(uint32_t mem)
{
	return DRM_SIMGPU_PLACEMENT(mem);
}

/*
 * Run fn(arg) in a child and wait up to @secs for it.  Returns its exit
 * status, or -ETIMEDOUT if it is still running (it is left to run: a task
 * stuck in the kernel cannot be killed anyway), or -errno.
 */
static int run_deadline(int (*fn)(void *), void *arg, double secs)
{
	double end = now_s() + secs;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_s() > end) {
			kill(pid, SIGKILL);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct write_arg {
	const char *path, *val;
};

static int write_fn(void *arg)
{
	struct write_arg *w = arg;

	return -file_write(w->path, w->val);
}

/* file_write() in a child: 0, -errno or -ETIMEDOUT. */
static int write_deadline(const char *path, const char *val, double secs)
{
	struct write_arg w = { path, val };
	int ret = run_deadline(write_fn, &w, secs);

	return ret > 0 ? -ret : ret;
}

static bool wait_bound(double secs)
{
	double end = now_s() + secs;
	struct stat st;

	do {
		if (dev_bdf() && !stat(RENDER_NODE, &st))
			return true;
		usleep(50000);
	} while (now_s() < end);
	return false;
}

/* What a child saw of the sync_file, in shared memory. */
struct fence_seen {
	int ret;
	int status;
	unsigned int num_fences;
	int revents;
	struct sync_fence_info info;
};

static struct fence_seen *seen;
static int sync_fd = -1;

static int file_info(struct fence_seen *s)
{
	struct sync_file_info fi;

	memset(s, 0, sizeof(*s));
	memset(&fi, 0, sizeof(fi));
	if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &fi))
		return s->ret = -errno;
	s->status = fi.status;
	s->num_fences = fi.num_fences;
	if (fi.num_fences != 1)
		return 0;
	fi.sync_fence_info = (uintptr_t)&s->info;
	if (ioctl(sync_fd, SYNC_IOC_FILE_INFO, &fi))
		return s->ret = -errno;
	return 0;
}

static int file_info_fn(void *arg)
{
	(void)arg;
	file_info(seen);
	return 0;
}

static int poll_fn(void *arg)
{
	struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };

	(void)arg;
	memset(seen, 0, sizeof(*seen));
	seen->ret = poll(&pfd, 1, 5000);
	if (seen->ret < 0)
		seen->ret = -errno;
	seen->revents = pfd.revents;
	return 0;
}

static int fence(void)
{
	struct drm_simgpu_device_query q;
	struct drm_prime_handle prime = { .flags = DRM_CLOEXEC | DRM_RDWR };
	struct dma_buf_export_sync_file ex = { .flags = DMA_BUF_SYNC_WRITE };
	struct drm_simgpu_gem_query gq = { 0 };
	struct drm_simgpu_cmd c[4];
	char bdf[64], timeout[32] = "";
	FILE *f;
	uint64_t seqno;
	uint32_t h;
	unsigned int i;
	int fd, r1, r2, r3, r4, ret;
	bool ok;

	tap_plan(&t, 6);
	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	fd = dev_open(&q);
	if (!tap_check(&t, seen != MAP_FAILED && fd >= 0 && dev_bdf(),
		       "device open (%d)", fd))
		return tap_finish(&t);
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());

	/* Four commands of ~1 s each: busy for seconds. */
	f = fopen(TIMEOUT_PARAM, "r");
	if (f) {
		if (!fgets(timeout, sizeof(timeout), f))
			timeout[0] = '\0';
		fclose(f);
	}
	r1 = file_write(TIMEOUT_PARAM, "60000");
	r2 = dbg_write("fault_stall_us", "1000000");
	r3 = bo_create(fd, 2 * MiB, mask_of(DRM_SIMGPU_MEM_TT),
		       DRM_SIMGPU_MEM_TT, 0, &h);
	for (i = 0; i < 4; i++)
		c[i] = cmd_copy(h, 0, h, MiB, MiB);
	r4 = r3 ? r3 : gpu_submit(fd, c, 4, &seqno);
	ret = r4 ? r4 : bo_query(fd, h, &gq);
	prime.handle = h;
	if (!ret)
		ret = drm_xioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime);
	if (!ret)
		ret = drm_xioctl(prime.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &ex);
	sync_fd = ret ? -1 : ex.fd;
	if (!ret)
		ret = file_info(seen);
	ok = !r1 && !r2 && !ret && gq.busy && seen->num_fences == 1 &&
	     seen->status == 0 && !strcmp(seen->info.driver_name, "simgpu") &&
	     seen->info.status == 0;
	tap_check(&t, ok,
		  "a sync_file of a busy BO's fence (timeout_ms %d, stall %d, create %d, submit %d, busy %u, export %d: %u fence(s), status %d, driver '%s' timeline '%s')",
		  r1, r2, r3, r4, gq.busy, ret, seen->num_fences,
		  seen->status, seen->info.driver_name, seen->info.obj_name);
	if (!ok)
		return tap_finish(&t);

	/* Nothing of simgpu left open but the sync_file. */
	close(prime.fd);
	gem_close(fd, h);
	close(fd);
	r1 = write_deadline(DRIVER_DIR "/unbind", bdf, 60);
	tap_check(&t, !r1, "every handle and file closed, %s unbound (%d)",
		  bdf, r1);
	/* Deferred frees (TTM's delayed delete, RCU) have their chance. */
	usleep(500000);

	ret = run_deadline(poll_fn, NULL, 15);
	tap_check(&t, !ret && seen->ret == 1 && (seen->revents & POLLIN),
		  "poll() on the sync_file after the unbind: %s%d, revents 0x%x",
		  ret == -ETIMEDOUT ? "did not return within 15 s, " : "",
		  ret ? ret : seen->ret, ret ? 0 : seen->revents);
	if (ret == -ETIMEDOUT) {
		tap_check(&t, false, "SYNC_IOC_FILE_INFO: not tried, poll() hangs");
	} else {
		ret = run_deadline(file_info_fn, NULL, 15);
		tap_check(&t, !ret && !seen->ret && seen->status < 0 &&
			  seen->info.status < 0,
			  "SYNC_IOC_FILE_INFO on the sync_file after the unbind: %s%d, status %d (the COPY was dropped: < 0), fence status %d",
			  ret == -ETIMEDOUT ?
			  "did not return within 15 s (the fence's lock went with the device), " : "",
			  ret ? ret : seen->ret, ret ? 0 : seen->status,
			  ret ? 0 : seen->info.status);
	}

	r1 = write_deadline(DRIVER_DIR "/bind", bdf, 60);
	ok = !r1 && wait_bound(20);
	ret = ok ? smoke_checks(&q) : -1;
	tap_check(&t, ok && !ret,
		  "bound again (%d), the device passes the smoke checks (%d)",
		  r1, ret);
	close(sync_fd);
	if (timeout[0])
		file_write(TIMEOUT_PARAM, timeout);
	return tap_finish(&t);
}

/*
 * Clear: clients A and B.
 */
struct bo_spec {
	uint32_t mem;
	uint64_t size;
};

struct clear_result {
	int a_ret;		/* client A: 0 or -errno */
	int b_ret;		/* client B: 0 or -errno */
	unsigned int bos;	/* BOs client B checked */
	uint64_t bytes;		/* bytes B checked */
	uint64_t nonzero_cpu;	/* non-zero bytes read through mappings */
	uint64_t nonzero_gpu;	/* non-zero bytes the engine copied */
	uint64_t a_words;	/* 8-byte words that hold A's pattern */
	long long used_a, used_b;	/* VRAM in use when A, B held it */
	char diag[160];
};

static struct clear_result *res;
static const struct bo_spec *specs;
static unsigned int nspecs;
static uint64_t seed_base;

static uint64_t nonzero_bytes(const volatile void *p, uint64_t len)
{
	const volatile uint64_t *w = p;
	uint64_t i, bad = 0;

	for (i = 0; i < len / 8; i++) {
		uint64_t x = w[i];

		for (; x; x >>= 8)
			bad += (x & 0xff) != 0;
	}
	return bad;
}

/* Words of @p that hold the pattern of any of A's BOs at their offset. */
static uint64_t a_words(const uint64_t *p, uint64_t len)
{
	uint64_t i, n = 0;
	unsigned int k;

	for (i = 0; i < len / 8; i++) {
		if (!p[i])
			continue;
		for (k = 0; k < nspecs; k++)
			if (p[i] == pattern_word(seed_base + k, 8 * i))
				break;
		n += k < nspecs || (p[i] & 0xffffffff) >> 24 == 0xa5 ||
		     p[i] >> 56 == 0xa5;
	}
	return n;
}

static const char *vram_gauge(uint32_t mem)
{
	return mem == DRM_SIMGPU_MEM_VRAM1 ? "vram1_used_bytes" :
	       "vram0_used_bytes";
}

/*
 * Client A: every BO of @specs in its placement alone, filled: by the
 * CPU (the first 64 KiB at least, all of it if @cpu_all) and by an
 * engine FILL of 0xa5xxxxxx where the engine reaches it.  Then it exits.
 */
static int client_a(struct clear_result *r, bool cpu_all)
{
	struct drm_simgpu_cmd c;
	uint32_t h;
	unsigned int k;
	void *p;
	int fd = dev_open(NULL);

	if (fd < 0)
		return r->a_ret = fd;
	for (k = 0; k < nspecs; k++) {
		const struct bo_spec *s = &specs[k];
		uint64_t cpu = cpu_all || s->size < 64 * 1024 ? s->size :
			       64 * 1024;

		p = bo_new(fd, s->size, mask_of(s->mem), s->mem,
			   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h);
		if (!p) {
			snprintf(r->diag, sizeof(r->diag),
				 "A: BO %u (%llu bytes in %s) failed", k,
				 (unsigned long long)s->size, mem_name(s->mem));
			return r->a_ret = -ENOMEM;
		}
		if (s->mem != DRM_SIMGPU_MEM_SYSTEM) {
			c = cmd_fill(h, 0, s->size, 0xa5000000 | k);
			r->a_ret = gpu_run(fd, &c, 1);
			if (r->a_ret) {
				snprintf(r->diag, sizeof(r->diag),
					 "A: FILL of BO %u: %d", k, r->a_ret);
				return r->a_ret;
			}
		}
		pattern_fill(p, 0, cpu, seed_base + k);
		munmap(p, s->size);
	}
	if (specs[0].mem <= DRM_SIMGPU_MEM_VRAM1)
		r->used_a = stat_get(vram_gauge(specs[0].mem));
	/* Exit without closing anything: the DRM file's release frees it. */
	return 0;
}

/*
 * Client B: the same BOs again (4 MiB ones instead if @big); each read
 * by the engine (COPY into a TT BO the engine zeroed) and by the CPU.
 */
static int client_b(struct clear_result *r, uint64_t big)
{
	struct drm_simgpu_cmd c[2];
	uint64_t dst_size = 0, size;
	uint32_t h, dst = 0, mask;
	uint8_t *dp = NULL;
	unsigned int k, n;
	void *p;
	int fd = dev_open(NULL), ret;

	if (fd < 0)
		return r->b_ret = fd;
	n = big ? (unsigned int)(specs[0].size * nspecs / big) : nspecs;
	for (k = 0; k < n; k++) {
		uint32_t mem = specs[big ? 0 : k].mem;

		size = big ? big : specs[k].size;
		mask = mask_of(mem);
		/* The engine reaches SYSTEM BOs through TT (same pages). */
		if (mem == DRM_SIMGPU_MEM_SYSTEM)
			mask |= mask_of(DRM_SIMGPU_MEM_TT);
		p = bo_new(fd, size, mask, mem,
			   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h);
		if (!p) {
			snprintf(r->diag, sizeof(r->diag),
				 "B: BO %u (%llu bytes in %s) failed", k,
				 (unsigned long long)size, mem_name(mem));
			return r->b_ret = -ENOMEM;
		}
		if (size > dst_size) {
			if (dp) {
				munmap(dp, dst_size);
				gem_close(fd, dst);
			}
			dst_size = size;
			dp = bo_new(fd, dst_size, mask_of(DRM_SIMGPU_MEM_TT),
				    DRM_SIMGPU_MEM_TT, 0, &dst);
			if (!dp)
				return r->b_ret = -ENOMEM;
		}
		/* The engine first: a SYSTEM BO gets its pages here. */
		c[0] = cmd_fill(dst, 0, size, 0);
		c[1] = cmd_copy(h, 0, dst, 0, size);
		ret = gpu_run(fd, c, 2);
		if (ret) {
			snprintf(r->diag, sizeof(r->diag),
				 "B: engine copy of BO %u: %d", k, ret);
			return r->b_ret = ret;
		}
		r->nonzero_gpu += nonzero_bytes(dp, size);
		r->nonzero_cpu += nonzero_bytes(p, size);
		r->a_words += a_words(p, size) + a_words((uint64_t *)dp, size);
		r->bytes += size;
		r->bos++;
		munmap(p, size);
	}
	if (specs[0].mem <= DRM_SIMGPU_MEM_VRAM1)
		r->used_b = stat_get(vram_gauge(specs[0].mem));
	return 0;
}

static int client_a_fn(void *arg)
{
	return -client_a(res, arg != NULL);
}

static uint64_t b_big;

static int client_b_fn(void *arg)
{
	(void)arg;
	return -client_b(res, b_big);
}

/* A, then B, in their own processes; one TAP point. */
static void a_then_b(const char *what, const struct bo_spec *s, unsigned int n,
		     bool cpu_all, uint64_t big, bool full)
{
	char why[256];
	int ra, rb, g;
	bool ok;

	memset(res, 0, sizeof(*res));
	specs = s;
	nspecs = n;
	seed_base += 1000;
	b_big = big;
	ra = run_deadline(client_a_fn, cpu_all ? (void *)1 : NULL, 120);
	/* A's BOs are gone: all of it free again, nothing held. */
	g = gauges_wait_zero(15, why, sizeof(why));
	rb = !ra && !g ? run_deadline(client_b_fn, NULL, 120) : -1;
	ok = !ra && !g && !rb && !res->nonzero_cpu && !res->nonzero_gpu;
	if (full)
		ok = ok && res->used_a == res->used_b && res->used_a > 0;
	if (g)
		tap_diag("%s: after client A: %s", what, why);
	if (res->diag[0])
		tap_diag("%s: %s", what, res->diag);
	tap_check(&t, ok,
		  "%s: B's %u new BOs (%llu KiB) read zero after A's: %llu non-zero bytes by mmap, %llu by engine copy, %llu words of A's data (A %d, B %d%s)",
		  what, res->bos, (unsigned long long)res->bytes >> 10,
		  (unsigned long long)res->nonzero_cpu,
		  (unsigned long long)res->nonzero_gpu,
		  (unsigned long long)res->a_words, ra, rb,
		  full ? (res->used_a == res->used_b && res->used_a > 0 ?
			  ", the whole region both times" :
			  ", NOT the same VRAM in use") : "");
	if (full)
		tap_diag("%s: VRAM in use with A's BOs %lld, with B's %lld bytes",
			 what, res->used_a, res->used_b);
}

static int clear(const char *phases)
{
	static const uint64_t sizes[] = {
		4096, 68 * 1024, MiB, 3 * MiB + 4096,
	};
	const unsigned int nsizes = sizeof(sizes) / sizeof(sizes[0]);
	struct drm_simgpu_device_query q;
	struct bo_spec s[256];
	unsigned int mems[DRM_SIMGPU_NUM_MEM], nmems = 0, i, k, n, plan = 0;
	bool same = strstr(phases, "same"), fill = strstr(phases, "fill"),
	     pool = strstr(phases, "pool");
	char what[64];
	int fd;

	fd = dev_open(&q);
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || res == MAP_FAILED) {
		tap_plan(&t, 1);
		tap_check(&t, false, "device open (%d)", fd);
		return tap_finish(&t);
	}
	close(fd);
	for (i = 0; i < DRM_SIMGPU_NUM_MEM; i++)
		if (placements_all(&q) & mask_of(i))
			mems[nmems++] = i;
	plan += same ? nmems : 0;
	plan += fill ? q.num_regions : 0;
	plan += pool ? 2 : 0;
	tap_plan(&t, plan);
	seed_base = 0xa11ce;

	for (i = 0; same && i < nmems; i++) {
		for (k = 0; k < nsizes; k++)
			s[k] = (struct bo_spec){ mems[i], sizes[k] };
		snprintf(what, sizeof(what), "same sizes in %s",
			 mem_name(mems[i]));
		a_then_b(what, s, nsizes, true, 0, false);
	}
	for (i = 0; fill && i < q.num_regions; i++) {
		n = q.regions[i].size / MiB;
		if (n > 256)
			n = 256;
		for (k = 0; k < n; k++)
			s[k] = (struct bo_spec){ i, MiB };
		snprintf(what, sizeof(what), "all of %s (%u MiB)",
			 mem_name(i), n);
		a_then_b(what, s, n, false, 4 * MiB, true);
	}
	for (i = DRM_SIMGPU_MEM_TT; pool && i <= DRM_SIMGPU_MEM_SYSTEM; i++) {
		for (k = 0; k < 32; k++)
			s[k] = (struct bo_spec){ i, MiB };
		snprintf(what, sizeof(what), "32 MiB of %s pages", mem_name(i));
		a_then_b(what, s, 32, true, 0, false);
	}
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *phases = "same,fill,pool";
	int i;

	if (argc >= 2 && !strcmp(argv[1], "fence"))
		return fence();
	if (argc >= 2 && !strcmp(argv[1], "clear")) {
		for (i = 2; i + 1 < argc; i += 2)
			if (!strcmp(argv[i], "--phases"))
				phases = argv[i + 1];
		return clear(phases);
	}
	fprintf(stderr,
		"usage: simgpu-lifetime fence | clear [--phases same,fill,pool]\n");
	return 2;
}
