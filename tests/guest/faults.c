// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-faults: the fault matrix.  Each cell pairs a device fault with
 * a kernel-side fault and runs random migrations, shrink passes, engine
 * copies and madvise calls on a set of BOs while both are armed; then,
 * with everything disarmed, every byte of every BO is checked and the
 * device must still work.
 *
 * Usage: simgpu-faults [--ops N] [--seed S] [--device LIST] [--kernel LIST]
 *
 *   device faults: none, error (the next 1-3 engine commands fail with
 *                  a DMA error), hang (the engine hangs until the driver's
 *                  timeout resets it), stall (each command stalls 2 ms)
 *   kernel faults: none, failslab and fail_page_alloc (10% of the slab
 *                  or page allocations of the process doing the work
 *                  fail; needs CONFIG_FAULT_INJECTION, else skipped),
 *                  signals (a 200 us SIGALRM interrupts every wait),
 *                  noswap (swap switched off: nothing can be backed up)
 *   LIST is comma-separated; default: all.
 *
 * Errors the faults may cause (ENOMEM, EINTR, EIO, ...) are expected;
 * any other error code, a lost byte, or a purged BO not reported as
 * purged fails the cell.  An engine copy that failed leaves its
 * destination undefined: it is refilled, not checked.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define NBOS 16
#define BO_SIZE (2 * MiB)
#define NPURGEABLE 4	/* BOs 0..3 may be marked DONTNEED */

enum bo_state { BO_VALID, BO_ZERO, BO_UNDEFINED };

/* What a BO must hold; shared with the child that does the work. */
struct bo_expect {
	uint64_t seed;
	uint32_t state;		/* enum bo_state */
	uint32_t dontneed;
};

static const char *const device_faults[] = { "none", "error", "hang",
					     "stall" };
static const char *const kernel_faults[] = { "none", "failslab",
					     "fail_page_alloc", "signals",
					     "noswap" };

static struct bo_expect *expect;
static uint32_t handles[NBOS];
static uint8_t *maps[NBOS];
static unsigned int ops_per_cell = 40;
static bool verbose;
static uint64_t bytes_verified;

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!list)
		return true;
	for (p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Error codes a faulty operation may return. */
static bool expected_error(int err)
{
	switch (-err) {
	case ENOMEM: case ENOSPC: case EINTR: case EIO: case EBUSY:
	case ETIMEDOUT: case EAGAIN: case ENODEV: case ERESTART:
		return true;
	}
	return false;
}

static int madvise_bo(int fd, uint32_t handle, uint32_t madv,
		      uint32_t *retained)
{
	struct drm_simgpu_gem_madvise m = { .handle = handle, .madv = madv };

	if (ioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m))
		return -errno;
	*retained = m.retained;
	return 0;
}

