// SPDX-License-Identifier: GPL-2.0
/*
 * simgpu-scan: the cost of shrink passes against the number of BOs on
 * the LRU.  A pass must cost the pages it frees, not the BOs it skips:
 * the time per backed-up BO may not grow with the BO count.
 *
 * Usage: simgpu-scan [--bos N[,N...]] [--pass-pages P] [--max-growth X]
 *                    [--repeat K] [--balance] [--evict]
 *
 * For each N (default 1000,10000): N one-page BOs, each filled by the
 * engine with its own value, are backed up through debugfs "shrink"
 * passes of P pages (default 256) until none is left; then the engine
 * copies every BO (restoring it) into a check buffer and every byte is
 * verified.  Prints the first and mean pass time and the time per BO,
 * and fails if the time per BO at the largest N exceeds X (default 3)
 * times that at the smallest.  Needs swap (backups need swap space).
 *
 * --evict: the same for VRAM eviction: the BOs start in VRAM0 and one
 * debugfs evict_vram write moves them all to TT (needs VRAM and GART for
 * the largest N).
 *
 * --repeat K: measure every N K times (default 1), the sizes taking
 * turns (N1, N2, ..., N1, N2, ...: a change of the host's load hits all
 * sizes alike), and compare the fastest run of each: on a busy host,
 * preemption of the VM only ever adds time, so the minimum is the stable
 * figure (for CI).
 *
 * --balance: the BOs of each N are backed up (or evicted) largest N / N
 * times, restored by migration (to TT, or back to VRAM0) in between,
 * untimed: every size is timed over about the same number of BOs and the
 * same time.  Otherwise a run at a small N, a few ms, may slip between
 * two preemptions of a busy host while a long one cannot, which alone
 * makes the largest N look 2-3 times dearer per BO.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bo.h"
#include "tap.h"

#define PAGE 4096U
#define MAX_SIZES 8
/* BOs copied into one check buffer (16 MiB). */
#define CHECK_BOS 4096U

static uint32_t placements =
	DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT) |
	DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_SYSTEM);
static uint32_t preferred = DRM_SIMGPU_MEM_SYSTEM;
static bool evict_mode;

/* The 32-bit value BO @i is filled with (distinct for every BO). */
static uint32_t bo_value(uint32_t i)
{
	return (i + 1) * 2654435761U;
}

/* Submit @n commands, DRM_SIMGPU_MAX_CMDS at a time; 0 or -errno. */
static int run_cmds(int fd, struct drm_simgpu_cmd *cmds, unsigned int n)
{
	unsigned int i, k;
	int ret = 0;

	for (i = 0; i < n && !ret; i += k) {
		k = n - i < DRM_SIMGPU_MAX_CMDS ? n - i : DRM_SIMGPU_MAX_CMDS;
		ret = gpu_run(fd, cmds + i, k);
	}
	return ret;
}

/* Create @n one-page BOs and fill each on the engine; 0 or -errno. */
static int create_filled(int fd, uint32_t *handles, uint32_t n)
{
	struct drm_simgpu_cmd *cmds = calloc(CHECK_BOS, sizeof(*cmds));
	uint32_t i, k, done;
	int ret = cmds ? 0 : -ENOMEM;

	for (done = 0; done < n && !ret; done += k) {
		k = n - done < CHECK_BOS ? n - done : CHECK_BOS;
		for (i = 0; i < k && !ret; i++) {
			ret = bo_create(fd, PAGE, placements, preferred, 0,
					&handles[done + i]);
			cmds[i] = cmd_fill(handles[done + i], 0, PAGE,
					   bo_value(done + i));
		}
		if (!ret)
			ret = run_cmds(fd, cmds, k);
	}
	free(cmds);
	return ret;
}

/*
 * Copy every BO into a check buffer on the engine (which restores the
 * backed-up ones) and count the bytes that are not its value.
 */
