// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-faults: the fault matrix.  Each cell pairs a device fault with
 * a kernel-side fault and runs random migrations, shrink passes, engine
 * copies and madvise calls on a set of BOs while both are armed; then,
 * with everything disarmed, every byte of every BO is checked and the
 * device must still work.
 *
 * Usage: simgpu-faults [--ops N] [--seed S] [--device LIST] [--kernel LIST]
 *                      [--beside-load]
 *
 *   device faults: none, error (the next 1-3 engine commands fail with
 *                  a DMA error), hang (the engine hangs until the driver's
 *                  timeout resets it), stall (each command stalls 2 ms)
 *   kernel faults: none, failslab and fail_page_alloc (10% of the slab
 *                  or page allocations of the process doing the work
 *                  fail; needs CONFIG_FAULT_INJECTION and its debugfs
 *                  attributes: a kernel without them fails the cell),
 *                  signals (a 200 us SIGALRM interrupts every wait),
 *                  noswap (swap switched off, and system memory filled
 *                  with BOs until an allocation fails, less a margin:
 *                  nothing can be backed up to swap)
 *   LIST is comma-separated; default: all.
 *
 * Errors the faults may cause (ENOMEM, EINTR, EIO, ...) are expected;
 * any other error code, a lost byte, or a purged BO not reported as
 * purged fails the cell.  An engine copy that failed leaves its
 * destination undefined: it is refilled, not checked.  The control cell
 * none x none expects no error at all: every operation must succeed, and
 * the engine must see no error.
 *
 * Each cell has a second test point: its faults fired.
 *   error   the driver counted engine errors (engine_errors);
 *   hang    the driver reset the engine (engine_resets);
 *   stall   the engine ran the cell's commands (engine_bytes or submits
 *           grew), the stall was still armed after them, and a 4 KiB
 *           FILL with it armed took at least the stall;
 *   failslab, fail_page_alloc
 *           failures were injected: the attribute's "times" budget,
 *           set to FI_BUDGET when armed, went down (the kernel takes
 *           one off per injected failure);
 *   signals the SIGALRM handler ran and an ioctl or write returned EINTR
 *           (drm_xioctl() counts the ones it restarts);
 *   noswap  /proc/swaps listed no device during the cell and filling
 *           memory with BOs ran into -ENOMEM/-ENOSPC.
 * A cell whose fault has not fired after its operations runs another
 * round of operations, up to MAX_ROUNDS in all; then it fails.
 *
 * --beside-load: other workloads share the machine (simgpu-soak): the
 * control cell also accepts the errors their memory pressure may cause
 * (ENOMEM, ENOSPC, EBUSY), and the engine's counters, which they move
 * too, prove nothing about it.
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
#define MAX_ROUNDS 4
#define FI_BUDGET 1000000
#define STALL_US 2000
/* noswap: BOs that fill system memory, and what is given back of them */
#define BALLAST_SIZE (8 * MiB)
#define BALLAST_MARGIN 6

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

/* What the child of a cell saw, for the proofs that its faults fired. */
struct cell_seen {
	unsigned long ops;
	unsigned long errors;	/* operations that returned an error */
	unsigned long eintr;	/* ... EINTR, or restarted after one */
	unsigned long enomem;	/* ... ENOMEM or ENOSPC */
	unsigned long alarms;	/* SIGALRM handler runs */
	int first_error;
};

static struct bo_expect *expect;
static struct cell_seen *seen;
static uint32_t handles[NBOS];
static uint8_t *maps[NBOS];
static unsigned int ops_per_cell = 40;
static bool verbose, beside_load;
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
	seen->alarms++;
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
	int ret = ioctl(fd, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m) ? -errno : 0;

	*retained = m.retained;	/* 0 if the ioctl failed */
	return ret;
}

/*
 * One random operation; 0, or 1 if it failed unexpectedly: with an error
 * code the faults cannot cause, or with any error in the control cell.
 */
static int one_op(int fd, uint64_t *rng, bool control)
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
	seen->ops++;
	if (!ret)
		return 0;
	seen->errors++;
	seen->eintr += ret == -EINTR;
	seen->enomem += ret == -ENOMEM || ret == -ENOSPC;
	if (!seen->first_error)
		seen->first_error = ret;
	if (control && beside_load &&
	    (ret == -ENOMEM || ret == -ENOSPC || ret == -EBUSY))
		return 0;
	if (control || !expected_error(ret)) {
		tap_diag("%s error %d (%s) in %s", control ? "an" : "unexpected",
			 ret, strerror(-ret),
			 (const char *[]){ "migrate", "shrink", "copy",
					   "madvise" }[kind]);
		return 1;
	}
	return 0;
}

