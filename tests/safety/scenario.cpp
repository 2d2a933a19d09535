#include "scenario.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

namespace safety {
namespace {

namespace fs = std::filesystem;

bool chance(Rng& rng, double p) {
    return std::uniform_real_distribution<double>(0, 1)(rng) < p;
}
unsigned pick(Rng& rng, unsigned lo, unsigned hi) { // inclusive
    return std::uniform_int_distribution<unsigned>(lo, hi)(rng);
}
template <typename T>
const T& one_of(Rng& rng, const std::vector<T>& items) {
    return items[pick(rng, 0, unsigned(items.size() - 1))];
}

// PFs hostdevd can size: present at start with a driver that implements sriov_configure.
std::vector<const simhost::DeviceSpec*> sizable_pfs(const simhost::HostSpec& host) {
    std::vector<const simhost::DeviceSpec*> out;
    for (const auto& d : host.devices) {
        if (!d.sriov || !d.present || d.driver.empty())
            continue;
        const auto* drv = host.find_driver(d.driver);
        if (drv && drv->sriov_configure)
            out.push_back(&d);
    }
    return out;
}

std::vector<std::string> vf_addresses(const simhost::DeviceSpec& pf, unsigned count) {
    std::vector<std::string> out;
    for (unsigned i = 0; i < count; ++i)
        out.push_back(simhost::vf_address(pf.addr, pf.sriov->offset, pf.sriov->stride, i).str());
    return out;
}

std::string vf_section(const simhost::DeviceSpec& pf, unsigned first, unsigned last, Rng& rng) {
    std::ostringstream s;
    s << "[[pf.vf]]\nindex = \"" << first << "-" << last << "\"\n";
    if (pf.vgpu) {
        s << "vgpu = \"" << one_of(rng, pf.vgpu->profiles).name << "\"\n";
        return s.str();
    }
    std::vector<std::string> choices = {"driver = \"vfio-pci\"", "driver = \"vfio\"", "managed = true"};
    if (!pf.sriov->vf_driver.empty())
        choices.push_back("driver = \"" + pf.sriov->vf_driver + "\"");
    s << one_of(rng, choices) << "\n";
    return s.str();
}

// "8086" as a configuration writes vendor and device IDs.
std::string hex_id(uint32_t id) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", id);
    return buf;
}

std::string ids_match(const simhost::DeviceSpec& d) {
    return "{ vendor = \"" + hex_id(d.vendor) + "\", device = \"" + hex_id(d.device) + "\" }";
}

// Whole devices a [[device]] entry may bind: bound to a driver at start, neither bridges nor SR-IOV PFs
// (GPUs, their audio functions, NVMe drives).
std::vector<const simhost::DeviceSpec*> whole_devices(const simhost::HostSpec& host) {
    std::vector<const simhost::DeviceSpec*> out;
    for (const auto& d : host.devices)
        if (d.present && !d.driver.empty() && !d.sriov && !d.is_bridge() && !d.mdev)
            out.push_back(&d);
    return out;
}

} // namespace

