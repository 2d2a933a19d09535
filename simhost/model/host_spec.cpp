// Strict TOML reader for host descriptions. Every error names the file, line and column of the offending
// key or value (toml++ source regions), and nothing is returned unless the whole file is valid.
#include "host_spec.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace simhost {

std::optional<PciAddr> PciAddr::parse(std::string_view text) {
    // DDDD:BB:DD.F exactly, as the kernel names PCI devices.
    if (text.size() != 12 || text[4] != ':' || text[7] != ':' || text[10] != '.')
        return std::nullopt;
    auto hex = [&](size_t pos, size_t len, uint32_t& out) {
        out = 0;
        for (size_t i = pos; i < pos + len; ++i) {
            char c = text[i];
            int v = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (v < 0)
                return false;
            out = out * 16 + static_cast<uint32_t>(v);
        }
        return true;
    };
    PciAddr a;
    if (!hex(0, 4, a.domain) || !hex(5, 2, a.bus) || !hex(8, 2, a.dev) || !hex(11, 1, a.fn))
        return std::nullopt;
    if (a.dev > 31 || a.fn > 7)
        return std::nullopt;
    return a;
}

std::string PciAddr::str() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
    return buf;
}

bool PciIdMatch::matches(uint32_t v, uint32_t d, uint32_t sv, uint32_t sd, uint32_t cls) const {
    // pci_match_one_device() in drivers/pci/pci.h: each field equal or PCI_ANY_ID, class under mask.
    return (vendor == kAny || vendor == v) && (device == kAny || device == d) &&
           (subvendor == kAny || subvendor == sv) && (subdevice == kAny || subdevice == sd) &&
           ((cls ^ class_code) & class_mask) == 0;
}

PciAddr vf_address(const PciAddr& pf, unsigned offset, unsigned stride, unsigned index) {
    uint32_t rid = (pf.bus << 8 | pf.devfn()) + offset + stride * index;
    PciAddr vf;
    vf.domain = pf.domain;
    vf.bus = rid >> 8;
    vf.dev = (rid & 0xff) >> 3;
    vf.fn = rid & 7;
    return vf;
}

const DeviceSpec* HostSpec::find_device(std::string_view address) const {
    for (auto& d : devices)
        if (d.address == address)
            return &d;
    return nullptr;
}
const DriverSpec* HostSpec::find_driver(std::string_view n) const {
    for (auto& d : drivers)
        if (d.name == n)
            return &d;
    return nullptr;
}
const ModuleSpec* HostSpec::find_module(std::string_view n) const {
    for (auto& m : modules)
        if (m.name == n)
            return &m;
    return nullptr;
}

namespace {

class Parser {
public:
    explicit Parser(std::string file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const toml::source_region& where, const std::string& msg) const {
        std::ostringstream os;
        os << file_ << ':' << where.begin.line << ':' << where.begin.column << ": " << msg;
        throw HostSpecError(os.str());
    }
    [[noreturn]] void fail(const toml::node& n, const std::string& msg) const { fail(n.source(), msg); }

