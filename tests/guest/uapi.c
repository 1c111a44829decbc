// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-uapi: bad ioctl input and client isolation.
 *
 * Every ioctl gets unknown flags, non-zero padding, bad placements,
 * zero and huge sizes, out-of-range and overflowing submit ranges and
 * unknown handles, and must fail with the documented error code; a
 * submission with one bad command must run none.  Handles are valid
 * only in the DRM file that created them: a second open of the render
 * node, and a forked child's own open, cannot reach them, nor mmap them.
 * The BOs created first are verified, every byte, at the end.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define BO_SIZE		(1 * MiB)
#define NUM_BOS		3
#define BAD_HANDLE	0x7fff

static struct tap t;

/* Expect @req with @arg to fail with @want; counts mismatches. */
static unsigned int expect(int fd, unsigned long req, void *arg, int want,
			   const char *what)
{
	int ret = drm_xioctl(fd, req, arg);

	if (ret == want)
		return 0;
	tap_diag("%s: got %d, want %d", what, ret, want);
	return 1;
}

/*
 * Reset @arg to @init, apply @field_set, expect @want from @req; adds
 * mismatches to the caller's @bad.
 */
#define EXPECT_BAD(req, arg, init, field_set, want) do {		\
		arg = init;						\
		field_set;						\
		bad += expect(fd, req, &arg, want, #req ": " #field_set); \
	} while (0)

static unsigned int bad_create(int fd, bool two_regions)
{
	struct drm_simgpu_gem_create c;
	unsigned int bad = 0;

#define CREATE(field_set, want)						\
	EXPECT_BAD(DRM_IOCTL_SIMGPU_GEM_CREATE, c,			\
		   ((struct drm_simgpu_gem_create){ .size = BO_SIZE,	\
			.placements = DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) }), \
		   field_set, want)
	CREATE(c.flags = 0x2, -EINVAL);
	CREATE(c.flags = 0x80000000, -EINVAL);
	CREATE(c.pad = 1, -EINVAL);
	CREATE(c.handle = 1, -EINVAL);
	CREATE(c.placements = 0, -EINVAL);
	CREATE(c.placements = 0x10, -EINVAL);
	CREATE(c.placements = 0xffffffff, -EINVAL);
	CREATE(c.preferred = DRM_SIMGPU_NUM_MEM, -EINVAL);
	CREATE(c.preferred = DRM_SIMGPU_MEM_TT, -EINVAL);
	CREATE(c.size = 0, -EINVAL);
	CREATE(c.size = UINT64_MAX, -EINVAL);
	CREATE(c.size = UINT64_MAX - 4095, -EINVAL);
	CREATE(c.size = 1ULL << 62, -EINVAL);
	/* Bigger than the only allowed placement. */
	CREATE(c.size = 1ULL << 32, -ENOSPC);
	if (!two_regions) {
		CREATE(c.placements = DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1);
		       c.preferred = DRM_SIMGPU_MEM_VRAM1, -EINVAL);
	}
#undef CREATE
	return bad;
}

/* Bigger than VRAM: allowed elsewhere too, it is created there. */
static void big_create(int fd, uint64_t vram)
{
	uint32_t mask = DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
			DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM), h = 0;
	int ret = bo_create(fd, 2 * vram, mask, DRM_SIMGPU_MEM_VRAM0, 0, &h);
	int mem = ret ? ret : bo_mem(fd, h);
	int mig = ret ? ret : bo_migrate(fd, h, DRM_SIMGPU_MEM_VRAM0, 0);

	tap_check(&t, mem == DRM_SIMGPU_MEM_SYSTEM && mig == -ENOSPC,
		  "a BO twice the size of VRAM, VRAM or SYSTEM, is created in %s; migrating it to VRAM fails with -ENOSPC (%d)",
		  mem_name(mem), mig);
	if (!ret)
		gem_close(fd, h);
}

static unsigned int bad_bo_ioctls(int fd, uint32_t h)
{
	struct drm_simgpu_gem_mmap_offset mo;
	struct drm_simgpu_gem_query gq;
	struct drm_simgpu_gem_migrate gm;
	struct drm_simgpu_device_query dq = { .flags = 1 };
	struct drm_gem_close gc = { .handle = BAD_HANDLE };
	unsigned int bad = 0;

	bad += expect(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &dq, -EINVAL,
		      "device query flags");
	bad += expect(fd, DRM_IOCTL_GEM_CLOSE, &gc, -EINVAL, "close bad handle");

	mo = (struct drm_simgpu_gem_mmap_offset){ .handle = h, .flags = 1 };
	bad += expect(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &mo, -EINVAL,
		      "mmap offset flags");
	mo = (struct drm_simgpu_gem_mmap_offset){ .handle = BAD_HANDLE };
	bad += expect(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &mo, -ENOENT,
		      "mmap offset bad handle");

	gq = (struct drm_simgpu_gem_query){ .handle = h, .flags = 1 };
	bad += expect(fd, DRM_IOCTL_SIMGPU_GEM_QUERY, &gq, -EINVAL,
		      "query flags");
	gq = (struct drm_simgpu_gem_query){ .handle = 0 };
	bad += expect(fd, DRM_IOCTL_SIMGPU_GEM_QUERY, &gq, -ENOENT,
		      "query handle 0");

#define MIGRATE(field_set, want)					\
	EXPECT_BAD(DRM_IOCTL_SIMGPU_GEM_MIGRATE, gm,			\
		   ((struct drm_simgpu_gem_migrate){ .handle = h,	\
			.mem = DRM_SIMGPU_MEM_TT }), field_set, want)
	MIGRATE(gm.flags = 0x2, -EINVAL);
	MIGRATE(gm.pad = 1, -EINVAL);
	MIGRATE(gm.mem = DRM_SIMGPU_NUM_MEM, -EINVAL);
	MIGRATE(gm.mem = 0xffffffff, -EINVAL);
	MIGRATE(gm.handle = BAD_HANDLE, -ENOENT);
#undef MIGRATE
	return bad;
}