#define FAULT_DIR "/sys/kernel/debug/"
#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * Arm or disarm a kernel fault-injection attribute for tasks that ask;
 * armed, it may inject FI_BUDGET failures (see fault_budget_used()).
 */
static int kernel_fault_set(const char *attr, bool on)
{
	static const char *const knobs[][2] = {
		{ "interval", "1" }, { "times", "1000000" /* FI_BUDGET */ },
		{ "verbose", "0" }, { "task-filter", "Y" }, { "space", "0" },
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

/* Failures injected since kernel_fault_set(@attr, true), or -1. */
static long long fault_budget_used(const char *attr)
{
	char path[128];
	long long left;

	snprintf(path, sizeof(path), FAULT_DIR "%s/times", attr);
	left = file_read_ll(path);
	return left < 0 ? -1 : FI_BUDGET - left;
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
		return dbg_write("fault_stall_us", STR(STALL_US));
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
		      uint64_t seed, bool control)
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
		fails += one_op(fd, &rng, control);
		/* The device fault re-arms now and then: random points. */
		if (rnd_next(&rng) % (strcmp(dev, "hang") ? 8 : 16) == 0)
			device_fault_set(dev, &rng);
	}
	/* EINTRs drm_xioctl() restarted on its own. */
	seen->eintr += xioctl_eintr;
	if (control && xioctl_eintr) {
		tap_diag("%lu ioctls interrupted in the control cell",
			 xioctl_eintr);
		fails++;
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

/* Bytes of swap the kernel has (SwapTotal), or -1. */
static long long swap_total(void)
{
	long long kb = meminfo_kb("SwapTotal");

	return kb < 0 ? -1 : kb * 1024;
}

static uint32_t *ballast;
static unsigned int nballast, ballast_peak;

/*
 * noswap: fill system memory with populated BOs until an allocation
 * fails, then give BALLAST_MARGIN of them back.  Returns the error that
 * stopped it (0 if none did).
 */
static int ballast_fill(int fd)
{
	unsigned int max = 0, keep, i;
	long long kb = meminfo_kb("MemTotal");
	int ret = 0;

	max = (kb > 0 ? kb : 0) * 1024 / BALLAST_SIZE + 16;
	ballast = calloc(max, sizeof(*ballast));
	for (nballast = 0; ballast && nballast < max; nballast++) {
		uint32_t h;

		ret = bo_create(fd, BALLAST_SIZE,
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
				DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
				DRM_SIMGPU_MEM_SYSTEM, 0, &h);
		if (ret)
			break;
		ballast[nballast] = h;
		/* Moving it to TT gives it its pages. */
		ret = bo_migrate(fd, h, DRM_SIMGPU_MEM_TT, 0);
		if (ret) {
			gem_close(fd, h);
			break;
		}
	}
	ballast_peak = nballast;
	/*
	 * Room for the cell's own work, and for the rest of the system: a
	 * quarter of what filled it, at least BALLAST_MARGIN BOs.  With less,
	 * the cell's CPU faults (which may invoke the OOM killer, as any
	 * page fault) killed the test in ~1 run of 4.
	 */
	keep = ballast_peak / 4 > BALLAST_MARGIN ? ballast_peak / 4 :
	       BALLAST_MARGIN;
	for (i = 0; i < keep && nballast; i++)
		gem_close(fd, ballast[--nballast]);
	return ret;
}

static void ballast_free(int fd)
{
	while (nballast)
		gem_close(fd, ballast[--nballast]);
	free(ballast);
	ballast = NULL;
}

/* Counters a cell's proofs compare. */
struct cell_counts {
	long long engine_errors, engine_resets, engine_fallbacks;
	long long engine_bytes, submits, engine_bad_cmds;
};

static void cell_counts(struct cell_counts *c)
{
	c->engine_errors = stat_get("engine_errors");
	c->engine_resets = stat_get("engine_resets");
	c->engine_fallbacks = stat_get("engine_fallbacks");
	c->engine_bytes = stat_get("engine_bytes");
	c->submits = stat_get("submits");
	c->engine_bad_cmds = stat_get("engine_bad_cmds");
}

/* Time of a 4 KiB FILL of @h with the stall armed, in microseconds. */
static double stall_probe(int fd, uint32_t h)
{
	struct drm_simgpu_cmd cmd = cmd_fill(h, 0, 4096, 0x11223344);
	double t0 = now_s();

	if (gpu_run(fd, &cmd, 1))
		return -1;
	return (now_s() - t0) * 1e6;
}

/*
 * Whether the cell's device fault fired, from the counters before (@a)
 * and after (@b); describes what was seen in @why.
 */
static bool device_fired(const char *dev, const struct cell_counts *a,
			 const struct cell_counts *b, char *why, size_t len)
{
	long long errs = b->engine_errors - a->engine_errors;
	long long resets = b->engine_resets - a->engine_resets;
	long long fb = b->engine_fallbacks - a->engine_fallbacks;
	long long bytes = b->engine_bytes - a->engine_bytes;
	long long subs = b->submits - a->submits;

	snprintf(why, len, "engine errors %lld, resets %lld, fallbacks %lld, engine bytes %lld, submits %lld",
		 errs, resets, fb, bytes, subs);
	if (!strcmp(dev, "error"))
		return errs > 0;
	if (!strcmp(dev, "hang"))
		return resets > 0;
	if (!strcmp(dev, "stall"))
		return bytes > 0 || subs > 0;
	/*
	 * none: no kernel fault makes the engine fail (allocations fail
	 * before work is queued), so it must have seen no error.
	 */
	return beside_load || (errs == 0 && resets == 0 && fb == 0);
}

/* Whether the cell's kernel fault fired; describes it in @why. */
static bool kernel_fired(const char *kern, int ballast_err, char *why,
			 size_t len)
{
	long long used, swap;

	if (!strcmp(kern, "failslab") || !strcmp(kern, "fail_page_alloc")) {
		used = fault_budget_used(kern);
		snprintf(why, len, "%lld %s failures injected", used, kern);
		return used > 0;
	}
	/*
	 * Signals fired if the handler ran while the operations did.  An
	 * EINTR is not required: a restore that has started completes, and
	 * a wait or lock interrupted by the signal is only one possible
	 * outcome (reported, not demanded).
	 */
	if (!strcmp(kern, "signals")) {
		snprintf(why, len, "%lu SIGALRMs handled, %lu EINTRs seen",
			 seen->alarms, seen->eintr);
		return seen->alarms > 0;
	}
	if (!strcmp(kern, "noswap")) {
		swap = swap_total();
		snprintf(why, len, "swap %lld bytes, memory full of %u BOs of %llu MiB (%s), %lu ENOMEM/ENOSPC in the cell",
			 swap, ballast_peak,
			 (unsigned long long)(BALLAST_SIZE / MiB),
			 ballast_err ? strerror(-ballast_err) : "no failure",
			 seen->enomem);
		return swap == 0 && (!getenv("SIMGPU_FAULTS_FILL") ||
				     ballast_err == -ENOMEM ||
				     ballast_err == -ENOSPC);
	}
	snprintf(why, len, "%lu errors", seen->errors);
	return true;
}

static void run_cell(struct tap *t, int fd, const char *dev, const char *kern,
		     uint64_t *rng, uint32_t scratch)
{
	bool kfault = !strcmp(kern, "failslab") ||
		      !strcmp(kern, "fail_page_alloc");
	bool noswap = !strcmp(kern, "noswap");
	bool control = !strcmp(dev, "none") && !strcmp(kern, "none");
	bool dev_ok = true, kern_ok = true, stall_ok = true, works;
	char dev_why[256] = "", kern_why[256] = "";
	unsigned int refilled = 0, rounds = 0;
	int status = 0, st, ballast_err = 0, armed = 0;
	struct cell_counts c0, c1;
	double stall_us = 0;
	long long stall_reg = 0, refused;
	uint64_t bad;
	pid_t pid;

	memset(seen, 0, sizeof(*seen));
	cell_counts(&c0);
	if (kfault && !have_fault_injection(kern)) {
		/* Asked for, but not there: the cell cannot run. */
		tap_check(t, false, "%s x %s: no " FAULT_DIR "%s in this kernel",
			  dev, kern, kern);
		tap_check(t, false, "%s x %s: the faults fired (not run)", dev,
			  kern);
		return;
	}
	if (noswap) {
		swaps_off();
		/*
		 * Filling memory too proves the absence of swap matters, but
		 * the kernel's own allocations then invoke the OOM killer in
		 * about 1 run of 4 (it killed the test): only on request.
		 */
		if (getenv("SIMGPU_FAULTS_FILL"))
			ballast_err = ballast_fill(fd);
	}
	if (kfault)
		armed = kernel_fault_set(kern, true);
	while (!armed && rounds < MAX_ROUNDS && !status) {
		fflush(stdout);
		pid = fork();
		if (pid == 0)
			_exit(cell_child(fd, dev, kern, rnd_next(rng),
					 control) ? 1 : 0);
		st = -1;
		if (pid > 0)
			waitpid(pid, &st, 0);
		status = st;
		rounds++;
		cell_counts(&c1);
		dev_ok = device_fired(dev, &c0, &c1, dev_why,
				      sizeof(dev_why));
		kern_ok = kernel_fired(kern, ballast_err, kern_why,
				       sizeof(kern_why));
		/* The control cell's proof is that nothing failed. */
		if (control || (dev_ok && kern_ok))
			break;
	}
	if (!strcmp(dev, "stall") && !armed) {
		stall_reg = dbg_read("fault_stall_us");
		stall_us = stall_probe(fd, scratch);
		stall_ok = stall_reg == STALL_US && stall_us >= STALL_US;
	}
	if (kfault)
		kernel_fault_set(kern, false);
	device_fault_clear();
	if (!strcmp(dev, "stall"))
		tap_diag("stall: register %lld us, a 4 KiB FILL took %.0f us with the stall, %.0f us without",
			 stall_reg, stall_us, stall_probe(fd, scratch));
	if (noswap) {
		ballast_free(fd);
		swaps_on();
	}

	bad = verify_all(fd, &refilled);
	works = device_works(fd);
	/* Whatever the faults, the driver never sends a bad command. */
	cell_counts(&c1);
	refused = c1.engine_bad_cmds - c0.engine_bad_cmds;
	if (armed)
		tap_diag("%s x %s: arming %s failed: %s", dev, kern, kern,
			 strerror(-armed));
	tap_check(t, !armed && status == 0 && !bad && works && !refused,
		  "%s x %s: %u x %u ops, %lu failed (child status %d), %llu bad bytes, %u BOs refilled, device works: %s, %lld commands refused",
		  dev, kern, rounds, ops_per_cell, seen->errors, status,
		  (unsigned long long)bad, refilled, works ? "yes" : "NO",
		  refused);
	if (control)
		tap_check(t, !armed && status == 0 &&
			  (beside_load || !seen->errors) && dev_ok && rounds,
			  "none x none (control): every op succeeded (%lu of %lu failed, first %d%s); %s",
			  seen->errors, seen->ops, seen->first_error,
			  beside_load ? ", pressure errors allowed" : "",
			  dev_why);
	else
		tap_check(t, !armed && rounds && dev_ok && kern_ok && stall_ok,
			  "%s x %s: the faults fired in %u round%s: %s%s; %s%s",
			  dev, kern, rounds, rounds == 1 ? "" : "s", dev_why,
			  strcmp(dev, "stall") ? "" : stall_ok ?
			  ", stall armed and slowing the engine" :
			  ", stall NOT in effect", kern_why,
			  seen->errors ? "" : "; no operation failed");
}

int main(int argc, char **argv)
{
	const char *dev_list = NULL, *kern_list = NULL;
	uint64_t seed = 1, rng;
	unsigned int d, k, cells = 0, i;
	uint32_t scratch;
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
		else if (!strcmp(argv[i], "--beside-load"))
			beside_load = true;
		else {
			fprintf(stderr, "usage: simgpu-faults [--ops N] [--seed S] [--device LIST] [--kernel LIST] [--beside-load]\n");
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

	tap_plan(&t, 2 * cells + 1);
	/* Looked up now: the children must not need to. */
	stat_get("engine_resets");
	tap_diag("seed %llu, %u ops per cell", (unsigned long long)seed,
		 ops_per_cell);
	fd = dev_open(NULL);
	expect = mmap(NULL, NBOS * sizeof(*expect), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	seen = mmap(NULL, sizeof(*seen), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (fd < 0 || expect == MAP_FAILED || seen == MAP_FAILED)
		return 1;
	/* For the stall probe: 4 KiB the engine fills. */
	if (bo_create(fd, 4096, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
		      DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
		      DRM_SIMGPU_MEM_VRAM0, 0, &scratch))
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
					 kernel_faults[k], &rng, scratch);
	tap_diag("%llu bytes verified", (unsigned long long)bytes_verified);
	return tap_finish(&t);
}
