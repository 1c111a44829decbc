// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-sched: the GPU scheduler, seen from two DRM files.
 *
 * Usage: simgpu-sched reset|scope|fair|syncobj
 *
 *   reset  file A queues a FILL that hangs the engine (fault_hang), then
 *          a FILL of another BO and a COPY from the hung FILL's BO (a
 *          dependency on the same ring: drm_sched puts it on the ring
 *          behind the FILL, it does not wait for it to finish); file B
 *          then more FILLs than the ring has slots.  After the timeout
 *          and the reset, as simgpu_sched.c documents: every job that
 *          was on the ring fails with -EIO and its BO keeps its old
 *          content; B's last jobs, which waited for ring space, run
 *          after the reset; one reset.
 *   scope  seqnos are per file: B cannot wait for A's submissions
 *          (-EINVAL for a seqno it never got), and each file's seqnos
 *          count from 1.
 *   fair   A keeps the engine busy for 6 s with more work than the ring
 *          holds (64 KiB FILLs, 700 in flight: its entity always has jobs
 *          waiting); B submits a small FILL every 250 ms: each must
 *          complete long before A stops (B is not starved).  Needs
 *          --engine-bandwidth 64M.
 *   syncobj explicit sync across two files: A's long FILL waits for a
 *          fence of another driver (vgem's, imported into a syncobj from
 *          a sync_file of a vgem dma-buf) and signals point 1 of a
 *          timeline syncobj, shared with B by fd; B's FILL of its own BO
 *          (no implicit dependency) waits for that point, signals a
 *          binary syncobj and returns a sync_file: neither runs before
 *          the vgem fence is signalled, B's work does not finish before
 *          A's, its sync_file and syncobj signal after it;
 *          a later point 2 is waited for and queried; fdinfo shows each
 *          file's memory (total, resident, purgeable after DONTNEED);
 *          every bad field gets its documented errno, and the old
 *          24-byte submit still works.  Needs --engine-bandwidth 64M.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/dma-buf.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define SECOND_NS	1000000000LL
#define TT		DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT)
#define BO_SIZE		MiB

static struct tap t;

static uint8_t *tt_bo(int fd, uint32_t *h, uint64_t seed)
{
	uint8_t *map = bo_new(fd, BO_SIZE, TT, DRM_SIMGPU_MEM_TT, 0, h);

	if (map)
		pattern_fill(map, 0, BO_SIZE, seed);
	return map;
}

static int submit1(int fd, struct drm_simgpu_cmd c, uint64_t *seqno)
{
	return gpu_submit(fd, &c, 1, seqno);
}

/* B's submissions: more FILL commands than the ring has slots (1024). */
#define RESET_B_JOBS	20
#define RESET_B_CMDS	64

