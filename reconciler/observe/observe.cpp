#include "observe/observe.hpp"

#include "model/pci_address.hpp"
#include "observe/addresses.hpp"
#include "observe/holders.hpp"
#include "observe/module_facts.hpp"
#include "observe/parallel_read.hpp"
#include "observe/pci_reader.hpp"
#include "sysfs/read.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <spdlog/spdlog.h>

namespace hostdevd {

namespace {

using RawMap = std::map<std::string, RawPciDevice>;

// modules.alias of a distribution kernel is ~1 MiB; libvirt refuses files over 8 MiB (virpci.c).
constexpr std::size_t kMaxModulesAlias = 8u << 20;

std::vector<std::string> list_pci_addresses(const SysfsLayout& layout) {
    std::vector<std::string> addresses;
    for (std::string& name : list_directory(layout.pci_devices_dir()).names) {
        if (PciAddress::parse(name))
            addresses.push_back(std::move(name));
    }
    return addresses;
}

// VF N's address from the PF's First VF Offset and VF Stride (iov.c pci_iov_virtfn_bus/devfn):
// routing ID = PF devfn + offset + stride * N, carried into the bus number.
std::optional<std::string> computed_vf_address(const RawPciDevice& pf, uint32_t index) {
    auto address = PciAddress::parse(pf.device.address);
    if (!address || !pf.vf_offset || !pf.vf_stride)
        return std::nullopt;
    auto vf = vf_address_of(*address, *pf.vf_offset, *pf.vf_stride, index);
    return vf ? std::optional(vf->str()) : std::nullopt;
}

std::optional<std::string> linked_vf_address(const SysfsLayout& layout, const std::string& pf,
                                             uint32_t index) {
    TextResult target = read_link_name(layout.pci_device_attr(pf, "virtfn" + std::to_string(index)));
    if (!target.ok())
        return std::nullopt;
    return target.text;
}

// Fills the PF's `vfs` and its VFs' `physfn`/`vf_index` for the VFs present in `raws`. The offset/stride
// formula avoids a readlink per VF; the virtfnN link is the fallback when the formula does not land
// on a VF (a fixture or device with odd numbering).
void link_vfs_of_pf(const SysfsLayout& layout, RawPciDevice& pf, RawMap& raws) {
    std::vector<std::string>& vfs = pf.device.vfs;
    vfs.clear();
    for (uint32_t index : pf.virtfn_indices) {
        auto is_vf_here = [&raws](const std::optional<std::string>& a) {
            auto it = a ? raws.find(*a) : raws.end();
            return it != raws.end() && it->second.has_physfn;
        };
        std::optional<std::string> address = computed_vf_address(pf, index);
        if (!is_vf_here(address))
            address = linked_vf_address(layout, pf.device.address, index);
        if (!address)
            continue;
        if (vfs.size() <= index)
            vfs.resize(index + 1);
        vfs[index] = *address;
        if (auto it = raws.find(*address); it != raws.end()) {
            it->second.device.physfn = pf.device.address;
            it->second.device.vf_index = static_cast<int>(index);
        }
    }
}

// The slow path for a VF whose PF is not part of this read: follow physfn, then the PF's virtfn links.
void link_orphan_vf(const SysfsLayout& layout, RawPciDevice& vf) {
    TextResult pf = read_link_name(layout.pci_device_attr(vf.device.address, "physfn"));
    if (!pf.ok())
        return;
    vf.device.physfn = pf.text;
    for (const std::string& entry : list_directory(layout.pci_device(pf.text)).names) {
        if (entry.rfind("virtfn", 0) != 0)
            continue;
        TextResult target = read_link_name(layout.pci_device_attr(pf.text, entry));
        auto index = parse_decimal(std::string_view(entry).substr(6));
        if (target.ok() && target.text == vf.device.address && index && *index <= 0xffff) {
            vf.device.vf_index = static_cast<int>(*index);
            return;
        }
    }
}

void link_sriov(const SysfsLayout& layout, RawMap& raws, const ObservedState* previous) {
    for (auto& [address, raw] : raws) {
        if (raw.device.is_pf)
            link_vfs_of_pf(layout, raw, raws);
    }
    for (auto& [address, raw] : raws) {
        if (!raw.has_physfn || !raw.device.physfn.empty())
            continue;
        // A VF refreshed without its PF keeps what the last snapshot knew (VF numbering only changes
        // when VFs are re-created, and that refreshes the PF).
        const PciDevice* before = previous ? previous->find(address) : nullptr;
        if (before && !before->physfn.empty() && before->vf_index >= 0) {
            raw.device.physfn = before->physfn;
            raw.device.vf_index = before->vf_index;
        } else {
            link_orphan_vf(layout, raw);
        }
    }
}

bool is_vfio_driver(const std::string& driver) {
    // vfio-pci and the variant drivers (mlx5_vfio_pci, xe-vfio-pci, ...): none creates a netdev.
    return driver.find("vfio") != std::string::npos || driver == "pci-stub";
}

// Whether a VFIO device fd the kernel does not attribute (or a process we cannot look into) could be
// holding this PCI device: a VFIO driver registered it as a VFIO device: vfio-pci and its variants
// (every driver with "vfio" in its name), or NVIDIA's vendor-specific VFIO, which exposes a VF with an
// active vGPU (nvidia/current_vgpu_type != 0).
bool registers_vfio_device(const PciDevice& device) {
    return device.driver.find("vfio") != std::string::npos || (device.vgpu && device.vgpu->current != 0);
}

// vfio_pci_core_enable() (drivers/vfio/pci/vfio_pci_core.c, called when the device is opened) does
// pci_enable_device() and vfio_pci_core_disable() (on the last close) pci_disable_device(); probing does
// neither. So a device on vfio-pci or a variant driver whose `enable` (pci-sysfs.c enable_show:
// atomic_read(&enable_cnt), no lock taken) reads 0 is open by nobody. Checked on Debian's 6.1 kernel for
// VFs (tests/vm/facts: 0 idle, 0 with only the group fd open, 1 while a device fd is open). Every other
// answer, and every other driver, leaves the device a candidate: unknown counts as in use.
bool open_by_nobody(const SysfsLayout& layout, const PciDevice& device) {
    if (device.driver.find("vfio") == std::string::npos)
        return false;
    TextResult enable = read_attribute(layout.pci_device_attr(device.address, "enable"));
    return enable.ok() && parse_decimal(enable.text) == 0u;
}

// Device cdev name → owning object (PCI address or mdev UUID), only for cdevs some process holds.
// Each cdev is /sys/class/vfio-dev/vfioN with a `device` link to its owner (vfio_main.c
// vfio_device_add); when the class link is missing, the owners' vfio-dev/ directories are listed (the
// candidates are only asked for then: on a large host building their paths is not free).
std::map<std::string, std::string>
resolve_held_cdevs(const SysfsLayout& layout, const HolderIndex& index,
                   const std::function<std::vector<std::string>()>& candidate_dirs) {
    std::map<std::string, std::string> owners;
    if (index.cdevs.empty())
        return owners;
    bool unresolved = false;
    for (const auto& [cdev, holders] : index.cdevs) {
        TextResult owner = read_link_name(layout.sys("class/vfio-dev/" + cdev + "/device"));
        if (owner.ok())
            owners[cdev] = owner.text;
        else
            unresolved = true;
    }
    if (!unresolved)
        return owners;
    for (const std::string& dir : candidate_dirs()) {
        ListResult cdevs = list_directory(dir + "/vfio-dev");
        for (const std::string& cdev : cdevs.names)
            owners.emplace(cdev, std::string(last_component(dir)));
    }
    return owners;
}

std::vector<std::string> vfio_candidate_dirs(const SysfsLayout& layout, const ObservedState& state) {
    std::vector<std::string> dirs;
    for (const auto& [address, device] : state.devices) {
        if (!device.driver.empty()) // only a bound driver registers a VFIO device (vfio_main.c)
            dirs.push_back(layout.pci_device(address));
    }
    for (const auto& [uuid, mdev] : state.mdevs)
        dirs.push_back(layout.mdev_device(uuid));
    return dirs;
}

// What one /proc scan says, with the cdevs resolved to their owners.
struct HolderScan {
    HolderIndex index;
    std::map<std::string, std::string> cdev_owners;
    bool points_at(const std::string& object, std::optional<int> group) const {
        if (group && index.groups.count(*group))
            return true;
        if (index.devices.count(object))
            return true;
        return std::any_of(cdev_owners.begin(), cdev_owners.end(),
                           [&object](const auto& owner) { return owner.second == object; });
    }
};

// The VFIO holders of one object: its group's and its cdevs' holders, device fds attributed to it, and,
// when `could_be_open` says it may be theirs, the holders nobody can attribute.
void add_vfio_holders(std::vector<std::string>& out, const std::string& object, std::optional<int> group,
                      const HolderScan& scan, const std::function<bool()>& could_be_open) {
    auto append = [&out](const std::vector<std::string>& holders) {
        for (const std::string& h : holders) {
            if (std::find(out.begin(), out.end(), h) == out.end())
                out.push_back(h);
        }
    };
    const HolderIndex& index = scan.index;
    if (group) {
        if (auto it = index.groups.find(*group); it != index.groups.end())
            append(it->second);
    }
    for (const auto& [cdev, owner] : scan.cdev_owners) {
        if (owner == object)
            append(index.cdevs.at(cdev));
    }
    if (auto it = index.devices.find(object); it != index.devices.end())
        append(it->second);
    if (!index.unattributed.empty() && could_be_open())
        append(index.unattributed);
}

std::vector<std::string> netdev_holders(const PciDevice& device, const std::set<std::string>& addressed) {
    std::vector<std::string> out;
    for (const Netdev& n : device.netdevs) {
        if (n.admin_up)
            out.push_back("netdev " + n.name + " is up");
        if (addressed.count(n.name))
            out.push_back("netdev " + n.name + " carries addresses");
        if (!n.master.empty())
            out.push_back("enslaved to " + n.master);
        for (const std::string& upper : n.uppers) {
            if (upper != n.master)
                out.push_back("upper device " + upper);
        }
    }
    // A network function bound to a network driver always has a netdev; when none is visible it was
    // moved into another namespace (a container or VM): unknown counts as in use (safety.md).
    bool network_class = (device.class_code >> 16) == 0x02;
    if (network_class && device.netdevs.empty() && !device.driver.empty() && !is_vfio_driver(device.driver))
        out.push_back("netdev not in host namespace (unknown counts as in use)");
    return out;
}

std::vector<std::string> pci_holders(const SysfsLayout& layout, const PciDevice& device,
                                     const HolderScan& scan, const std::set<std::string>& addressed) {
    std::vector<std::string> holders;
    add_vfio_holders(holders, device.address, device.iommu_group, scan,
                     [&] { return registers_vfio_device(device) && !open_by_nobody(layout, device); });
    for (std::string& h : netdev_holders(device, addressed))
        holders.push_back(std::move(h));
    return holders;
}

std::vector<std::string> mdev_holders(const MdevDevice& mdev, const HolderScan& scan) {
    std::vector<std::string> holders;
    // Every mdev is a VFIO device of its vendor driver, and nothing in sysfs tells an open one apart.
    add_vfio_holders(holders, mdev.uuid, mdev.iommu_group, scan, [] { return true; });
    return holders;
}

// Addresses live in the kernel's network stack, not in sysfs: only a live system (root "/") has them,
// and they are asked for only when some device has a netdev.
std::set<std::string> addressed_interfaces(const SysfsLayout& layout, bool any_netdev) {
    return layout.root() == "/" && any_netdev ? interfaces_with_addresses() : std::set<std::string>{};
}

// Holders of every device and mdev, from one /proc scan. On a refresh (`changes` given: what was re-read),
// a device or mdev that was not re-read and had no holders is only looked at when something now points at
// it (its IOMMU group, VFIO cdev or an attributed device fd is open, one of its netdevs carries addresses,
// or an unattributed device fd could be its): its other signals come from what was read with it, which is
// unchanged, so it has none. Holders that differ go into `changes`.
void assign_holders(const SysfsLayout& layout, ObservedState& state, ObservedChanges* changes = nullptr) {
    HolderScan scan;
    scan.index = scan_vfio_holders(layout);
    scan.cdev_owners =
        resolve_held_cdevs(layout, scan.index, [&] { return vfio_candidate_dirs(layout, state); });
    const bool unattributed = !scan.index.unattributed.empty();
    bool any_netdev = false;
    for (const auto& [address, device] : state.devices)
        any_netdev = any_netdev || !device.netdevs.empty();
    const std::set<std::string> addressed = addressed_interfaces(layout, any_netdev);
    auto unchanged_idle = [&](const std::string& key, std::optional<int> group, bool was_idle, bool reread,
                              bool vfio_device) {
        return changes && was_idle && !reread && !scan.points_at(key, group) &&
               !(unattributed && vfio_device);
    };
    for (auto& [address, device] : state.devices) {
        if (unchanged_idle(address, device.iommu_group, device.holders.empty(),
                           changes && changes->devices.count(address), registers_vfio_device(device)) &&
            std::none_of(device.netdevs.begin(), device.netdevs.end(),
                         [&](const Netdev& n) { return addressed.count(n.name) != 0; }))
            continue;
        std::vector<std::string> holders = pci_holders(layout, device, scan, addressed);
        if (changes && holders != device.holders)
            changes->devices.insert(address);
        device.holders = std::move(holders);
    }
    for (auto& [uuid, mdev] : state.mdevs) {
        if (unchanged_idle(uuid, mdev.iommu_group, mdev.holders.empty(),
                           changes && changes->mdevs.count(uuid), true))
            continue;
        std::vector<std::string> holders = mdev_holders(mdev, scan);
        if (changes && holders != mdev.holders)
            changes->mdevs.insert(uuid);
        mdev.holders = std::move(holders);
    }
}

std::string lower(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

// /sys/bus/mdev/devices/<uuid> links to <parent dir>/<uuid> (the mdev is a child of its parent,
// mdev_core.c mdev_device_create); <uuid>/mdev_type links to the type directory
// (mdev_sysfs.c mdev_create_sysfs_files). kernfs makes both links relative to their common ancestor, so
// the parent is read from the bus link ("../../../devices/.../0000:af:00.0/<uuid>"), not from
// mdev_type ("../mdev_supported_types/nvidia-222").
std::optional<MdevDevice> read_mdev(const SysfsLayout& layout, const std::string& uuid) {
    const std::string dir = layout.mdev_device(uuid);
    TextResult device_link = read_link(dir);
    TextResult type_link = read_link_name(dir + "/mdev_type");
    if (!device_link.ok() || !type_link.ok()) {
        spdlog::debug("observe: mdev {}: links unreadable (errno {}/{}), skipped", uuid, device_link.error,
                      type_link.error);
        return std::nullopt;
    }
    std::string_view target = device_link.text;
    target.remove_suffix(last_component(target).size());
    MdevDevice mdev;
    mdev.uuid = lower(uuid);
    mdev.type = type_link.text;
    mdev.parent = std::string(last_component(target));
    if (mdev.parent.empty() || mdev.parent == "..") {
        spdlog::debug("observe: mdev {}: unexpected link target {}, skipped", uuid, device_link.text);
        return std::nullopt;
    }
    TextResult group = read_link_name(dir + "/iommu_group");
    if (auto number = group.ok() ? parse_decimal(group.text) : std::nullopt; number && *number <= 0x7fffffff)
        mdev.iommu_group = static_cast<int>(*number);
    return mdev;
}

std::vector<std::string> list_drivers(const SysfsLayout& layout) {
    return list_directory(layout.pci_drivers_dir()).names;
}

std::map<std::string, std::vector<std::string>> read_module_drivers(const SysfsLayout& layout) {
    std::map<std::string, std::vector<std::string>> modules;
    for (const std::string& module : list_directory(layout.modules_dir()).names) {
        std::vector<std::string>& drivers = modules[module];
        // module.c module_add_driver: /sys/module/<m>/drivers/<bus>:<driver name>.
        for (const std::string& entry :
             list_directory(layout.modules_dir() + "/" + module + "/drivers").names) {
            if (entry.rfind("pci:", 0) == 0)
                drivers.push_back(entry.substr(4));
        }
    }
    return modules;
}

} // namespace

std::vector<std::string> read_vfio_aliases(const SysfsLayout& layout) {
    std::vector<std::string> aliases;
    TextResult file = read_file(layout.modules_alias(), kMaxModulesAlias);
    if (!file.ok()) {
        spdlog::debug("observe: {}: errno {}; no VFIO variant drivers known", layout.modules_alias(),
                      file.error);
        return aliases;
    }
    constexpr std::string_view prefix = "alias vfio_pci:";
    size_t start = 0;
    while (start < file.text.size()) {
        size_t end = file.text.find('\n', start);
        if (end == std::string::npos)
            end = file.text.size();
        std::string_view line(file.text.data() + start, end - start);
        if (line.substr(0, prefix.size()) == prefix)
            aliases.emplace_back(line);
        start = end + 1;
    }
    return aliases;
}

void remember_vgpu_types(const SysfsLayout& layout, ObservedState& state) {
    const std::string file = layout.run_dir() + "/vgpu-types";
    // "<id> <name>" lines; a corrupt line is ignored (the memory only helps naming active types).
    std::map<uint32_t, std::string> remembered;
    TextResult text = read_file(file, 1 << 20);
    for (size_t start = 0; text.ok() && start < text.text.size();) {
        size_t end = std::min(text.text.find('\n', start), text.text.size());
        std::string line = text.text.substr(start, end - start);
        start = end + 1;
        size_t space = line.find(' ');
        uint32_t id = 0;
        if (space == std::string::npos || space == 0)
            continue;
        auto [ptr, ec] = std::from_chars(line.data(), line.data() + space, id);
        if (ec == std::errc() && ptr == line.data() + space && id != 0)
            remembered.emplace(id, line.substr(space + 1));
    }
    state.vgpu_type_names = remembered;
    for (const auto& [address, device] : state.devices)
        if (device.vgpu)
            for (const VgpuType& type : device.vgpu->creatable)
                state.vgpu_type_names.emplace(type.id, type.name);
    if (state.vgpu_type_names.size() == remembered.size())
        return;
    std::string out;
    for (const auto& [id, name] : state.vgpu_type_names)
        out += std::to_string(id) + " " + name + "\n";
    std::error_code ec;
    std::filesystem::create_directories(layout.run_dir(), ec);
    const std::string tmp = file + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
        bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
        ok = std::fclose(f) == 0 && ok;
        if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) {
            std::remove(tmp.c_str());
            spdlog::debug("observe: cannot save {}", file);
        }
    }
}

