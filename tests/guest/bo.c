// SPDX-License-Identifier: GPL-2.0
/* Shared helpers of simgpu's guest test programs, see bo.h. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bo.h"
#include "simgpu_hw.h"

unsigned long xioctl_eintr;

int drm_xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
		if (ret && errno == EINTR)
			xioctl_eintr++;
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
		if (drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, q)) {
			close(fd);
			return -EIO;
		}
	}
	return fd;
}

uint32_t placements_all(const struct drm_simgpu_device_query *q)
{
	uint32_t mask = DRM_SIMGPU_PLACEMENT_ALL;

	if (q->num_regions < 2)
		mask &= ~DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1);
	return mask;
}

const char *mem_name(uint32_t mem)
{
	static const char *const names[] = { "VRAM0", "VRAM1", "TT", "SYSTEM" };

	return mem < DRM_SIMGPU_NUM_MEM ? names[mem] : "?";
}

int bo_create(int fd, uint64_t size, uint32_t placements, uint32_t preferred,
	      uint32_t flags, uint32_t *handle)
{
	struct drm_simgpu_gem_create c = {
		.size = size, .placements = placements,
		.preferred = preferred, .flags = flags,
	};
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_CREATE, &c);

	*handle = c.handle;
	return ret;
}

void *bo_map(int fd, uint32_t handle, uint64_t size)
{
	struct drm_simgpu_gem_mmap_offset m = { .handle = handle };
	void *p;

	if (drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MMAP_OFFSET, &m))
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, m.offset);
	return p == MAP_FAILED ? NULL : p;
}

void *bo_new(int fd, uint64_t size, uint32_t placements, uint32_t preferred,
	     uint32_t flags, uint32_t *handle)
{
	int ret = bo_create(fd, size, placements, preferred, flags, handle);
	void *p = ret ? NULL : bo_map(fd, *handle, size);

	if (!p)
		printf("# create/map of a %llu byte BO in %s failed (%d)\n",
		       (unsigned long long)size, mem_name(preferred), ret);
	return p;
}

int bo_query(int fd, uint32_t handle, struct drm_simgpu_gem_query *q)
{
	memset(q, 0, sizeof(*q));
	q->handle = handle;
	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_QUERY, q);
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

	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_GEM_MIGRATE, &m);
}

int bo_wait(int fd, uint32_t handle, int64_t timeout_ns)
{
	struct drm_simgpu_wait w = { .handle = handle, .timeout_ns = timeout_ns };

	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_WAIT, &w);
}

int seqno_wait(int fd, uint64_t seqno, int64_t timeout_ns)
{
	struct drm_simgpu_wait w = {
		.flags = DRM_SIMGPU_WAIT_SEQNO, .seqno = seqno,
		.timeout_ns = timeout_ns,
	};

	return drm_xioctl(fd, DRM_IOCTL_SIMGPU_WAIT, &w);
}

int gpu_submit(int fd, struct drm_simgpu_cmd *cmds, unsigned int n,
	       uint64_t *seqno)
{
	struct drm_simgpu_submit s = {
		.cmds = (uintptr_t)cmds, .num_cmds = n,
	};
	int ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_SUBMIT, &s);

	if (seqno)
		*seqno = s.seqno;
	return ret;
}

int gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close c = { .handle = handle };

	return drm_xioctl(fd, DRM_IOCTL_GEM_CLOSE, &c);
}

struct drm_simgpu_cmd cmd_copy(uint32_t src, uint64_t src_off, uint32_t dst,
			       uint64_t dst_off, uint64_t len)
{
	struct drm_simgpu_cmd c = {
		.op = DRM_SIMGPU_CMD_COPY, .src_handle = src, .dst_handle = dst,
		.src_offset = src_off, .dst_offset = dst_off, .length = len,
	};

	return c;
}

struct drm_simgpu_cmd cmd_fill(uint32_t dst, uint64_t off, uint64_t len,
			       uint32_t value)
{
	struct drm_simgpu_cmd c = {
		.op = DRM_SIMGPU_CMD_FILL, .dst_handle = dst,
		.dst_offset = off, .length = len, .value = value,
	};

	return c;
}

int gpu_run(int fd, struct drm_simgpu_cmd *cmds, unsigned int n)
{
	uint64_t seqno;
	int ret = gpu_submit(fd, cmds, n, &seqno);

	return ret ? ret : seqno_wait(fd, seqno, 10000000000LL);
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

uint64_t pattern_check_at(const void *p, uint64_t pat_off, uint64_t len,
			  uint64_t seed)
{
	const uint64_t *w = p;
	uint64_t i, bad = 0;

	for (i = 0; i < len / 8; i++) {
		uint64_t x = w[i] ^ pattern_word(seed, pat_off + 8 * i);
		unsigned int b;

		for (b = 0; x && b < 8; b++, x >>= 8)
			bad += (x & 0xff) != 0;
	}
	return bad;
}

uint64_t pattern_check(const void *p, uint64_t off, uint64_t len,
		       uint64_t seed)
{
	return pattern_check_at((const char *)p + off, off, len, seed);
}

uint64_t bytes_check(const void *p, uint64_t len, uint8_t byte)
{
	const uint8_t *b = p;
	uint64_t i, bad = 0;

	for (i = 0; i < len; i++)
		bad += b[i] != byte;
	return bad;
}

static const char *dbg_dir(void)
{
	static char dir[256];
	glob_t g;

	/*
	 * Again after an unbind or a module reload, when it is gone: it may
	 * have moved.  Not on other errors (an injected allocation failure
	 * fails the lookup with ENOMEM, and the glob would fail too).
	 */
	if (dir[0] && (!access(dir, F_OK) || errno != ENOENT))
		return dir;
	dir[0] = '\0';
	if (glob("/sys/kernel/debug/dri/*/simgpu_stats", 0, NULL, &g) ||
	    !g.gl_pathc)
		return NULL;
	snprintf(dir, sizeof(dir), "%s", g.gl_pathv[0]);
	*strrchr(dir, '/') = '\0';
	globfree(&g);
	return dir;
}