static unsigned int bad_wait(int fd, uint32_t h)
{
	struct drm_simgpu_wait w;
	unsigned int bad = 0;

#define WAIT(field_set, want)						\
	EXPECT_BAD(DRM_IOCTL_SIMGPU_WAIT, w,				\
		   ((struct drm_simgpu_wait){ .handle = h }), field_set, want)
	WAIT(w.flags = 0x2, -EINVAL);
	WAIT(w.timeout_ns = -1, -EINVAL);
	WAIT(w.seqno = 1, -EINVAL);
	WAIT(w.handle = BAD_HANDLE, -ENOENT);
	WAIT(w.flags = DRM_SIMGPU_WAIT_SEQNO; w.seqno = 1, -EINVAL);
	WAIT(w.flags = DRM_SIMGPU_WAIT_SEQNO; w.handle = 0, -EINVAL);
	WAIT(w.flags = DRM_SIMGPU_WAIT_SEQNO; w.handle = 0;
	     w.seqno = UINT64_MAX, -EINVAL);
	WAIT(w.timeout_ns = 1000, 0);
#undef WAIT
	return bad;
}

/* The valid submission of two commands that the SUBMIT() cases break. */
static struct drm_simgpu_submit good_submit(struct drm_simgpu_cmd *c,
					    uint32_t h)
{
	struct drm_simgpu_submit s = {
		.cmds = (uintptr_t)c, .num_cmds = 2,
	};

	c[0] = cmd_copy(h, 0, h, BO_SIZE / 2, 4096);
	c[1] = cmd_fill(h, 0, 4096, 0x55);
	return s;
}

static unsigned int bad_submit(int fd, uint32_t h, uint32_t sys_h)
{
	struct drm_simgpu_cmd c[2];
	struct drm_simgpu_submit s;
	unsigned int bad = 0;

#define SUBMIT(cmd_set, want)						\
	EXPECT_BAD(DRM_IOCTL_SIMGPU_SUBMIT, s, good_submit(c, h), cmd_set, want)
	SUBMIT(s.flags = ~DRM_SIMGPU_SUBMIT_FLAGS, -EINVAL);
	SUBMIT(s.flags = 0x2, -EINVAL);
	SUBMIT(s.pad = 1, -EINVAL);
	SUBMIT(s.extensions = 1, -EINVAL);
	SUBMIT(s.num_in_syncs = DRM_SIMGPU_MAX_SYNCS + 1, -EINVAL);
	SUBMIT(s.num_out_syncs = 1, -EFAULT);
	SUBMIT(s.num_cmds = 0, -EINVAL);
	SUBMIT(s.num_cmds = DRM_SIMGPU_MAX_CMDS + 1, -EINVAL);
	SUBMIT(s.num_cmds = 0xffffffff, -EINVAL);
	SUBMIT(s.cmds = 0, -EFAULT);
	SUBMIT(s.cmds = 4096, -EFAULT);
	SUBMIT(c[1].op = 0, -EINVAL);
	SUBMIT(c[1].op = 3, -EINVAL);
	SUBMIT(c[1].flags = 1, -EINVAL);
	SUBMIT(c[1].length = 0, -EINVAL);
	SUBMIT(c[1].dst_handle = 0, -EINVAL);
	SUBMIT(c[1].dst_handle = BAD_HANDLE, -ENOENT);
	SUBMIT(c[1].value = 1ULL << 32, -EINVAL);
	SUBMIT(c[1].src_handle = h, -EINVAL);
	SUBMIT(c[1].src_offset = 4, -EINVAL);
	SUBMIT(c[1].length = 4094, -EINVAL);
	SUBMIT(c[1].dst_offset = 2, -EINVAL);
	SUBMIT(c[1].dst_offset = BO_SIZE, -EINVAL);
	SUBMIT(c[1].dst_offset = BO_SIZE - 4092, -EINVAL);
	SUBMIT(c[1].dst_offset = UINT64_MAX - 4091, -EINVAL);
	SUBMIT(c[1].length = UINT64_MAX - 3, -EINVAL);
	SUBMIT(c[1].dst_handle = sys_h, -EINVAL);
	SUBMIT(c[0].src_handle = 0, -EINVAL);
	SUBMIT(c[0].src_handle = BAD_HANDLE, -ENOENT);
	SUBMIT(c[0].value = 1, -EINVAL);
	SUBMIT(c[0].src_offset = BO_SIZE - 4095, -EINVAL);
	SUBMIT(c[0].src_offset = UINT64_MAX - 4094, -EINVAL);
	SUBMIT(c[0].dst_offset = BO_SIZE - 4095, -EINVAL);
	SUBMIT(c[0].dst_offset = UINT64_MAX, -EINVAL);
	SUBMIT(c[0].length = UINT64_MAX, -EINVAL);
	SUBMIT(c[0].src_handle = sys_h, -EINVAL);
#undef SUBMIT
	return bad;
}