/* One random operation; 0, an expected error code, or 1 if unexpected. */
static int one_op(int fd, uint64_t *rng)
{
	static const uint32_t mems[] = { DRM_SIMGPU_MEM_VRAM0,
					 DRM_SIMGPU_MEM_TT,
					 DRM_SIMGPU_MEM_SYSTEM };
	unsigned int a = rnd_next(rng) % NBOS, b = rnd_next(rng) % NBOS;
	struct drm_simgpu_cmd cmd;
	uint32_t retained;
	char pages[16];
	int ret;

	unsigned int kind = rnd_next(rng) % 4;

	switch (kind) {
	case 0:
		ret = bo_migrate(fd, handles[a], mems[rnd_next(rng) % 3], 0);
		break;
	case 1:
		snprintf(pages, sizeof(pages), "%llu",
			 (unsigned long long)(rnd_next(rng) % 2048));
		ret = dbg_write("shrink", pages);
		break;
	case 2:
		/*
		 * Not into a DONTNEED BO: "not retained" could no longer
		 * tell whether the purge came before the copy or after.
		 */
		if (a == b || expect[b].dontneed)
			return 0;
		cmd = cmd_copy(handles[a], 0, handles[b], 0, BO_SIZE);
		/* Until the copy is known to be done, b is undefined. */
		expect[b].state = BO_UNDEFINED;
		ret = gpu_run(fd, &cmd, 1);
		/* A DONTNEED source may have been purged: b unknown. */
		if (!ret && !expect[a].dontneed) {
			expect[b].seed = expect[a].seed;
			expect[b].state = expect[a].state;
		}
		break;
	default:
		if (a >= NPURGEABLE)
			return 0;
		ret = madvise_bo(fd, handles[a], expect[a].dontneed ?
				 DRM_SIMGPU_MADV_WILLNEED :
				 DRM_SIMGPU_MADV_DONTNEED, &retained);
		if (ret)
			break;
		if (expect[a].dontneed && !retained)
			expect[a].state = BO_ZERO;
		expect[a].dontneed = !expect[a].dontneed;
		break;
	}
	if (verbose)
		tap_diag("op %s a %u b %u -> %d; a: state %u dontneed %u seed %llx; b: state %u dontneed %u seed %llx",
			 (const char *[]){ "migrate", "shrink", "copy",
					   "madvise" }[kind],
			 a, b, ret, expect[a].state, expect[a].dontneed,
			 (unsigned long long)expect[a].seed, expect[b].state,
			 expect[b].dontneed, (unsigned long long)expect[b].seed);
	if (ret && !expected_error(ret)) {
		tap_diag("unexpected error %d (%s)", ret, strerror(-ret));
		return 1;
	}
	return 0;
}

#define FAULT_DIR "/sys/kernel/debug/"

/* Arm or disarm a kernel fault-injection attribute for tasks that ask. */
static int kernel_fault_set(const char *attr, bool on)
{
	static const char *const knobs[][2] = {
		{ "interval", "1" }, { "times", "-1" }, { "verbose", "0" },
		{ "task-filter", "Y" }, { "space", "0" },
	};
	char path[128];
	unsigned int i;
	int ret = 0;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]) && !ret; i++) {
		snprintf(path, sizeof(path), FAULT_DIR "%s/%s", attr,
			 knobs[i][0]);
		ret = file_write(path, knobs[i][1]);
	}
	snprintf(path, sizeof(path), FAULT_DIR "%s/ignore-gfp-wait", attr);
	if (!ret)
		ret = file_write(path, "N");
	if (!ret && !strcmp(attr, "fail_page_alloc")) {
		ret = file_write(FAULT_DIR "fail_page_alloc/ignore-gfp-highmem",
				 "N");
		if (!ret)
			ret = file_write(FAULT_DIR "fail_page_alloc/min-order",
					 "0");
	}
	snprintf(path, sizeof(path), FAULT_DIR "%s/probability", attr);
	if (!ret)
		ret = file_write(path, on ? "10" : "0");
	return ret;
}

static int device_fault_set(const char *fault, uint64_t *rng)
{
	char val[16];

	if (!strcmp(fault, "error")) {
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)(1 + rnd_next(rng) % 3));
		return dbg_write("fault_fail_count", val);
	}
	if (!strcmp(fault, "hang"))
		return dbg_write("fault_hang", "1");
	if (!strcmp(fault, "stall"))
		return dbg_write("fault_stall_us", "2000");
	return 0;
}

static void device_fault_clear(void)
{
	dbg_write("fault_fail_count", "0");
	dbg_write("fault_hang", "0");
	dbg_write("fault_stall_us", "0");
}

/* Touch @n bytes of stack, so that its growth needs no page later. */
static void stack_prefault(size_t n)
{
	volatile char buf[64 * 1024];

	memset((char *)buf, 0, sizeof(buf) < n ? sizeof(buf) : n);
}

/* The work of one cell, in a child process; exit status = failures. */
static int cell_child(int fd, const char *dev, const char *kern,
		      uint64_t seed)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	uint64_t rng = seed;
	unsigned int i, fails = 0;

	/*
	 * Nothing of ours may need a page while allocations fail: a user
	 * page fault that cannot allocate is an OOM kill, not an error.
	 */
	stack_prefault(64 * 1024);
	mlockall(MCL_CURRENT | MCL_FUTURE);
	if (device_fault_set(dev, &rng))
		return 1;
	if (!strcmp(kern, "signals")) {
		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	} else if (strcmp(kern, "none") && strcmp(kern, "noswap") &&
		   file_write("/proc/self/make-it-fail", "1")) {
		return 1;
	}
	for (i = 0; i < ops_per_cell; i++) {
		fails += one_op(fd, &rng);
		/* The device fault re-arms now and then: random points. */
		if (rnd_next(&rng) % (strcmp(dev, "hang") ? 8 : 16) == 0)
			device_fault_set(dev, &rng);
	}
	return fails;
}