static int reset_test(void)
{
	struct drm_simgpu_cmd fills[RESET_B_CMDS];
	uint64_t j1, j2, j3, k[RESET_B_JOBS];
	int w1, w2, w3, wk[RESET_B_JOBS];
	unsigned int i, k_failed = 0;
	uint8_t *mx, *my, *mz, *mw;
	uint32_t x, y, z, w;
	long long resets;
	int a, b, ret;

	tap_plan(&t, 4);
	a = dev_open(NULL);
	b = dev_open(NULL);
	if (a < 0 || b < 0)
		return tap_finish(&t);
	mx = tt_bo(a, &x, 1);
	my = tt_bo(a, &y, 2);
	mw = tt_bo(a, &w, 4);
	mz = tt_bo(b, &z, 3);
	if (!mx || !my || !mz || !mw)
		return tap_finish(&t);
	for (i = 0; i < RESET_B_CMDS; i++)
		fills[i] = cmd_fill(z, 0, 4096, 0x33333333);

	resets = stat_get("engine_resets");
	ret = dbg_write("fault_hang", "1") ||
	      submit1(a, cmd_fill(x, 0, BO_SIZE, 0x11111111), &j1) ||
	      submit1(a, cmd_fill(y, 0, BO_SIZE, 0x22222222), &j2) ||
	      submit1(a, cmd_copy(x, 0, w, 0, BO_SIZE), &j3);
	for (i = 0; !ret && i < RESET_B_JOBS; i++)
		ret = gpu_submit(b, fills, RESET_B_CMDS, &k[i]);
	tap_check(&t, !ret, "A: a FILL that hangs, a FILL, a COPY from the "
		  "hung FILL's BO; B: %u submissions of %u FILLs",
		  RESET_B_JOBS, RESET_B_CMDS);
	if (ret)
		return tap_finish(&t);

	w1 = seqno_wait(a, j1, 30 * SECOND_NS);
	w2 = seqno_wait(a, j2, 30 * SECOND_NS);
	w3 = seqno_wait(a, j3, 30 * SECOND_NS);
	for (i = 0; i < RESET_B_JOBS; i++) {
		wk[i] = seqno_wait(b, k[i], 30 * SECOND_NS);
		k_failed += wk[i] != 0;
	}
	dbg_write("fault_hang", "0");
	tap_check(&t, w1 == -EIO && w2 == -EIO && w3 == -EIO &&
		  wk[0] == -EIO && !pattern_check(my, 0, BO_SIZE, 2) &&
		  !pattern_check(mw, 0, BO_SIZE, 4),
		  "the jobs on the ring failed (A %d %d %d, B's first %d), "
		  "their BOs kept their content", w1, w2, w3, wk[0]);
	tap_check(&t, !wk[RESET_B_JOBS - 1] && k_failed < RESET_B_JOBS &&
		  bytes_check(mz, 4096, 0x33) == 0,
		  "B's jobs that waited for ring space ran after the reset: "
		  "%u of %u failed, the last waits with %d", k_failed,
		  RESET_B_JOBS, wk[RESET_B_JOBS - 1]);
	tap_check(&t, stat_get("engine_resets") - resets == 1,
		  "one reset (%lld)", stat_get("engine_resets") - resets);
	return tap_finish(&t);
}

static int scope_test(void)
{
	uint64_t sa1, sa2, sb1;
	uint32_t ha, hb;
	int a, b, ret;

	tap_plan(&t, 3);
	a = dev_open(NULL);
	b = dev_open(NULL);
	if (a < 0 || b < 0 || !tt_bo(a, &ha, 1) || !tt_bo(b, &hb, 2))
		return tap_finish(&t);
	ret = submit1(a, cmd_fill(ha, 0, BO_SIZE, 1), &sa1) ||
	      submit1(a, cmd_fill(ha, 0, BO_SIZE, 2), &sa2);
	tap_check(&t, !ret && seqno_wait(b, sa2, SECOND_NS) == -EINVAL &&
		  seqno_wait(b, sa1, SECOND_NS) == -EINVAL,
		  "B, which submitted nothing, cannot wait for A's seqnos "
		  "%llu and %llu", (unsigned long long)sa1,
		  (unsigned long long)sa2);
	ret = submit1(b, cmd_fill(hb, 0, BO_SIZE, 3), &sb1);
	tap_check(&t, !ret && sa1 == 1 && sa2 == 2 && sb1 == 1,
		  "each file counts from 1: A %llu %llu, B %llu",
		  (unsigned long long)sa1, (unsigned long long)sa2,
		  (unsigned long long)sb1);
	tap_check(&t, !seqno_wait(b, sb1, 10 * SECOND_NS) &&
		  seqno_wait(b, 2, SECOND_NS) == -EINVAL &&
		  !seqno_wait(a, sa2, 10 * SECOND_NS),
		  "each waits for its own");
	return tap_finish(&t);
}

#define FAIR_SECS	6.0
#define FAIR_INFLIGHT	700
#define FAIR_FILL	(64 * 1024)
#define FAIR_ROUNDS	8

