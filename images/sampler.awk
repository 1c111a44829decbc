# SPDX-License-Identifier: GPL-2.0
#
# sampler.awk: the guest's memory sampler (run-vm.sh --samples).  /init
# runs one awk with this program for the whole command and feeds it one
# line per tick (every SIMGPU_SAMPLE_MS ms); each tick reads the files
# below and prints one tab-separated line.  No process is started per
# sample.
#
#   awk -v stats=.../simgpu_stats -v info=.../simgpu_info -v ms=200 -f sampler.awk
#
# Output: "#" lines (format version, interval, the simgpu_info layout),
# a header naming the columns, then one line per tick:
#   t_ms           /proc/uptime in ms (10 ms resolution)
#   simgpu_stats   the gauges and counters in SEL below that the file has
#                  (vram1_used_bytes only with two regions); "evictions"
#                  and "moves" sum every evict_X_Y / move_X_Y counter
#   MemFree_kB SwapTotal_kB SwapFree_kB Shmem_kB   /proc/meminfo
#   pswpin pswpout                                 /proc/vmstat
# A value that cannot be read (e.g. the driver is unbound) is "-".

BEGIN {
	OFS = "\t"
	nsel = split("vram0_used_bytes vram1_used_bytes tt_used_bytes " \
		"bo_system_pages shrinkable_pages purgeable_pages " \
		"backed_up_pages unshrinkable_pages shrink_passes " \
		"pages_purged pages_backed_up pages_written_back " \
		"pages_restored ttm_swapout_pages ttm_swapin_pages " \
		"engine_bytes cpu_bytes evictions moves", SEL, " ")
	for (k = 1; k <= nsel; k++)
		WANT[SEL[k]] = 1
	nmem = split("MemFree SwapTotal SwapFree Shmem", MEM, " ")
	for (k = 1; k <= nmem; k++)
		MEMKEY[MEM[k] ":"] = MEM[k]
	nvm = split("pswpin pswpout", VM, " ")
	for (k = 1; k <= nvm; k++)
		VMKEY[VM[k]] = 1
	header = 0
}

# The cost per sample is mostly awk's own work under TCG: split only the
# lines that matter, and stop reading a file once its values are in.
function read_stats(    line, f, ev, mv) {
	delete S
	ev = mv = 0
	while ((getline line < stats) > 0) {
		split(line, f, " ")
		if (f[1] in WANT)
			S[f[1]] = f[2]
		else if (substr(f[1], 1, 6) == "evict_")
			ev += f[2]
		else if (substr(f[1], 1, 5) == "move_")
			mv += f[2]
	}
	close(stats)
	if (length(S)) {
		S["evictions"] = ev
		S["moves"] = mv
	}
}

function read_meminfo(    line, f, n) {
	delete M
	n = 0
	while (n < nmem && (getline line < "/proc/meminfo") > 0) {
		split(line, f, " ")
		if (f[1] in MEMKEY) {
			M[MEMKEY[f[1]]] = f[2]
			n++
		}
	}
	close("/proc/meminfo")
}

function read_vmstat(    line, f, n) {
	delete V
	n = 0
	while (n < nvm && (getline line < "/proc/vmstat") > 0) {
		if (substr(line, 1, 4) != "pswp")
			continue
		split(line, f, " ")
		if (f[1] in VMKEY) {
			V[f[1]] = f[2]
			n++
		}
	}
	close("/proc/vmstat")
}

function print_header(    k, line) {
	print "# simgpu-samples 1 interval_ms " ms
	while ((getline line < info) > 0)
		if (line ~ /size/)
			print "# " line
	close(info)
	line = "t_ms"
	for (k = 1; k <= nsel; k++)
		if (SEL[k] in S) {
			line = line OFS SEL[k]
			COL[++ncol] = SEL[k]
		}
	for (k = 1; k <= nmem; k++)
		line = line OFS MEM[k] "_kB"
	for (k = 1; k <= nvm; k++)
		line = line OFS VM[k]
	print line
	header = 1
}

function val(a, k) {
	return (k in a) ? a[k] : "-"
}

{
	getline up < "/proc/uptime"
	close("/proc/uptime")
	split(up, u, " ")
	read_stats()
	read_meminfo()
	read_vmstat()
	if (!header)
		print_header()
	line = int(u[1] * 1000 + 0.5)
	for (k = 1; k <= ncol; k++)
		line = line OFS val(S, COL[k])
	for (k = 1; k <= nmem; k++)
		line = line OFS val(M, MEM[k])
	for (k = 1; k <= nvm; k++)
		line = line OFS val(V, VM[k])
	print line
	fflush()
}