/* What a bad BO holds instead: another BO's pattern, zeroes, ...? */
static void diag_bad(int fd, unsigned int i, uint64_t n)
{
	unsigned int j;

	for (j = 0; j < NBOS; j++)
		if (expect[j].state == BO_VALID &&
		    !pattern_check(maps[i], 0, 4096, expect[j].seed))
			break;
	tap_diag("BO %u (%s, state %u, dontneed %u): %llu bad bytes; holds %s%d, zero page: %s",
		 i, mem_name(bo_mem(fd, handles[i])), expect[i].state,
		 expect[i].dontneed, (unsigned long long)n,
		 j < NBOS ? "the pattern of BO " : "no known pattern ",
		 j < NBOS ? (int)j : -1,
		 bytes_check(maps[i], 4096, 0) ? "no" : "yes");
}

/* Check every BO against what it must hold; refill undefined ones. */
static uint64_t verify_all(int fd, unsigned int *refilled)
{
	uint64_t bad = 0, n;
	uint32_t retained;
	unsigned int i;

	for (i = 0; i < NBOS; i++) {
		/* A DONTNEED BO may have been purged since its last madvise. */
		if (expect[i].dontneed) {
			if (madvise_bo(fd, handles[i], DRM_SIMGPU_MADV_WILLNEED,
				       &retained))
				bad++;
			else if (!retained && expect[i].state == BO_VALID)
				expect[i].state = BO_ZERO;
			expect[i].dontneed = 0;
		}
		if (expect[i].state == BO_VALID)
			n = pattern_check(maps[i], 0, BO_SIZE, expect[i].seed);
		else if (expect[i].state == BO_ZERO)
			n = bytes_check(maps[i], BO_SIZE, 0);
		else
			n = 0;
		if (n)
			diag_bad(fd, i, n);
		bad += n;
		if (expect[i].state != BO_UNDEFINED)
			bytes_verified += BO_SIZE;
		if (expect[i].state != BO_VALID) {
			expect[i].seed = rnd_next(&expect[i].seed) | 1;
			pattern_fill(maps[i], 0, BO_SIZE, expect[i].seed);
			expect[i].state = BO_VALID;
			(*refilled)++;
		}
	}
	return bad;
}

/* After a cell: a new BO goes to VRAM, the engine fills it, it reads back. */
static bool device_works(int fd)
{
	uint32_t h;
	struct drm_simgpu_cmd cmd;
	uint8_t *p = bo_new(fd, MiB, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0),
			    DRM_SIMGPU_MEM_VRAM0, 0, &h);
	bool ok;

	if (!p)
		return false;
	cmd = cmd_fill(h, 0, MiB, 0x5a5a5a5a);
	ok = !gpu_run(fd, &cmd, 1) && !bytes_check(p, MiB, 0x5a);
	munmap(p, MiB);
	gem_close(fd, h);
	return ok;
}

static char swap_devs[4][64];

/* Switch every swap device off, remembering them for swaps_on(). */
static void swaps_off(void)
{
	char line[256];
	unsigned int n = 0;
	FILE *f = fopen("/proc/swaps", "r");

	memset(swap_devs, 0, sizeof(swap_devs));
	while (f && fgets(line, sizeof(line), f) && n < 4)
		if (line[0] == '/' &&
		    sscanf(line, "%63s", swap_devs[n]) == 1)
			swapoff(swap_devs[n++]);
	if (f)
		fclose(f);
}

static void swaps_on(void)
{
	unsigned int i;

	for (i = 0; i < 4 && swap_devs[i][0]; i++)
		if (swapon(swap_devs[i], 0))
			tap_diag("swapon %s: %s", swap_devs[i],
				 strerror(errno));
}