/* File A: keep the engine busy for FAIR_SECS. */
static int fair_hog(void)
{
	uint64_t seqno = 0;
	double end = now_s() + FAIR_SECS;
	uint32_t h;
	int fd = dev_open(NULL);

	if (fd < 0 || !tt_bo(fd, &h, 1))
		return 1;
	while (now_s() < end) {
		if (submit1(fd, cmd_fill(h, 0, FAIR_FILL, seqno), &seqno))
			return 1;
		if (seqno > FAIR_INFLIGHT &&
		    seqno_wait(fd, seqno - FAIR_INFLIGHT, 30 * SECOND_NS))
			return 1;
	}
	return seqno_wait(fd, seqno, 30 * SECOND_NS) ? 1 : 0;
}

static int fair_test(void)
{
	double worst = 0, start, t0, lat;
	unsigned int i, failed = 0;
	uint64_t seqno;
	int fd, status;
	uint32_t h;
	pid_t hog;

	tap_plan(&t, 2);
	fd = dev_open(NULL);
	if (fd < 0 || !tt_bo(fd, &h, 2))
		return tap_finish(&t);
	start = now_s();
	hog = fork();
	if (!hog)
		_exit(fair_hog());
	usleep(500000);
	for (i = 0; i < FAIR_ROUNDS; i++) {
		t0 = now_s();
		if (submit1(fd, cmd_fill(h, 0, 4096, i), &seqno) ||
		    seqno_wait(fd, seqno, 30 * SECOND_NS))
			failed++;
		lat = now_s() - t0;
		worst = lat > worst ? lat : worst;
		usleep(250000);
	}
	waitpid(hog, &status, 0);
	tap_check(&t, !failed && WIFEXITED(status) && !WEXITSTATUS(status),
		  "A's jobs and B's %u jobs completed (A ran %.1f s)",
		  FAIR_ROUNDS, now_s() - start);
	tap_check(&t, worst < FAIR_SECS / 3, "B's worst latency %.2f s while "
		  "A kept the engine busy: not starved", worst);
	return tap_finish(&t);
}

#define SYNC_BIG	(32 * MiB)

/* The submit of driver version 1.3 and older: 24 bytes. */
struct submit_v3 {
	uint64_t cmds;
	uint32_t num_cmds;
	uint32_t flags;
	uint64_t seqno;
};

#define IOCTL_SUBMIT_V3 \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_SUBMIT, struct submit_v3)

static uint32_t syncobj_new(int fd);

/*
 * A syncobj of @fd holding an unsignalled vgem fence (a write fence on a
 * vgem BO, exported as a sync_file from its dma-buf), which the test
 * signals with IOCTL_VGEM_FENCE_SIGNAL on @vfd, @vfence; 0 on failure.
 */
static uint32_t vgem_gate(int fd, int *vfd, uint32_t *vfence)
{
	struct drm_mode_create_dumb d = { .height = 1, .width = 1024, .bpp = 32 };
	struct dma_buf_export_sync_file es = { .flags = DMA_BUF_SYNC_READ };
	struct drm_syncobj_handle im = { 0 };
	struct vgem_fence_attach fa = { 0 };
	struct drm_prime_handle ph = { 0 };
	uint32_t gate = syncobj_new(fd);
	int ret;

	*vfd = vgem_open();
	if (*vfd < 0 || !gate || drm_xioctl(*vfd, DRM_IOCTL_MODE_CREATE_DUMB, &d))
		return 0;
	fa.handle = d.handle;
	fa.flags = VGEM_FENCE_WRITE;
	ph.handle = d.handle;
	ph.flags = DRM_CLOEXEC;
	if (drm_xioctl(*vfd, IOCTL_VGEM_FENCE_ATTACH, &fa) ||
	    drm_xioctl(*vfd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &ph))
		return 0;
	ret = ioctl(ph.fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &es);
	close(ph.fd);
	if (ret)
		return 0;
	im.handle = gate;
	im.flags = DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE;
	im.fd = es.fd;
	ret = drm_xioctl(fd, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &im);
	close(es.fd);
	*vfence = fa.out_fence;
	return ret ? 0 : gate;
}

