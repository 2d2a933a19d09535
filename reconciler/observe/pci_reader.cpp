#include "observe/pci_reader.hpp"

#include "sysfs/read.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>

namespace hostdevd {

namespace {

// IFF_UP from include/uapi/linux/if.h; `flags` prints "%#x" of dev->flags (net/core/net-sysfs.c).
constexpr uint64_t kIffUp = 0x1;

std::optional<uint64_t> read_hex_attr(const std::string& path) {
    TextResult r = read_attribute(path);
    return r.ok() ? parse_hex(r.text) : std::nullopt;
}

std::optional<uint64_t> read_decimal_attr(const std::string& path, const std::string& address) {
    TextResult r = read_attribute(path);
    if (!r.ok()) {
        spdlog::debug("observe: {}: cannot read {}: errno {}", address, path, r.error);
        return std::nullopt;
    }
    auto value = parse_decimal(r.text);
    if (!value)
        spdlog::debug("observe: {}: {} holds '{}', not a number", address, path, r.text);
    return value;
}

// Identity from the separate attribute files, for a tree whose modalias is missing or strange.
bool read_ids_from_attributes(const std::string& dir, PciDevice& device) {
    auto vendor = read_hex_attr(dir + "/vendor");
    auto dev = read_hex_attr(dir + "/device");
    auto cls = read_hex_attr(dir + "/class");
    if (!vendor || !dev || !cls || *vendor > 0xffff || *dev > 0xffff || *cls > 0xffffff)
        return false;
    device.vendor = static_cast<uint16_t>(*vendor);
    device.device = static_cast<uint16_t>(*dev);
    device.class_code = static_cast<uint32_t>(*cls);
    if (auto sv = read_hex_attr(dir + "/subsystem_vendor"); sv && *sv <= 0xffff)
        device.subsystem_vendor = static_cast<uint16_t>(*sv);
    if (auto sd = read_hex_attr(dir + "/subsystem_device"); sd && *sd <= 0xffff)
        device.subsystem_device = static_cast<uint16_t>(*sd);
    return true;
}

Netdev read_netdev(const std::string& net_dir, const std::string& name) {
    Netdev netdev;
    netdev.name = name;
    const std::string dir = net_dir + "/" + name;
    if (auto flags = read_hex_attr(dir + "/flags"))
        netdev.admin_up = (*flags & kIffUp) != 0;
    ListResult entries = list_directory(dir);
    bool has_master = false;
    for (const std::string& entry : entries.names) {
        if (entry.rfind("upper_", 0) == 0)
            netdev.uppers.push_back(entry.substr(6));
        else if (entry == "master")
            has_master = true;
    }
    if (has_master) {
        // A master link always comes with an upper_<master> link (net/core/dev.c
        // __netdev_adjacent_dev_insert), so with a single upper that upper is the master.
        if (netdev.uppers.size() == 1) {
            netdev.master = netdev.uppers.front();
        } else {
            TextResult master = read_link_name(dir + "/master");
            netdev.master = master.ok() ? master.text : "?";
        }
    }
    return netdev;
}

std::vector<Netdev> read_netdevs_in(const std::string& dir) {
    std::vector<Netdev> netdevs;
    const std::string net_dir = dir + "/net";
    ListResult names = list_directory(net_dir);
    for (const std::string& name : names.names)
        netdevs.push_back(read_netdev(net_dir, name));
    return netdevs;
}

std::optional<VgpuState> read_vgpu(const std::string& dir, const std::string& address) {
    TextResult creatable = read_attribute(dir + "/nvidia/creatable_vgpu_types");
    auto current = read_decimal_attr(dir + "/nvidia/current_vgpu_type", address);
    if (!creatable.ok() || !current || *current > UINT32_MAX) {
        spdlog::debug("observe: {}: nvidia/ vGPU files unreadable", address);
        return std::nullopt;
    }
    VgpuState state;
    state.creatable = parse_creatable_vgpu_types(creatable.text);
    state.current = static_cast<uint32_t>(*current);
    return state;
}

void read_sriov(const std::string& dir, const ListResult& entries, RawPciDevice& raw) {
    PciDevice& d = raw.device;
    d.is_pf = true;
    if (auto total = read_decimal_attr(dir + "/sriov_totalvfs", d.address); total && *total <= 0xffff)
        d.total_vfs = static_cast<uint32_t>(*total);
    if (auto num = read_decimal_attr(dir + "/sriov_numvfs", d.address); num && *num <= 0xffff)
        d.num_vfs = static_cast<uint32_t>(*num);
    if (entries.contains("sriov_drivers_autoprobe")) {
        // iov.c sriov_drivers_autoprobe_show prints "%u\n".
        if (auto probe = read_decimal_attr(dir + "/sriov_drivers_autoprobe", d.address))
            d.drivers_autoprobe = *probe != 0;
    }
    // Read with no VFs too: the plan names the VFs a VF-count change will create (plan/future.hpp).
    if (entries.contains("sriov_offset") && entries.contains("sriov_stride")) {
        auto offset = read_decimal_attr(dir + "/sriov_offset", d.address);
        auto stride = read_decimal_attr(dir + "/sriov_stride", d.address);
        if (offset && stride && *offset <= 0xffff && *stride <= 0xffff) {
            raw.vf_offset = static_cast<uint32_t>(*offset);
            raw.vf_stride = static_cast<uint32_t>(*stride);
            d.vf_offset = raw.vf_offset;
            d.vf_stride = raw.vf_stride;
        }
    }
    for (const std::string& entry : entries.names) {
        if (entry.rfind("virtfn", 0) != 0)
            continue;
        if (auto index = parse_decimal(std::string_view(entry).substr(6)); index && *index <= 0xffff)
            raw.virtfn_indices.push_back(static_cast<uint32_t>(*index));
    }
    std::sort(raw.virtfn_indices.begin(), raw.virtfn_indices.end());
}

} // namespace

bool parse_pci_modalias(const std::string& modalias, PciDevice& device) {
    // pci-sysfs.c modalias_show: "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X".
    std::string_view s = modalias;
    auto field = [&s](std::string_view tag, size_t digits) -> std::optional<uint64_t> {
        if (s.substr(0, tag.size()) != tag || s.size() < tag.size() + digits)
            return std::nullopt;
        auto value = parse_hex(s.substr(tag.size(), digits));
        s.remove_prefix(tag.size() + digits);
        return value;
    };
    auto vendor = field("pci:v", 8);
    auto dev = field("d", 8);
    auto sv = field("sv", 8);
    auto sd = field("sd", 8);
    auto bc = field("bc", 2);
    auto sc = field("sc", 2);
    auto pi = field("i", 2);
    if (!vendor || !dev || !sv || !sd || !bc || !sc || !pi || !s.empty())
        return false;
    if (*vendor > 0xffff || *dev > 0xffff || *sv > 0xffff || *sd > 0xffff)
        return false;
    device.vendor = static_cast<uint16_t>(*vendor);
    device.device = static_cast<uint16_t>(*dev);
    device.subsystem_vendor = static_cast<uint16_t>(*sv);
    device.subsystem_device = static_cast<uint16_t>(*sd);
    device.class_code = static_cast<uint32_t>((*bc << 16) | (*sc << 8) | *pi);
    device.modalias = modalias;
    return true;
}

std::vector<VgpuType> parse_creatable_vgpu_types(const std::string& text) {
    std::vector<VgpuType> types;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        std::string_view line(text.data() + start, end - start);
        start = end + 1;
        auto colon = line.find(':');
        if (colon == std::string_view::npos)
            continue;
        auto trim = [](std::string_view v) {
            while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
                v.remove_prefix(1);
            while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r'))
                v.remove_suffix(1);
            return v;
        };
        auto id = parse_decimal(trim(line.substr(0, colon)));
        auto name = trim(line.substr(colon + 1));
        if (!id || *id == 0 || *id > UINT32_MAX || name.empty())
            continue;
        types.push_back({static_cast<uint32_t>(*id), std::string(name)});
    }
    return types;
}