long long keyed_get(const char *path, const char *name)
{
	char key[64];
	long long val, ret = -1;
	FILE *f;

	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

long long stat_get(const char *name)
{
	char path[320];

	if (!dbg_dir())
		return -1;
	snprintf(path, sizeof(path), "%s/simgpu_stats", dbg_dir());
	return keyed_get(path, name);
}

int stats_read(struct stats *s)
{
	char path[320];
	FILE *f;

	s->n = 0;
	if (!dbg_dir())
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/simgpu_stats", dbg_dir());
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (s->n < STATS_MAX &&
	       fscanf(f, "%39s %lld", s->name[s->n], &s->val[s->n]) == 2)
		s->n++;
	fclose(f);
	return s->n ? 0 : -EIO;
}

long long stats_val(const struct stats *s, const char *name)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name))
			return s->val[i];
	return -1;
}

long long stats_delta(const struct stats *a, const struct stats *b,
		      const char *name)
{
	long long x = stats_val(a, name), y = stats_val(b, name);

	return x < 0 || y < 0 ? 0 : y - x;
}

const char *stats_diff(const struct stats *a, const struct stats *b,
		       const char *prefix, char *buf, size_t len)
{
	size_t used = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < b->n && used + 1 < len; i++) {
		long long d;

		if (strncmp(b->name[i], prefix, strlen(prefix)))
			continue;
		d = stats_delta(a, b, b->name[i]);
		if (d)
			used += snprintf(buf + used, len - used, "%s%s%+lld",
					 used ? " " : "", b->name[i], d);
	}
	if (!buf[0])
		snprintf(buf, len, "none");
	return buf;
}

const char *stats_move_name(const char *kind, uint32_t from, uint32_t to)
{
	static const char *const names[] = { "vram0", "vram1", "tt", "system" };
	static char buf[4][48];
	static unsigned int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s_%s_%s", kind,
		 from < 4 ? names[from] : "?", to < 4 ? names[to] : "?");
	return b;
}

long long vmstat_get(const char *name)
{
	return keyed_get("/proc/vmstat", name);
}

int file_write(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

long long file_read_ll(const char *path)
{
	long long val;
	FILE *f = fopen(path, "r");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "%lld", &val);
	fclose(f);
	return n == 1 ? val : -1;
}

int param_bool(const char *name)
{
	char path[160], c = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/simgpu/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, " %c", &c) != 1)
		c = 0;
	fclose(f);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
}

long long dbg_read(const char *file)
{
	char path[320];

	if (!dbg_dir())
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dbg_dir(), file);
	return file_read_ll(path);
}

