/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of simgpu's guest test programs: open the render node,
 * create/map/query/migrate buffer objects, fill them with verifiable,
 * poorly compressible patterns, read the driver's debugfs statistics and
 * poke its fault-injection knobs.
 */
#ifndef SIMGPU_TEST_BO_H
#define SIMGPU_TEST_BO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "simgpu_drm.h"

#define RENDER_NODE "/dev/dri/renderD128"
#define MiB (1024ULL * 1024)

int dev_open(struct drm_simgpu_device_query *q);
/* ioctl() restarted on EINTR/EAGAIN; returns 0 or -errno. */
int drm_xioctl(int fd, unsigned long req, void *arg);
/* How many times drm_xioctl() saw EINTR and restarted (this process). */
extern unsigned long xioctl_eintr;
/* The DRM_SIMGPU_PLACEMENT() mask of every placement the device has. */
uint32_t placements_all(const struct drm_simgpu_device_query *q);
const char *mem_name(uint32_t mem);
int bo_create(int fd, uint64_t size, uint32_t placements, uint32_t preferred,
	      uint32_t flags, uint32_t *handle);
void *bo_map(int fd, uint32_t handle, uint64_t size);
/* bo_create() and bo_map(); NULL (with a TAP diagnostic) on failure. */
void *bo_new(int fd, uint64_t size, uint32_t placements, uint32_t preferred,
	     uint32_t flags, uint32_t *handle);
int bo_query(int fd, uint32_t handle, struct drm_simgpu_gem_query *q);
int bo_mem(int fd, uint32_t handle);
int bo_migrate(int fd, uint32_t handle, uint32_t mem, uint32_t flags);
int bo_wait(int fd, uint32_t handle, int64_t timeout_ns);
int seqno_wait(int fd, uint64_t seqno, int64_t timeout_ns);
int gpu_submit(int fd, struct drm_simgpu_cmd *cmds, unsigned int n,
	       uint64_t *seqno);
int gem_close(int fd, uint32_t handle);
struct drm_simgpu_cmd cmd_copy(uint32_t src, uint64_t src_off, uint32_t dst,
			       uint64_t dst_off, uint64_t len);
struct drm_simgpu_cmd cmd_fill(uint32_t dst, uint64_t off, uint64_t len,
			       uint32_t value);
/* Submit @n commands and wait for them; 0 or -errno. */
int gpu_run(int fd, struct drm_simgpu_cmd *cmds, unsigned int n);

/* The pattern word at byte offset @off (a multiple of 8) for @seed. */
uint64_t pattern_word(uint64_t seed, uint64_t off);
void pattern_fill(void *p, uint64_t off, uint64_t len, uint64_t seed);
/* Number of bytes in [off, off + len) that differ from the pattern. */
uint64_t pattern_check(const void *p, uint64_t off, uint64_t len,
		       uint64_t seed);
/* Likewise for @len bytes at @p that should hold the pattern of @pat_off. */
uint64_t pattern_check_at(const void *p, uint64_t pat_off, uint64_t len,
			  uint64_t seed);
/* Number of bytes in @len at @p that are not @byte. */
uint64_t bytes_check(const void *p, uint64_t len, uint8_t byte);

/* The value of @name in a file of "name value" lines, or -1. */
long long keyed_get(const char *path, const char *name);
/* debugfs of the device; stat_get() returns -1 if @name is unknown. */
long long stat_get(const char *name);

/*
 * All of simgpu_stats at one moment, for "which path ran" checks: take
 * one before and one after an operation and compare counters.
 */
#define STATS_MAX 128
struct stats {
	unsigned int n;
	char name[STATS_MAX][40];
	long long val[STATS_MAX];
};
/* 0, or -errno if debugfs cannot be read. */
int stats_read(struct stats *s);
/* The value of @name, or -1 if unknown. */
long long stats_val(const struct stats *s, const char *name);
/* @name in @b minus @name in @a (0 if unknown in either). */
long long stats_delta(const struct stats *a, const struct stats *b,
		      const char *name);
/*
 * The counters that differ between @a and @b whose name starts with
 * @prefix ("" for all), as "name+N name+N ..." in @buf (for diagnostics).
 */
const char *stats_diff(const struct stats *a, const struct stats *b,
		       const char *prefix, char *buf, size_t len);