    // Rejects keys not in `allowed`, pointing at the key itself.
    void only_keys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                   const std::string& what) const {
        for (auto&& [k, v] : t) {
            if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end())
                fail(k.source(), "unknown key '" + std::string(k.str()) + "' in " + what);
        }
    }

    const toml::node* get(const toml::table& t, std::string_view key) const { return t.get(key); }

    std::string str(const toml::table& t, std::string_view key, std::string def,
                    bool required = false) const {
        auto* n = t.get(key);
        if (!n) {
            if (required)
                fail(t, "missing required key '" + std::string(key) + "'");
            return def;
        }
        if (!n->is_string())
            fail(*n, "'" + std::string(key) + "' must be a string");
        return std::string(*n->as_string());
    }
    bool boolean(const toml::table& t, std::string_view key, bool def) const {
        auto* n = t.get(key);
        if (!n)
            return def;
        if (!n->is_boolean())
            fail(*n, "'" + std::string(key) + "' must be a boolean");
        return **n->as_boolean();
    }
    int64_t integer(const toml::table& t, std::string_view key, int64_t def, int64_t lo, int64_t hi,
                    bool required = false) const {
        auto* n = t.get(key);
        if (!n) {
            if (required)
                fail(t, "missing required key '" + std::string(key) + "'");
            return def;
        }
        if (!n->is_integer())
            fail(*n, "'" + std::string(key) + "' must be an integer");
        int64_t v = **n->as_integer();
        if (v < lo || v > hi)
            fail(*n, "'" + std::string(key) + "' = " + std::to_string(v) + " is out of range [" +
                         std::to_string(lo) + ", " + std::to_string(hi) + "]");
        return v;
    }
    std::vector<std::string> strings(const toml::table& t, std::string_view key) const {
        std::vector<std::string> out;
        auto* n = t.get(key);
        if (!n)
            return out;
        auto* arr = n->as_array();
        if (!arr)
            fail(*n, "'" + std::string(key) + "' must be an array of strings");
        for (auto& e : *arr) {
            if (!e.is_string())
                fail(e, "'" + std::string(key) + "' must contain only strings");
            out.emplace_back(*e.as_string());
        }
        return out;
    }
    // [[name]] arrays of tables; a single [name] table is a type error.
    std::vector<const toml::table*> tables(const toml::table& t, std::string_view key) const {
        std::vector<const toml::table*> out;
        auto* n = t.get(key);
        if (!n)
            return out;
        auto* arr = n->as_array();
        if (!arr)
            fail(*n, "'" + std::string(key) + "' must be an array of tables ([[" + std::string(key) + "]])");
        for (auto& e : *arr) {
            if (!e.is_table())
                fail(e, "'" + std::string(key) + "' must contain only tables");
            out.push_back(e.as_table());
        }
        return out;
    }
    const toml::table* table(const toml::table& t, std::string_view key) const {
        auto* n = t.get(key);
        if (!n)
            return nullptr;
        if (!n->is_table())
            fail(*n, "'" + std::string(key) + "' must be a table ([..." + std::string(key) + "])");
        return n->as_table();
    }

    PciIdMatch id_match(const toml::node& n) const {
        // "vvvv:dddd" or "vvvv:dddd:ssvv:ssdd"; "*" is PCI_ANY_ID.
        std::string s(*n.as_string());
        std::vector<std::string> parts;
        std::stringstream ss(s);
        for (std::string p; std::getline(ss, p, ':');)
            parts.push_back(p);
        if (parts.size() != 2 && parts.size() != 4)
            fail(n, "PCI ID '" + s + "' must be \"vvvv:dddd\" or \"vvvv:dddd:svvv:sddd\"");
        uint32_t f[4] = {PciIdMatch::kAny, PciIdMatch::kAny, PciIdMatch::kAny, PciIdMatch::kAny};
        for (size_t i = 0; i < parts.size(); ++i) {
            if (parts[i] == "*")
                continue;
            char* end = nullptr;
            unsigned long v = std::strtoul(parts[i].c_str(), &end, 16);
            if (parts[i].size() != 4 || *end != '\0' || v > 0xffff)
                fail(n, "PCI ID '" + s + "': field '" + parts[i] + "' is not 4 hex digits or *");
            f[i] = static_cast<uint32_t>(v);
        }
        return {f[0], f[1], f[2], f[3], 0, 0};
    }
    std::vector<PciIdMatch> id_list(const toml::table& t, std::string_view key) const {
        std::vector<PciIdMatch> out;
        auto* n = t.get(key);
        if (!n)
            return out;
        auto* arr = n->as_array();
        if (!arr)
            fail(*n, "'" + std::string(key) + "' must be an array of \"vvvv:dddd\" strings");
        for (auto& e : *arr) {
            if (!e.is_string())
                fail(e, "'" + std::string(key) + "' must contain only strings");
            out.push_back(id_match(e));
        }
        return out;
    }

    std::string file_;
};

int errno_by_name(std::string_view n) {
    static const std::map<std::string_view, int> names = {{"EINVAL", 22}, {"ENODEV", 19}, {"EIO", 5},
                                                          {"EBUSY", 16},  {"ENXIO", 6},   {"EPERM", 1},
                                                          {"ENOMEM", 12}};
    auto it = names.find(n);
    return it == names.end() ? 0 : it->second;
}