ObservedState observe_host(const SysfsLayout& layout, const std::map<std::string, std::string>& busy) {
    ObservedState state;
    std::vector<std::string> addresses = list_pci_addresses(layout);
    if (!busy.empty()) {
        // A busy PF's VFs are busy too: a VF disable holds the PF's lock and removes them one by one, the
        // one it waits for already unlinked from the PF (no physfn). Every address the PF's offset and
        // stride can give a VF (read without the lock, iov.c) is left alone.
        std::map<std::string, std::string> skip;
        for (const auto& [address, why] : busy) {
            skip.emplace(address, why);
            auto offset = parse_decimal(read_attribute(layout.pci_device_attr(address, "sriov_offset")).text);
            auto stride = parse_decimal(read_attribute(layout.pci_device_attr(address, "sriov_stride")).text);
            auto total =
                parse_decimal(read_attribute(layout.pci_device_attr(address, "sriov_totalvfs")).text);
            if (!offset || !stride || !total || *offset > 0xffff || *stride > 0xffff || *total > 0xffff)
                continue;
            RawPciDevice pf;
            pf.device.address = address;
            pf.vf_offset = static_cast<uint32_t>(*offset);
            pf.vf_stride = static_cast<uint32_t>(*stride);
            for (uint32_t i = 0; i < *total; ++i)
                if (auto vf = computed_vf_address(pf, i))
                    skip.emplace(*vf, "VF of busy PF " + address);
        }
        std::erase_if(addresses, [&](const std::string& address) {
            auto it = skip.find(address);
            if (it == skip.end())
                return false;
            state.busy.insert(*it);
            return true;
        });
        for (const auto& [address, why] : busy)
            if (!PciAddress::parse(address))
                state.busy.emplace(address, why); // an mdev: shown as busy as well
    }
    RawMap raws = read_pci_devices(layout, addresses);
    link_sriov(layout, raws, nullptr);
    for (auto& [address, raw] : raws)
        state.devices.emplace(address, std::move(raw.device));

    for (const std::string& uuid : list_directory(layout.mdev_devices_dir()).names) {
        if (auto mdev = read_mdev(layout, uuid))
            state.mdevs.emplace(mdev->uuid, std::move(*mdev));
    }
    state.mdev_parents = read_mdev_parents(layout);
    state.drivers = list_drivers(layout);
    state.vfio_aliases = read_vfio_aliases(layout);
    state.module_drivers = read_module_drivers(layout);
    read_module_facts(layout, state);
    remember_vgpu_types(layout, state);
    assign_holders(layout, state);
    return state;
}