/* Counter name of a move or eviction: "move_vram0_tt", ... */
const char *stats_move_name(const char *kind, uint32_t from, uint32_t to);
/* A field of /proc/meminfo ("MemTotal", "SwapFree", ...) in kB, or -1. */
long long meminfo_kb(const char *field);
/* A counter of /proc/vmstat (pswpout, ...), or -1. */
long long vmstat_get(const char *name);
int dbg_write(const char *file, const char *val);
/* open() of the device's debugfs file @file: a descriptor or -errno. */
int dbg_open(const char *file, int flags);
/* Write @val to the file @path (sysfs, debugfs); 0 or -errno. */
int file_write(const char *path, const char *val);
/*
 * The gauges of simgpu_stats, what is in use now: vramN_used_bytes,
 * tt_used_bytes, bo_system_pages, shrinkable/purgeable/backed_up/
 * unshrinkable_pages.  gauges_nonzero() returns how many are not zero (or
 * missing: -1) and names them in @why; gauges_wait_zero() polls up to
 * @secs seconds for all of them to be zero (freeing is partly deferred).
 */
int gauges_nonzero(char *why, size_t len);
int gauges_wait_zero(double secs, char *why, size_t len);
/* The number the file @path holds (sysfs, debugfs), or -1. */
long long file_read_ll(const char *path);
/* A boolean parameter of simgpu.ko (sync_moves, ...): 1, 0, or -1. */
int param_bool(const char *name);
/* The number in the device's debugfs file @file (fault_hang, ...), or -1. */
long long dbg_read(const char *file);
/* The PCI address of the device bound to simgpu, or NULL. */
const char *dev_bdf(void);
/* Wait up to @secs for a device bound to simgpu and its render node. */
bool wait_bound(double secs);

/*
 * Run fn(arg) in a forked child and wait up to @secs for it: its exit
 * status, -ETIMEDOUT if it still runs (it is left running: a task stuck
 * in the kernel cannot be killed anyway), or -errno.
 */
int run_deadline(int (*fn)(void *), void *arg, double secs);
/* file_write() of @val to @path in a child: 0, -errno or -ETIMEDOUT. */
int write_deadline(const char *path, const char *val, double secs);

/*
 * Run fn(0..n-1) in @n forked processes and wait for them all; returns
 * how many failed (non-zero status or killed).
 */
unsigned int run_procs(unsigned int n, int (*fn)(unsigned int id));

/*
 * The checks of simgpu-smoke, for a program that wants to show the driver
 * still works after it ran: one simgpu device bound to the driver, the
 * render node answers DRM_IOCTL_VERSION and the device query (as in @want
 * if not NULL) and rejects unknown query flags, a pattern through a BO and
 * the engine and 1 MiB through the VRAM BAR read back.  Prints a TAP
 * diagnostic for each failure; returns how many checks failed.
 */
int smoke_checks(const struct drm_simgpu_device_query *want);

/*
 * Write and read back a pattern in the first 1 MiB of VRAM region 0
 * through the BAR of the device at @bdf: 0, -EIO or -errno.
 */
int vram_bar_check(const char *bdf);

/* A new fd of vgem's card (modprobe'd on first use), or -ENODEV. */
int vgem_open(void);
/* vgem's fence ioctls, as in the kernel's include/uapi/drm/vgem_drm.h. */
struct vgem_fence_attach {
	uint32_t handle;
	uint32_t flags;
	uint32_t out_fence;
	uint32_t pad;
};

struct vgem_fence_signal {
	uint32_t fence;
	uint32_t flags;
};

#define VGEM_FENCE_WRITE	0x1
#define IOCTL_VGEM_FENCE_ATTACH \
	DRM_IOWR(DRM_COMMAND_BASE + 0x1, struct vgem_fence_attach)
#define IOCTL_VGEM_FENCE_SIGNAL \
	DRM_IOW(DRM_COMMAND_BASE + 0x2, struct vgem_fence_signal)

/*
 * Sort @n timings (seconds) of @mib MiB and print the benchmark line
 * "# bench FIGURE mib N reps R median_s S best_s S mibps M" (bench.py
 * reads it); returns MiB/s of the median.
 */
double bench_report(const char *figure, uint64_t mib, double *t,
		    unsigned int n);

/* CLOCK_MONOTONIC in seconds, for timings. */
double now_s(void);

/* A small PRNG for test decisions (xorshift64). */
uint64_t rnd_next(uint64_t *state);

#endif /* SIMGPU_TEST_BO_H */
