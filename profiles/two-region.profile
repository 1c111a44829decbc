# A two-tile card: Intel Data Center GPU Max 1550 (Ponte Vecchio) has
# two tiles with 64 GiB of HBM2e each; xe gives each tile's memory its
# own VRAM region (TTM placement), so placement masks and eviction choose
# between regions.
#  - 2 x 64 GiB HBM2e (Intel product specifications).
#  - Both regions CPU-visible (a large BAR).
#  - PCIe 5.0 x16: 63 GB/s raw, ~50 GB/s usable.
#  - GGTT: 4 GiB per tile; one GART here.
description: two-tile card (Data Center GPU Max-like): 2 x 64 GiB VRAM regions, PCIe 5.0 x16
vram: 64G,64G
visible-vram: 64G,64G
gart: 4G
engine-bandwidth: 50G
engine-latency-us: 5