DriverSpec parse_driver(const Parser& p, const toml::table& t) {
    p.only_keys(t,
                {"name", "module", "ids", "override_only", "sriov_configure", "creates_netdev", "mdev_parent",
                 "vendor_vgpu", "deny", "deny_errno"},
                "[[driver]]");
    DriverSpec d;
    d.name = p.str(t, "name", "", true);
    if (d.name.empty() || d.name.find('/') != std::string::npos)
        p.fail(*t.get("name"), "driver name must be non-empty and contain no '/'");
    // KBUILD_MODNAME uses underscores; most drivers' .name equals it.
    std::string def_module = d.name;
    std::replace(def_module.begin(), def_module.end(), '-', '_');
    d.module = p.str(t, "module", def_module);
    d.ids = p.id_list(t, "ids");
    d.override_only = p.boolean(t, "override_only", false);
    d.sriov_configure = p.boolean(t, "sriov_configure", false);
    d.creates_netdev = p.boolean(t, "creates_netdev", false);
    d.mdev_parent = p.boolean(t, "mdev_parent", false);
    d.vendor_vgpu = p.boolean(t, "vendor_vgpu", false);
    d.deny = p.id_list(t, "deny");
    if (auto* n = t.get("deny_errno")) {
        std::string e = p.str(t, "deny_errno", "");
        d.deny_errno = errno_by_name(e);
        if (!d.deny_errno)
            p.fail(*n, "deny_errno '" + e + "' is not one of EINVAL ENODEV EIO EBUSY ENXIO EPERM ENOMEM");
    }
    return d;
}

ModuleSpec parse_module(const Parser& p, const toml::table& t) {
    p.only_keys(t, {"name", "loaded", "aliases"}, "[[module]]");
    ModuleSpec m;
    m.name = p.str(t, "name", "", true);
    m.loaded = p.boolean(t, "loaded", true);
    m.aliases = p.strings(t, "aliases");
    auto* arr = t.get("aliases") ? t.get("aliases")->as_array() : nullptr;
    for (size_t i = 0; i < m.aliases.size(); ++i) {
        const auto& a = m.aliases[i];
        if (a.find(' ') != std::string::npos || a.find(':') == std::string::npos)
            p.fail(*arr->get(i),
                   "alias '" + a + "' must be a single pattern such as \"vfio_pci:v*d*sv*sd*bc*sc*i*\"");
    }
    return m;
}

SriovSpec parse_sriov(const Parser& p, const toml::table& t) {
    p.only_keys(t,
                {"totalvfs", "offset", "stride", "vf_device", "numvfs", "autoprobe", "vf_driver",
                 "vf_iommu_group_base", "vf_netdev"},
                "[device.sriov]");
    SriovSpec s;
    s.totalvfs = static_cast<unsigned>(p.integer(t, "totalvfs", 0, 1, 65535, true));
    s.offset = static_cast<unsigned>(p.integer(t, "offset", 0, 1, 65535, true));
    s.stride = static_cast<unsigned>(p.integer(t, "stride", 1, 1, 65535));
    s.vf_device = static_cast<uint32_t>(p.integer(t, "vf_device", 0, 0, 0xffff, true));
    s.numvfs = static_cast<unsigned>(p.integer(t, "numvfs", 0, 0, 65535));
    if (s.numvfs > s.totalvfs)
        p.fail(*t.get("numvfs"), "numvfs exceeds totalvfs");
    s.autoprobe = p.boolean(t, "autoprobe", true);
    s.vf_driver = p.str(t, "vf_driver", "");
    s.vf_iommu_group_base = static_cast<int>(p.integer(t, "vf_iommu_group_base", -1, 0, 1 << 20));
    s.vf_netdev = p.str(t, "vf_netdev", "{pf}v{index}");
    return s;
}

// `table` is "device.mdev" or "mdev_parent.mdev", for messages.
MdevSpec parse_mdev(const Parser& p, const toml::table& t, const std::string& table = "device.mdev") {
    const std::string header = "[" + table + "]";
    p.only_keys(t, {"capacity", "single_type", "full_errno", "type"}, header);
    MdevSpec m;
    m.capacity = static_cast<unsigned>(p.integer(t, "capacity", 0, 0, 1 << 20));
    m.single_type = p.boolean(t, "single_type", false);
    if (auto* n = t.get("full_errno")) {
        std::string e = p.str(t, "full_errno", "");
        m.full_errno = e == "EUSERS" ? 87 : e == "ENOSPC" ? 28 : 0;
        if (!m.full_errno)
            p.fail(*n, "full_errno must be \"EUSERS\" or \"ENOSPC\"");
    }
    std::set<std::string> ids;
    for (auto* tt : p.tables(t, "type")) {
        p.only_keys(*tt, {"id", "name", "description", "device_api", "max", "cost"},
                    "[[" + table + ".type]]");
        MdevTypeSpec ty;
        ty.id = p.str(*tt, "id", "", true);
        if (ty.id.empty() || ty.id.find('/') != std::string::npos)
            p.fail(*tt->get("id"), "mdev type id must be non-empty and contain no '/'");
        if (!ids.insert(ty.id).second)
            p.fail(*tt->get("id"), "duplicate mdev type id '" + ty.id + "'");
        ty.name = p.str(*tt, "name", ty.id);
        if (tt->get("description"))
            ty.description = p.str(*tt, "description", "");
        ty.device_api = p.str(*tt, "device_api", "vfio-pci");
        ty.max = static_cast<unsigned>(p.integer(*tt, "max", 1, 1, 1 << 20, true));
        ty.cost = static_cast<unsigned>(p.integer(*tt, "cost", 1, 1, 1 << 20));
        if (m.capacity && ty.cost > m.capacity)
            p.fail(*tt, "mdev type '" + ty.id + "' cost exceeds the parent's capacity");
        m.types.push_back(std::move(ty));
    }
    if (m.types.empty())
        p.fail(t, header + " needs at least one [[" + table + ".type]]");
    return m;
}

