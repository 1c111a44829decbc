// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-sched: the GPU scheduler, seen from two DRM files.
 *
 * Usage: simgpu-sched reset|scope|fair
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
 */
#include <errno.h>
#include <stdlib.h>
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

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "reset"))
		return reset_test();
	if (!strcmp(mode, "scope"))
		return scope_test();
	if (!strcmp(mode, "fair"))
		return fair_test();
	fprintf(stderr, "usage: %s reset|scope|fair\n", argv[0]);
	return 2;
}
