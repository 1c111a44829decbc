// SPDX-License-Identifier: GPL-2.0
/*
 * vm-exit STATUS: end the VM and hand STATUS (0-127) to the host.
 *
 * Writes STATUS to QEMU's isa-debug-exit port; QEMU then exits with
 * (STATUS << 1) | 1, which run-vm.sh decodes.  QEMU's own exit status 1
 * (a startup error) and 128 + signal look like some guest statuses, so
 * the status is also printed on the console for run-vm.sh to confirm.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <termios.h>
#include <unistd.h>

#define DEBUG_EXIT_PORT 0xf4	/* run-vm.sh: -device isa-debug-exit,iobase=0xf4 */

int main(int argc, char **argv)
{
	char *end;
	long status;

	if (argc != 2) {
		fprintf(stderr, "usage: vm-exit STATUS\n");
		return 2;
	}
	status = strtol(argv[1], &end, 0);
	if (*argv[1] == '\0' || *end != '\0' || status < 0 || status > 127) {
		fprintf(stderr, "vm-exit: bad status '%s' (0-127)\n", argv[1]);
		return 2;
	}
	/* Drain the console so that the line is out before QEMU exits. */
	printf("vm-exit: status %ld\n", status);
	fflush(stdout);
	tcdrain(STDOUT_FILENO);
	sync();
	if (ioperm(DEBUG_EXIT_PORT, 1, 1)) {
		fprintf(stderr, "vm-exit: ioperm: %s\n", strerror(errno));
		return 1;
	}
	outb((unsigned char)status, DEBUG_EXIT_PORT);
	/*
	 * QEMU handles the write as a shutdown request in its main loop, so
	 * the guest runs on for a moment.  Wait for the end instead of going
	 * on: a second write would replace the status.
	 */
	sleep(30);
	fprintf(stderr, "vm-exit: no isa-debug-exit device at 0x%x\n",
		DEBUG_EXIT_PORT);
	return 1;
}