VgpuSpec parse_vgpu(const Parser& p, const toml::table& t) {
    p.only_keys(t, {"capacity", "profile"}, "[device.vgpu]");
    VgpuSpec v;
    v.capacity = static_cast<unsigned>(p.integer(t, "capacity", 0, 1, 1 << 20, true));
    std::set<unsigned> ids;
    for (auto* tt : p.tables(t, "profile")) {
        p.only_keys(*tt, {"id", "name", "max"}, "[[device.vgpu.profile]]");
        VgpuProfileSpec pr;
        pr.id = static_cast<unsigned>(p.integer(*tt, "id", 0, 1, 1 << 30, true));
        if (!ids.insert(pr.id).second)
            p.fail(*tt->get("id"), "duplicate vGPU profile id " + std::to_string(pr.id));
        pr.name = p.str(*tt, "name", "", true);
        pr.max = static_cast<unsigned>(p.integer(*tt, "max", 1, 1, 1 << 20, true));
        if (pr.max > v.capacity || v.capacity % pr.max != 0)
            p.fail(*tt->get("max"),
                   "vGPU profile max must divide the GPU's capacity " + std::to_string(v.capacity));
        v.profiles.push_back(std::move(pr));
    }
    if (v.profiles.empty())
        p.fail(t, "[device.vgpu] needs at least one [[device.vgpu.profile]]");
    return v;
}

DeviceSpec parse_device(const Parser& p, const toml::table& t) {
    p.only_keys(t,
                {"address", "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
                 "driver", "iommu_group", "parent", "netdevs", "present", "numa_node", "irq", "sriov", "mdev",
                 "vgpu"},
                "[[device]]");
    DeviceSpec d;
    d.address = p.str(t, "address", "", true);
    auto addr = PciAddr::parse(d.address);
    if (!addr || addr->str() != d.address)
        p.fail(*t.get("address"), "address '" + d.address + "' is not a lower-case DDDD:BB:DD.F PCI address");
    d.addr = *addr;
    d.vendor = static_cast<uint32_t>(p.integer(t, "vendor", 0, 0, 0xfffe, true));
    d.device = static_cast<uint32_t>(p.integer(t, "device", 0, 0, 0xffff, true));
    d.subsystem_vendor = static_cast<uint32_t>(p.integer(t, "subsystem_vendor", d.vendor, 0, 0xffff));
    d.subsystem_device = static_cast<uint32_t>(p.integer(t, "subsystem_device", 0, 0, 0xffff));
    d.class_code = static_cast<uint32_t>(p.integer(t, "class", 0, 0, 0xffffff, true));
    d.revision = static_cast<uint32_t>(p.integer(t, "revision", 0, 0, 0xff));
    d.driver = p.str(t, "driver", "");
    d.iommu_group = static_cast<int>(p.integer(t, "iommu_group", -1, 0, 1 << 20));
    d.parent = p.str(t, "parent", "");
    d.netdevs = p.strings(t, "netdevs");
    for (auto& n : d.netdevs)
        if (n.empty() || n.size() > 15 || n.find('/') != std::string::npos)
            p.fail(*t.get("netdevs"),
                   "netdev name '" + n + "' must be 1-15 characters without '/' (IFNAMSIZ)");
    d.present = p.boolean(t, "present", true);
    d.numa_node = static_cast<int>(p.integer(t, "numa_node", -1, -1, 1024));
    d.irq = static_cast<unsigned>(p.integer(t, "irq", 0, 0, 1 << 20));
    if (auto* s = p.table(t, "sriov"))
        d.sriov = parse_sriov(p, *s);
    if (auto* m = p.table(t, "mdev"))
        d.mdev = parse_mdev(p, *m);
    if (auto* v = p.table(t, "vgpu"))
        d.vgpu = parse_vgpu(p, *v);
    if (d.vgpu && !d.sriov)
        p.fail(*t.get("vgpu"), "[device.vgpu] profiles live on VFs: the device needs [device.sriov]");
    return d;
}