static uint32_t syncobj_new(int fd)
{
	struct drm_syncobj_create c = { 0 };

	return drm_xioctl(fd, DRM_IOCTL_SYNCOBJ_CREATE, &c) ? 0 : c.handle;
}

/* @h of file @from as a handle of file @to. */
static uint32_t syncobj_share(int from, uint32_t h, int to)
{
	struct drm_syncobj_handle e = { .handle = h };
	struct drm_syncobj_handle i = { 0 };

	if (drm_xioctl(from, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, &e))
		return 0;
	i.fd = e.fd;
	if (drm_xioctl(to, DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, &i))
		i.handle = 0;
	close(e.fd);
	return i.handle;
}

/* Whether timeline point @point (0: binary) of @h has signalled. */
static bool syncobj_signalled(int fd, uint32_t h, uint64_t point)
{
	struct drm_syncobj_timeline_wait w = {
		.handles = (uintptr_t)&h, .points = (uintptr_t)&point,
		.count_handles = 1, .timeout_nsec = 0,
	};

	return !drm_xioctl(fd, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w);
}

static int submit_sync(int fd, struct drm_simgpu_cmd c,
		       struct drm_simgpu_sync *in, unsigned int num_in,
		       struct drm_simgpu_sync *out, unsigned int num_out,
		       uint32_t flags, struct drm_simgpu_submit *s)
{
	memset(s, 0, sizeof(*s));
	s->cmds = (uintptr_t)&c;
	s->num_cmds = 1;
	s->flags = flags;
	s->in_syncs = (uintptr_t)in;
	s->num_in_syncs = num_in;
	s->out_syncs = (uintptr_t)out;
	s->num_out_syncs = num_out;
	s->out_fence_fd = -1;
	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_SUBMIT, s);
}

/* A "drm-KEY:" value of @fd's fdinfo in bytes (KiB/MiB units), or -1. */
static long long fdinfo_bytes(int fd, const char *key)
{
	char path[64], line[256], unit[8];
	long long v = -1, n;
	size_t len = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, len) || line[len] != ':')
			continue;
		unit[0] = '\0';
		if (sscanf(line + len + 1, "%lld %7s", &n, unit) >= 1)
			v = n * (!strcmp(unit, "KiB") ? 1024 :
				 !strcmp(unit, "MiB") ? MiB : 1);
	}
	fclose(f);
	return v;
}

