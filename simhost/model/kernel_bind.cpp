// Driver matching and binding: pci_match_device (pci-driver.c), bind/unbind (base/bus.c, base/dd.c),
// drivers_probe, new_id/remove_id (pci-driver.c), driver_override (base/driver.c driver_set_override),
// and synthetic uevents (lib/kobject_uevent.c kobject_synth_uevent).
#include "kernel_impl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace simhost {

bool Impl::driver_registered(const std::string& name) const {
    auto it = drivers.find(name);
    if (it == drivers.end())
        return false;
    const auto& m = it->second.spec.module;
    return m.empty() || loaded_modules.count(m) > 0;
}

bool Impl::match(const DriverState& drv, const DeviceState& d) const {
    // pci-driver.c pci_match_device(): an override naming another driver never matches; dynamic IDs
    // first, then the static table; override_only entries match only through driver_override; an
    // override naming this driver matches anything (pci_device_id_any).
    const bool named = d.driver_override && *d.driver_override == drv.spec.name;
    if (d.driver_override && !named)
        return false;
    for (auto& id : drv.dynamic_ids)
        if (id.matches(d.vendor, d.device, d.subsystem_vendor, d.subsystem_device, d.class_code))
            return true;
    for (auto& id : drv.spec.ids)
        if (id.matches(d.vendor, d.device, d.subsystem_vendor, d.subsystem_device, d.class_code))
            return !drv.spec.override_only || named;
    return named;
}

int Impl::probe_with(DeviceState& d, const DriverState& drv) {
    // pci-driver.c pci_device_probe() -> pci_device_can_probe(): a VF is probed only if its PF's
    // sriov_drivers_autoprobe is set or the VF has a driver_override.
    if (d.is_vf) {
        const DeviceState* pf = dev(d.pf);
        if (pf && !pf->autoprobe && !d.driver_override)
            return -ENODEV;
    }
    for (auto& id : drv.spec.deny)
        if (id.matches(d.vendor, d.device, d.subsystem_vendor, d.subsystem_device, d.class_code))
            return -drv.spec.deny_errno; // vfio_pci.c: "exists in vfio-pci device denylist"
    // dd.c really_probe(): dev->driver is set, drv->probe() runs (it registers netdevs, VFIO groups,
    // mdev parents, each with its own events), then driver_bound() sends KOBJ_BIND.
    d.driver = drv.spec.name;
    tree_driver_bound(d); // probe side effects below (netdevs, mdev types) mark the tree for a rebuild
    refresh_vfio_group(d.iommu_group);
    if (drv.spec.creates_netdev) {
        if (d.is_vf)
            register_netdev(vf_netdev_name(d), &d);
        else
            for (auto& n : d.spec->netdevs)
                register_netdev(n, &d);
        for (auto& [name, n] : netdevs)
            if (n.device == d.address &&
                std::find(d.netdevs.begin(), d.netdevs.end(), name) == d.netdevs.end())
                d.netdevs.push_back(name);
    }
    if (drv.spec.mdev_parent && !d.is_vf && d.spec->mdev)
        register_mdev_parent(d);
    emit(pci_event("bind", d));
    return 0;
}

bool Impl::device_attach(DeviceState& d) {
    // dd.c __device_attach(): try each registered driver of the bus in order; a failing probe lets the
    // next driver try ("so that the next driver can try its luck").
    if (!d.driver.empty())
        return true;
    for (auto& name : driver_order) {
        if (!driver_registered(name))
            continue;
        auto& drv = drivers.at(name);
        if (match(drv, d) && probe_with(d, drv) == 0)
            return true;
    }
    return false;
}

void Impl::driver_attach(const DriverState& drv) {
    // dd.c driver_attach(): every unbound device on the bus that matches.
    std::vector<std::string> addrs;
    for (auto& [a, d] : devices)
        if (d.present && d.driver.empty())
            addrs.push_back(a);
    for (auto& a : addrs)
        if (DeviceState* d = dev(a); d && d->driver.empty() && match(drv, *d))
            probe_with(*d, drv);
}