/* Can @fd reach handles @h[0..n) of another client? 0 if not. */
static unsigned int reaches(int fd, const uint32_t *h, unsigned int n,
			    const uint64_t *offsets)
{
	struct drm_simgpu_gem_query gq;
	struct drm_simgpu_cmd c;
	unsigned int i, bad = 0;
	void *p;

	for (i = 0; i < n; i++) {
		bad += bo_query(fd, h[i], &gq) != -ENOENT;
		bad += bo_migrate(fd, h[i], DRM_SIMGPU_MEM_SYSTEM, 0) != -ENOENT;
		bad += bo_wait(fd, h[i], 0) != -ENOENT;
		c = cmd_fill(h[i], 0, 4096, 0);
		bad += gpu_submit(fd, &c, 1, NULL) != -ENOENT;
		p = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 offsets[i]);
		if (p != MAP_FAILED) {
			bad++;
			munmap(p, BO_SIZE);
		}
	}
	return bad;
}

static void isolation(const uint32_t *h, const uint64_t *offsets)
{
	int fd2 = dev_open(NULL), status = -1;
	unsigned int bad;
	pid_t pid;

	bad = fd2 < 0 ? 1 : reaches(fd2, h, NUM_BOS, offsets);
	if (fd2 >= 0)
		close(fd2);
	tap_check(&t, !bad,
		  "a second open of the render node cannot reach the first one's handles or mmap offsets (%u leaks)",
		  bad);

	pid = fork();
	if (pid == 0) {
		int fd = dev_open(NULL);

		_exit(fd < 0 ? 255 : (int)reaches(fd, h, NUM_BOS, offsets));
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_check(&t, pid > 0 && WIFEXITED(status) && !WEXITSTATUS(status),
		  "a forked child's own open cannot reach the parent's handles (status 0x%x)",
		  status);
}

int main(void)
{
	struct drm_simgpu_device_query q;
	struct drm_simgpu_gem_mmap_offset mo;
	uint32_t h[NUM_BOS], sys_h;
	uint64_t offsets[NUM_BOS], bad_bytes = 0;
	void *p[NUM_BOS];
	unsigned int i, bad;
	int fd;

	tap_plan(&t, 10);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0, "render node opens"))
		return tap_finish(&t);

	bad = 0;
	for (i = 0; i < NUM_BOS; i++) {
		p[i] = bo_new(fd, BO_SIZE, placements_all(&q) &
			      ~DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
			      i == 1 ? DRM_SIMGPU_MEM_TT : DRM_SIMGPU_MEM_VRAM0,
			      DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h[i]);
		if (!p[i])
			return tap_finish(&t);
		pattern_fill(p[i], 0, BO_SIZE, 7 + i);
		mo = (struct drm_simgpu_gem_mmap_offset){ .handle = h[i] };
		bad += drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &mo) != 0;
		offsets[i] = mo.offset;
	}
	bad += bo_create(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM),
			 DRM_SIMGPU_MEM_SYSTEM, 0, &sys_h) != 0;
	tap_check(&t, !bad, "%u BOs created and written, one SYSTEM-only BO",
		  NUM_BOS);

	bad = bad_create(fd, q.num_regions > 1);
	tap_check(&t, !bad, "GEM_CREATE rejects bad flags, padding, placements and sizes (%u wrong)",
		  bad);
	big_create(fd, q.regions[0].size);
	bad = bad_bo_ioctls(fd, h[0]);
	tap_check(&t, !bad, "DEVICE_QUERY, MMAP_OFFSET, QUERY, MIGRATE, GEM_CLOSE reject bad input (%u wrong)",
		  bad);
	bad = bad_wait(fd, h[0]);
	tap_check(&t, !bad, "WAIT rejects bad flags, timeouts, seqnos and handles (%u wrong)",
		  bad);
	bad = bad_submit(fd, h[0], sys_h);
	tap_check(&t, !bad, "SUBMIT rejects bad commands, ranges (with overflow) and handles (%u wrong)",
		  bad);

	isolation(h, offsets);

	for (i = 0; i < NUM_BOS; i++)
		bad_bytes += pattern_check(p[i], 0, BO_SIZE, 7 + i);
	tap_check(&t, !bad_bytes,
		  "nothing lost: no half-run submission, every byte of the %u BOs verified (%llu bad)",
		  NUM_BOS, (unsigned long long)bad_bytes);
	close(fd);
	return tap_finish(&t);
}
