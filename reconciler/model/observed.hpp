// Observed state: a snapshot of what sysfs and /proc said, as plain values (the observe layer is the only
// code that reads them). Consumed by the pure planner and by status reporting.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

struct Netdev {
    std::string name;
    bool admin_up = false;           // IFF_UP in `flags`
    std::string operstate;           // `operstate`
    std::string master;              // `master` link target name, "" if none
    std::vector<std::string> uppers; // `upper_*` link names without the prefix
};

struct MdevType {
    std::string id;                   // directory name, "nvidia-222"
    std::string name;                 // `name` attribute
    std::string device_api;           // `device_api`
    uint32_t available = 0;           // `available_instances`
    std::vector<std::string> devices; // UUIDs under `devices/`
};

struct VgpuType {
    uint32_t id = 0;
    std::string name; // "NVIDIA L4-6Q"
};

// NVIDIA vendor-specific VFIO per-VF files (nvidia/creatable_vgpu_types, nvidia/current_vgpu_type).
struct VgpuState {
    std::vector<VgpuType> creatable;
    uint32_t current = 0; // 0 = none
};

struct PciDevice {
    std::string address; // "0000:3b:00.2"
    uint16_t vendor = 0, device = 0, subsystem_vendor = 0, subsystem_device = 0;
    uint32_t class_code = 0;
    std::string modalias;
    std::string id_path;             // "pci-0000:3b:00.2"
    std::string driver;              // bound driver name, "" if none
    std::string driver_override;     // "" when unset ("(null)" in sysfs)
    bool has_driver_override = true; // the file exists
    std::optional<int> iommu_group;

    // SR-IOV physical function
    bool is_pf = false;
    uint32_t total_vfs = 0;
    uint32_t num_vfs = 0;
    bool drivers_autoprobe = true;
    std::vector<std::string> vfs; // virtfnN targets by index
    // sriov_offset / sriov_stride: where VF N is (iov.c pci_iov_virtfn_bus/devfn), also before it exists.
    std::optional<uint32_t> vf_offset, vf_stride;

    // SR-IOV virtual function
    std::string physfn; // PF address, "" if not a VF
    int vf_index = -1;

    std::vector<Netdev> netdevs;
    std::vector<MdevType> mdev_types; // non-empty for mdev parents
    std::optional<VgpuState> vgpu;

    // In-use signals of safety.md, each a human-readable holder string
    // ("pid 4242 (qemu-system-x86)", "netdev ens1f0v3 is up", "enslaved to br0"). Empty = idle.
    std::vector<std::string> holders;
    bool in_use() const { return !holders.empty(); }
};

struct MdevDevice {
    std::string uuid;   // lower case
    std::string parent; // parent device name (PCI address for PCI parents)
    std::string type;   // type id
    std::optional<int> iommu_group;
    std::vector<std::string> holders;
    bool in_use() const { return !holders.empty(); }
};

// An mdev parent that is not a PCI device (the kernel's mtty sample, s390's vfio_ap matrix and CCW
// subchannels), found by name under /sys/class/mdev_bus. PCI parents are PciDevice::mdev_types.
struct MdevParent {
    std::string name; // "mtty"
    std::vector<MdevType> mdev_types;
};

struct ObservedState {
    std::map<std::string, PciDevice> devices;       // by address
    std::map<std::string, MdevDevice> mdevs;        // by uuid
    std::map<std::string, MdevParent> mdev_parents; // non-PCI parents by name
    std::vector<std::string> drivers;               // names under /sys/bus/pci/drivers (sorted)
    std::vector<std::string> vfio_aliases;          // "alias vfio_pci:... module" lines of modules.alias
    // Loaded modules (/sys/module/<m>) with the PCI driver names they register (drivers/pci:<name>).
    std::map<std::string, std::vector<std::string>> module_drivers;
    // Every NVIDIA vGPU type (id -> name) seen as creatable on this host, now or in an earlier observation
    // of this boot (remembered in /run/hostdevd/vgpu-types): a VF whose vGPU is active no longer lists its
    // own type, so without this memory a converged VF could not be told apart from a wrong one.
    std::map<uint32_t, std::string> vgpu_type_names;
    // Devices deliberately not read (address -> why): a write to them is stuck in the kernel and reading
    // them would block behind it (observe_host's `busy`). They are in no other field.
    std::map<std::string, std::string> busy;

    const PciDevice* find(const std::string& address) const;
};

} // namespace hostdevd