static uint64_t verify(int fd, const uint32_t *handles, uint32_t n, int *err)
{
	struct drm_simgpu_cmd *cmds = calloc(CHECK_BOS, sizeof(*cmds));
	uint64_t bad = 0;
	uint32_t check, i, k, done, *w = NULL;

	*err = cmds ? 0 : -ENOMEM;
	if (!*err)
		w = bo_new(fd, (uint64_t)CHECK_BOS * PAGE, placements,
			   DRM_SIMGPU_MEM_TT, 0, &check);
	if (!w && !*err)
		*err = -ENOMEM;
	for (done = 0; done < n && !*err; done += k) {
		k = n - done < CHECK_BOS ? n - done : CHECK_BOS;
		for (i = 0; i < k; i++)
			cmds[i] = cmd_copy(handles[done + i], 0, check,
					   (uint64_t)i * PAGE, PAGE);
		*err = run_cmds(fd, cmds, k);
		for (i = 0; i < k * (PAGE / 4) && !*err; i++)
			bad += w[i] != bo_value(done + i / (PAGE / 4)) ? 4 : 0;
	}
	if (w) {
		munmap(w, (uint64_t)CHECK_BOS * PAGE);
		gem_close(fd, check);
	}
	free(cmds);
	return bad;
}

struct result {
	uint32_t bos;
	unsigned int passes;
	double first_ms;
	double mean_ms;
	double per_bo_us;
};

/* Move every BO back to @mem (untimed, between two cycles); failures. */
static unsigned int move_all(int fd, const uint32_t *handles, uint32_t n,
			     uint32_t mem)
{
	unsigned int fails = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		fails += bo_migrate(fd, handles[i], mem, 0) != 0 ||
			 bo_mem(fd, handles[i]) != (int)mem;
	return fails;
}

/*
 * Evict @n BOs in VRAM0 to TT with one debugfs evict_vram write, @cycles
 * times (migrated back to VRAM0 in between, untimed).
 */
static void scan_evict(struct tap *t, int fd, const uint32_t *handles,
		       uint32_t n, unsigned int cycles, struct result *r)
{
	long long ev0 = stat_get("evict_vram0_tt");
	uint32_t i, misplaced = 0;
	unsigned int c;
	double t0, secs = 0;
	int ret = 0;

	for (c = 0; c < cycles && !ret; c++) {
		if (c)
			misplaced += move_all(fd, handles, n,
					      DRM_SIMGPU_MEM_VRAM0);
		for (i = 0; i < n; i++)
			misplaced += bo_mem(fd, handles[i]) !=
				     DRM_SIMGPU_MEM_VRAM0;
		t0 = now_s();
		ret = dbg_write("evict_vram", "1");
		secs += now_s() - t0;
		if (!c)
			r->first_ms = secs * 1e3;
		for (i = 0; i < n; i++)
			misplaced += bo_mem(fd, handles[i]) != DRM_SIMGPU_MEM_TT;
	}
	r->passes = cycles;
	r->mean_ms = secs * 1e3 / cycles;
	r->per_bo_us = secs * 1e6 / n / cycles;
	tap_check(t, !ret && !misplaced &&
		  stat_get("evict_vram0_tt") - ev0 == (long long)n * cycles,
		  "%u BOs evicted from VRAM0 to TT %u time%s in %.2f ms, %.1f us per BO (%d, %u misplaced)",
		  n, cycles, cycles == 1 ? "" : "s", secs * 1e3, r->per_bo_us,
		  ret, misplaced);
	tap_diag("evict bos %u ms %.3f per_bo_us %.3f", n, r->mean_ms,
		 r->per_bo_us);
}

/*
 * @n BOs, backed up (or evicted) @cycles times: a small N repeated as
 * often as the largest takes about as long, so that both see the host's
 * load alike (a run of a few ms can slip between two preemptions).
 */
