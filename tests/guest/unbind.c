// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-unbind: hot-unplug with a client.
 *
 * A client has BOs in VRAM and TT, mapped, engine work queued and a
 * move waiting for the engine; the device is unbound from the driver
 * under it.  The unbind must wait for the move, which must end.  Its ioctls must then fail
 * with -ENODEV and its mappings must not crash it (they read a dummy
 * page); closing it must free everything.  Then the module is removed
 * and loaded again, and a fresh client creates, migrates and verifies
 * BOs.
 *
 * Usage: simgpu-unbind
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define BO_SIZE		(1 * MiB)
#define SECOND_NS	1000000000LL

static struct tap t;

/* A client's round trip: create, write, copy on the engine, migrate. */
static bool client_works(int fd, uint64_t seed)
{
	uint32_t h1, h2;
	struct drm_simgpu_cmd c;
	uint8_t *p1, *p2;
	uint64_t bad;
	bool ok;

	p1 = bo_new(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT_ALL &
		    ~DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM1),
		    DRM_SIMGPU_MEM_VRAM0, DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS,
		    &h1);
	p2 = bo_new(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
		    DRM_SIMGPU_MEM_TT, 0, &h2);
	if (!p1 || !p2)
		return false;
	pattern_fill(p1, 0, BO_SIZE, seed);
	c = cmd_copy(h1, 0, h2, 0, BO_SIZE);
	ok = !gpu_run(fd, &c, 1) &&
	     !bo_migrate(fd, h1, DRM_SIMGPU_MEM_SYSTEM, 0) &&
	     !bo_migrate(fd, h1, DRM_SIMGPU_MEM_VRAM0, 0);
	bad = pattern_check(p1, 0, BO_SIZE, seed) +
	      pattern_check(p2, 0, BO_SIZE, seed);
	munmap(p1, BO_SIZE);
	munmap(p2, BO_SIZE);
	return ok && !bad;
}

/* Move a VRAM BO to TT on the slowed engine; 0 if it ended cleanly. */
static int move_child(int fd, uint32_t h)
{
	int ret = bo_migrate(fd, h, DRM_SIMGPU_MEM_TT, 0);

	if (ret && ret != -ENODEV)
		printf("# child: migrate: %d\n", ret);
	return ret && ret != -ENODEV;
}

int main(void)
{
	struct drm_simgpu_device_query q;
	struct drm_simgpu_cmd c;
	char bdf[64], path[128];
	uint32_t h, h2;
	volatile uint8_t *p;
	int fd, r1, r2, r3, r4, status = -1;
	pid_t pid;
	uint64_t i;

	tap_plan(&t, 6);
	fd = dev_open(&q);
	if (!tap_check(&t, fd >= 0 && dev_bdf() && client_works(fd, 1),
		       "client works before the unbind"))
		return tap_finish(&t);
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());

	/* A mapped VRAM BO, and a TT BO with engine work pending. */
	p = bo_new(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
		   DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT), DRM_SIMGPU_MEM_VRAM0,
		   DRM_SIMGPU_GEM_CREATE_NEEDS_CPU_ACCESS, &h);
	if (!p || bo_create(fd, 4 * BO_SIZE,
			    DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
			    DRM_SIMGPU_MEM_TT, 0, &h2))
		return tap_finish(&t);
	pattern_fill((void *)p, 0, BO_SIZE, 2);
	dbg_write("fault_stall_us", "200000");
	c = cmd_fill(h2, 0, 4 * BO_SIZE, 0x12345678);
	gpu_submit(fd, &c, 1, NULL);
	/* A child waits in an engine move while the device goes. */
	pid = fork();
	if (pid == 0)
		_exit(move_child(fd, h));
	usleep(100000);

	r1 = file_write("/sys/bus/pci/drivers/simgpu/unbind", bdf);
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_check(&t, !r1 && pid > 0 && WIFEXITED(status) &&
		  !WEXITSTATUS(status),
		  "unbind %s with a client open, a BO mapped, work queued, a move in flight (%d, child 0x%x)",
		  bdf, r1, status);

	r1 = bo_mem(fd, h);
	r2 = bo_create(fd, BO_SIZE, DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT),
		       DRM_SIMGPU_MEM_TT, 0, &h);
	r3 = gpu_submit(fd, &c, 1, NULL);
	r4 = bo_wait(fd, h2, SECOND_NS);
	tap_check(&t, r1 == -ENODEV && r2 == -ENODEV && r3 == -ENODEV &&
		  r4 == -ENODEV,
		  "the client's ioctls fail with -ENODEV (%d %d %d %d)",
		  r1, r2, r3, r4);

	/* The mapping now reads a dummy page; writes go nowhere. */
	for (i = 0; i < BO_SIZE; i += 4096)
		p[i] = p[i + 1];
	munmap((void *)p, BO_SIZE);
	close(fd);
	tap_check(&t, true, "the old mapping is accessible, the client closes");

	tap_check(&t, !system("rmmod simgpu") && !system("modprobe simgpu"),
		  "rmmod and modprobe");
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/simgpu/%s", bdf);
	fd = dev_open(&q);
	tap_check(&t, fd >= 0 && !access(path, F_OK) && client_works(fd, 3),
		  "a fresh client works after the reload");
	if (fd >= 0)
		close(fd);
	return tap_finish(&t);
}