ObservedChanges refresh_devices(const SysfsLayout& layout, const std::vector<std::string>& addresses,
                                ObservedState& state) {
    ObservedChanges changes;
    std::set<std::string> targets;
    for (const std::string& address : addresses) {
        if (!PciAddress::parse(address))
            continue;
        targets.insert(address);
        if (const PciDevice* old = state.find(address); old && old->is_pf) {
            for (const std::string& vf : old->vfs) {
                if (!vf.empty())
                    targets.insert(vf); // old VFs: they may be gone now
            }
        }
    }
    RawMap raws = read_pci_devices(layout, std::vector<std::string>(targets.begin(), targets.end()));
    // New VFs of refreshed PFs: where offset/stride put them, else where the virtfnN link points. The
    // computed addresses are read together first (a PF just enabled brings all its VFs at once).
    std::vector<std::pair<std::string, uint32_t>> pf_indices;
    std::set<std::string> computed;
    for (const auto& [address, raw] : raws) {
        if (raw.device.is_pf) {
            for (uint32_t index : raw.virtfn_indices) {
                pf_indices.emplace_back(address, index);
                if (auto vf = computed_vf_address(raw, index); vf && !raws.count(*vf))
                    computed.insert(*vf);
            }
        }
    }
    RawMap computed_raws =
        read_pci_devices(layout, std::vector<std::string>(computed.begin(), computed.end()));
    for (const auto& [pf, index] : pf_indices) {
        const RawPciDevice& pf_raw = raws.at(pf);
        std::optional<std::string> vf = computed_vf_address(pf_raw, index);
        if (vf && raws.count(*vf))
            continue;
        std::optional<RawPciDevice> raw;
        if (auto it = vf ? computed_raws.find(*vf) : computed_raws.end(); it != computed_raws.end()) {
            raw = std::move(it->second);
            computed_raws.erase(it);
        }
        if (!raw || !raw->has_physfn) {
            vf = linked_vf_address(layout, pf, index);
            if (!vf || raws.count(*vf))
                continue;
            raw = read_pci_device(layout, *vf);
        }
        targets.insert(*vf);
        if (raw)
            raws.emplace(*vf, std::move(*raw));
    }
    link_sriov(layout, raws, &state);

    for (const std::string& address : targets) {
        if (!raws.count(address))
            state.devices.erase(address); // vanished
    }
    for (auto& [address, raw] : raws)
        state.devices[address] = std::move(raw.device);

    // Non-PCI mdev parents are few: every refresh re-reads them all, with their mdevs (those of a parent
    // that went away too). Whether they or their mdevs changed is not tracked: the incremental planner
    // plans a host with such parents whole (plan/incremental.cpp), so this counts as a host-wide change.
    std::set<std::string> mdev_parents = targets;
    for (const auto& [name, parent] : state.mdev_parents)
        mdev_parents.insert(name);
    state.mdev_parents = read_mdev_parents(layout);
    for (const auto& [name, parent] : state.mdev_parents)
        mdev_parents.insert(name);
    changes.host_wide = mdev_parents.size() != targets.size();

    // mdevs of the refreshed parents, as their types' devices/ lists name them (mdev_sysfs.c links every
    // instance there as well as under /sys/bus/mdev/devices): drop the ones gone, read the others. mdevs of
    // other parents are untouched; their events name their parent.
    std::map<std::string, std::string> present; // lower-case UUID → name as listed
    auto list_instances = [&present](const std::vector<MdevType>& types) {
        for (const MdevType& type : types)
            for (const std::string& uuid : type.devices)
                present.emplace(lower(uuid), uuid);
    };
    for (const std::string& address : targets)
        if (const PciDevice* parent = state.find(address))
            list_instances(parent->mdev_types);
    for (const auto& [name, parent] : state.mdev_parents)
        list_instances(parent.mdev_types);
    for (auto it = state.mdevs.begin(); it != state.mdevs.end();) {
        if (mdev_parents.count(it->second.parent) && !present.count(it->first)) {
            changes.mdevs.insert(it->first);
            it = state.mdevs.erase(it);
        } else {
            ++it;
        }
    }
    for (const auto& [uuid, name] : present) {
        changes.mdevs.insert(uuid);
        if (auto mdev = read_mdev(layout, name))
            state.mdevs[mdev->uuid] = std::move(*mdev);
        else
            state.mdevs.erase(uuid); // gone between the listing and now
    }
    changes.devices = std::move(targets);

    auto drivers = list_drivers(layout);
    auto module_drivers = read_module_drivers(layout);
    auto vgpu_types = state.vgpu_type_names;
    const bool modules_moved = drivers != state.drivers || module_drivers != state.module_drivers;
    changes.host_wide = changes.host_wide || modules_moved;
    state.drivers = std::move(drivers);
    state.module_drivers = std::move(module_drivers);
    // modules.dep and vfio_pci's parameters change only with a module load or unload, which moves the
    // driver list: re-read them then, not on every refresh.
    if (modules_moved)
        changes.host_wide = read_module_facts(layout, state) || changes.host_wide;
    remember_vgpu_types(layout, state);
    changes.host_wide = changes.host_wide || vgpu_types != state.vgpu_type_names;
    assign_holders(layout, state, &changes);
    return changes;
}

