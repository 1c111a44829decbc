# Intel DG1 (Iris Xe MAX, 2020), a small-BAR discrete card.
#  - 4 GiB LPDDR4X local memory (Intel product brief, "Intel Iris Xe MAX
#    graphics").
#  - 256 MiB BAR: DG1 has no resizable BAR, and i915 sees a 256 MiB
#    CPU-visible window of local memory (the small-BAR support i915 and
#    TTM grew for it).
#  - PCIe 4.0 x4: 7.88 GB/s raw, ~7 GB/s usable for copies between local
#    and system memory.
#  - GGTT: 4 GiB (i915's global GTT on gen12).
#  - ~10 us from submission to the copy engine starting.
description: Intel DG1-like: 4 GiB VRAM behind a 256 MiB BAR, PCIe 4.0 x4
vram: 4G
visible-vram: 256M
gart: 4G
engine-bandwidth: 7G
engine-latency-us: 10