bool Impl::group_held(int group) const {
    auto it = holds.find(group);
    return group >= 0 && it != holds.end() && it->second == GroupHold::Device;
}

bool Impl::would_block(const DeviceState& d) const {
    // vfio_main.c vfio_unregister_group_dev() waits until the device fd is closed; a group fd alone
    // does not pin the device (vm-tier.md: VF disable succeeded with only a group fd open).
    if (!d.driver.empty() && drivers.at(d.driver).spec.override_only && group_held(d.iommu_group))
        return true;
    if (d.vgpu_type != 0 && group_held(d.iommu_group))
        return true;
    if (!d.is_vf && d.numvfs > 0 && d.spec->sriov) {
        for (unsigned i = 0; i < d.numvfs; ++i) {
            auto* vf = dev(vf_address(d.addr, d.spec->sriov->offset, d.spec->sriov->stride, i).str());
            if (vf && would_block(*vf))
                return true;
        }
    }
    for (auto& [u, m] : mdevs)
        if (m.parent == d.address && group_held(m.group))
            return true;
    return false;
}

void Impl::release_driver(DeviceState& d) {
    if (d.driver.empty())
        return;
    const DriverState& drv = drivers.at(d.driver);
    // drv->remove(): PF drivers disable SR-IOV (i40e, mlx5, vfio-pci call pci_disable_sriov), NVIDIA
    // tears down vGPUs, mdev parents unregister (mdev_unregister_parent), netdevs are unregistered.
    if (!d.is_vf && d.numvfs > 0)
        disable_vfs(d);
    if (d.vgpu_type != 0)
        clear_vgpu(d);
    if (d.mdev_registered)
        unregister_mdev_parent(d);
    for (auto& n : d.netdevs)
        unregister_netdev(n);
    d.netdevs.clear();
    // dd.c __device_release_driver(): dev->driver = NULL, then KOBJ_UNBIND (so no DRIVER= in it).
    const std::string old_driver = std::move(d.driver);
    d.driver.clear();
    tree_driver_unbound(d, old_driver);
    if (drv.spec.override_only)
        refresh_vfio_group(d.iommu_group);
    emit(pci_event("unbind", d));
}

int Impl::w_driver_override(std::unique_lock<std::mutex>&, const std::string& addr, std::string_view data) {
    DeviceState* d = dev(addr);
    if (!d)
        return -ENODEV;
    // base/driver.c driver_set_override(): len >= PAGE_SIZE - 1 is -EINVAL; strnlen stops at a NUL;
    // the value ends at the first newline; empty or a lone "\n" clears.
    if (data.size() >= 4096 - 1)
        return -EINVAL;
    size_t len = strnlen(data.data(), data.size());
    std::string_view s = data.substr(0, len);
    auto nl = s.find('\n');
    if (nl != std::string_view::npos)
        s = s.substr(0, nl);
    if (s.empty())
        d->driver_override.reset();
    else
        d->driver_override = std::string(s);
    return 0;
}

int Impl::w_bind(std::unique_lock<std::mutex>&, const std::string& name, std::string_view data) {
    // bus.c bind_store(): -ENODEV unless the device exists and driver_match_device(); then
    // device_driver_attach(): -EBUSY if already bound, else the probe's result.
    DeviceState* d = dev(strip_newline(data));
    const DriverState& drv = drivers.at(name);
    if (!d || !match(drv, *d))
        return -ENODEV;
    if (!d->driver.empty())
        return -EBUSY;
    return probe_with(*d, drv);
}

int Impl::w_unbind(std::unique_lock<std::mutex>& lock, const std::string& name, std::string_view data) {
    // bus.c unbind_store(): -ENODEV unless the device is bound to this very driver.
    const std::string addr = strip_newline(data);
    for (;;) {
        DeviceState* d = dev(addr);
        if (!d || d->driver != name)
            return -ENODEV;
        if (would_block(*d)) {
            wait_locked(lock, {addr}); // device_release_driver() holds the device lock while it waits
            if (stopping)
                return -EINTR;
            continue;
        }
        release_driver(*d);
        return 0;
    }
}

