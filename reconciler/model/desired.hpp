// Desired state: what the configuration files in /etc/hostdevd ask for (../shared/design/config.md).
// Plain values produced by the config loader and consumed by the pure planner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hostdevd {

// Where an entry or value came from, for diagnostics and the D-Bus `Source` property.
struct SourceLocation {
    std::string file;
    uint32_t line = 0;
    uint32_t column = 0;
    std::string str() const;       // "FILE:LINE:COL"
    std::string file_line() const; // "FILE:LINE"
};

// A `match` table. Every key that is set must hold.
struct Match {
    std::optional<std::string> address; // normalised "0000:3b:00.0"
    std::optional<std::string> netdev;
    std::optional<uint16_t> vendor;
    std::optional<uint16_t> device;
    std::optional<std::string> path; // udev ID_PATH, "pci-0000:3b:00.0"
    std::optional<std::string> name; // [[mdev]] parent only: a non-PCI parent under /sys/class/mdev_bus
    std::string str() const;         // "address=0000:3b:00.0 netdev=ens1f0" for messages
};

// What `driver = ...` asks for.
struct DriverChoice {
    enum class Kind {
        Leave, // key omitted: leave the binding alone
        Named, // a driver name: "vfio-pci", "iavf", "mlx5_vfio_pci"
        Vfio,  // "vfio": best VFIO variant driver from modules.alias, else vfio-pci
        None,  // "none": no driver at all
    };
    Kind kind = Kind::Leave;
    std::string name; // for Named
    bool operator==(const DriverChoice&) const = default;
};

struct VfCount {
    enum class Mode { Exact, AtLeast }; // `vfs = N` / `vfs = { min = N }`
    Mode mode = Mode::Exact;
    uint32_t count = 0;
    std::string str() const; // "8" or "min:8" (the D-Bus DesiredVFs format)
    bool operator==(const VfCount&) const = default;
};

// How an entry's devices are bound, as the consumers of its pool see it: nova's `managed` tag and
// libvirt's <forward managed=...> say whether the consumer binds the device (Managed) or finds it bound
// to a VFIO driver already (Vfio); Other devices (a host driver, "none", an NVIDIA vGPU, no `driver`)
// are not for PCI passthrough. A driver name counts as VFIO when it contains "vfio": every VFIO PCI
// driver of the kernel is named so (vfio-pci, mlx5_vfio_pci, hisi_acc_vfio_pci, pds_vfio_pci, ...).
enum class ConsumerBinding { Managed, Vfio, Other };
ConsumerBinding consumer_binding(const DriverChoice& driver, bool managed, bool vgpu);
const char* to_string(ConsumerBinding binding); // "managed", "vfio", "other"
// `destroy = ...` ([policy], [[pf]], [[mdev]]): may hostdevd destroy devices that exist (every VF of a PF
// whose count changes, an mdev removed or re-typed, a vGPU cleared or changed) on its own? docs/safety.md.
enum class DestroyPolicy {
    Ask,      // "ask" (the default): only with the operator's consent (hostdevctl apply, D-Bus Approve)
    WhenIdle, // "when-idle": whenever nothing uses or claims them
};
const char* to_string(DestroyPolicy policy);

// One `[[pf.vf]]` table.
struct VfSettings {
    std::vector<uint32_t> indices; // sorted, unique, from "0-3,6"
    DriverChoice driver;
    bool managed = false;
    std::string pool;
    std::optional<std::string> vgpu; // NVIDIA profile name, "NVIDIA L4-6Q"
    SourceLocation source;
};

// One `[[pf]]` table.
struct PfEntry {
    Match match;
    std::optional<VfCount> vfs;
    std::optional<bool> autoprobe;
    std::vector<VfSettings> vfs_settings;
    // Its own `destroy`; the loader fills in [policy]'s (or "ask") when the entry has none.
    std::optional<DestroyPolicy> destroy;
    SourceLocation source;
};

// One `[[device]]` table.
struct DeviceEntry {
    Match match;
    DriverChoice driver;
    bool managed = false;
    std::string pool;
    SourceLocation source;
};

struct MdevAttr {
    std::string name;
    std::string value;
    bool operator==(const MdevAttr&) const = default;
};

// One `[[mdev]]` table.
struct MdevEntry {
    Match parent;
    std::string type;                     // "nvidia-222"
    std::optional<uint32_t> count;        // instances 0..count-1 with UUIDv5 names
    std::vector<std::string> uuids;       // explicit, lower case; exclusive with count
    std::vector<MdevAttr> attrs;          // written after create, in order
    std::optional<DestroyPolicy> destroy; // as PfEntry::destroy
    SourceLocation source;
};

// One `[[pool]]` table: what the consumers of a pool need beyond its name (docs/consumers.md). Every key
// is optional; an omitted one takes a default derived from the pool name when the pool is exported.
struct PoolSettings {
    std::string name; // the `pool` label of [[pf.vf]] / [[device]] entries
    struct Nova {     // [pool.nova]: the `[pci] device_spec` tags and the `alias`
        std::optional<std::string> alias;
        std::optional<std::string> physical_network;
        std::optional<std::string> resource_class; // normalized as nova does: "gold" -> "CUSTOM_GOLD"
        std::vector<std::string> traits;           // normalized, in the order written
    } nova;
    struct DevicePlugin { // [pool.sriov_dp]: the SR-IOV network device plugin's resourceList entry
        std::optional<std::string> resource_name;
        std::optional<std::string> resource_prefix;
        bool is_rdma = false;
    } sriov_dp;
    struct Libvirt { // [pool.libvirt]: the hostdev <network>
        std::optional<std::string> network;
    } libvirt;
    SourceLocation source;
};

// The formats `hostdevctl export` writes and the `[export]` table names.
enum class ExportFormat { Nova, LibvirtNetwork, SriovDp, Prometheus };
const char* to_string(ExportFormat format);                             // "nova", "libvirt-network", ...
std::optional<ExportFormat> parse_export_format(std::string_view name); // nullopt for an unknown name
const std::vector<ExportFormat>& all_export_formats();

// One key of the `[export]` table: a file (a directory for libvirt-network) the daemon keeps current.
struct ExportTarget {
    ExportFormat format = ExportFormat::Nova;
    std::string path; // absolute
    SourceLocation source;
};

struct DesiredState {
    std::vector<std::string> files; // files in force, in load order
    std::vector<PfEntry> pfs;
    std::vector<DeviceEntry> devices;
    std::vector<MdevEntry> mdevs;
    std::vector<PoolSettings> pools;   // [[pool]] tables, one per pool name
    std::vector<ExportTarget> exports; // [export], at most one per format, in format order

    const PoolSettings* pool(const std::string& name) const; // nullptr when no [[pool]] describes it
    DestroyPolicy destroy = DestroyPolicy::Ask; // [policy] destroy: for entries without their own
};

} // namespace hostdevd
