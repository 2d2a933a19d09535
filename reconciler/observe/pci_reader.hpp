// Reading one PCI function from sysfs into a PciDevice, plus the few facts the snapshot builder needs
// to link VFs to PFs and to find VFIO cdevs. Internal to the observe layer.
#pragma once

#include "model/observed.hpp"
#include "sysfs/layout.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

struct RawPciDevice {
    PciDevice device;
    bool has_physfn = false;   // the `physfn` link exists: a VF (iov.c pci_iov_sysfs_link)
    bool has_vfio_dev = false; // a `vfio-dev/` directory exists (VFIO device cdev, vfio_main.c)
    std::optional<uint32_t> vf_offset, vf_stride; // PF only: sriov_offset / sriov_stride
    std::vector<uint32_t> virtfn_indices;         // PF only: N of every virtfnN link, ascending
};

// Reads the device at /sys/bus/pci/devices/<address>. nullopt when it vanished or its identity
// (modalias, or vendor/device/class as fallback) cannot be read; unreadable optional fields are left at
// their defaults and logged at debug.
//
// Reads on a no-op pass (benchmarks.md B3 budget: <= 8 per VF), for a VF:
//   1 list  <dev>/                  which optional files exist, instead of one failed open per file
//   2 read  modalias                vendor, device, subsystem IDs and class in one read (pci-sysfs.c)
//   3 link  driver                  only if listed
//   4 read  driver_override         only if listed
//   5 link  iommu_group             only if listed
//   network VFs with a netdev (class 0x02, net/ listed):
//   6 list  net/                    the interface name
//   7 read  net/<if>/flags          IFF_UP
//   8 list  net/<if>/               master and upper_* links (a master also has its upper_<name> link,
//                                   net/core/dev.c __netdev_adjacent_dev_insert, so the master's name
//                                   needs no readlink when there is a single upper)
//   NVIDIA vGPU VFs (nvidia/ listed): nvidia/creatable_vgpu_types + nvidia/current_vgpu_type instead
//   of 6-8. physfn and the VF index cost nothing per VF: the PF's sriov_offset/sriov_stride give every
//   VF's address (iov.c pci_iov_virtfn_bus/devfn). operstate is not read (the planner does not need it).
std::optional<RawPciDevice> read_pci_device(const SysfsLayout& layout, const std::string& address);

// Re-reads only the netdev signals of a device (fresh IFF_UP, master, uppers) for the pre-write check.
std::vector<Netdev> read_netdevs(const SysfsLayout& layout, const std::string& address);

// Reads mdev_supported_types/ of a parent whose device directory is `parent_dir`.
std::vector<MdevType> read_mdev_types(const std::string& parent_dir);

// Parses "pci:v00008086d00001572sv00008086sd00000000bc02sc00i00" into `device`'s ID fields.
bool parse_pci_modalias(const std::string& modalias, PciDevice& device);

// Parses nvidia/creatable_vgpu_types, "<id> : <name>" lines (vgpu-device-manager PR #195 sysfs.go).
// Other lines (a header such as "ID : vGPU Name", garbage) are skipped.
std::vector<VgpuType> parse_creatable_vgpu_types(const std::string& text);

} // namespace hostdevd
