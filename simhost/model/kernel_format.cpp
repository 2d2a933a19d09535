// Text formats the kernel prints (uevent properties, PCI IDs) and small parsing helpers shared by the
// write handlers (kstrto*, sysfs_streq).
#include "kernel_impl.hpp"

#include <cerrno>
#include <cstdio>

namespace simhost {

std::string Uevent::get(std::string_view key) const {
    for (auto& [k, v] : properties)
        if (k == key)
            return v;
    return "";
}

std::string strip_newline(std::string_view s) {
    if (!s.empty() && s.back() == '\n')
        s.remove_suffix(1);
    return std::string(s);
}

// lib/kstrtox.c: optional "0x"/"0" prefix for base 0 (and "0x" for base 16), digits only, one trailing
// newline allowed; -EINVAL for anything else, -ERANGE when the value does not fit.
int kstrtoull(std::string_view s, unsigned base, unsigned long long max, unsigned long long& out) {
    if (!s.empty() && s.back() == '\n')
        s.remove_suffix(1);
    if (!s.empty() && s.front() == '+')
        s.remove_prefix(1);
    if (base == 0) {
        if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
            base = 16;
            s.remove_prefix(2);
        } else if (s.size() > 1 && s[0] == '0') {
            base = 8;
            s.remove_prefix(1);
        } else {
            base = 10;
        }
    } else if (base == 16 && s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s.remove_prefix(2);
    }
    if (s.empty())
        return -EINVAL;
    unsigned long long v = 0;
    bool overflow = false;
    for (char c : s) {
        unsigned d = (c >= '0' && c <= '9')   ? unsigned(c - '0')
                     : (c >= 'a' && c <= 'f') ? unsigned(c - 'a' + 10)
                     : (c >= 'A' && c <= 'F') ? unsigned(c - 'A' + 10)
                                              : 99;
        if (d >= base)
            return -EINVAL;
        if (overflow || v > (max - d) / base)
            overflow = true;
        else
            v = v * base + d;
    }
    if (overflow)
        return -ERANGE;
    out = v;
    return 0;
}

// lib/kstrtox.c kstrtobool(): looks at the first characters only: y/Y/1, n/N/0, on/of(f).
int kstrtobool(std::string_view s, bool& out) {
    if (s.empty())
        return -EINVAL;
    switch (s[0]) {
    case 'y':
    case 'Y':
    case '1':
        out = true;
        return 0;
    case 'n':
    case 'N':
    case '0':
        out = false;
        return 0;
    case 'o':
    case 'O':
        if (s.size() > 1 && (s[1] == 'n' || s[1] == 'N')) {
            out = true;
            return 0;
        }
        if (s.size() > 1 && (s[1] == 'f' || s[1] == 'F')) {
            out = false;
            return 0;
        }
        return -EINVAL;
    default:
        return -EINVAL;
    }
}

std::string parent_dir(std::string_view path) {
    auto pos = path.rfind('/');
    if (pos == 0 || pos == std::string_view::npos)
        return "/";
    return std::string(path.substr(0, pos));
}

std::string rel_link(std::string_view from_dir, std::string_view to) {
    auto split = [](std::string_view p) {
        std::vector<std::string_view> out;
        size_t i = 0;
        while (i < p.size()) {
            while (i < p.size() && p[i] == '/')
                ++i;
            size_t j = p.find('/', i);
            if (j == std::string_view::npos)
                j = p.size();
            if (j > i)
                out.push_back(p.substr(i, j - i));
            i = j;
        }
        return out;
    };
    auto a = split(from_dir), b = split(to);
    // fs/kernfs/symlink.c kernfs_get_target_path(): climb until reaching an ancestor of the target's
    // *parent*, so a link to an ancestor still ends in its name ("../../../0000:3b:00.0").
    size_t common = 0;
    while (common < a.size() && common + 1 < b.size() && a[common] == b[common])
        ++common;
    std::string out;
    for (size_t i = common; i < a.size(); ++i)
        out += "../";
    for (size_t i = common; i < b.size(); ++i) {
        out += b[i];
        if (i + 1 < b.size())
            out += '/';
    }
    if (!out.empty() && out.back() == '/')
        out.pop_back();
    return out;
}