static void scan_one(struct tap *t, uint32_t n, unsigned int pass_pages,
		     unsigned int cycles, struct result *r)
{
	uint32_t *handles = calloc(n, sizeof(*handles));
	long long backups0 = stat_get("pages_backed_up");
	double t0, t1, total = 0;
	unsigned int c, misplaced = 0;
	char val[32];
	uint64_t bad;
	int fd, ret;

	memset(r, 0, sizeof(*r));
	r->bos = n;
	fd = dev_open(NULL);
	ret = fd < 0 || !handles ? -ENOMEM : create_filled(fd, handles, n);
	if (!tap_check(t, !ret, "%u one-page BOs created and filled on the engine (%d)",
		       n, ret))
		goto out;

	if (evict_mode) {
		scan_evict(t, fd, handles, n, cycles, r);
		goto verify;
	}
	snprintf(val, sizeof(val), "%u", pass_pages);
	for (c = 0; c < cycles && !ret; c++) {
		/* Restored (untimed) for the next cycle: moved to TT. */
		if (c)
			misplaced += move_all(fd, handles, n,
					      DRM_SIMGPU_MEM_TT);
		while (stat_get("shrinkable_pages") > 0 &&
		       r->passes < 2 * n * cycles) {
			t0 = now_s();
			ret = dbg_write("shrink", val);
			t1 = now_s();
			if (ret)
				break;
			if (!r->passes)
				r->first_ms = (t1 - t0) * 1e3;
			total += t1 - t0;
			r->passes++;
		}
	}
	r->mean_ms = r->passes ? total * 1e3 / r->passes : 0;
	r->per_bo_us = total * 1e6 / n / cycles;
	tap_check(t, !ret && !misplaced &&
		  stat_get("pages_backed_up") - backups0 == (long long)n * cycles,
		  "%u BOs backed up %u time%s in %u passes of %u pages: first %.2f ms, mean %.2f ms, %.1f us per BO",
		  n, cycles, cycles == 1 ? "" : "s", r->passes, pass_pages,
		  r->first_ms, r->mean_ms, r->per_bo_us);
	tap_diag("scan bos %u passes %u first_ms %.3f mean_ms %.3f per_bo_us %.3f",
		 n, r->passes, r->first_ms, r->mean_ms, r->per_bo_us);

verify:
	bad = verify(fd, handles, n, &ret);
	tap_check(t, !ret && !bad,
		  "%u BOs restored by the engine, every byte verified (%llu bad, %d)",
		  n, (unsigned long long)bad, ret);
out:
	if (fd >= 0)
		close(fd);
	free(handles);
}

int main(int argc, char **argv)
{
	uint32_t sizes[MAX_SIZES] = { 1000, 10000 };
	unsigned int nsizes = 2, pass_pages = 256, i;
	struct result r[MAX_SIZES], one;
	unsigned int repeat = 1, k;
	bool balance = false;
	double max_growth = 3, growth;
	char *s, *end;
	struct tap t;

	for (i = 1; i < (unsigned int)argc; i++) {
		if (!strcmp(argv[i], "--bos") && i + 1 < (unsigned int)argc) {
			for (nsizes = 0, s = argv[++i]; nsizes < MAX_SIZES;
			     s = end + 1) {
				sizes[nsizes++] = strtoul(s, &end, 0);
				if (*end != ',')
					break;
			}
		} else if (!strcmp(argv[i], "--pass-pages") &&
			   i + 1 < (unsigned int)argc) {
			pass_pages = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--evict")) {
			evict_mode = true;
			placements = DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_VRAM0) |
				     DRM_SIMGPU_PLACEMENT(DRM_SIMGPU_MEM_TT);
			preferred = DRM_SIMGPU_MEM_VRAM0;
		} else if (!strcmp(argv[i], "--max-growth") &&
			   i + 1 < (unsigned int)argc) {
			max_growth = strtod(argv[++i], NULL);
		} else if (!strcmp(argv[i], "--balance")) {
			balance = true;
		} else if (!strcmp(argv[i], "--repeat") &&
			   i + 1 < (unsigned int)argc) {
			repeat = strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: simgpu-scan [--bos N[,N...]] [--pass-pages P] [--max-growth X] [--repeat K] [--balance] [--evict]\n");
			return 2;
		}
	}
	for (i = 0; i < nsizes; i++)
		if (!sizes[i] || (i && sizes[i] <= sizes[i - 1]) || !pass_pages) {
			fprintf(stderr, "simgpu-scan: BO counts must be increasing and positive\n");
			return 2;
		}
	if (!repeat || repeat > 100) {
		fprintf(stderr, "simgpu-scan: --repeat 1 to 100\n");
		return 2;
	}

	tap_plan(&t, 3 * nsizes * repeat + 1);
	for (k = 0; k < repeat; k++) {
		for (i = 0; i < nsizes; i++) {
			scan_one(&t, sizes[i], pass_pages,
				 balance ? (sizes[nsizes - 1] + sizes[i] - 1) /
					   sizes[i] : 1, &one);
			if (!k || (one.per_bo_us > 0 &&
				   one.per_bo_us < r[i].per_bo_us))
				r[i] = one;
		}
	}
	growth = r[0].per_bo_us > 0 ?
		 r[nsizes - 1].per_bo_us / r[0].per_bo_us : 0;
	tap_check(&t, growth > 0 && growth <= max_growth,
		  "time per BO at %u BOs (%.1f us) is %.2fx that at %u (%.1f us)%s (at most %.1fx: linear)",
		  sizes[nsizes - 1], r[nsizes - 1].per_bo_us, growth,
		  sizes[0], r[0].per_bo_us,
		  repeat > 1 ? ", fastest of each" : "", max_growth);
	return tap_finish(&t);
}
