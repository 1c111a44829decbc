// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-lifetime: what outlives what.
 *
 * simgpu-lifetime fence
 *   A BO is kept busy by a long COPY (the engine slowed with
 *   fault_stall_us, timeout_ms raised so that the driver does not reset
 *   it), exported as a dma-buf (DRM_IOCTL_PRIME_HANDLE_TO_FD), and the
 *   dma-buf's fence (the finished fence of the submission's scheduler
 *   job) as a sync_file (DMA_BUF_IOCTL_EXPORT_SYNC_FILE).  Then
 *   every simgpu handle and file is closed and the device is unbound, so
 *   that the driver's device structure goes; only the sync_file is left.
 *   SYNC_IOC_FILE_INFO and poll() on it must still work: the fence must
 *   read as signalled with an error (the unbind dropped the COPY) and
 *   POLLIN.  Each runs in a child with a deadline, so that a fence whose
 *   lock went with the device fails the test instead of hanging it.  Then
 *   the device is bound again and must pass the smoke checks.
 *
 * simgpu-lifetime fence --move
 *   The same with the fence of a pipelined move: a VRAM BO migrated to TT
 *   on the slowed engine, whose move fence (simgpu's own, not the
 *   scheduler's) is in its reservation; after the unbind the module is
 *   removed too (the fence's ops and lock must not need it), and loaded
 *   again instead of the bind.
 *
 * simgpu-lifetime clear [--phases same,fill,evict,busy,pool]
 *   New BOs must read zero whatever the memory held before.  Client A
 *   (a process with its own DRM file) fills BOs with a pattern and exits;
 *   client B (another process and file) allocates in the same placements
 *   and must read only zeroes, through its mapping and through an engine
 *   COPY into a BO the engine zeroed.  Phases:
 *     same  the same sizes in each placement (VRAM0, VRAM1, TT, SYSTEM)
 *     fill  A fills each VRAM region completely (1 MiB BOs), B then takes
 *           the whole region again (4 MiB BOs): every range is reused
 *     evict A keeps its BOs of all of VRAM0 open while B takes the whole
 *           region: A's BOs are evicted to TT and must keep their data
 *     busy  A exits with slow FILLs of all of VRAM0 still queued, and B's
 *           new BOs are cleared by the CPU (force_cpu_copy): VRAM handed
 *           to B before A's work ended would get A's data after B's clear
 *     pool  16 MiB of TT and of SYSTEM BOs, freed and allocated again:
 *           pages recycled by the allocator or, with the module parameter
 *           pool=coherent, by TTM's pool
 *   Each phase then waits for every gauge to return to zero.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sched.h>
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

/*
 * The parent stays on CPU 0 (from its exec on: see main()), the
 * sync_file's children go to CPU 1.  A child spinning on a freed lock
 * with interrupts off then stalls CPU 1 only, and the parent, whose
 * memory was never used there, needs no TLB shootdown from CPU 1 (x86
 * sends one to every CPU an mm ever ran on, once a second) to report,
 * fork and exit.
 */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Every interrupt to CPU 0 too: one routed to a stalled CPU 1 would never
 * be handled (the console's among them: the parent's report would not
 * come out).  Returns how many could not be moved.
 */
static unsigned int irqs_to_cpu0(void)
{
	unsigned int i, bad = 0;
	glob_t g;

	file_write("/proc/irq/default_smp_affinity", "1");
	if (glob("/proc/irq/*/smp_affinity", 0, NULL, &g))
		return 0;
	for (i = 0; i < g.gl_pathc; i++)
		bad += file_write(g.gl_pathv[i], "1") != 0;
	globfree(&g);
	return bad;
}

static int file_info_fn(void *arg)
{
	(void)arg;
	pin_cpu(1);
	file_info(seen);
	return 0;
}

static int poll_fn(void *arg)
{
	struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };

	(void)arg;
	pin_cpu(1);
	memset(seen, 0, sizeof(*seen));
	seen->ret = poll(&pfd, 1, 5000);
	if (seen->ret < 0)
		seen->ret = -errno;
	seen->revents = pfd.revents;
	return 0;
}

static int fence(bool move)
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
	bool ok, stuck = false;

	tap_plan(&t, 6);
	i = irqs_to_cpu0();
	if (i)
		tap_diag("%u interrupts stay where they are", i);
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
	if (move) {
		/* Created (and cleared) before the engine is slowed. */
		file_write(TIMEOUT_PARAM, timeout[0] ? timeout : "1000");
		dbg_write("fault_stall_us", "0");
		r3 = bo_create(fd, 2 * MiB, mask_of(DRM_SIMGPU_MEM_VRAM0) |
			       mask_of(DRM_SIMGPU_MEM_TT), DRM_SIMGPU_MEM_VRAM0,
			       0, &h) ?: bo_wait(fd, h, 10 * SECOND_NS);
		r1 = file_write(TIMEOUT_PARAM, "60000");
		r2 = dbg_write("fault_stall_us", "1000000");
		r4 = r3 ? r3 : bo_migrate(fd, h, DRM_SIMGPU_MEM_TT, 0);
	} else {
		r3 = bo_create(fd, 2 * MiB, mask_of(DRM_SIMGPU_MEM_TT),
			       DRM_SIMGPU_MEM_TT, 0, &h);
		for (i = 0; i < 4; i++)
			c[i] = cmd_copy(h, 0, h, MiB, MiB);
		r4 = r3 ? r3 : gpu_submit(fd, c, 4, &seqno);
	}
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
	     seen->status == 0 && seen->info.status == 0 &&
	     (move ?
	      /* the pipelined move's fence, simgpu's own */
	      !strcmp(seen->info.driver_name, "simgpu") &&
	      !strcmp(seen->info.obj_name, "move") :
	      /* the job's finished fence, of simgpu's GPU scheduler */
	      !strcmp(seen->info.driver_name, "drm_sched") &&
	      !strcmp(seen->info.obj_name, "simgpu"));
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
	r2 = move && !r1 ? system("rmmod simgpu") : 0;
	tap_check(&t, !r1 && !r2, "every handle and file closed, %s unbound (%d)%s (%d)",
		  bdf, r1, move ? ", simgpu.ko removed" : "", r2);
	/* Deferred frees (TTM's delayed delete, RCU) have their chance. */
	usleep(500000);

	ret = run_deadline(poll_fn, NULL, 10);
	tap_check(&t, !ret && seen->ret == 1 && (seen->revents & POLLIN),
		  "poll() on the sync_file after the unbind: %s%d, revents 0x%x",
		  ret == -ETIMEDOUT ? "did not return within 10 s, " : "",
		  ret ? ret : seen->ret, ret ? 0 : seen->revents);
	if (ret == -ETIMEDOUT) {
		stuck = true;
		tap_check(&t, false, "SYNC_IOC_FILE_INFO: not tried, poll() hangs");
	} else {
		ret = run_deadline(file_info_fn, NULL, 10);
		stuck = ret == -ETIMEDOUT;
		if (ret)
			tap_check(&t, false,
				  "SYNC_IOC_FILE_INFO on the sync_file after the unbind: %s (%d)",
				  stuck ? "did not return within 10 s (the fence's lock went with the device?)" :
				  "the child died", ret);
		else
			tap_check(&t, !seen->ret && seen->status < 0 &&
				  seen->info.status < 0,
				  "SYNC_IOC_FILE_INFO on the sync_file after the unbind: %d, status %d, fence status %d (the COPY was dropped: < 0), driver '%s'",
				  seen->ret, seen->status, seen->info.status,
				  seen->info.driver_name);
	}

	r1 = move ? system("modprobe simgpu") :
		    write_deadline(DRIVER_DIR "/bind", bdf, 20);
	ok = !r1 && wait_bound(10);
	ret = ok ? smoke_checks(&q) : -1;
	tap_check(&t, ok && !ret,
		  "bound again (%d), the device passes the smoke checks (%d)",
		  r1, ret);
	close(sync_fd);
	if (timeout[0])
		file_write(TIMEOUT_PARAM, timeout);
	ret = tap_finish(&t);
	if (stuck) {
		/*
		 * /init's next fork would wait forever for CPU 1 to flush
		 * its TLB: end the VM from here, with the failure, rather
		 * than leave it to the scenario's timeout.
		 */
		tap_diag("a child is stuck on CPU 1 with interrupts off: ending the VM here");
		fflush(stdout);
		execlp("vm-exit", "vm-exit", "1", (char *)NULL);
	}
	return ret;
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
	unsigned int a_evicted;	/* A_EVICTED: A's BOs found in TT */
	double b_first_s;	/* seconds B waited for its first BO */
	uint64_t a_bad;		/* A_EVICTED: bytes A lost */
	char diag[160];
};

