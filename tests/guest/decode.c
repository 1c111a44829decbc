// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-decode: the guest turns the device's PCI memory decode off and on
 * while other vCPUs access its BARs.  Every toggle changes QEMU's memory
 * map; a vCPU whose TLB still holds an entry for a BAR page made before
 * the change must reach the old section (or none), never crash QEMU.
 * QEMU 10.0's TCG looked such an entry up by its index in the *new* map
 * and aborted in iotlb_to_section() when the map had shrunk (seen once
 * at boot in CI, when the kernel sizes the BARs); images/qemu-patches/
 * carries the fix.
 *
 *   simgpu-decode [--seconds N]	(default: $SIMGPU_DURATION, else 10)
 *
 * The driver is unbound for the run (nothing else may touch a device
 * whose decode goes away), one reader thread per CPU reads the ID
 * register and a VRAM word through sysfs mappings of BAR0 and BAR2, one
 * thread toggles PCI_COMMAND_MEMORY through the config space file.  Then
 * decode is restored, the driver rebound, and the smoke checks run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "simgpu_hw.h"
#include "tap.h"

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define DRIVER_DIR		"/sys/bus/pci/drivers/simgpu"
#define VRAM_WORD		0x5eed5eedU

static char bdf[64];
static atomic_bool stop;

struct reader {
	pthread_t thread;
	int cpu;
	volatile uint32_t *regs;
	volatile uint32_t *vram;
	unsigned long long on, off, bad;
	uint32_t bad_val;
};

struct toggler {
	pthread_t thread;
	int cpu;
	unsigned long long toggles;
	int err;
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *bar_map(int bar, size_t len)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource%d",
		 bdf, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * With decode on, the register reads the magic and VRAM the word written
 * before the run; with it off the access reaches no device (QEMU reads
 * unassigned space as 0 or all-ones, depending on the bus).
 */
static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	pin(r->cpu);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint32_t id = r->regs[SIMGPU_REG_ID / 4];
		uint32_t w = r->vram[0];

		if (id == SIMGPU_ID_MAGIC && w == VRAM_WORD) {
			r->on++;
		} else if ((id == 0 || id == ~0U) && (w == 0 || w == ~0U)) {
			r->off++;
		} else if (id != SIMGPU_ID_MAGIC && id != 0 && id != ~0U) {
			r->bad++;
			r->bad_val = id;
		} else if (w != VRAM_WORD && w != 0 && w != ~0U) {
			r->bad++;
			r->bad_val = w;
		} else {
			/* the toggle fell between the two reads */
			r->on++;
		}
	}
	return NULL;
}

static int config_rw(int fd, uint16_t *cmd, bool write)
{
	ssize_t n = write ? pwrite(fd, cmd, 2, PCI_COMMAND) :
			    pread(fd, cmd, 2, PCI_COMMAND);

	return n == 2 ? 0 : (n < 0 ? -errno : -EIO);
}

static void *toggler_fn(void *arg)
{
	struct toggler *t = arg;
	char path[128];
	uint16_t cmd;
	int fd;

	pin(t->cpu);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDWR);
	if (fd < 0) {
		t->err = -errno;
		return NULL;
	}
	t->err = config_rw(fd, &cmd, false);
	while (!t->err && !atomic_load_explicit(&stop, memory_order_relaxed)) {
		cmd &= ~PCI_COMMAND_MEMORY;
		t->err = config_rw(fd, &cmd, true);
		if (t->err)
			break;
		usleep(200);
		cmd |= PCI_COMMAND_MEMORY;
		t->err = config_rw(fd, &cmd, true);
		t->toggles++;
		usleep(500);
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long on = 0, off = 0, bad = 0;
	int ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct reader *readers;
	struct toggler tog = { 0 };
	const char *duration = getenv("SIMGPU_DURATION");
	double seconds = duration ? atof(duration) : 10;
	volatile uint32_t *regs, *vram;
	struct tap t;
	int i, c, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 's' || (seconds = atof(optarg)) <= 0) {
			fprintf(stderr, "usage: %s [--seconds N]\n", argv[0]);
			return 2;
		}
	}
	if (seconds <= 0) {
		fprintf(stderr, "%s: bad SIMGPU_DURATION '%s'\n", argv[0],
			duration);
		return 2;
	}
	if (ncpu < 2)
		ncpu = 2;
	tap_plan(&t, 5);

	if (!wait_bound(30)) {
		tap_check(&t, false, "a device is bound to simgpu");
		return tap_finish(&t);
	}
	snprintf(bdf, sizeof(bdf), "%s", dev_bdf());
	ret = file_write(DRIVER_DIR "/unbind", bdf);
	if (!ret) {
		char path[128];

		/* unbinding disabled the device: decode on again */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable",
			 bdf);
		ret = file_write(path, "1");
	}
	regs = bar_map(SIMGPU_REG_BAR, SIMGPU_REG_BAR_SIZE);
	vram = bar_map(SIMGPU_VRAM_BAR(0), 4096);
	if (!tap_check(&t, !ret && regs && vram &&
		       regs[SIMGPU_REG_ID / 4] == SIMGPU_ID_MAGIC,
		       "driver unbound, decode on, BAR0 and BAR2 mapped (%d)",
		       ret))
		return tap_finish(&t);
	vram[0] = VRAM_WORD;

	readers = calloc(ncpu, sizeof(*readers));
	for (i = 0; i < ncpu; i++) {
		readers[i].cpu = i;
		readers[i].regs = regs;
		readers[i].vram = vram;
		pthread_create(&readers[i].thread, NULL, reader_fn, &readers[i]);
	}
	tog.cpu = ncpu - 1;
	pthread_create(&tog.thread, NULL, toggler_fn, &tog);
	usleep(seconds * 1e6);
	atomic_store(&stop, true);
	pthread_join(tog.thread, NULL);
	for (i = 0; i < ncpu; i++) {
		pthread_join(readers[i].thread, NULL);
		on += readers[i].on;
		off += readers[i].off;
		bad += readers[i].bad;
		if (readers[i].bad)
			tap_diag("cpu %d read %#x", i, readers[i].bad_val);
	}
	free(readers);
	tap_diag("%llu toggles; %llu reads with decode on, %llu off",
		 tog.toggles, on, off);
	tap_check(&t, !tog.err && tog.toggles > 0,
		  "memory decode toggled %llu times (%d)", tog.toggles, tog.err);
	/* proves the readers raced the map changes, not only ran between */
	tap_check(&t, on > 0 && off > 0,
		  "reads saw decode on (%llu) and off (%llu)", on, off);
	tap_check(&t, !bad, "no read returned another value (%llu did)", bad);

	ret = file_write(DRIVER_DIR "/bind", bdf);
	tap_check(&t, !ret && wait_bound(30) && !smoke_checks(NULL),
		  "driver rebound, device works (%d)", ret);
	return tap_finish(&t);
}