// Drivers every host has: vfio-pci (vfio_pci.c: one override_only entry matching everything, so it never
// auto-binds) and pcieport for bridges (built in).
void add_builtin_drivers(HostSpec& h) {
    if (!h.find_driver("vfio-pci")) {
        DriverSpec v;
        v.name = "vfio-pci";
        v.module = "vfio_pci";
        v.ids = {PciIdMatch{}};
        v.override_only = true;
        v.sriov_configure = false; // vfio_pci_sriov_configure returns -ENOENT without enable_sriov=1
        h.drivers.push_back(v);
    }
    if (!h.find_driver("pcieport")) {
        DriverSpec b;
        b.name = "pcieport";
        b.module = "";
        h.drivers.push_back(b);
    }
    if (!h.find_module("vfio_pci"))
        h.modules.push_back({"vfio_pci", true, {"vfio_pci:v*d*sv*sd*bc*sc*i*"}});
}

void validate(const Parser& p, const toml::table& root, HostSpec& h) {
    auto device_tables = p.tables(root, "device");
    auto where = [&](size_t i, std::string_view key) -> const toml::node& {
        auto* n = device_tables[i]->get(key);
        return n ? *n : *device_tables[i];
    };
    std::map<std::string, size_t> taken; // address -> device index (PFs, their possible VFs)
    for (size_t i = 0; i < h.devices.size(); ++i) {
        auto& d = h.devices[i];
        if (!taken.emplace(d.address, i).second)
            p.fail(where(i, "address"), "duplicate device address " + d.address);
    }
    std::set<std::string> netdevs;
    for (size_t i = 0; i < h.devices.size(); ++i) {
        auto& d = h.devices[i];
        if (!d.driver.empty()) {
            auto* drv = h.find_driver(d.driver);
            if (!drv)
                p.fail(where(i, "driver"), "driver '" + d.driver + "' is not declared in a [[driver]] table");
            auto* mod = drv->module.empty() ? nullptr : h.find_module(drv->module);
            if (mod && !mod->loaded)
                p.fail(where(i, "driver"), "driver '" + d.driver + "' belongs to module '" + mod->name +
                                               "', which is not loaded");
        }
        if (!d.parent.empty()) {
            auto* par = h.find_device(d.parent);
            if (!par)
                p.fail(where(i, "parent"), "parent '" + d.parent + "' is not a device in this file");
            if (!par->is_bridge())
                p.fail(where(i, "parent"), "parent '" + d.parent + "' is not a PCI bridge (class 0x0604xx)");
            if (&*par == &d)
                p.fail(where(i, "parent"), "a device cannot be its own parent");
        }
        for (auto& n : d.netdevs)
            if (!netdevs.insert(n).second)
                p.fail(where(i, "netdevs"), "netdev name '" + n + "' is used twice");
        if (d.sriov) {
            auto& s = *d.sriov;
            if (!s.vf_driver.empty() && !h.find_driver(s.vf_driver))
                p.fail(where(i, "sriov"),
                       "vf_driver '" + s.vf_driver + "' is not declared in a [[driver]] table");
            for (unsigned vf = 0; vf < s.totalvfs; ++vf) {
                PciAddr a = vf_address(d.addr, s.offset, s.stride, vf);
                if (a.bus > 0xff)
                    p.fail(where(i, "sriov"), "VF " + std::to_string(vf) + " would be beyond bus ff");
                auto [it, fresh] = taken.emplace(a.str(), i);
                if (!fresh)
                    p.fail(where(i, "sriov"), "VF " + std::to_string(vf) + " address " + a.str() +
                                                  " collides with " + h.devices[it->second].address);
            }
            if (s.numvfs > 0) {
                auto* drv = h.find_driver(d.driver);
                if (!drv || !drv->sriov_configure)
                    p.fail(where(i, "sriov"),
                           "numvfs > 0 at start needs a bound PF driver with sriov_configure");
            }
        }
    }
    // VF IDs join their driver's static table (documented in docs/simhost-hosts.md).
    for (auto& d : h.devices) {
        if (d.sriov && !d.sriov->vf_driver.empty()) {
            for (auto& drv : h.drivers) {
                if (drv.name != d.sriov->vf_driver)
                    continue;
                PciIdMatch m{d.vendor, d.sriov->vf_device, PciIdMatch::kAny, PciIdMatch::kAny, 0, 0};
                bool known = std::any_of(drv.ids.begin(), drv.ids.end(), [&](const PciIdMatch& x) {
                    return x.vendor == m.vendor && x.device == m.device;
                });
                if (!known)
                    drv.ids.push_back(m);
            }
        }
    }
}

