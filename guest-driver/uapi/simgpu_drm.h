/* SPDX-License-Identifier: MIT */
/*
 * simgpu userspace interface.  Shared by the driver and every test
 * program.  Conventions: fixed-width __u32/__u64 fields, 64-bit aligned
 * structs, explicit padding that must be zero, and a flags word whose
 * unknown bits are rejected with -EINVAL.
 */
#ifndef _UAPI_SIMGPU_DRM_H_
#define _UAPI_SIMGPU_DRM_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_SIMGPU_DEVICE_QUERY		0x00

#define DRM_IOCTL_SIMGPU_DEVICE_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_SIMGPU_DEVICE_QUERY, \
		 struct drm_simgpu_device_query)

/** DRM_SIMGPU_MAX_REGIONS - room for VRAM regions in the query */
#define DRM_SIMGPU_MAX_REGIONS		4

/**
 * struct drm_simgpu_region_info - one VRAM region
 * @size: bytes of VRAM in the region
 * @visible_size: bytes of the region the CPU can reach through its BAR,
 *	counted from the start of the region (less than @size on small-BAR)
 */
struct drm_simgpu_region_info {
	__u64 size;
	__u64 visible_size;
};

/**
 * struct drm_simgpu_device_query - what the hardware is
 * @flags: in, must be zero
 * @hw_version: out, the device's version register (major << 16 | minor)
 * @hw_caps: out, the device's capability bits (SIMGPU_CAP_*)
 * @num_regions: out, number of valid entries in @regions
 * @regions: out, the VRAM regions
 */
struct drm_simgpu_device_query {
	__u32 flags;
	__u32 hw_version;
	__u32 hw_caps;
	__u32 num_regions;
	struct drm_simgpu_region_info regions[DRM_SIMGPU_MAX_REGIONS];
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_SIMGPU_DRM_H_ */