static bool have_fault_injection(const char *attr)
{
	char path[128];

	snprintf(path, sizeof(path), FAULT_DIR "%s/probability", attr);
	return access(path, W_OK) == 0;
}

static void run_cell(struct tap *t, int fd, const char *dev, const char *kern,
		     uint64_t seed)
{
	bool kfault = !strcmp(kern, "failslab") ||
		      !strcmp(kern, "fail_page_alloc");
	long long resets0 = stat_get("engine_resets");
	unsigned int refilled = 0;
	int status = -1;
	uint64_t bad;
	pid_t pid;

	if (kfault && !have_fault_injection(kern)) {
		tap_check(t, true, "# SKIP %s x %s: no %s in this kernel", dev,
			  kern, kern);
		return;
	}
	if (!strcmp(kern, "noswap"))
		swaps_off();
	if (kfault)
		kernel_fault_set(kern, true);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(cell_child(fd, dev, kern, seed) ? 1 : 0);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (kfault)
		kernel_fault_set(kern, false);
	device_fault_clear();
	if (!strcmp(kern, "noswap"))
		swaps_on();

	bad = verify_all(fd, &refilled);
	tap_check(t, status == 0 && !bad && device_works(fd),
		  "%s x %s: %u ops (child status %d), %llu bad bytes, %u BOs refilled, %lld engine resets, device works",
		  dev, kern, ops_per_cell, status, (unsigned long long)bad,
		  refilled, stat_get("engine_resets") - resets0);
}

int main(int argc, char **argv)
{
	const char *dev_list = NULL, *kern_list = NULL;
	uint64_t seed = 1, rng;
	unsigned int d, k, cells = 0, i;
	struct tap t;
	int fd;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--ops") && i + 1 < (unsigned int)argc)
			ops_per_cell = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--seed") && i + 1 < (unsigned int)argc)
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--device") && i + 1 < (unsigned int)argc)
			dev_list = argv[++i];
		else if (!strcmp(argv[i], "--kernel") && i + 1 < (unsigned int)argc)
			kern_list = argv[++i];
		else if (!strcmp(argv[i], "--verbose"))
			verbose = true;
		else {
			fprintf(stderr, "usage: simgpu-faults [--ops N] [--seed S] [--device LIST] [--kernel LIST]\n");
			return 2;
		}
	}
	for (d = 0; d < 4; d++)
		for (k = 0; k < 5; k++)
			cells += listed(dev_list, device_faults[d]) &&
				 listed(kern_list, kernel_faults[k]);
	if (!cells) {
		fprintf(stderr, "simgpu-faults: no cell selected\n");
		return 2;
	}

	tap_plan(&t, cells + 1);
	/* Looked up now: the children must not need to. */
	stat_get("engine_resets");
	tap_diag("seed %llu, %u ops per cell", (unsigned long long)seed,
		 ops_per_cell);
	fd = dev_open(NULL);
	expect = mmap(NULL, NBOS * sizeof(*expect), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || expect == MAP_FAILED)
		return 1;
	rng = seed;
	for (i = 0; i < NBOS; i++) {
		maps[i] = bo_new(fd, BO_SIZE,
				 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
				 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
				 DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
				 DRM_SIMGPU_MEM_SYSTEM, 0, &handles[i]);
		if (!maps[i])
			return 1;
		expect[i].seed = rnd_next(&rng) | 1;
		expect[i].state = BO_VALID;
		pattern_fill(maps[i], 0, BO_SIZE, expect[i].seed);
	}
	tap_check(&t, true, "%u BOs of %llu MiB filled", NBOS,
		  (unsigned long long)(BO_SIZE / MiB));

	for (d = 0; d < 4; d++)
		for (k = 0; k < 5; k++)
			if (listed(dev_list, device_faults[d]) &&
			    listed(kern_list, kernel_faults[k]))
				run_cell(&t, fd, device_faults[d],
					 kernel_faults[k], rnd_next(&rng));
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
	return tap_finish(&t);
}