RandomConfig random_config(const simhost::HostSpec& host, Rng& rng) {
    std::ostringstream s;
    s << "version = 1\n";
    // The destroy policies (issue 16): [policy] unset (= "ask"), "ask" or "when-idle"; each entry
    // unset (= [policy]'s), "ask" or "when-idle".
    const unsigned global = pick(rng, 0, 2);
    if (global > 0)
        s << "\n[policy]\ndestroy = \"" << (global == 2 ? "when-idle" : "ask") << "\"\n";
    auto entry_policy = [&](std::ostringstream& out) {
        const unsigned own = pick(rng, 0, 2);
        if (own > 0)
            out << "destroy = \"" << (own == 2 ? "when-idle" : "ask") << "\"\n";
        return own == 2 || (own == 0 && global == 2);
    };
    std::map<std::string, std::vector<bool>> selected_by; // address -> when-idle of each selecting entry
    std::set<std::string> ids_used; // a match by IDs selects every PF with them: one entry per pair
    for (const auto* pf : sizable_pfs(host)) {
        if (!chance(rng, 0.75))
            continue;
        const unsigned total = std::min(pf->sriov->totalvfs, 6u);
        const unsigned n = pick(rng, 0, total);
        // By IDs now and then: VFs may carry the PF's device ID (GPUs, QEMU's NVMe), and a [[pf]] entry
        // must still select the PF alone.
        if (chance(rng, 0.25) && ids_used.insert(ids_match(*pf)).second) {
            s << "\n[[pf]]\nmatch = " << ids_match(*pf) << "\n";
            const bool when_idle = entry_policy(s);
            for (const auto& d : host.devices) // the entry selects every PF with these IDs
                if (d.sriov && d.vendor == pf->vendor && d.device == pf->device)
                    selected_by[d.address].push_back(when_idle);
        } else {
            s << "\n[[pf]]\nmatch = { address = \"" << pf->address << "\" }\n";
            selected_by[pf->address].push_back(entry_policy(s));
        }
        if (n > 0 && chance(rng, 0.2))
            s << "vfs = { min = " << n << " }\n";
        else
            s << "vfs = " << n << "\n";
        if (chance(rng, 0.5))
            s << "autoprobe = " << (chance(rng, 0.5) ? "true" : "false") << "\n";
        if (n == 0)
            continue;
        // Up to two index ranges, each with its own driver choice.
        const unsigned split = pick(rng, 0, n - 1);
        if (split > 0 && chance(rng, 0.5)) {
            s << vf_section(*pf, 0, split - 1, rng);
            s << vf_section(*pf, split, n - 1, rng);
        } else if (chance(rng, 0.8)) {
            s << vf_section(*pf, 0, n - 1, rng);
        }
    }
    // Whole devices to VFIO or back (an IOMMU group shared with a function left on its host driver makes
    // the binding blocked), and now and then a [[device]] by a PF's IDs, which leaves that PF alone when
    // a [[pf]] entry manages it.
    const std::vector<std::string> drivers = {"driver = \"vfio-pci\"", "driver = \"vfio\"",
                                              "driver = \"none\""};
    for (const auto* d : whole_devices(host))
        if (chance(rng, 0.4))
            s << "\n[[device]]\nmatch = { address = \"" << d->address << "\" }\n"
              << (chance(rng, 0.2) ? "driver = \"" + d->driver + "\"" : one_of(rng, drivers)) << "\n";
    if (const auto pfs = sizable_pfs(host); !pfs.empty() && chance(rng, 0.2))
        s << "\n[[device]]\nmatch = " << ids_match(*one_of(rng, pfs)) << "\n" << one_of(rng, drivers) << "\n";
    for (const auto& d : host.devices) {
        if (!d.mdev || !d.present || d.mdev->types.empty() || !chance(rng, 0.7))
            continue;
        const auto& type = one_of(rng, d.mdev->types);
        s << "\n[[mdev]]\nparent = { address = \"" << d.address << "\" }\ntype = \"" << type.id
          << "\"\ncount = " << pick(rng, 0, std::min(type.max, 3u)) << "\n";
        selected_by[d.address].push_back(entry_policy(s));
    }
    RandomConfig out;
    out.text = s.str();
    out.global_when_idle = global == 2;
    for (const auto& [address, when_idle] : selected_by)
        if (std::all_of(when_idle.begin(), when_idle.end(), [](bool w) { return w; }))
            out.may_destroy.insert(address);
    return out;
}

const std::vector<std::string>& kernel_write_errnos() {
    // sriov_numvfs: EINVAL ERANGE ENOENT EBUSY ENOMEM EIO (driver's sriov_configure); bind/unbind/
    // drivers_probe: ENODEV EBUSY EINVAL ENOMEM ENOSPC EPROBE_DEFER's caller-visible forms; driver_override:
    // EINVAL ENOMEM ENODEV; mdev create: EINVAL EEXIST EUSERS ENOSPC; remove: ENODEV; vGPU: EBUSY EINVAL.
    static const std::vector<std::string> all = {"EINVAL", "ERANGE", "ENOENT", "EBUSY",  "ENOMEM", "EIO",
                                                 "ENODEV", "ENOSPC", "EEXIST", "EUSERS", "EPERM",  "EAGAIN"};
    return all;
}