MdevParentSpec parse_mdev_parent(const Parser& p, const toml::table& t, const HostSpec& h) {
    p.only_keys(t, {"name", "class", "module", "mdev"}, "[[mdev_parent]]");
    MdevParentSpec m;
    m.name = p.str(t, "name", "", true);
    if (m.name.empty() || m.name.find('/') != std::string::npos || m.name == "." || m.name == "..")
        p.fail(*t.get("name"), "mdev parent name must be a sysfs name (no '/')");
    if (m.name.find(':') != std::string::npos)
        p.fail(*t.get("name"), "mdev parent name '" + m.name +
                                   "' looks like a PCI address; PCI parents are "
                                   "[[device]] tables with [device.mdev]");
    m.cls = p.str(t, "class", m.name);
    if (m.cls.empty() || m.cls.find('/') != std::string::npos)
        p.fail(*t.get("class"), "mdev parent class must be a sysfs name (no '/')");
    m.module = p.str(t, "module", "");
    if (!m.module.empty() && !h.find_module(m.module))
        p.fail(*t.get("module"), "module '" + m.module + "' is not declared in a [[module]] table");
    m.device.address = m.name;
    if (auto* mdev = p.table(t, "mdev"))
        m.device.mdev = parse_mdev(p, *mdev, "mdev_parent.mdev");
    else
        p.fail(t, "[[mdev_parent]] needs an [mdev_parent.mdev] table with its types");
    return m;
}

HostSpec parse_root(const Parser& p, const toml::table& root, const std::string& name) {
    p.only_keys(root, {"host", "device", "driver", "module", "mdev_parent"}, "the top level");
    HostSpec h;
    h.source = name;
    if (auto* host = p.table(root, "host")) {
        p.only_keys(*host, {"name", "local_cpulist", "vfio_cdev"}, "[host]");
        h.name = p.str(*host, "name", "");
        h.local_cpulist = p.str(*host, "local_cpulist", "0-15");
        h.vfio_cdev = p.boolean(*host, "vfio_cdev", false);
    }
    std::set<std::string> names;
    for (auto* t : p.tables(root, "module")) {
        h.modules.push_back(parse_module(p, *t));
        if (!names.insert(h.modules.back().name).second)
            p.fail(*t->get("name"), "duplicate module '" + h.modules.back().name + "'");
    }
    names.clear();
    for (auto* t : p.tables(root, "driver")) {
        h.drivers.push_back(parse_driver(p, *t));
        if (!names.insert(h.drivers.back().name).second)
            p.fail(*t->get("name"), "duplicate driver '" + h.drivers.back().name + "'");
    }
    add_builtin_drivers(h);
    // A driver's module that no [[module]] declares is an ordinary loaded module.
    for (auto& d : h.drivers)
        if (!d.module.empty() && !h.find_module(d.module))
            h.modules.push_back({d.module, true, {}});
    for (auto* t : p.tables(root, "device"))
        h.devices.push_back(parse_device(p, *t));
    names.clear();
    for (auto* t : p.tables(root, "mdev_parent")) {
        h.mdev_parents.push_back(parse_mdev_parent(p, *t, h));
        if (!names.insert(h.mdev_parents.back().name).second)
            p.fail(*t->get("name"), "duplicate mdev parent '" + h.mdev_parents.back().name + "'");
    }
    validate(p, root, h);
    return h;
}

} // namespace

HostSpec parse_host_spec(std::string_view text, const std::string& name) {
    Parser p(name);
    toml::table root;
    try {
        root = toml::parse(text, name);
    } catch (const toml::parse_error& e) {
        p.fail(e.source(), std::string(e.description()));
    }
    return parse_root(p, root, name);
}

HostSpec load_host_spec(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw HostSpecError(path + ":0:0: cannot open host description");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_host_spec(ss.str(), path);
}

} // namespace simhost