int dbg_open(const char *file, int flags)
{
	char path[320];
	int fd;

	if (!dbg_dir())
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", dbg_dir(), file);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int dbg_write(const char *file, const char *val)
{
	char path[320];

	if (!dbg_dir())
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", dbg_dir(), file);
	return file_write(path, val);
}

const char *dev_bdf(void)
{
	static char bdf[64];
	glob_t g;

	if (glob("/sys/bus/pci/drivers/simgpu/0000:*", 0, NULL, &g))
		return NULL;
	snprintf(bdf, sizeof(bdf), "%s", strrchr(g.gl_pathv[0], '/') + 1);
	globfree(&g);
	return bdf;
}

bool wait_bound(double secs)
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

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t rnd_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

unsigned int run_procs(unsigned int n, int (*fn)(unsigned int id))
{
	unsigned int i, failed = 0;
	int status;

	fflush(stdout);
	for (i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(fn(i) ? 1 : 0);
		if (pid < 0)
			failed++;
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	return failed;
}

int vram_bar_check(const char *bdf)
{
	const uint64_t len = MiB;
	char path[320];
	uint64_t bad;
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d", bdf,
		 SIMGPU_VRAM_BAR(0));
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return -errno;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	pattern_fill(p, 0, len, 0xba5eba11);
	bad = pattern_check(p, 0, len, 0xba5eba11);
	munmap(p, len);
	return bad ? -EIO : 0;
}

/* A pattern written by the CPU, copied and filled by the engine. */
static int engine_check(int fd, const struct drm_simgpu_device_query *q)
{
	const uint64_t len = MiB;
	uint32_t placements = placements_all(q) &
			      ~DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM);
	uint32_t h[2] = { 0, 0 };
	struct drm_simgpu_cmd cmds[2];
	uint8_t *p[2] = { NULL, NULL };
	int i, ret = -ENOMEM;

	for (i = 0; i < 2; i++) {
		p[i] = bo_new(fd, len, placements, DRM_SIMGPU_MEM_VRAM0,
			      DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h[i]);
		if (!p[i])
			goto out;
	}
	pattern_fill(p[0], 0, len, 0x5eed);
	cmds[0] = cmd_copy(h[0], 0, h[1], 0, len);
	cmds[1] = cmd_fill(h[0], 0, len / 2, 0xa5a5a5a5);
	ret = gpu_run(fd, cmds, 2);
	if (ret)
		goto out;
	if (pattern_check(p[1], 0, len, 0x5eed) ||
	    bytes_check(p[0], len / 2, 0xa5) ||
	    pattern_check(p[0], len / 2, len / 2, 0x5eed))
		ret = -EIO;
out:
	for (i = 0; i < 2; i++) {
		if (p[i])
			munmap(p[i], len);
		if (h[i])
			gem_close(fd, h[i]);
	}
	return ret;
}

int smoke_checks(const struct drm_simgpu_device_query *want)
{
	struct drm_simgpu_device_query q;
	struct drm_version v;
	char name[64] = "";
	unsigned int bad = 0, i;
	const char *bdf;
	struct stat st;
	uint64_t win;
	glob_t g;
	int fd, ret;

#define SMOKE_FAIL(fmt, ...) do {					\
		printf("# smoke: " fmt "\n", ##__VA_ARGS__);		\
		bad++;							\
	} while (0)

	if (glob("/sys/bus/pci/drivers/simgpu/0000:*", 0, NULL, &g) == 0) {
		if (g.gl_pathc != 1)
			SMOKE_FAIL("%zu devices bound to simgpu", g.gl_pathc);
		globfree(&g);
	}
	bdf = dev_bdf();
	if (!bdf)
		SMOKE_FAIL("no PCI device bound to simgpu");
	if (stat(RENDER_NODE, &st) || !S_ISCHR(st.st_mode))
		SMOKE_FAIL(RENDER_NODE " is not a character device");
	fd = open(RENDER_NODE, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		SMOKE_FAIL("open " RENDER_NODE ": %d", -errno);
		return bad;
	}

	memset(&v, 0, sizeof(v));
	v.name = name;
	v.name_len = sizeof(name) - 1;
	ret = drm_xioctl(fd, DRM_IOCTL_VERSION, &v);
	if (ret || strcmp(name, "simgpu") || v.version_major != 0)
		SMOKE_FAIL("DRM_IOCTL_VERSION: %d, name '%s' version %d.%d", ret,
			   name, v.version_major, v.version_minor);

	memset(&q, 0, sizeof(q));
	ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	if (ret || q.hw_version != SIMGPU_VERSION_CURRENT ||
	    !(q.hw_caps & SIMGPU_CAP_VRAM))
		SMOKE_FAIL("device query: %d, version 0x%x caps 0x%x", ret,
			   q.hw_version, q.hw_caps);
	ret = 0;
	for (i = 0; i < q.num_regions && i < DRM_SIMGPU_MAX_REGIONS; i++)
		ret |= q.regions[i].visible_size < q.regions[i].size;
	if (!!(q.hw_caps & SIMGPU_CAP_SMALL_BAR) != ret)
		SMOKE_FAIL("small-BAR capability 0x%x but visible windows %s",
			   q.hw_caps, ret ? "smaller" : "whole");
	/*
	 * The driver keeps an eighth of the GART's pages (one at least, 8 MiB
	 * at most) as its window.
	 */
	win = q.gart_size / 4096 / 8 * 4096;
	win = win < 4096 ? 4096 : win > 8 * MiB ? 8 * MiB : win;
	if (q.tt_size != q.gart_size - win)
		SMOKE_FAIL("device query: TT %llu bytes of a %llu-byte GART",
			   (unsigned long long)q.tt_size,
			   (unsigned long long)q.gart_size);
	if (want && (q.num_regions != want->num_regions ||
		     q.gart_size != want->gart_size ||
		     memcmp(q.regions, want->regions, sizeof(q.regions))))
		SMOKE_FAIL("device query: %u regions, GART %llu bytes; was %u, %llu",
			   q.num_regions, (unsigned long long)q.gart_size,
			   want->num_regions,
			   (unsigned long long)want->gart_size);

	memset(&q, 0, sizeof(q));
	q.flags = 1;
	ret = drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	if (ret != -EINVAL)
		SMOKE_FAIL("device query with unknown flags: %d, want %d", ret,
			   -EINVAL);

	/* Also waits for the engine: nothing writes VRAM after this. */
	memset(&q, 0, sizeof(q));
	if (!drm_xioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q)) {
		ret = engine_check(fd, &q);
		if (ret)
			SMOKE_FAIL("1 MiB through a BO and the engine: %d", ret);
	}
	close(fd);

	if (bdf) {
		ret = vram_bar_check(bdf);
		if (ret)
			SMOKE_FAIL("1 MiB pattern through the VRAM BAR: %d", ret);
	}