std::vector<std::vector<std::string>> random_faults(const simhost::HostSpec& host, Rng& rng) {
    std::vector<std::vector<std::string>> out;
    const auto pfs = sizable_pfs(host);
    std::vector<std::string> paths = {"/sys/bus/pci/drivers_probe", "/sys/bus/pci/drivers/*"};
    for (const auto* pf : pfs) {
        paths.push_back("/sys/bus/pci/devices/" + pf->address + "/sriov_numvfs");
        for (const auto& vf : vf_addresses(*pf, std::min(pf->sriov->totalvfs, 6u))) {
            paths.push_back("/sys/bus/pci/devices/" + vf + "/driver_override");
            if (pf->vgpu)
                paths.push_back("/sys/bus/pci/devices/" + vf + "/nvidia/current_vgpu_type");
        }
    }
    for (const auto& d : host.devices)
        if (d.mdev && d.present)
            paths.push_back("/sys/bus/pci/devices/" + d.address + "/mdev_supported_types/*");
    const unsigned count = pick(rng, 0, 2);
    for (unsigned i = 0; i < count; ++i) {
        const unsigned kind = pick(rng, 0, 11);
        if (kind <= 5) {
            out.push_back({"fault", "fail", one_of(rng, paths), one_of(rng, kernel_write_errnos()),
                           std::to_string(pick(rng, 1, 3))});
        } else if (kind == 6 && !pfs.empty()) {
            const auto* pf = one_of(rng, pfs);
            out.push_back(
                {"fault", "limit-vfs", pf->address, std::to_string(pick(rng, 0, pf->sriov->totalvfs))});
        } else if (kind == 7 && !pfs.empty()) {
            out.push_back({"fault", "probe-delay", one_of(rng, pfs)->address, "0.1"});
        } else if (kind == 8 && !pfs.empty()) {
            // A driver that enables all its VFs or a fixed number, whatever is written (issue 15).
            const auto* pf = one_of(rng, pfs);
            out.push_back({"fault", "enables-vfs", pf->address,
                           chance(rng, 0.5) ? "all" : std::to_string(pick(rng, 1, pf->sriov->totalvfs))});
        } else if (kind == 9 && !pfs.empty()) {
            // A probe that does not take (the write succeeds, the device stays unbound); refused when the VF
            // does not exist now.
            const auto* pf = one_of(rng, pfs);
            out.push_back(
                {"fault", "probe-fail", one_of(rng, vf_addresses(*pf, std::min(pf->sriov->totalvfs, 6u)))});
        } else {
            out.push_back({"fault", "block", one_of(rng, paths), "0.2"});
        }
    }
    return out;
}

// How a guest holds a VFIO device (simhost ctl hold): the group fd; what QEMU keeps (container, group,
// device fd); a device fd alone, as 6.1 shows it (unattributed) or 6.18 (fdinfo names the device); an
// iommufd device cdev (refused on hosts without cdevs). And two fakes an unprivileged user can make, which
// must not count: an O_PATH fd on the group node, /dev/null bound over it in a user namespace.
static std::vector<std::string> random_hold(Rng& rng, const std::string& device, bool pci) {
    switch (pick(rng, 0, pci ? 7 : 5)) {
    case 0:
        return {"hold", device};
    case 1:
        return {"hold", device, "--device"};
    case 2:
        return {"hold", device, "--device-only"};
    case 3:
        return {"hold", device, "--device-only", "--syspath"};
    case 4:
        return {"fake-opath", device};
    case 5:
        return {"fake-devnull", device};
    default:
        return {"hold", device, "--cdev"};
    }
}

std::vector<std::vector<std::string>> random_holders(Rng& rng) {
    std::vector<std::string> pci, mdevs;
    std::error_code ec;
    // Devices a guest or the host network would use: VFs (physfn link, iov.c pci_iov_sysfs_link) and
    // devices with netdevs. Bridges and the host's own devices only add refused holds.
    for (const auto& e : fs::directory_iterator("/sys/bus/pci/devices"))
        if (fs::exists(e.path() / "physfn", ec) || fs::exists(e.path() / "net", ec))
            pci.push_back(e.path().filename());
    for (const auto& e : fs::directory_iterator("/sys/bus/mdev/devices", ec))
        mdevs.push_back(e.path().filename());
    std::sort(pci.begin(), pci.end()); // directory order is not part of the seed
    std::sort(mdevs.begin(), mdevs.end());
    std::vector<std::vector<std::string>> out;
    const unsigned count = pick(rng, 0, 3);
    for (unsigned i = 0; i < count && !pci.empty(); ++i) {
        if (!mdevs.empty() && chance(rng, 0.25)) {
            out.push_back(random_hold(rng, one_of(rng, mdevs), false));
            continue;
        }
        const std::string dev = one_of(rng, pci);
        std::vector<std::string> nets;
        for (const auto& e : fs::directory_iterator("/sys/bus/pci/devices/" + dev + "/net", ec))
            nets.push_back(e.path().filename());
        std::sort(nets.begin(), nets.end());
        if (!nets.empty() && chance(rng, 0.5)) {
            if (chance(rng, 0.5))
                out.push_back({"link", nets.front(), "up"});
            else
                out.push_back({"master", nets.front(), "br0"});
        } else {
            out.push_back(random_hold(rng, dev, true));
        }
    }
    return out;
}

} // namespace safety