std::vector<std::string> holders_now(const SysfsLayout& layout, const std::string& object) {
    HolderScan scan;
    scan.index = scan_vfio_holders(layout);
    if (PciAddress::parse(object)) {
        const std::string dir = layout.pci_device(object);
        ListResult entries = list_directory(dir);
        if (!entries.ok())
            return {}; // gone: nothing holds it
        PciDevice device;
        device.address = object;
        TextResult modalias = read_attribute(dir + "/modalias");
        if (modalias.ok())
            parse_pci_modalias(modalias.text, device);
        if (entries.contains("driver")) {
            if (TextResult driver = read_link_name(dir + "/driver"); driver.ok())
                device.driver = driver.text;
        }
        if (entries.contains("iommu_group")) {
            TextResult group = read_link_name(dir + "/iommu_group");
            if (auto n = group.ok() ? parse_decimal(group.text) : std::nullopt; n && *n <= 0x7fffffff)
                device.iommu_group = static_cast<int>(*n);
        }
        if (entries.contains("net"))
            device.netdevs = read_netdevs(layout, object);
        if (entries.contains("nvidia") && !scan.index.unattributed.empty()) {
            // Only whether a vGPU is active matters here (NVIDIA's vendor VFIO device exists then).
            TextResult current = read_attribute(dir + "/nvidia/current_vgpu_type");
            auto id = current.ok() ? parse_decimal(current.text) : std::nullopt;
            device.vgpu = VgpuState{};
            device.vgpu->current = !id ? 1u : static_cast<uint32_t>(std::min<uint64_t>(*id, 0xffffffffu));
        }
        scan.cdev_owners =
            resolve_held_cdevs(layout, scan.index, [&] { return std::vector<std::string>{dir}; });
        return pci_holders(layout, device, scan, addressed_interfaces(layout, !device.netdevs.empty()));
    }
    auto mdev = read_mdev(layout, object);
    if (!mdev)
        return {};
    scan.cdev_owners = resolve_held_cdevs(
        layout, scan.index, [&] { return std::vector<std::string>{layout.mdev_device(object)}; });
    return mdev_holders(*mdev, scan);
}

} // namespace hostdevd