namespace {
// sscanf("%x %x ...") as pci-driver.c new_id_store/remove_id_store use it: returns the fields read.
int scan_hex(std::string_view data, unsigned long long* out, int max_fields) {
    std::istringstream in{std::string(data)};
    int n = 0;
    std::string tok;
    while (n < max_fields && in >> tok) {
        unsigned long long v;
        if (kstrtoull(tok, 16, ~0ull, v) != 0)
            break;
        out[n++] = v;
    }
    return n;
}
} // namespace

int Impl::w_new_id(const std::string& name, std::string_view data) {
    auto& drv = drivers.at(name);
    unsigned long long f[7] = {0, 0, PciIdMatch::kAny, PciIdMatch::kAny, 0, 0, 0};
    int fields = scan_hex(data, f, 7);
    if (fields < 2)
        return -EINVAL;
    PciIdMatch id{uint32_t(f[0]), uint32_t(f[1]), uint32_t(f[2]),
                  uint32_t(f[3]), uint32_t(f[4]), uint32_t(f[5])};
    if (fields != 7) {
        // A device with these IDs (no override) that the driver already matches: -EEXIST.
        DeviceState probe;
        probe.vendor = id.vendor;
        probe.device = id.device;
        probe.subsystem_vendor = id.subvendor;
        probe.subsystem_device = id.subdevice;
        probe.class_code = id.class_code;
        if (match(drv, probe))
            return -EEXIST;
    } else if (f[6] != 0) {
        return -EINVAL; // driver_data must be one the static table uses (all ours are 0)
    }
    drv.dynamic_ids.push_back(id);
    driver_attach(drv); // pci_add_dynid() -> driver_attach()
    return 0;
}

int Impl::w_remove_id(const std::string& name, std::string_view data) {
    auto& drv = drivers.at(name);
    unsigned long long f[6] = {0, 0, PciIdMatch::kAny, PciIdMatch::kAny, 0, 0};
    if (scan_hex(data, f, 6) < 2)
        return -EINVAL;
    for (auto it = drv.dynamic_ids.begin(); it != drv.dynamic_ids.end(); ++it) {
        if (it->vendor == f[0] && it->device == f[1] && it->subvendor == uint32_t(f[2]) &&
            it->subdevice == uint32_t(f[3]) && it->class_code == f[4] && it->class_mask == f[5]) {
            drv.dynamic_ids.erase(it);
            return 0;
        }
    }
    return -ENODEV;
}

int Impl::w_drivers_probe(std::string_view data) {
    // bus.c drivers_probe_store(): -ENODEV for an unknown device, otherwise success whatever happened.
    DeviceState* d = dev(strip_newline(data));
    if (!d)
        return -ENODEV;
    if (d->driver.empty())
        device_attach(*d);
    return 0;
}

int Impl::w_synth_uevent(const std::string& kind, const std::string& key, std::string_view data) {
    // kobject_synth_uevent(): "<action> [UUID [KEY=VALUE...]]"; unknown actions are -EINVAL.
    std::string s = strip_newline(data);
    std::string action = s.substr(0, s.find(' '));
    static const char* actions[] = {"add", "remove", "change", "move", "online", "offline", "bind", "unbind"};
    if (std::find(std::begin(actions), std::end(actions), action) == std::end(actions))
        return -EINVAL;
    std::vector<std::pair<std::string, std::string>> extra = {{"SYNTH_UUID", "0"}};
    if (kind == "pci") {
        if (auto* d = dev(key))
            emit(pci_event(action, *d, extra));
    } else if (kind == "net") {
        if (auto it = netdevs.find(key); it != netdevs.end()) {
            Uevent ev = net_event(action, it->second);
            ev.properties.insert(ev.properties.begin() + 3, extra[0]);
            emit(ev);
        }
    } else if (kind == "mdev") {
        if (auto it = mdevs.find(key); it != mdevs.end()) {
            Uevent ev = mdev_event(action, it->second, true);
            ev.properties.insert(ev.properties.begin() + 3, extra[0]);
            emit(ev);
        }
    }
    return 0;
}

} // namespace simhost
