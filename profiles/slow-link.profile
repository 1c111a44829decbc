# A card behind a slow link: a 4 GiB discrete GPU in a Thunderbolt 3
# enclosure (an external GPU).
#  - Thunderbolt 3 tunnels PCIe 3.0 x4 (32 Gb/s); measured host<->device
#    copies reach ~2.5 GB/s, and many enclosures cannot resize the BAR:
#    256 MiB visible.
#  - Each transaction crosses the Thunderbolt controller: ~50 us from
#    submission to the engine starting.
description: external GPU over Thunderbolt 3: 4 GiB VRAM, 256 MiB BAR, ~2.5 GB/s, 50 us latency
vram: 4G
visible-vram: 256M
gart: 1G
engine-bandwidth: 2560M
engine-latency-us: 50
