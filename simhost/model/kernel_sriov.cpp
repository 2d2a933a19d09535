// SR-IOV: sriov_numvfs_store / sriov_drivers_autoprobe_store and VF add/remove (drivers/pci/iov.c),
// device add/remove events (drivers/pci/probe.c, remove.c), and delayed VF probing (fault ProbeDelay).
#include "kernel_impl.hpp"

#include <algorithm>
#include <cerrno>

namespace simhost {

const Fault* Impl::find_pf_fault(Fault::Kind kind, const std::string& pf) const {
    for (auto& f : faults)
        if (f.fault.kind == kind && f.fault.path == pf)
            return &f.fault;
    return nullptr;
}

std::string Impl::vf_netdev_name(const DeviceState& vf) const {
    const DeviceState& pf = devices.at(vf.pf);
    std::string pattern = pf.spec->sriov->vf_netdev;
    std::string pfname = pf.spec->netdevs.empty()
                             ? "enp" + std::to_string(pf.addr.bus) + "s" + std::to_string(pf.addr.dev) + "f" +
                                   std::to_string(pf.addr.fn)
                             : pf.spec->netdevs.front();
    std::string out;
    for (size_t i = 0; i < pattern.size();) {
        if (pattern.compare(i, 4, "{pf}") == 0) {
            out += pfname;
            i += 4;
        } else if (pattern.compare(i, 7, "{index}") == 0) {
            out += std::to_string(vf.vf_index);
            i += 7;
        } else {
            out += pattern[i++];
        }
    }
    return out.substr(0, 15); // IFNAMSIZ - 1
}

void Impl::add_device(DeviceState& d) {
    // device_add() sends KOBJ_ADD; for a VF, pci_iov_sysfs_link() then adds virtfnN/physfn and sends
    // KOBJ_CHANGE; pci_bus_add_device() probes last (bus_probe_device honours drivers_autoprobe).
    tree_device_added(d);
    emit(pci_event("add", d));
    if (d.is_vf)
        emit(pci_event("change", d));
}

void Impl::remove_device(DeviceState& d) {
    // pci_stop_and_remove_bus_device(): the driver is released (unbind), then device_del (remove).
    release_driver(d);
    tree_device_removed(d);
    emit(pci_event("remove", d));
}

void Impl::enable_vfs(DeviceState& pf, unsigned count, bool probe_now) {
    const SriovSpec& s = *pf.spec->sriov;
    pf.numvfs = count;
    ++pf.vf_epoch; // the tree grows VF by VF (add_device)
    // iov.c sriov_add_vfs(): VFs are added one by one, each completely (add, change, probe).
    for (unsigned i = 0; i < count; ++i) {
        PciAddr a = vf_address(pf.addr, s.offset, s.stride, i);
        DeviceState vf;
        vf.spec = pf.spec;
        vf.address = a.str();
        vf.addr = a;
        vf.vendor = pf.vendor;
        vf.device = s.vf_device;
        vf.subsystem_vendor = pf.subsystem_vendor;
        vf.subsystem_device = pf.subsystem_device;
        vf.class_code = pf.class_code;
        vf.revision = pf.revision;
        vf.is_vf = true;
        vf.pf = pf.address;
        vf.vf_index = i;
        vf.dir = parent_dir(pf.dir) + "/" + vf.address; // VFs are siblings of their PF
        vf.iommu_group = s.vf_iommu_group_base >= 0 ? s.vf_iommu_group_base + int(i) : pf.iommu_group;
        auto& stored = devices[vf.address] = std::move(vf);
        index_group_member(stored);
        add_device(stored);
        if (probe_now && bus_autoprobe)
            device_attach(stored);
    }
}

void Impl::disable_vfs(DeviceState& pf) {
    const SriovSpec& s = *pf.spec->sriov;
    // sriov_del_vfs(): each VF's driver is released, then it is removed. Debian's 6.1 kernel removes the
    // lowest VF first (tests/vm/facts/observed-6.1.txt), so simhost does too.
    for (unsigned i = 0; i < pf.numvfs; ++i) {
        std::string a = vf_address(pf.addr, s.offset, s.stride, i).str();
        if (DeviceState* vf = dev(a)) {
            remove_device(*vf);
            int g = vf->iommu_group;
            devices.erase(a);
            refresh_vfio_group(g);
        }
    }
    pf.numvfs = 0;
    ++pf.vf_epoch; // the tree shrank VF by VF (remove_device)
}

int Impl::w_sriov_numvfs(std::unique_lock<std::mutex>& lock, const std::string& addr, std::string_view data) {
    // iov.c sriov_numvfs_store(), checks in the kernel's order (sysfs-abi.md §1.2).
    unsigned long long n = 0;
    // Every parse failure is -EINVAL, including values above 65535 (seen on Debian's 6.1 kernel:
    // tests/vm/facts/observed-6.1.txt; only older kernels passed kstrtou16's -ERANGE through).
    if (kstrtoull(data, 0, 0xffff, n) != 0)
        return -EINVAL;
    for (;;) {
        DeviceState* pf = dev(addr);
        if (!pf)
            return -ENODEV;
        const SriovSpec& s = *pf->spec->sriov;
        if (n > s.totalvfs)
            return -ERANGE;
        if (n == pf->numvfs)
            return 0;
        if (pf->driver.empty())
            return -ENOENT; // "no driver bound to device; cannot configure SR-IOV"
        if (!drivers.at(pf->driver).spec.sriov_configure)
            return -ENOENT; // "driver does not support SR-IOV configuration via sysfs"
        if (n == 0) {
            // iov.c sriov_disable() -> sriov_del_vfs(): VF by VF from the lowest, each unlinked (virtfnN,
            // physfn) and then removed. Removing a VF whose VFIO device is open waits for it to close
            // (vfio_main.c vfio_unregister_group_dev) with the lower VFs already gone, the store holding
            // the PF's device_lock and the removal the VF's: seen on Debian's 6.1 kernel (tests/vm/facts).
            bool waited = false;
            for (unsigned i = 0; i < pf->numvfs && !waited; ++i) {
                const std::string a = vf_address(pf->addr, s.offset, s.stride, i).str();
                DeviceState* vf = dev(a);
                if (!vf)
                    continue; // removed before this store blocked
                if (would_block(*vf)) {
                    if (!vf->unlinked) {
                        vf->unlinked = true;
                        tree_vf_unlinked(*vf);
                    }
                    wait_locked(lock, {addr, a});
                    if (stopping)
                        return -EINTR;
                    waited = true; // look at the state afresh
                    continue;
                }
                remove_device(*vf);
                const int g = vf->iommu_group;
                devices.erase(a);
                refresh_vfio_group(g);
            }
            if (waited)
                continue;
            pf->numvfs = 0;
            ++pf->vf_epoch;
            return 0;
        }
        if (pf->numvfs != 0)
            return -EBUSY; // "%d VFs already enabled. Disable before enabling %d VFs"
        unsigned count = unsigned(n);
        if (const Fault* f = find_pf_fault(Fault::Kind::LimitVfs, addr))
            count = std::min(count, f->value); // "%d VFs requested; only %d enabled": still success
        const Fault* delay = find_pf_fault(Fault::Kind::ProbeDelay, addr);
        enable_vfs(*pf, count, delay == nullptr);
        // After the VFs, the PF itself reports a change (observed on Debian's 6.1 kernel; disabling
        // sends none): tests/vm/facts/observed-6.1.txt.
        emit(pci_event("change", *pf));
        if (delay && count > 0) {
            // Asynchronous probing (dd.c: initial probes may run async): the VF drivers bind later,
            // on another thread, with their own bind/netdev events.
            auto wait = std::chrono::duration<double>(delay->seconds);
            unsigned epoch = pf->vf_epoch;
            uint64_t gen = generation;
            workers.emplace_back([this, addr, epoch, gen, wait] {
                std::unique_lock l(mu);
                auto until = std::chrono::steady_clock::now() + wait;
                cv.wait_until(l, until, [&] { return stopping || generation != gen; });
                DeviceState* p = dev(addr);
                if (stopping || generation != gen || !p || p->vf_epoch != epoch || !bus_autoprobe)
                    return;
                const SriovSpec& sp = *p->spec->sriov;
                for (unsigned i = 0; i < p->numvfs; ++i)
                    if (DeviceState* vf = dev(vf_address(p->addr, sp.offset, sp.stride, i).str()))
                        device_attach(*vf);
                l.unlock();
                flush();
            });
        }
        return 0;
    }
}

int Impl::w_sriov_autoprobe(const std::string& addr, std::string_view data) {
    // iov.c sriov_drivers_autoprobe_store(): kstrtobool; affects only VFs enabled later.
    DeviceState* pf = dev(addr);
    if (!pf)
        return -ENODEV;
    bool v = false;
    if (kstrtobool(data, v))
        return -EINVAL;
    pf->autoprobe = v;
    return 0;
}

} // namespace simhost