std::vector<MdevType> read_mdev_types(const std::string& parent_dir) {
    std::vector<MdevType> types;
    const std::string types_dir = parent_dir + "/mdev_supported_types";
    ListResult ids = list_directory(types_dir);
    for (const std::string& id : ids.names) {
        const std::string dir = types_dir + "/" + id;
        MdevType type;
        type.id = id;
        // `name` falls back to the sysfs name in mdev_sysfs.c name_show; device_api and
        // available_instances are mandatory (Documentation/ABI/testing/sysfs-bus-vfio-mdev).
        TextResult name = read_attribute(dir + "/name");
        type.name = name.ok() ? name.text : id;
        TextResult api = read_attribute(dir + "/device_api");
        TextResult available = read_attribute(dir + "/available_instances");
        auto count = available.ok() ? parse_decimal(available.text) : std::nullopt;
        if (!api.ok() || !count || *count > UINT32_MAX) {
            spdlog::debug("observe: mdev type {}: device_api/available_instances unreadable, skipped", dir);
            continue;
        }
        type.device_api = api.text;
        type.available = static_cast<uint32_t>(*count);
        type.devices = list_directory(dir + "/devices").names;
        types.push_back(std::move(type));
    }
    return types;
}

std::vector<Netdev> read_netdevs(const SysfsLayout& layout, const std::string& address) {
    return read_netdevs_in(layout.pci_device(address));
}