namespace {
std::string hexf(const char* fmt, unsigned a, unsigned b = 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, fmt, a, b);
    return buf;
}
std::string modalias(const DeviceState& d) {
    // pci-sysfs.c modalias_show / pci-driver.c pci_uevent: upper-case hex.
    char buf[96];
    std::snprintf(buf, sizeof buf, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", d.vendor, d.device,
                  d.subsystem_vendor, d.subsystem_device, (d.class_code >> 16) & 0xff,
                  (d.class_code >> 8) & 0xff, d.class_code & 0xff);
    return buf;
}
} // namespace

// pci-driver.c pci_uevent(): PCI_CLASS=%04X, PCI_ID=%04X:%04X, PCI_SUBSYS_ID=%04X:%04X, PCI_SLOT_NAME,
// MODALIAS; the driver core (base/core.c dev_uevent) puts DRIVER= first when a driver is bound.
static std::vector<std::pair<std::string, std::string>> pci_props(const DeviceState& d) {
    std::vector<std::pair<std::string, std::string>> p;
    if (!d.driver.empty())
        p.emplace_back("DRIVER", d.driver);
    p.emplace_back("PCI_CLASS", hexf("%04X", d.class_code));
    p.emplace_back("PCI_ID", hexf("%04X:%04X", d.vendor, d.device));
    p.emplace_back("PCI_SUBSYS_ID", hexf("%04X:%04X", d.subsystem_vendor, d.subsystem_device));
    p.emplace_back("PCI_SLOT_NAME", d.address);
    p.emplace_back("MODALIAS", modalias(d));
    return p;
}

std::string Impl::pci_uevent_env(const DeviceState& d) const {
    std::string out;
    for (auto& [k, v] : pci_props(d))
        out += k + "=" + v + "\n";
    return out;
}

bool Impl::tagged(const DeviceState& d) const {
    // What the shipped udev rule tags: SR-IOV PFs, VFs and mdev parents.
    return d.is_vf || (d.spec && (d.spec->sriov || d.spec->mdev));
}

// lib/kobject_uevent.c kobject_uevent_env(): ACTION, DEVPATH, SUBSYSTEM, the caller's extra variables,
// then the subsystem's (dev_uevent), then SEQNUM.
Uevent Impl::pci_event(std::string_view action, const DeviceState& d,
                       std::vector<std::pair<std::string, std::string>> extra) const {
    Uevent ev;
    ev.properties = {{"ACTION", std::string(action)}, {"DEVPATH", d.dir}, {"SUBSYSTEM", "pci"}};
    for (auto& e : extra)
        ev.properties.push_back(std::move(e));
    for (auto& p : pci_props(d))
        ev.properties.push_back(std::move(p));
    if (tagged(d))
        ev.tags.push_back("hostdevd");
    return ev;
}

// net/core/net-sysfs.c netdev_uevent(): INTERFACE, IFINDEX.
Uevent Impl::net_event(std::string_view action, const NetdevState& n) const {
    Uevent ev;
    ev.properties = {{"ACTION", std::string(action)},
                     {"DEVPATH", n.dir},
                     {"SUBSYSTEM", "net"},
                     {"INTERFACE", n.name},
                     {"IFINDEX", std::to_string(n.ifindex)}};
    return ev;
}

// drivers/vfio/mdev/mdev_driver.c mdev_uevent(): MDEV_TYPE (we print the type directory name).
Uevent Impl::mdev_event(std::string_view action, const MdevState& m, bool with_driver) const {
    Uevent ev;
    const DeviceState* parent = mdev_parent(m.parent);
    ev.properties = {{"ACTION", std::string(action)},
                     {"DEVPATH", (parent ? parent->dir : std::string()) + "/" + m.uuid},
                     {"SUBSYSTEM", "mdev"}};
    if (with_driver)
        ev.properties.emplace_back("DRIVER", "vfio_mdev");
    ev.properties.emplace_back("MDEV_TYPE", m.type);
    ev.tags.push_back("hostdevd");
    return ev;
}

} // namespace simhost
