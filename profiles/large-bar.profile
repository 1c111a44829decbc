# A large-BAR card: Intel Arc A770 16 GB with resizable BAR enabled.
#  - 16 GiB GDDR6 (Intel Arc A770 product specifications).
#  - Resizable BAR: the whole of VRAM is CPU-visible (Intel requires
#    ReBAR for Arc), so CPU faults never need to move a BO into a window.
#  - PCIe 4.0 x16: 31.5 GB/s raw, ~24 GB/s usable for copies.
#  - GGTT: 4 GiB.
description: large-BAR card (Arc A770 16 GB-like): all 16 GiB CPU-visible, PCIe 4.0 x16
vram: 16G
visible-vram: 16G
gart: 4G
engine-bandwidth: 24G
engine-latency-us: 5
