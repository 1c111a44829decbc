// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-smoke: the device is enumerated, the driver bound it, the render
 * node answers, and what the driver reports matches the VM's settings.
 *
 * Usage: simgpu-smoke [--vram BYTES[,BYTES]] [--visible BYTES[,BYTES]]
 * (the sizes the VM was started with; defaults: one 256 MiB region, all
 * visible).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bo.h"
#include "simgpu_hw.h"
#include "tap.h"

static char bdf[256];

static unsigned long read_hex(const char *dir, const char *file)
{
	char path[512], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return ~0UL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strtoul(buf, NULL, 16);
}

/* Find the one simgpu PCI function; returns how many were found. */
static int find_device(void)
{
	const char *root = "/sys/bus/pci/devices";
	struct dirent *de;
	int found = 0;
	DIR *d;

	d = opendir(root);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char dir[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
		if (read_hex(dir, "vendor") == SIMGPU_PCI_VENDOR_ID &&
		    read_hex(dir, "device") == SIMGPU_PCI_DEVICE_ID) {
			snprintf(bdf, sizeof(bdf), "%s", de->d_name);
			found++;
		}
	}
	closedir(d);
	return found;
}

static int bound_driver(char *name, size_t len)
{
	char path[512], target[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	snprintf(name, len, "%s", strrchr(target, '/') + 1);
	return 0;
}

static int parse_list(const char *arg, uint64_t *v, int max)
{
	char *end;
	int n = 0;

	do {
		if (n == max)
			return -1;
		v[n++] = strtoull(arg, &end, 0);
		arg = end + 1;
	} while (*end == ',');
	return *end ? -1 : n;
}

int main(int argc, char **argv)
{
	uint64_t vram[DRM_SIMGPU_MAX_REGIONS] = { 256ULL << 20 };
	uint64_t visible[DRM_SIMGPU_MAX_REGIONS] = { 0 };
	int nvram = 1, nvisible = 0, i, fd, ret;
	struct drm_simgpu_device_query q;
	struct drm_version v;
	char name[64] = "", drv[64] = "";
	struct stat st;
	struct tap t;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--vram") && i + 1 < argc)
			nvram = parse_list(argv[++i], vram, SIMGPU_MAX_REGIONS);
		else if (!strcmp(argv[i], "--visible") && i + 1 < argc)
			nvisible = parse_list(argv[++i], visible, SIMGPU_MAX_REGIONS);
		else
			nvram = -1;
		if (nvram < 0 || nvisible < 0) {
			fprintf(stderr, "usage: %s [--vram B[,B]] [--visible B[,B]]\n",
				argv[0]);
			return 2;
		}
	}
	for (i = 0; i < nvram; i++)
		if (i >= nvisible)
			visible[i] = vram[i];

	tap_plan(&t, 10);

	tap_check(&t, find_device() == 1, "one simgpu PCI device (%04x:%04x) at %s",
		  SIMGPU_PCI_VENDOR_ID, SIMGPU_PCI_DEVICE_ID, bdf);
	tap_check(&t, bound_driver(drv, sizeof(drv)) == 0 && !strcmp(drv, "simgpu"),
		  "driver bound: '%s'", drv);
	tap_check(&t, stat(RENDER_NODE, &st) == 0 && S_ISCHR(st.st_mode),
		  RENDER_NODE " is a character device");

	fd = open(RENDER_NODE, O_RDWR | O_CLOEXEC);
	memset(&v, 0, sizeof(v));
	v.name = name;
	v.name_len = sizeof(name) - 1;
	ret = fd < 0 ? -1 : ioctl(fd, DRM_IOCTL_VERSION, &v);
	tap_check(&t, ret == 0 && !strcmp(name, "simgpu") && v.version_major == 0,
		  "DRM_IOCTL_VERSION: name '%s' version %d.%d", name,
		  v.version_major, v.version_minor);

	memset(&q, 0, sizeof(q));
	ret = ioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	tap_check(&t, ret == 0 && q.hw_version == SIMGPU_VERSION_CURRENT &&
		  (q.hw_caps & SIMGPU_CAP_VRAM),
		  "device query: version 0x%x caps 0x%x", q.hw_version, q.hw_caps);
	tap_check(&t, ret == 0 && q.num_regions == (unsigned int)nvram,
		  "%u VRAM regions (expected %d)", q.num_regions, nvram);

	ret = 0;
	for (i = 0; i < nvram; i++) {
		tap_diag("vram%d: %llu bytes, %llu visible (expected %llu, %llu)", i,
			 (unsigned long long)q.regions[i].size,
			 (unsigned long long)q.regions[i].visible_size,
			 (unsigned long long)vram[i],
			 (unsigned long long)visible[i]);
		ret |= q.regions[i].size != vram[i] ||
		       q.regions[i].visible_size != visible[i];
	}
	tap_check(&t, !ret, "region sizes and visible windows as configured");
	tap_check(&t, !!(q.hw_caps & SIMGPU_CAP_SMALL_BAR) ==
		  (memcmp(vram, visible, sizeof(vram)) != 0),
		  "small-BAR capability matches the configuration");

	memset(&q, 0, sizeof(q));
	q.flags = 1;
	ret = ioctl(fd, DRM_IOCTL_SIMGPU_DEVICE_QUERY, &q);
	tap_check(&t, ret == -1 && errno == EINVAL,
		  "device query with unknown flags fails with EINVAL");

	ret = vram_bar_check(bdf);
	tap_check(&t, ret == 0, "1 MiB pattern through the VRAM BAR reads back (%d)",
		  ret);
	if (fd >= 0)
		close(fd);
	return tap_finish(&t);
}
