# A small card for CI: what most driver-* scenarios boot (--vram 32M).
# Not a real product: the smallest VRAM that still holds the tests' BOs,
# so that overcommit and eviction start after a few MiB of allocation in
# a TCG guest.  The engine runs as fast as the host.
description: small CI card: 32 MiB VRAM, all CPU-visible, 64 MiB GART
vram: 32M
visible-vram: 32M
gart: 64M
