// Host descriptions: the TOML files (examples/hosts/*.toml, format in docs/simhost-hosts.md) that say which
// PCI devices, drivers, modules, SR-IOV capabilities, mdev types and NVIDIA vGPU profiles a simulated host
// has. Parsing is strict: unknown keys, wrong types and inconsistent values are errors, reported as
// "FILE:LINE:COL: message" so a person can fix the file.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace simhost {

class HostSpecError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Domain:bus:device.function, parsed from "0000:3b:00.0".
struct PciAddr {
    uint32_t domain = 0;
    uint32_t bus = 0;
    uint32_t dev = 0;
    uint32_t fn = 0;

    static std::optional<PciAddr> parse(std::string_view text);
    std::string str() const; // "0000:3b:00.0", lower-case as the kernel names devices (dev_set_name)
    uint32_t devfn() const { return (dev << 3) | fn; }
    auto operator<=>(const PciAddr&) const = default;
};

// One entry of a driver's ID table (struct pci_device_id); kAny is PCI_ANY_ID.
struct PciIdMatch {
    static constexpr uint32_t kAny = 0xffffffff;
    uint32_t vendor = kAny;
    uint32_t device = kAny;
    uint32_t subvendor = kAny;
    uint32_t subdevice = kAny;
    uint32_t class_code = 0; // compared under class_mask (0 = any class), as new_id's CCCC MMMM
    uint32_t class_mask = 0;
    bool matches(uint32_t v, uint32_t d, uint32_t sv, uint32_t sd, uint32_t cls) const;
};

struct DriverSpec {
    std::string name;             // pci_driver .name: the directory under /sys/bus/pci/drivers
    std::string module;           // "" = built into the kernel (always registered)
    std::vector<PciIdMatch> ids;  // static ID table
    bool override_only = false;   // every entry is PCI_DRIVER_OVERRIDE_DEVICE_VFIO (vfio-pci and variants)
    bool sriov_configure = false; // has .sriov_configure, so sriov_numvfs works while bound
    bool creates_netdev = false;  // probe registers a net_device (i40e, iavf, mlx5_core, ice)
    bool mdev_parent = false;     // probe calls mdev_register_parent() for devices with [device.mdev]
    bool vendor_vgpu = false;     // NVIDIA vendor-specific VFIO: bound VFs get nvidia/current_vgpu_type
    std::vector<PciIdMatch> deny; // probing these fails (vfio-pci denylist)
    int deny_errno = 22;          // EINVAL, as vfio_pci_probe returns for denylisted devices
};

struct ModuleSpec {
    std::string name;                 // /sys/module/<name>
    bool loaded = true;               // false = available to modprobe (load_module) but not loaded
    std::vector<std::string> aliases; // modules.alias patterns, "vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i*"
};

struct SriovSpec {
    unsigned totalvfs = 0;
    unsigned offset = 0;
    unsigned stride = 1;
    uint32_t vf_device = 0;
    unsigned numvfs = 0;          // enabled at start (PF driver must support sriov_configure)
    bool autoprobe = true;        // sriov_drivers_autoprobe at start
    std::string vf_driver;        // the VF ID is added to this driver's static table ("" = none)
    int vf_iommu_group_base = -1; // VF i is in group base+i; -1 = VFs share the PF's group
    std::string vf_netdev;        // name pattern for VF netdevs: "{pf}v{index}" ({pf} = PF's netdev)
};

struct MdevTypeSpec {
    std::string id; // directory name, "<parent driver>-<sysfs_name>" as mdev_sysfs.c builds it
    std::string name;
    std::optional<std::string> description; // absent = no description file (no show_description)
    std::string device_api = "vfio-pci";
    unsigned max = 1;  // instances of this type alone
    unsigned cost = 1; // units of the parent's shared capacity one instance takes
};

struct MdevSpec {
    unsigned capacity = 0;    // shared units; 0 = types do not compete (each limited by its max only)
    bool single_type = false; // one type at a time: other types show 0 available while one has instances
    int full_errno = 87;      // create with none left: EUSERS (mdev_core.c); mtty's own create says ENOSPC
    std::vector<MdevTypeSpec> types;
};

struct VgpuProfileSpec {
    unsigned id = 0; // value written to nvidia/current_vgpu_type
    std::string name;
    unsigned max = 1; // instances per GPU; one takes capacity/max units
};

struct VgpuSpec {
    unsigned capacity = 0; // units shared by all VFs of the GPU
    std::vector<VgpuProfileSpec> profiles;
};

struct DeviceSpec {
    std::string address;
    PciAddr addr;
    uint32_t vendor = 0, device = 0, subsystem_vendor = 0, subsystem_device = 0;
    uint32_t class_code = 0; // 24-bit: base class, subclass, prog-if
    uint32_t revision = 0;
    std::string driver;               // bound at start, "" = none
    int iommu_group = -1;             // -1 = none (no iommu_group link)
    std::string parent;               // address of the upstream bridge in this file, "" = on the root bus
    std::vector<std::string> netdevs; // names the bound driver registers (if it creates netdevs)
    bool present = true;              // false = hot-pluggable, appears on plug()
    int numa_node = -1;
    unsigned irq = 0;
    std::optional<SriovSpec> sriov;
    std::optional<MdevSpec> mdev;
    std::optional<VgpuSpec> vgpu;

    bool is_bridge() const { return (class_code >> 8) == 0x0604; }
};

// An mdev parent that is not a PCI device (the kernel's sample mtty, s390's vfio_ap matrix): a class
// device at /sys/devices/virtual/<class>/<name>, registered with the mdev core while its module is
// loaded (mtty.c mtty_dev_init: device_register, then mdev_register_parent).
struct MdevParentSpec {
    std::string name;   // device name, also its /sys/class/mdev_bus entry ("mtty")
    std::string cls;    // class directory ("mtty")
    std::string module; // "" = always registered; else registered while this module is loaded
    DeviceSpec device;  // only `address` (= name) and `mdev` are used: the mdev code shares DeviceState
};

struct HostSpec {
    std::string name;
    std::string source;                 // file name, for messages
    std::string local_cpulist = "0-15"; // every device's local_cpulist
    // VFIO device cdevs (CONFIG_VFIO_DEVICE_CDEV, Linux >= 6.6): /dev/vfio/devices/vfioN with a `dev`
    // attribute under /sys/class/vfio-dev/vfioN, and /dev/iommu. Off: 6.1's layout (the vfio-dev class
    // device exists without a device number, and no node).
    bool vfio_cdev = false;
    std::vector<DeviceSpec> devices;          // in file order
    std::vector<MdevParentSpec> mdev_parents; // non-PCI mdev parents
    std::vector<DriverSpec> drivers;          // file drivers plus built-in defaults (vfio-pci, pcieport)
    std::vector<ModuleSpec> modules;          // declared plus implied (every driver's module)

    const DeviceSpec* find_device(std::string_view address) const;
    const DriverSpec* find_driver(std::string_view name) const;
    const ModuleSpec* find_module(std::string_view name) const;
};

// The address of VF `index` of a PF (iov.c pci_iov_virtfn_bus/devfn): the routing ID
// (bus << 8 | devfn) + offset + stride * index, so a large offset carries into the next bus.
PciAddr vf_address(const PciAddr& pf, unsigned offset, unsigned stride, unsigned index);

HostSpec load_host_spec(const std::string& path);
HostSpec parse_host_spec(std::string_view text, const std::string& name);

} // namespace simhost