std::optional<RawPciDevice> read_pci_device(const SysfsLayout& layout, const std::string& address) {
    // Opened once: every read below is one lookup relative to the device directory (SysfsDir).
    const SysfsDir device_dir(layout.pci_device(address));
    const std::string& dir = device_dir.path();
    ListResult entries = device_dir.list();
    if (!entries.ok()) {
        spdlog::debug("observe: {}: cannot list {}: errno {}", address, dir, entries.error);
        return std::nullopt;
    }
    RawPciDevice raw;
    PciDevice& d = raw.device;
    d.address = address;
    d.id_path = "pci-" + address;

    TextResult modalias = device_dir.read_attribute("modalias");
    if (!modalias.ok() || !parse_pci_modalias(modalias.text, d)) {
        spdlog::debug("observe: {}: modalias unreadable or malformed, trying vendor/device/class", address);
        if (!read_ids_from_attributes(dir, d)) {
            spdlog::debug("observe: {}: identity unreadable, device skipped", address);
            return std::nullopt;
        }
    }
    if (entries.contains("driver")) {
        TextResult driver = device_dir.read_link_name("driver");
        if (driver.ok())
            d.driver = driver.text; // ENOENT: unbound between the listing and now
    }
    d.has_driver_override = entries.contains("driver_override");
    if (d.has_driver_override) {
        // pci-sysfs.c driver_override_show prints "(null)" when unset.
        TextResult ovr = device_dir.read_attribute("driver_override");
        if (ovr.ok() && ovr.text != "(null)")
            d.driver_override = ovr.text;
    }
    if (entries.contains("iommu_group")) {
        TextResult group = device_dir.read_link_name("iommu_group");
        auto number = group.ok() ? parse_decimal(group.text) : std::nullopt;
        if (number && *number <= 0x7fffffff)
            d.iommu_group = static_cast<int>(*number);
    }
    raw.has_physfn = entries.contains("physfn");
    raw.has_vfio_dev = entries.contains("vfio-dev");
    if (entries.contains("sriov_totalvfs"))
        read_sriov(dir, entries, raw);
    if (entries.contains("net"))
        d.netdevs = read_netdevs_in(dir);
    if (entries.contains("nvidia"))
        d.vgpu = read_vgpu(dir, address);
    if (entries.contains("mdev_supported_types"))
        d.mdev_types = read_mdev_types(dir);
    return raw;
}

} // namespace hostdevd
