// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-memcpy: the host's single-thread memcpy() throughput, the
 * reference the engine copy benchmark divides by.
 *
 * Usage: simgpu-memcpy [--mb N] [--reps R]
 *
 * Copies N MiB (default 64) between two buffers (touched first, so no
 * page faults are timed) R times (default 5) and prints one line:
 *   memcpy mib N reps R median_s S best_s S mibps M
 * where mibps is N / median_s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned long mb = 64, reps = 5, i;
	volatile unsigned char sink;
	unsigned char *src, *dst;
	double *t, t0;
	size_t size;

	for (i = 1; i < (unsigned long)argc; i++) {
		if (!strcmp(argv[i], "--mb") && i + 1 < (unsigned long)argc) {
			mb = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--reps") &&
			   i + 1 < (unsigned long)argc) {
			reps = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: simgpu-memcpy [--mb N] [--reps R]\n");
			return 2;
		}
	}
	if (!mb || !reps || reps > 1000) {
		fprintf(stderr, "simgpu-memcpy: --mb and --reps (1-1000) must be positive\n");
		return 2;
	}
	size = mb << 20;
	src = malloc(size);
	dst = malloc(size);
	t = calloc(reps, sizeof(*t));
	if (!src || !dst || !t) {
		fprintf(stderr, "simgpu-memcpy: out of memory\n");
		return 1;
	}
	for (i = 0; i < size; i++)
		src[i] = (unsigned char)(i * 2654435761U >> 13);
	memset(dst, 0, size);
	memcpy(dst, src, size);		/* warm-up */
	for (i = 0; i < reps; i++) {
		t0 = now();
		memcpy(dst, src, size);
		t[i] = now() - t0;
		/* keep the copy from being optimised away */
		sink = dst[(i * 4099) % size];
	}
	(void)sink;
	if (memcmp(src, dst, size)) {
		fprintf(stderr, "simgpu-memcpy: copy mismatch\n");
		return 1;
	}
	qsort(t, reps, sizeof(*t), cmp_double);
	printf("memcpy mib %lu reps %lu median_s %.6f best_s %.6f mibps %.1f\n",
	       mb, reps, t[reps / 2], t[0], mb / t[reps / 2]);
	free(t);
	free(dst);
	free(src);
	return 0;
}
