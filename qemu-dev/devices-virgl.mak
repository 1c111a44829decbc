# Added to devices.mak for the virgl flavour (images/build-qemu.sh OUTDIR
# virgl): virtio-gpu, whose -gl-pci variant QEMU builds when OpenGL and
# virglrenderer are enabled.
CONFIG_VIRTIO_GPU=y