/* Each bad field of a submission, and the errno it must get. */
static void syncobj_bad_input(int a, uint32_t h, uint32_t tl)
{
	struct drm_simgpu_sync good = { .handle = tl, .point = 1 };
	struct drm_simgpu_sync bad_flags = { .handle = tl, .flags = 1 };
	struct drm_simgpu_sync unknown = { .handle = 0xdead };
	struct drm_simgpu_sync empty = { .handle = syncobj_new(a) };
	struct drm_simgpu_sync many[DRM_SIMGPU_MAX_SYNCS + 1];
	struct drm_simgpu_cmd c = cmd_fill(h, 0, 4096, 7);
	struct drm_simgpu_submit s;
	struct submit_v3 old = { .cmds = (uintptr_t)&c, .num_cmds = 1 };
	unsigned int i, wrong = 0;
	struct {
		const char *what;
		int ret, want;
	} r[12];
	int n = 0;

	for (i = 0; i < DRM_SIMGPU_MAX_SYNCS + 1; i++)
		many[i] = good;
#define BAD(w, e, call) \
	do { r[n].what = w; r[n].want = e; r[n].ret = (call); n++; } while (0)
	BAD("unknown flag", -EINVAL, submit_sync(a, c, NULL, 0, NULL, 0, 0x80, &s));
	BAD("non-zero pad", -EINVAL,
	    (memset(&s, 0, sizeof(s)), s.cmds = (uintptr_t)&c, s.num_cmds = 1,
	     s.pad = 1, drm_xioctl(a, DRM_IOCTL_SIMGPU_SUBMIT, &s)));
	BAD("non-zero extensions", -EINVAL,
	    (memset(&s, 0, sizeof(s)), s.cmds = (uintptr_t)&c, s.num_cmds = 1,
	     s.extensions = 1, drm_xioctl(a, DRM_IOCTL_SIMGPU_SUBMIT, &s)));
	BAD("in-sync flags", -EINVAL, submit_sync(a, c, &bad_flags, 1, NULL, 0, 0, &s));
	BAD("out-sync flags", -EINVAL, submit_sync(a, c, NULL, 0, &bad_flags, 1, 0, &s));
	BAD("unknown in-sync handle", -ENOENT, submit_sync(a, c, &unknown, 1, NULL, 0, 0, &s));
	BAD("unknown out-sync handle", -ENOENT, submit_sync(a, c, NULL, 0, &unknown, 1, 0, &s));
	BAD("in-sync without a fence", -EINVAL, submit_sync(a, c, &empty, 1, NULL, 0, 0, &s));
	BAD("too many in-syncs", -EINVAL,
	    submit_sync(a, c, many, DRM_SIMGPU_MAX_SYNCS + 1, NULL, 0, 0, &s));
	BAD("bad in-sync pointer", -EFAULT,
	    submit_sync(a, c, (void *)8, 1, NULL, 0, 0, &s));
	BAD("24-byte submit of version 1.3", 0,
	    drm_xioctl(a, IOCTL_SUBMIT_V3, &old));
#undef BAD
	for (i = 0; i < (unsigned int)n; i++) {
		if (r[i].ret == r[i].want)
			continue;
		wrong++;
		tap_diag("%s: %d, want %d", r[i].what, r[i].ret, r[i].want);
	}
	tap_check(&t, !wrong && old.seqno,
		  "%d bad submissions get their documented errno (%u wrong); the old 24-byte submit works (seqno %llu)",
		  n - 1, wrong, (unsigned long long)old.seqno);
}

