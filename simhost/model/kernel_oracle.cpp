// The safety oracle: for each write, whether it was disruptive AND hit a device that was in use at the
// moment the write was issued. Tests (tests/safety) assert that hostdevd never produces such a write; the
// model decides it here, from its own state, so the verdict does not depend on what hostdevd observed.
//
// "Disruptive" follows what the write makes the kernel do:
//   - sriov_numvfs = 0 while VFs exist: iov.c sriov_numvfs_store() -> sriov_disable() removes every VF
//     (a different non-zero value is refused with -EBUSY by the same function, so it destroys nothing);
//   - drivers/<drv>/unbind of a bound device: bus.c unbind_store() -> device_release_driver(); a PF
//     driver's remove() also disables its VFs and unregisters its mdev parent (kernel_bind.cpp);
//   - an mdev's remove: mdev_sysfs.c remove_store() -> mdev_device_remove();
//   - nvidia/current_vgpu_type = 0 while a vGPU type is active: tears the vGPU down;
//   - a device's reset: pci-sysfs.c reset_store() -> pci_reset_function().
// driver_override, bind, drivers_probe, new_id only ever bind *unbound* devices (dd.c
// __device_attach() skips bound ones), so they are not disruptive by themselves.
//
// "In use" is what safety.md lists and the model can know: a VFIO group or device fd held by a process
// (any hold), a netdev that is administratively up or enslaved to a master; for a PF, any of its VFs or
// mdevs in use; for an mdev, its own group held.
#include "kernel_oracle.hpp"

#include "kernel_impl.hpp"

namespace simhost {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string group_reason(const Impl& k, int group, const std::string& who) {
    auto it = k.holds.find(group);
    if (group < 0 || it == k.holds.end() || it->second == GroupHold::None)
        return {};
    return who + ": VFIO group " + std::to_string(group) +
           (it->second == GroupHold::Device ? " device fd held" : " group fd held");
}

std::string mdev_reason(const Impl& k, const MdevState& m) {
    return group_reason(k, m.group, "mdev " + m.uuid);
}

// Why the device alone (not its children) is in use, or "".
std::string own_reason(const Impl& k, const DeviceState& d) {
    if (auto r = group_reason(k, d.iommu_group, d.address); !r.empty())
        return r;
    for (auto& name : d.netdevs) {
        auto it = k.netdevs.find(name);
        if (it == k.netdevs.end())
            continue;
        if (it->second.up)
            return d.address + ": netdev " + name + " is up";
        if (!it->second.master.empty())
            return d.address + ": netdev " + name + " is enslaved to " + it->second.master;
    }
    return {};
}

// The device, each of its VFs (a PF losing its driver or its VFs destroys them) and its mdevs.
std::string tree_reason(const Impl& k, const DeviceState& d) {
    if (auto r = own_reason(k, d); !r.empty())
        return r;
    for (auto& [uuid, m] : k.mdevs)
        if (m.parent == d.address)
            if (auto r = mdev_reason(k, m); !r.empty())
                return r;
    if (!d.is_vf)
        for (auto& [a, vf] : k.devices)
            if (vf.present && vf.is_vf && vf.pf == d.address)
                if (auto r = tree_reason(k, vf); !r.empty())
                    return r;
    return {};
}

const DeviceState* device_by_dir(const Impl& k, std::string_view dir) {
    for (auto& [a, d] : k.devices)
        if (d.present && d.dir == dir)
            return &d;
    return nullptr;
}

} // namespace

std::string disrupted_in_use(const Impl& k, const std::string& canon, std::string_view data) {
    const std::string value = strip_newline(data);
    const std::string dir = parent_dir(canon);
    if (ends_with(canon, "/sriov_numvfs")) {
        const DeviceState* pf = device_by_dir(k, dir);
        unsigned long long n = 0;
        if (!pf || pf->numvfs == 0 || kstrtoull(data, 0, ~0ull, n) || n != 0)
            return {};
        for (auto& [a, vf] : k.devices)
            if (vf.present && vf.is_vf && vf.pf == pf->address)
                if (auto r = tree_reason(k, vf); !r.empty())
                    return "sriov_numvfs=0 on " + pf->address + " destroys in-use VF " + r;
        return {};
    }
    if (ends_with(canon, "/unbind") && canon.rfind("/bus/pci/drivers/", 0) == 0) {
        const DeviceState* d = k.dev(value);
        if (!d || d->driver.empty() || "/bus/pci/drivers/" + d->driver + "/unbind" != canon)
            return {};
        if (auto r = tree_reason(k, *d); !r.empty())
            return "unbind of " + d->address + " from " + d->driver + " while in use: " + r;
        return {};
    }
    if (ends_with(canon, "/nvidia/current_vgpu_type")) {
        const DeviceState* vf = device_by_dir(k, parent_dir(dir));
        unsigned long long n = 0;
        if (!vf || vf->vgpu_type == 0 || kstrtoull(data, 0, ~0ull, n) || n != 0)
            return {};
        if (auto r = tree_reason(k, *vf); !r.empty())
            return "vGPU type " + std::to_string(vf->vgpu_type) + " removed while in use: " + r;
        return {};
    }
    if (ends_with(canon, "/remove")) {
        auto m = k.mdevs.find(dir.substr(dir.rfind('/') + 1));
        if (m == k.mdevs.end())
            return {};
        if (auto r = mdev_reason(k, m->second); !r.empty())
            return "mdev remove while in use: " + r;
        return {};
    }
    if (ends_with(canon, "/reset")) {
        if (const DeviceState* d = device_by_dir(k, dir))
            if (auto r = tree_reason(k, *d); !r.empty())
                return "reset of " + d->address + " while in use: " + r;
    }
    return {};
}

} // namespace simhost
