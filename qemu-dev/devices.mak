# The devices of simgpu's QEMU build: a q35 PC with a serial console,
# virtio-blk for swap disks, isa-debug-exit to return the guest's exit
# status, and the simgpu device.
CONFIG_Q35=y
CONFIG_SERIAL_ISA=y
CONFIG_ISA_DEBUG=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_SIMGPU=y