static int syncobj_test(void)
{
	struct drm_simgpu_sync tl1, tl2, bin, in1, gate;
	struct drm_simgpu_submit sa, sb, sa2;
	struct vgem_fence_signal sig = { 0 };
	uint32_t x, y, tl, tlb, sbo;
	int vfd = -1;
	uint64_t point = 0;
	struct pollfd p;
	uint8_t *my;
	bool a_busy, b_busy, b_polled, a_done, ok;
	long long total, res, purg;
	unsigned int i, bad = 0;
	double t0;
	int a, b, ret;

	tap_plan(&t, 6);
	a = dev_open(NULL);
	b = dev_open(NULL);
	if (a < 0 || b < 0 ||
	    !bo_new(a, SYNC_BIG, TT, DRM_SIMGPU_MEM_TT, 0, &x) ||
	    !(my = tt_bo(b, &y, 2)))
		return tap_finish(&t);
	tl = syncobj_new(a);
	sbo = syncobj_new(b);
	tlb = tl ? syncobj_share(a, tl, b) : 0;
	gate = (struct drm_simgpu_sync){ .handle = vgem_gate(a, &vfd, &sig.fence) };
	if (!tap_check(&t, tl && sbo && tlb && gate.handle,
		       "syncobjs created, A's timeline shared with B by fd, a vgem fence in A's gate syncobj"))
		return tap_finish(&t);

	tl1 = (struct drm_simgpu_sync){ .handle = tl, .point = 1 };
	in1 = (struct drm_simgpu_sync){ .handle = tlb, .point = 1 };
	bin = (struct drm_simgpu_sync){ .handle = sbo };
	ret = submit_sync(a, cmd_fill(x, 0, SYNC_BIG, 0xa5a5a5a5), &gate, 1,
			  &tl1, 1, 0, &sa) ||
	      submit_sync(b, cmd_fill(y, 0, BO_SIZE, 0x5a5a5a5a), &in1, 1,
			  &bin, 1, DRM_SIMGPU_SUBMIT_FENCE_OUT, &sb);
	/* Both wait for the vgem fence, B through A (A alone takes 0.5 s). */
	usleep(1000000);
	a_busy = seqno_wait(a, sa.seqno, 0) == -ETIME;
	b_busy = seqno_wait(b, sb.seqno, 0) == -ETIME;
	p = (struct pollfd){ .fd = sb.out_fence_fd, .events = POLLIN };
	b_polled = poll(&p, 1, 0) == 0;
	tap_check(&t, !ret && sb.out_fence_fd >= 0 && a_busy && b_busy &&
		  b_polled && !syncobj_signalled(b, sbo, 0),
		  "1 s on, A's %u MiB FILL still waits for the vgem fence (%d) and B's FILL for A's (B busy %d, sync_file fd %d not ready %d, B's syncobj unsignalled)",
		  (unsigned int)(SYNC_BIG / MiB), a_busy, b_busy,
		  sb.out_fence_fd, b_polled);
	t0 = now_s();
	if (drm_xioctl(vfd, IOCTL_VGEM_FENCE_SIGNAL, &sig))
		tap_diag("vgem fence not signalled (it times out in 10 s)");
	ret = poll(&p, 1, 20000);
	a_done = !seqno_wait(a, sa.seqno, 0);
	for (i = 0; i < BO_SIZE; i += 4)
		bad += *(uint32_t *)(my + i) != 0x5a5a5a5a;
	tap_check(&t, ret == 1 && a_done && !seqno_wait(b, sb.seqno, 0) &&
		  syncobj_signalled(b, sbo, 0) && syncobj_signalled(b, tlb, 1) &&
		  !bad,
		  "B's sync_file signalled %.2f s after the vgem fence, A's work done by then (%d), B's syncobj and point 1 signalled, B's BO filled (%u bad words)",
		  now_s() - t0, a_done, bad);
	close(sb.out_fence_fd);

	tl2 = (struct drm_simgpu_sync){ .handle = tl, .point = 2 };
	ret = submit_sync(a, cmd_fill(x, 0, 4096, 1), NULL, 0, &tl2, 1, 0,
			  &sa2);
	{
		struct drm_syncobj_timeline_wait w = {
			.handles = (uintptr_t)&tlb, .points = (uintptr_t)&tl2.point,
			.count_handles = 1, .timeout_nsec = INT64_MAX,
		};
		struct drm_syncobj_timeline_array q = {
			.handles = (uintptr_t)&tlb, .points = (uintptr_t)&point,
			.count_handles = 1,
		};

		ok = !ret && !drm_xioctl(b, DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, &w) &&
		     !drm_xioctl(b, DRM_IOCTL_SYNCOBJ_QUERY, &q) && point == 2;
	}
	tap_check(&t, ok, "timeline point 2 waited for by B, which queries %llu",
		  (unsigned long long)point);

	total = fdinfo_bytes(a, "drm-total-memory");
	res = fdinfo_bytes(a, "drm-resident-memory");
	{
		struct drm_simgpu_gem_madvise m = {
			.handle = x, .madv = DRM_SIMGPU_MADV_DONTNEED,
		};

		ok = !drm_xioctl(a, DRM_IOCTL_SIMGPU_GEM_MADVISE, &m);
	}
	purg = fdinfo_bytes(a, "drm-purgeable-memory");
	tap_check(&t, ok && total >= (long long)SYNC_BIG &&
		  res >= (long long)SYNC_BIG && purg >= (long long)SYNC_BIG &&
		  fdinfo_bytes(b, "drm-total-memory") < total,
		  "fdinfo: A total %lld, resident %lld, purgeable after DONTNEED %lld bytes; B total %lld",
		  total, res, purg, fdinfo_bytes(b, "drm-total-memory"));
	syncobj_bad_input(a, x, tl);
	close(vfd);
	return tap_finish(&t);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "reset"))
		return reset_test();
	if (!strcmp(mode, "scope"))
		return scope_test();
	if (!strcmp(mode, "fair"))
		return fair_test();
	if (!strcmp(mode, "syncobj"))
		return syncobj_test();
	fprintf(stderr, "usage: %s reset|scope|fair|syncobj\n", argv[0]);
	return 2;
}