static struct clear_result *res;
static const struct bo_spec *specs;
static unsigned int nspecs;
static uint64_t seed_base;

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

/* How client A leaves its BOs to client B. */
enum a_mode {
	A_FREED,	/* filled, then freed: A exits */
	A_EVICTED,	/* filled, kept: B's BOs evict them; A checks them */
	A_BUSY,		/* A exits with slow FILLs of all of them queued */
};

static enum a_mode a_mode;
static int a_ready[2], a_go[2];	/* pipes: A -> parent, parent -> A */

/* A's BO @k holds its pattern over the first @cpu bytes, FILL after. */
static uint64_t a_check(const void *p, unsigned int k, uint64_t cpu,
			uint64_t size, bool filled)
{
	uint64_t bad = pattern_check(p, 0, cpu, seed_base + k), i;
	const uint32_t *w = p;

	for (i = cpu / 4; filled && i < size / 4; i++)
		bad += w[i] != (0xa5000000 | k);
	return bad;
}

/*
 * Client A: every BO of @specs in its placement (A_EVICTED: or TT),
 * filled by an engine FILL of 0xa5xxxxxx where the engine reaches it and
 * by the CPU (the first 64 KiB at least, all of it if @cpu_all).
 */
static int client_a(struct clear_result *r, bool cpu_all)
{
	static uint32_t handles[256];
	struct drm_simgpu_cmd c[64];
	uint64_t seqno, bad = 0;
	unsigned int k;
	char byte = 0;
	void *p;
	int fd = dev_open(NULL);

	if (fd < 0)
		return r->a_ret = fd;
	for (k = 0; k < nspecs; k++) {
		const struct bo_spec *s = &specs[k];
		uint64_t cpu = cpu_all || s->size < 64 * 1024 ? s->size :
			       64 * 1024;
		uint32_t mask = mask_of(s->mem);

		if (a_mode == A_EVICTED)
			mask |= mask_of(DRM_SIMGPU_MEM_TT);
		p = bo_new(fd, s->size, mask, s->mem,
			   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &handles[k]);
		if (!p) {
			snprintf(r->diag, sizeof(r->diag),
				 "A: BO %u (%llu bytes in %s) failed", k,
				 (unsigned long long)s->size, mem_name(s->mem));
			return r->a_ret = -ENOMEM;
		}
		if (a_mode != A_BUSY && s->mem != DRM_SIMGPU_MEM_SYSTEM) {
			c[0] = cmd_fill(handles[k], 0, s->size, 0xa5000000 | k);
			r->a_ret = gpu_run(fd, c, 1);
			if (r->a_ret) {
				snprintf(r->diag, sizeof(r->diag),
					 "A: FILL of BO %u: %d", k, r->a_ret);
				return r->a_ret;
			}
		}
		if (a_mode != A_BUSY)
			pattern_fill(p, 0, cpu, seed_base + k);
		munmap(p, s->size);
	}
	if (specs[0].mem <= DRM_SIMGPU_MEM_VRAM1)
		r->used_a = stat_get(vram_gauge(specs[0].mem));
	if (a_mode == A_BUSY) {
		/* One submission: nothing retires until all of it ran. */
		for (k = 0; k < nspecs && k < 64; k++)
			c[k] = cmd_fill(handles[k], 0, specs[k].size,
					0xa5000000 | k);
		r->a_ret = gpu_submit(fd, c, k, &seqno);
		if (r->a_ret)
			snprintf(r->diag, sizeof(r->diag), "A: submit: %d",
				 r->a_ret);
		/* Gone before its work is: the driver must keep the VRAM. */
		return r->a_ret;
	}
	if (a_mode == A_EVICTED) {
		if (write(a_ready[1], "r", 1) != 1 ||
		    read(a_go[0], &byte, 1) != 1)
			return r->a_ret = -EPIPE;
		for (k = 0; k < nspecs; k++) {
			uint64_t size = specs[k].size;

			p = bo_map(fd, handles[k], size);
			if (!p)
				return r->a_ret = -ENOMEM;
			bad += a_check(p, k, 64 * 1024, size, true);
			r->a_evicted += bo_mem(fd, handles[k]) ==
					DRM_SIMGPU_MEM_TT;
			munmap(p, size);
		}
		r->a_bad = bad;
	}
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
	r->b_first_s = now_s();
	for (k = 0; k < n; k++) {
		uint32_t mem = specs[big ? 0 : k].mem;

		size = big ? big : specs[k].size;
		mask = mask_of(mem);
		/* The engine reaches SYSTEM BOs through TT (same pages). */
		if (mem == DRM_SIMGPU_MEM_SYSTEM)
			mask |= mask_of(DRM_SIMGPU_MEM_TT);
		p = bo_new(fd, size, mask, mem,
			   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h);
		if (!k)
			r->b_first_s = now_s() - r->b_first_s;
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
		r->nonzero_gpu += bytes_check((const void *)dp, size, 0);
		r->nonzero_cpu += bytes_check((const void *)p, size, 0);
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

/* Wait up to @secs for a byte on @fd. */
static bool read_deadline(int fd, double secs)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char byte;

	return poll(&pfd, 1, secs * 1000) == 1 && read(fd, &byte, 1) == 1;
}

/*
 * A, then B, in their own processes (at the same time for A_EVICTED);
 * one TAP point.
 */
static void a_then_b(const char *what, const struct bo_spec *s, unsigned int n,
		     enum a_mode mode, bool cpu_all, uint64_t big, bool full)
{
	char why[256] = "";
	int ra = 0, rb, g = 0, status;
	double t0 = now_s();
	pid_t pid;
	bool ok;

	memset(res, 0, sizeof(*res));
	specs = s;
	nspecs = n;
	seed_base += 1000;
	b_big = big;
	a_mode = mode;
	if (mode == A_EVICTED) {
		if (pipe(a_ready) || pipe(a_go))
			ra = -errno;
		fflush(stdout);
		pid = ra ? -1 : fork();
		if (pid == 0)
			_exit(-client_a(res, cpu_all));
		ra = pid < 0 ? -EAGAIN : read_deadline(a_ready[0], 120) ? 0 :
		     -ETIMEDOUT;
		rb = ra ? -1 : run_deadline(client_b_fn, NULL, 120);
		if (pid > 0) {
			if (write(a_go[1], "g", 1) != 1)
				ra = -EPIPE;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (!ra)
				ra = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		close(a_ready[0]);
		close(a_ready[1]);
		close(a_go[0]);
		close(a_go[1]);
	} else {
		ra = run_deadline(client_a_fn, cpu_all ? (void *)1 : NULL, 120);
		/* A's BOs are gone (A_BUSY: not yet, their work is queued). */
		if (mode == A_FREED)
			g = gauges_wait_zero(15, why, sizeof(why));
		rb = !ra && !g ? run_deadline(client_b_fn, NULL, 120) : -1;
	}
	if (!g)
		g = gauges_wait_zero(15, why, sizeof(why));
	ok = !ra && !g && !rb && !res->nonzero_cpu && !res->nonzero_gpu;
	if (full)
		ok = ok && res->used_a == res->used_b && res->used_a > 0;
	if (mode == A_EVICTED)
		ok = ok && res->a_evicted == n && !res->a_bad;
	if (g)
		tap_diag("%s: gauges not zero: %s", what, why);
	if (res->diag[0])
		tap_diag("%s: %s", what, res->diag);
	if (full)
		tap_diag("%s: VRAM in use with A's BOs %lld, with B's %lld bytes",
			 what, res->used_a, res->used_b);
	if (mode == A_BUSY)
		tap_diag("%s: B's first BO took %.2f s (A's work queued for %.1f s)",
			 what, res->b_first_s, 0.1 * (n + 1));
	if (mode == A_EVICTED)
		tap_diag("%s: %u of A's %u BOs evicted to TT, %llu bytes of them lost",
			 what, res->a_evicted, n,
			 (unsigned long long)res->a_bad);
	tap_check(&t, ok,
		  "%s: B's %u new BOs (%llu KiB) read zero: %llu non-zero bytes by mmap, %llu by engine copy, %llu words of A's data (A %d, B %d%s%s; %.1f s)",
		  what, res->bos, (unsigned long long)res->bytes >> 10,
		  (unsigned long long)res->nonzero_cpu,
		  (unsigned long long)res->nonzero_gpu,
		  (unsigned long long)res->a_words, ra, rb,
		  !full ? "" : res->used_a == res->used_b && res->used_a > 0 ?
		  ", the whole region both times" : ", NOT the same VRAM in use",
		  mode != A_EVICTED ? "" : res->a_evicted == n && !res->a_bad ?
		  ", A's evicted BOs intact" : ", A's BOs NOT evicted intact",
		  now_s() - t0);
}

/* A module parameter: its old value in @old (if not NULL), then @val. */
static int param_set(const char *name, const char *val, char *old, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/simgpu/parameters/%s", name);
	if (old) {
		old[0] = '\0';
		f = fopen(path, "r");
		if (f) {
			if (!fgets(old, len, f))
				old[0] = '\0';
			fclose(f);
		}
	}
	return file_write(path, val);
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
	     evict = strstr(phases, "evict"), busy = strstr(phases, "busy"),
	     pool = strstr(phases, "pool");
	char what[64], timeout[32], cpu_copy[32];
	int fd, r1, r2, r3;

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
	plan += evict + busy;
	plan += pool ? 2 : 0;
	tap_plan(&t, plan);
	seed_base = 0xa11ce;

	for (i = 0; same && i < nmems; i++) {
		for (k = 0; k < nsizes; k++)
			s[k] = (struct bo_spec){ mems[i], sizes[k] };
		snprintf(what, sizeof(what), "same sizes in %s",
			 mem_name(mems[i]));
		a_then_b(what, s, nsizes, A_FREED, true, 0, false);
	}
	for (i = 0; fill && i < q.num_regions; i++) {
		n = q.regions[i].size / MiB;
		if (n > 256)
			n = 256;
		for (k = 0; k < n; k++)
			s[k] = (struct bo_spec){ i, MiB };
		snprintf(what, sizeof(what), "all of %s (%u MiB)",
			 mem_name(i), n);
		a_then_b(what, s, n, A_FREED, false, 4 * MiB, true);
	}
	n = q.regions[0].size / MiB;
	n = n > 64 ? 64 : n;
	for (k = 0; k < n; k++)
		s[k] = (struct bo_spec){ DRM_SIMGPU_MEM_VRAM0, MiB };
	if (evict) {
		snprintf(what, sizeof(what),
			 "all of VRAM0 (%u MiB), A's BOs evicted", n);
		a_then_b(what, s, n, A_EVICTED, false, 4 * MiB, true);
	}
	if (busy) {
		/*
		 * A's FILLs crawl (0.1 s a command) and B's new BOs are
		 * cleared by the CPU, not behind them on the ring: VRAM
		 * handed to B before A's work ends would get A's data after
		 * B's clear.
		 */
		r1 = param_set("timeout_ms", "60000", timeout, sizeof(timeout));
		r2 = dbg_write("fault_stall_us", "100000");
		r3 = param_set("force_cpu_copy", "1", cpu_copy, sizeof(cpu_copy));
		snprintf(what, sizeof(what),
			 "all of VRAM0 (%u MiB), A gone with FILLs queued", n);
		if (r1 || r2 || r3)
			tap_diag("%s: timeout_ms %d, fault_stall_us %d, force_cpu_copy %d",
				 what, r1, r2, r3);
		a_then_b(what, s, n, A_BUSY, false, 4 * MiB, true);
		dbg_write("fault_stall_us", "0");
		param_set("force_cpu_copy", cpu_copy[0] ? cpu_copy : "0", NULL, 0);
		param_set("timeout_ms", timeout[0] ? timeout : "1000", NULL, 0);
	}
	for (i = DRM_SIMGPU_MEM_TT; pool && i <= DRM_SIMGPU_MEM_SYSTEM; i++) {
		for (k = 0; k < 16; k++)
			s[k] = (struct bo_spec){ i, MiB };
		snprintf(what, sizeof(what), "16 MiB of %s pages", mem_name(i));
		a_then_b(what, s, 16, A_FREED, true, 0, false);
	}
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *phases = "same,fill,evict,busy,pool";
	int i;

	if (argc >= 2 && !strcmp(argv[1], "fence")) {
		char self[256];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		/* A new mm that never ran anywhere but on CPU 0. */
		if (!getenv("SIMGPU_LIFETIME_CPU0") && n > 0) {
			self[n] = '\0';
			pin_cpu(0);
			setenv("SIMGPU_LIFETIME_CPU0", "1", 1);
			execv(self, argv);
		}
		return fence(argc >= 3 && !strcmp(argv[2], "--move"));
	}
	if (argc >= 2 && !strcmp(argv[1], "clear")) {
		for (i = 2; i + 1 < argc; i += 2)
			if (!strcmp(argv[i], "--phases"))
				phases = argv[i + 1];
		return clear(phases);
	}
	fprintf(stderr,
		"usage: simgpu-lifetime fence [--move] | clear [--phases same,fill,evict,busy,pool]\n");
	return 2;
}