#undef SMOKE_FAIL
	return bad;
}

static const char *const gauges[] = {
	"vram0_used_bytes", "vram1_used_bytes", "tt_used_bytes",
	"bo_system_pages", "shrinkable_pages", "purgeable_pages",
	"backed_up_pages", "unshrinkable_pages",
};

int gauges_nonzero(char *why, size_t len)
{
	unsigned int i, n = 0;
	size_t off = 0;

	if (len)
		why[0] = '\0';
	for (i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++) {
		long long v = stat_get(gauges[i]);

		/* A device with one VRAM region has no vram1 line. */
		if (!v || (v == -1 && !strcmp(gauges[i], "vram1_used_bytes") &&
			   dbg_dir()))
			continue;
		n++;
		if (off < len)
			off += snprintf(why + off, len - off, "%s%s %lld",
					off ? ", " : "", gauges[i], v);
	}
	return n;
}

int gauges_wait_zero(double secs, char *why, size_t len)
{
	double end = now_s() + secs;
	int n;

	while ((n = gauges_nonzero(why, len)) && now_s() < end)
		usleep(50000);
	return n;
}

/*
 * Run fn(arg) in a child and wait up to @secs for it.  Returns its exit
 * status, or -ETIMEDOUT if it is still running (it is left to run: a task
 * stuck in the kernel cannot be killed anyway), or -errno.
 */
int run_deadline(int (*fn)(void *), void *arg, double secs)
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
	/* Stuck in the kernel: SIGKILL is queued, it acts on the way out. */
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
int write_deadline(const char *path, const char *val, double secs)
{
	struct write_arg w = { path, val };
	int ret = run_deadline(write_fn, &w, secs);

	return ret > 0 ? -ret : ret;
}

int vgem_open(void)
{
	char path[32], name[16];
	int i, fd;

	if (system("modprobe vgem"))
		return -ENODEV;
	for (i = 0; i < 16; i++) {
		struct drm_version v = {
			.name = name, .name_len = sizeof(name) - 1,
		};

		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		memset(name, 0, sizeof(name));
		if (!ioctl(fd, DRM_IOCTL_VERSION, &v) && !strcmp(name, "vgem"))
			return fd;
		close(fd);
	}
	return -ENODEV;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_report(const char *figure, uint64_t mib, double *t,
		    unsigned int n)
{
	double med;

	qsort(t, n, sizeof(*t), cmp_double);
	med = t[n / 2];
	printf("# bench %s mib %llu reps %u median_s %.6f best_s %.6f mibps %.1f\n",
	       figure, (unsigned long long)mib, n, med, t[0],
	       med > 0 ? mib / med : 0);
	fflush(stdout);
	return med > 0 ? mib / med : 0;
}

long long meminfo_kb(const char *field)
{
	char line[128], key[64];
	long long kb, ret = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && ret < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %lld", key, &kb) == 2 &&
		    !strcmp(key, field))
			ret = kb;
	if (f)
		fclose(f);
	return ret;
}
