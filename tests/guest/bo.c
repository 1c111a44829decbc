// SPDX-License-Identifier: GPL-2.0
/* Shared helpers of simgpu's guest test programs, see bo.h. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret && (errno == EINTR || errno == EAGAIN));
	return ret ? -errno : 0;
}

int dev_open(struct drm_simgpu_device_query *q)
{
	int fd = open(RENDER_NODE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (q) {
		memset(q, 0, sizeof(*q));
		if (xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, q)) {
			close(fd);
			return -EIO;
		}
	}
	return fd;
}

int bo_create(int fd, uint64_t size, uint32_t placements, uint32_t preferred,
	      uint32_t flags, uint32_t *handle)
{
	struct drm_simgpu_gem_create c = {
		.size = size, .placements = placements,
		.preferred = preferred, .flags = flags,
	};
	int ret = xioctl(fd, DRM_IOCTL_SIMGPU_GEM_CREATE, &c);

	*handle = c.handle;
	return ret;
}

void *bo_map(int fd, uint32_t handle, uint64_t size)
{
	struct drm_simgpu_gem_mmap_offset m = { .handle = handle };
	void *p;

	if (xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m))
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset);
	return p == MAP_FAILED ? NULL : p;
}

int bo_query(int fd, uint32_t handle, struct drm_simgpu_gem_query *q)
{
	memset(q, 0, sizeof(*q));
	q->handle = handle;
	return xioctl(fd, DRM_IOCTL_SIMGPU_GEM_QUERY, q);
}

int bo_mem(int fd, uint32_t handle)
{
	struct drm_simgpu_gem_query q;
	int ret = bo_query(fd, handle, &q);

	return ret ? ret : (int)q.mem;
}

int bo_migrate(int fd, uint32_t handle, uint32_t mem, uint32_t flags)
{
	struct drm_simgpu_gem_migrate m = {
		.handle = handle, .mem = mem, .flags = flags,
	};

	return xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MIGRATE, &m);
}

int bo_wait(int fd, uint32_t handle, int64_t timeout_ns)
{
	struct drm_simgpu_wait w = { .handle = handle, .timeout_ns = timeout_ns };

	return xioctl(fd, DRM_IOCTL_SIMGPU_WAIT, &w);
}

int seqno_wait(int fd, uint64_t seqno, int64_t timeout_ns)
{
	struct drm_simgpu_wait w = {
		.flags = DRM_SIMGPU_WAIT_SEQNO, .seqno = seqno,
		.timeout_ns = timeout_ns,
	};

	return xioctl(fd, DRM_IOCTL_SIMGPU_WAIT, &w);
}

int gpu_submit(int fd, struct drm_simgpu_cmd *cmds, unsigned int n,
	       uint64_t *seqno)
{
	struct drm_simgpu_submit s = {
		.cmds = (uintptr_t)cmds, .num_cmds = n,
	};
	int ret = xioctl(fd, DRM_IOCTL_SIMGPU_SUBMIT, &s);

	if (seqno)
		*seqno = s.seqno;
	return ret;
}

int gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

uint64_t pattern_word(uint64_t seed, uint64_t off)
{
	/* splitmix64 of (seed, word index): position-independent checks */
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (off >> 3) + 1;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void pattern_fill(void *p, uint64_t off, uint64_t len, uint64_t seed)
{
	uint64_t *w = (uint64_t *)((char *)p + off);
	uint64_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = pattern_word(seed, off + 8 * i);
}

uint64_t pattern_check(const void *p, uint64_t off, uint64_t len,
		       uint64_t seed)
{
	const uint64_t *w = (const uint64_t *)((const char *)p + off);
	uint64_t i, bad = 0;

	for (i = 0; i < len / 8; i++) {
		uint64_t x = w[i] ^ pattern_word(seed, off + 8 * i);
		unsigned int b;

		for (b = 0; x && b < 8; b++, x >>= 8)
			bad += (x & 0xff) != 0;
	}
	return bad;
}

static const char *dbg_dir(void)
{
	static char dir[256];
	glob_t g;

	if (dir[0])
		return dir;
	if (glob("/sys/kernel/debug/dri/*/simgpu_stats", 0, NULL, &g) ||
	    !g.gl_pathc)
		return NULL;
	snprintf(dir, sizeof(dir), "%s", g.gl_pathv[0]);
	*strrchr(dir, '/') = '\0';
	globfree(&g);
	return dir;
}

long long stat_get(const char *name)
{
	char path[320], key[64];
	long long val, ret = -1;
	FILE *f;

	if (!dbg_dir())
		return -1;
	snprintf(path, sizeof(path), "%s/simgpu_stats", dbg_dir());
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

int dbg_write(const char *file, const char *val)
{
	char path[320];
	int fd, ret = 0;

	if (!dbg_dir())
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", dbg_dir(), file);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

uint64_t rnd_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}
