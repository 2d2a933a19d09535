#include "scenario.hpp"

#include <algorithm>
#include <filesystem>
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

} // namespace

std::string random_config(const simhost::HostSpec& host, Rng& rng) {
    std::ostringstream s;
    s << "version = 1\n";
    for (const auto* pf : sizable_pfs(host)) {
        if (!chance(rng, 0.75))
            continue;
        const unsigned total = std::min(pf->sriov->totalvfs, 6u);
        const unsigned n = pick(rng, 0, total);
        s << "\n[[pf]]\nmatch = { address = \"" << pf->address << "\" }\n";
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
    for (const auto& d : host.devices) {
        if (!d.mdev || !d.present || d.mdev->types.empty() || !chance(rng, 0.7))
            continue;
        const auto& type = one_of(rng, d.mdev->types);
        s << "\n[[mdev]]\nparent = { address = \"" << d.address << "\" }\ntype = \"" << type.id
          << "\"\ncount = " << pick(rng, 0, std::min(type.max, 3u)) << "\n";
    }
    return s.str();
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
        const unsigned kind = pick(rng, 0, 9);
        if (kind <= 5) {
            out.push_back({"fault", "fail", one_of(rng, paths), one_of(rng, kernel_write_errnos()),
                           std::to_string(pick(rng, 1, 3))});
        } else if (kind == 6 && !pfs.empty()) {
            const auto* pf = one_of(rng, pfs);
            out.push_back(
                {"fault", "limit-vfs", pf->address, std::to_string(pick(rng, 0, pf->sriov->totalvfs))});
        } else if (kind == 7 && !pfs.empty()) {
            out.push_back({"fault", "probe-delay", one_of(rng, pfs)->address, "0.1"});
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
