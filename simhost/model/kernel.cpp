// The Kernel facade: start state from the host description, the write entry point (faults, write log),
// output delivery, and the control operations (plug, links, holds, faults, modules, reset).
#include "kernel.hpp"

#include "kernel_impl.hpp"
#include "kernel_oracle.hpp"
#include "kernel_oracle_repeat.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace simhost {

namespace {
std::string make_mac(const std::string& seed) {
    // FNV-1a of the seed; locally administered unicast prefix 02.
    uint64_t h = 1469598103934665603ull;
    for (char c : seed)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    char buf[32];
    std::snprintf(buf, sizeof buf, "02:%02x:%02x:%02x:%02x:%02x", unsigned(h & 0xff),
                  unsigned((h >> 8) & 0xff), unsigned((h >> 16) & 0xff), unsigned((h >> 24) & 0xff),
                  unsigned((h >> 32) & 0xff));
    return buf;
}

bool path_matches(const std::string& pattern, const std::string& path) {
    if (!pattern.empty() && pattern.back() == '*')
        return path.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    return pattern == path;
}

// "0000:3b:00.0" or any path ending in it ("/sys/bus/pci/devices/0000:3b:00.0").
std::string address_of(std::string_view p) {
    while (!p.empty() && p.back() == '/')
        p.remove_suffix(1);
    auto pos = p.rfind('/');
    return std::string(pos == std::string_view::npos ? p : p.substr(pos + 1));
}
} // namespace

std::string Impl::compute_dir(const DeviceSpec& d) const {
    if (!d.parent.empty())
        return compute_dir(*spec.find_device(d.parent)) + "/" + d.address;
    char root[32];
    std::snprintf(root, sizeof root, "/devices/pci%04x:%02x", d.addr.domain, d.addr.bus);
    return std::string(root) + "/" + d.address;
}

void Impl::init_from_spec() {
    devices.clear();
    netdevs.clear();
    mdevs.clear();
    virtual_parents.clear();
    drivers.clear();
    driver_order.clear();
    loaded_modules.clear();
    holds.clear();
    vfio_groups.clear();
    group_minor.clear();
    vfio_index.clear();
    device_locks.clear();
    bus_autoprobe = true;
    next_ifindex = 1;
    dirty = true;
    quiet = true;
    for (auto& d : spec.drivers) {
        drivers[d.name] = DriverState{d, {}};
        driver_order.push_back(d.name);
    }
    for (auto& m : spec.modules)
        if (m.loaded)
            loaded_modules.insert(m.name);
    // The loopback device is always ifindex 1.
    netdevs["lo"] =
        NetdevState{"lo", "", alloc_ifindex(), true, "", "00:00:00:00:00:00", "/devices/virtual/net/lo"};
    int max_group = -1;
    for (auto& s : spec.devices) {
        DeviceState d;
        d.spec = &s;
        d.address = s.address;
        d.addr = s.addr;
        d.vendor = s.vendor;
        d.device = s.device;
        d.subsystem_vendor = s.subsystem_vendor;
        d.subsystem_device = s.subsystem_device;
        d.class_code = s.class_code;
        d.revision = s.revision;
        d.dir = compute_dir(s);
        d.iommu_group = s.iommu_group;
        d.present = s.present;
        d.autoprobe = s.sriov ? s.sriov->autoprobe : true;
        max_group = std::max(max_group, s.iommu_group);
        if (s.sriov)
            for (unsigned i = 0; i < s.sriov->totalvfs; ++i)
                max_group = std::max(max_group, s.sriov->vf_group(i, s.iommu_group));
        devices[s.address] = std::move(d);
    }
    // mdev devices get new (emulated) IOMMU groups above every PCI group (vfio_main.c).
    next_mdev_group = max_group + 1;
    group_members.clear();
    for (auto& [address, d] : devices)
        index_group_member(d);
    for (auto& s : spec.devices) {
        auto& d = devices[s.address];
        if (!d.present || s.driver.empty())
            continue;
        probe_with(d, drivers.at(s.driver));
    }
    for (auto& s : spec.devices) {
        auto& d = devices[s.address];
        if (d.present && s.sriov && s.sriov->numvfs > 0 && !d.driver.empty())
            enable_vfs(d, s.sriov->numvfs, true);
    }
    for (auto& s : spec.mdev_parents) {
        DeviceState d;
        d.spec = &s.device;
        d.address = s.name;
        d.dir = "/devices/virtual/" + s.cls + "/" + s.name;
        d.iommu_group = -1;
        d.mdev_registered = s.module.empty() || loaded_modules.count(s.module);
        virtual_parents[s.name] = std::move(d);
    }
    quiet = false;
    pending.clear();
    seqnum = 0;
}

void Impl::emit(Uevent ev) {
    if (quiet)
        return;
    ev.properties.emplace_back("SEQNUM", std::to_string(++seqnum));
    Output o;
    o.event = std::move(ev);
    pending.push_back(std::move(o));
}

void Impl::emit_devnode(const DevNode& node, bool present) {
    if (quiet)
        return;
    Output o;
    o.is_uevent = false;
    o.devnode = node;
    o.present = present;
    pending.push_back(std::move(o));
}

void Impl::wait_locked(std::unique_lock<std::mutex>& lock, const std::vector<std::string>& locked) {
    for (const auto& d : locked)
        ++device_locks[d];
    // What the store did before it blocked (a VF disable removes the lower VFs first) is out now.
    lock.unlock();
    flush();
    lock.lock();
    cv.wait(lock);
    for (const auto& d : locked)
        if (--device_locks[d] <= 0)
            device_locks.erase(d);
    cv.notify_all(); // readers waiting for these locks
}

std::string Impl::store_lock(const std::string& canon, std::string_view data) const {
    // Stores that run under device_lock: sriov_numvfs_store (iov.c), driver_set_override (driver.c),
    // reset_store (pci-sysfs.c), bind/unbind/drivers_probe of the device named (bus.c, dd.c).
    const std::string name = canon.substr(canon.rfind('/') + 1);
    const std::string dir = parent_dir(canon);
    if (name == "bind" || name == "unbind" || name == "drivers_probe") {
        const std::string addr = strip_newline(data);
        return dev(addr) ? addr : "";
    }
    if (name != "sriov_numvfs" && name != "driver_override" && name != "reset")
        return "";
    for (const auto& [a, d] : devices)
        if (d.present && d.dir == dir)
            return a;
    return "";
}

void Impl::index_group_member(const DeviceState& d) {
    if (d.iommu_group < 0)
        return;
    auto& members = group_members[d.iommu_group];
    if (std::find(members.begin(), members.end(), d.address) == members.end())
        members.push_back(d.address);
}

bool Impl::device_fd_open(const DeviceState& d) const {
    auto it = holds.find(d.iommu_group);
    return d.iommu_group >= 0 && it != holds.end() && it->second == GroupHold::Device;
}

std::string Impl::vfio_device_dir(const std::string& key) const {
    if (const DeviceState* d = dev(key))
        return d->dir;
    auto m = mdevs.find(key);
    if (m == mdevs.end())
        return "";
    const DeviceState* parent = mdev_parent(m->second.parent);
    return parent ? parent->dir + "/" + key : "";
}

void Impl::refresh_vfio_device(const std::string& key, bool registered) {
    // vfio_main.c vfio_device_add(): every registered VFIO device gets a class device vfio-dev/vfioN
    // (N from an ida: lowest free); with CONFIG_VFIO_DEVICE_CDEV also the char device
    // /dev/vfio/devices/vfioN.
    auto it = vfio_index.find(key);
    if (registered == (it != vfio_index.end()))
        return;
    if (registered) {
        int n = 0;
        std::set<int> used;
        for (auto& [k, i] : vfio_index)
            used.insert(i);
        while (used.count(n))
            ++n;
        vfio_index[key] = n;
        tree_vfio_device(vfio_device_dir(key), n, true);
        if (spec.vfio_cdev)
            emit_devnode({"vfio/devices/vfio" + std::to_string(n), kVfioCdevMajor, unsigned(n)}, true);
    } else {
        int n = it->second;
        vfio_index.erase(it);
        tree_vfio_device(vfio_device_dir(key), n, false);
        if (spec.vfio_cdev)
            emit_devnode({"vfio/devices/vfio" + std::to_string(n), kVfioCdevMajor, unsigned(n)}, false);
    }
}

void Impl::refresh_vfio_group(int g) {
    if (g < 0)
        return;
    bool want = false;
    if (auto members = group_members.find(g); members != group_members.end()) {
        for (const std::string& address : members->second) {
            auto it = devices.find(address);
            const bool vfio =
                it != devices.end() && it->second.present &&
                (it->second.vgpu_type != 0 ||
                 (!it->second.driver.empty() && drivers.at(it->second.driver).spec.override_only));
            refresh_vfio_device(address, vfio);
            want = want || vfio;
        }
    } else { // mdev groups are numbered above every PCI group, one per mdev
        for (auto& [u, m] : mdevs)
            if (m.group == g)
                want = true;
    }
    bool has = vfio_groups.count(g) > 0;
    if (want == has)
        return;
    // vfio_main.c: the group's char device appears when its first VFIO device registers.
    unsigned minor = 0;
    if (want) {
        vfio_groups.insert(g);
        std::set<unsigned> used;
        for (auto& [group, m] : group_minor)
            used.insert(m);
        while (used.count(minor))
            ++minor;
        group_minor[g] = minor;
    } else {
        vfio_groups.erase(g);
        minor = group_minor[g];
        group_minor.erase(g);
    }
    tree_vfio_group(g, want);
    emit_devnode({"vfio/" + std::to_string(g), kVfioGroupMajor, minor}, want);
}

void Impl::flush() {
    // emit_mu keeps deliveries in queue order when several threads flush at once. The invalidations go
    // first: whoever reacts to a uevent and reads /sys must not be served stale cached state.
    std::lock_guard emit_lock(emit_mu);
    bool verified = false;
    for (;;) {
        std::deque<Output> batch;
        std::vector<Invalidation> stale;
        std::function<void(const Uevent&)> us;
        std::function<void(const DevNode&, bool)> ds;
        std::function<void(const std::vector<Invalidation>&)> is;
        {
            std::lock_guard lock(mu);
            if (dirty)
                rebuild();
            if (verify_cache && !verified) {
                verify_fixed();
                verified = true;
            }
            batch.swap(pending);
            stale.swap(invalidations);
            us = uevent_sink;
            ds = devnode_sink;
            is = invalidation_sink;
        }
        if (batch.empty() && stale.empty())
            return;
        if (!stale.empty() && is)
            is(dedupe(std::move(stale)));
        for (auto& o : batch) {
            if (o.is_uevent && us)
                us(o.event);
            else if (!o.is_uevent && ds)
                ds(o.devnode, o.present);
        }
    }
}

Kernel::Kernel(HostSpec spec) : impl_(std::make_unique<Impl>(std::move(spec))) {
    std::lock_guard lock(impl_->mu);
    impl_->init_from_spec();
}

Kernel::~Kernel() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    for (auto& t : impl_->workers)
        t.join();
}

void Kernel::on_uevent(std::function<void(const Uevent&)> sink) {
    std::lock_guard lock(impl_->mu);
    impl_->uevent_sink = std::move(sink);
}

void Kernel::on_devnode(std::function<void(const DevNode& node, bool present)> sink) {
    std::lock_guard lock(impl_->mu);
    impl_->devnode_sink = std::move(sink);
}

void Kernel::on_invalidate(std::function<void(const std::vector<Invalidation>&)> sink) {
    std::lock_guard lock(impl_->mu);
    impl_->invalidation_sink = std::move(sink);
}

void Kernel::set_verify_cache(bool on) {
    std::lock_guard lock(impl_->mu);
    impl_->verify_cache = on;
}

int Kernel::write(std::string_view path, std::string_view data) {
    const std::string shown = "/sys" + std::string(path);
    return impl_->write_at([this, path](std::string& canon) { return impl_->resolve(path, true, canon); },
                           shown, data, nullptr);
}

int Kernel::write(uint64_t ino, std::string_view data, std::string* path_out) {
    return impl_->write_at(
        [this, ino](std::string& canon) {
            if (impl_->dirty)
                impl_->rebuild();
            const Node* n = impl_->node_by_ino(ino);
            if (!n)
                return -ENOENT; // removed since the kernel looked it up
            canon = impl_->path_of(ino);
            return 0;
        },
        "", data, path_out);
}

int Impl::write_at(const std::function<int(std::string&)>& find, const std::string& shown,
                   std::string_view data, std::string* path_out) {
    auto start = std::chrono::steady_clock::now();
    WriteRecord rec;
    rec.time = std::chrono::system_clock::now();
    rec.path = shown;
    rec.value = std::string(data);
    int result = 0;
    {
        std::unique_lock lock(mu);
        auto& k = *this;
        std::string canon;
        auto lookup = [&]() -> int {
            if (int r = find(canon))
                return r;
            const Node& n = k.tree.at(canon);
            if (n.kind == NodeKind::Directory)
                return -EISDIR;
            if (!(n.mode & 0222) || !n.write)
                return -EACCES;
            return 0;
        };
        result = lookup();
        if (rec.path.empty())
            rec.path = "/sys" + canon;
        if (path_out)
            *path_out = canon;
        std::optional<DestructiveWrite> destructive;
        if (result == 0) {
            rec.in_use_reason = disrupted_in_use(k, canon, data);
            rec.disrupted_in_use = !rec.in_use_reason.empty();
            destructive = destructive_write(k, canon, data);
            if (destructive) {
                rec.repeat_reason = repeated_destruction(k, *destructive);
                rec.repeated_destruction = !rec.repeat_reason.empty();
            }
            // Fault paths may name the file as written, canonically, or through /sys/bus/pci/devices.
            std::vector<std::string> names;
            if (!k.faults.empty()) {
                names = {rec.path, "/sys" + canon};
                for (auto& [a, d] : k.devices)
                    if (d.present && canon.compare(0, d.dir.size() + 1, d.dir + "/") == 0)
                        names.push_back("/sys/bus/pci/devices/" + a + canon.substr(d.dir.size()));
            }
            auto matches = [&](const Fault& f) {
                return std::any_of(names.begin(), names.end(),
                                   [&](auto& n) { return path_matches(f.path, n); });
            };
            for (auto it = k.faults.begin(); it != k.faults.end(); ++it) {
                if (it->fault.kind != Fault::Kind::FailWrite || !matches(it->fault))
                    continue;
                result = -it->fault.error;
                if (it->fault.count > 0 && --it->remaining == 0)
                    k.faults.erase(it);
                break;
            }
            if (result == 0) {
                double block = 0;
                for (auto& f : k.faults)
                    if (f.fault.kind == Fault::Kind::BlockWrite && matches(f.fault))
                        block = std::max(block, f.fault.seconds);
                if (block > 0) {
                    // Sleep without holding the model (cv.wait_for releases the lock), then carry out
                    // the write against whatever the state is by then. A store that runs under the
                    // device's lock holds it meanwhile: reads that take it wait too (Node::lock).
                    const std::string locked = k.store_lock(canon, data);
                    if (!locked.empty())
                        ++k.device_locks[locked];
                    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(block);
                    const uint64_t cleared = k.faults_cleared; // `fault clear` ends the block early
                    k.cv.wait_until(lock, until, [&] { return k.stopping || k.faults_cleared != cleared; });
                    if (!locked.empty() && --k.device_locks[locked] <= 0)
                        k.device_locks.erase(locked);
                    k.cv.notify_all();
                    result = k.stopping ? -EINTR : lookup();
                }
            }
            if (result == 0) {
                Writer w = k.tree.at(canon).write; // the tree may be rebuilt while it runs
                result = w(k, lock, data);
            }
        }
        if (destructive && result == 0)
            remember_destruction(k, *destructive);
        track_destructions(k);
        rec.error = -result;
        rec.duration =
            std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
        k.log.push_back(rec);
    }
    flush();
    return result;
}

// ---------------------------------------------------------------------------------------------------
// control

int Kernel::plug(std::string_view address, std::string& error) {
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->devices.find(std::string(address));
        if (it == impl_->devices.end() || it->second.is_vf) {
            error = "no hot-pluggable device " + std::string(address) + " in the host description";
            return -ENOENT;
        }
        if (it->second.present) {
            error = std::string(address) + " is already present";
            return -EEXIST;
        }
        if (!it->second.spec->parent.empty() && !impl_->dev(it->second.spec->parent)) {
            error = "parent bridge " + it->second.spec->parent + " is not present";
            return -ENODEV;
        }
        it->second.present = true;
        impl_->add_device(it->second); // adds its nodes to the tree
        if (impl_->bus_autoprobe)
            impl_->device_attach(it->second); // pci_bus_add_device() -> device_attach()
        track_destructions(*impl_);
    }
    impl_->flush();
    return 0;
}

int Kernel::unplug(std::string_view address, std::string& error) {
    {
        std::lock_guard lock(impl_->mu);
        DeviceState* d = impl_->dev(address);
        if (!d) {
            error = "no present device " + std::string(address);
            return -ENOENT;
        }
        if (d->is_vf) {
            error = std::string(address) + " is a VF: disable it through its PF's sriov_numvfs";
            return -EINVAL;
        }
        for (auto& [a, other] : impl_->devices)
            if (other.present && other.spec && other.spec->parent == address && !other.is_vf) {
                error = std::string(address) + " has device " + a + " behind it; unplug that first";
                return -EBUSY;
            }
        // Surprise removal (pciehp): the driver's remove runs without waiting for VFIO users.
        impl_->remove_device(*d);
        DeviceState& s = impl_->devices.at(std::string(address));
        s.present = false;
        s.driver_override.reset();
        s.autoprobe = s.spec->sriov ? s.spec->sriov->autoprobe : true;
        track_destructions(*impl_);
    }
    impl_->flush();
    return 0;
}

int Kernel::set_link(std::string_view netdev, bool up, std::string& error) {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->netdevs.find(std::string(netdev));
    if (it == impl_->netdevs.end()) {
        error = "no netdev " + std::string(netdev);
        return -ENODEV;
    }
    // Link state travels on rtnetlink, not as a kobject uevent: nothing to emit.
    it->second.up = up;
    return 0;
}

int Kernel::set_master(std::string_view netdev, std::string_view master, std::string& error) {
    {
        std::lock_guard lock(impl_->mu);
        auto& k = *impl_;
        auto it = k.netdevs.find(std::string(netdev));
        if (it == k.netdevs.end()) {
            error = "no netdev " + std::string(netdev);
            return -ENODEV;
        }
        if (master == netdev || netdev == "lo") {
            error = "cannot enslave " + std::string(netdev) + " to " + std::string(master);
            return -EINVAL;
        }
        if (!master.empty()) {
            auto m = k.netdevs.find(std::string(master));
            if (m != k.netdevs.end() && !m->second.device.empty()) {
                error = std::string(master) + " is a device's netdev, not a bridge or bond";
                return -EINVAL;
            }
            if (m == k.netdevs.end()) {
                std::string name(master);
                NetdevState n{
                    name, "", k.alloc_ifindex(), true, "", make_mac(name), "/devices/virtual/net/" + name};
                k.netdevs[name] = n;
                k.emit(k.net_event("add", n));
            }
        }
        it->second.master = std::string(master);
        k.dirty = true;
    }
    impl_->flush();
    return 0;
}

int Kernel::set_group_hold(int group, GroupHold hold, std::string& error) {
    {
        std::lock_guard lock(impl_->mu);
        bool exists = false;
        for (auto& [a, d] : impl_->devices)
            exists = exists || (d.present && d.iommu_group == group);
        for (auto& [u, m] : impl_->mdevs)
            exists = exists || m.group == group;
        if (!exists && hold != GroupHold::None) {
            error = "no IOMMU group " + std::to_string(group);
            return -ENOENT;
        }
        // A holder stands for a VMM: after opening the group it attaches it to a container
        // (VFIO_GROUP_SET_CONTAINER), which claims the group's DMA ownership and fails with EPERM while
        // a member is bound to a host driver (iommu_group_claim_dma_owner, drivers/iommu/iommu.c).
        // (Only a group with a VFIO member has a /dev/vfio node to open; the model's own tests also hold
        // groups without one, to stand for other kinds of use.)
        if (std::string why;
            hold != GroupHold::None && impl_->vfio_groups.count(group) && !impl_->group_viable(group, why)) {
            error = "IOMMU group " + std::to_string(group) + " is not viable: " + why;
            return -EPERM;
        }
        impl_->holds[group] = hold;
    }
    impl_->cv.notify_all();
    return 0;
}

int Kernel::add_fault(const Fault& fault, std::string& error) {
    std::lock_guard lock(impl_->mu);
    Fault f = fault;
    switch (f.kind) {
    case Fault::Kind::FailWrite:
        if (f.error <= 0) {
            error = "FailWrite needs a positive errno";
            return -EINVAL;
        }
        [[fallthrough]];
    case Fault::Kind::BlockWrite:
        if (f.path.rfind("/sys/", 0) != 0) {
            error = "fault path must be an absolute /sys path";
            return -EINVAL;
        }
        if (f.kind == Fault::Kind::BlockWrite && f.seconds <= 0) {
            error = "BlockWrite needs seconds > 0";
            return -EINVAL;
        }
        break;
    case Fault::Kind::ProbeFail: {
        f.path = address_of(f.path);
        if (!impl_->dev(f.path)) {
            error = "no present device " + f.path;
            return -ENOENT;
        }
        if (f.error <= 0)
            f.error = EINVAL;
        break;
    }
    case Fault::Kind::LimitVfs:
    case Fault::Kind::EnablesVfs:
    case Fault::Kind::ProbeDelay: {
        f.path = address_of(f.path);
        auto* d = impl_->dev(f.path);
        if (!d) {
            error = "no present device " + f.path;
            return -ENOENT;
        }
        if (d->is_vf || !d->spec->sriov) {
            error = f.path + " is not an SR-IOV PF";
            return -EINVAL;
        }
        if (f.kind == Fault::Kind::ProbeDelay && f.seconds <= 0) {
            error = "ProbeDelay needs seconds > 0";
            return -EINVAL;
        }
        if (f.kind == Fault::Kind::EnablesVfs && f.value != SriovSpec::kEnablesAll &&
            (f.value == 0 || f.value > d->spec->sriov->totalvfs)) {
            error = "EnablesVfs needs 1.." + std::to_string(d->spec->sriov->totalvfs) + " or all";
            return -EINVAL;
        }
        break;
    }
    }
    impl_->faults.push_back({f, f.count});
    return 0;
}

void Kernel::clear_faults() {
    std::lock_guard lock(impl_->mu);
    impl_->faults.clear();
    ++impl_->faults_cleared;
    impl_->cv.notify_all(); // blocked writes go on now (then carried out as usual)
}

int Kernel::load_module(std::string_view module, std::string& error) {
    {
        std::lock_guard lock(impl_->mu);
        auto& k = *impl_;
        const ModuleSpec* m = k.spec.find_module(module);
        if (!m) {
            error = "module " + std::string(module) + " not found";
            return -ENOENT;
        }
        if (k.loaded_modules.count(m->name))
            return 0;
        k.loaded_modules.insert(m->name);
        k.dirty = true;
        Uevent mev;
        mev.properties = {{"ACTION", "add"}, {"DEVPATH", "/module/" + m->name}, {"SUBSYSTEM", "module"}};
        k.emit(mev);
        for (auto& name : k.driver_order) {
            auto& drv = k.drivers.at(name);
            if (drv.spec.module != m->name)
                continue;
            // bus.c bus_add_driver: the driver's kobject add event, then driver_attach() if autoprobe.
            Uevent dev_ev;
            dev_ev.properties = {
                {"ACTION", "add"}, {"DEVPATH", "/bus/pci/drivers/" + name}, {"SUBSYSTEM", "drivers"}};
            k.emit(dev_ev);
            if (k.bus_autoprobe)
                k.driver_attach(drv);
        }
        for (auto& s : k.spec.mdev_parents)
            if (s.module == m->name)
                k.register_virtual_parent(k.virtual_parents.at(s.name));
        track_destructions(k);
    }
    impl_->flush();
    return 0;
}

void Kernel::reset() {
    {
        std::lock_guard lock(impl_->mu);
        ++impl_->generation;
        impl_->faults.clear();
        impl_->log.clear();
        impl_->destructions.clear();
        impl_->forget_all = true; // the next rebuild gives every node a new inode
        impl_->init_from_spec();
    }
    impl_->cv.notify_all();
    impl_->flush();
}

void Kernel::input_changed() {
    std::lock_guard lock(impl_->mu);
    impl_->destructions.clear();
}

bool Impl::module_param_true(const std::string& module, const std::string& param) const {
    const ModuleSpec* m = spec.find_module(module);
    const std::string* v = m ? m->parameter(param) : nullptr;
    return v && (*v == "Y" || *v == "y" || *v == "1");
}

bool Impl::group_viable(int group, std::string& why) const {
    // Viable: every member is bound to a driver that manages DMA ownership itself (VFIO drivers,
    // pci-stub), to none, or is a bridge (pcieport). Any other driver holds the group's default domain.
    for (auto& [address, d] : devices) {
        if (!d.present || d.iommu_group != group || d.driver.empty())
            continue;
        const DriverSpec& drv = drivers.at(d.driver).spec;
        const bool bridge = (d.class_code >> 8) == 0x0604;
        if (drv.override_only || d.driver == "pci-stub" || bridge)
            continue;
        why = address + " is bound to " + d.driver + " (a host driver)";
        return false;
    }
    return true;
}

std::vector<WriteRecord> Kernel::write_log() const {
    std::lock_guard lock(impl_->mu);
    return impl_->log;
}

void Kernel::clear_write_log() {
    std::lock_guard lock(impl_->mu);
    impl_->log.clear();
}

std::string Kernel::modules_alias() const {
    std::lock_guard lock(impl_->mu);
    std::string out;
    for (auto& m : impl_->spec.modules)
        for (auto& a : m.aliases)
            out += "alias " + a + " " + m.name + "\n";
    return out;
}

std::string Kernel::modules_dep() const {
    std::lock_guard lock(impl_->mu);
    std::string out;
    for (auto& m : impl_->spec.modules)
        out += "kernel/drivers/simhost/" + m.name + ".ko:\n";
    return out;
}

std::vector<std::string> Kernel::devnodes() const {
    std::vector<std::string> out;
    for (const DevNode& n : devnode_numbers())
        out.push_back(n.name);
    return out;
}

std::vector<DevNode> Kernel::devnode_numbers() const {
    std::lock_guard lock(impl_->mu);
    std::vector<DevNode> out = {{"vfio/vfio", kMiscMajor, 0}};
    if (impl_->spec.vfio_cdev)
        out.push_back({"iommu", kMiscMajor, 1});
    for (int g : impl_->vfio_groups)
        out.push_back({"vfio/" + std::to_string(g), kVfioGroupMajor, impl_->group_minor.at(g)});
    if (impl_->spec.vfio_cdev)
        for (auto& [key, n] : impl_->vfio_index)
            out.push_back({"vfio/devices/vfio" + std::to_string(n), kVfioCdevMajor, unsigned(n)});
    return out;
}

int Kernel::vfio_group_info(int group, VfioGroupInfo& out, std::string& error) const {
    std::lock_guard lock(impl_->mu);
    out = {};
    out.group = group;
    out.node = impl_->vfio_groups.count(group) > 0;
    auto add = [&](const std::string& key) {
        VfioGroupInfo::Device d;
        d.name = key;
        d.syspath = "/sys" + impl_->vfio_device_dir(key);
        auto it = impl_->vfio_index.find(key);
        d.cdev = it != impl_->vfio_index.end() && impl_->spec.vfio_cdev ? it->second : -1;
        out.devices.push_back(std::move(d));
    };
    bool exists = false;
    if (auto members = impl_->group_members.find(group); members != impl_->group_members.end()) {
        for (const std::string& a : members->second)
            if (impl_->dev(a)) {
                exists = true;
                if (impl_->vfio_index.count(a))
                    add(a);
            }
    }
    for (auto& [u, m] : impl_->mdevs)
        if (m.group == group) {
            exists = true;
            if (impl_->vfio_index.count(u))
                add(u);
        }
    if (!exists) {
        error = "no IOMMU group " + std::to_string(group);
        return -ENOENT;
    }
    return 0;
}

void Impl::register_netdev(const std::string& name, const DeviceState* d) {
    if (netdevs.count(name))
        return; // register_netdev fails with -EEXIST; the driver carries on without it
    NetdevState n{name,
                  d ? d->address : "",
                  alloc_ifindex(),
                  false,
                  "",
                  make_mac(name + (d ? d->address : "")),
                  d ? d->dir + "/net/" + name : "/devices/virtual/net/" + name};
    netdevs[name] = n;
    dirty = true;
    emit(net_event("add", n));
}

void Impl::unregister_netdev(const std::string& name) {
    auto it = netdevs.find(name);
    if (it == netdevs.end())
        return;
    for (auto& [n, other] : netdevs)
        if (other.master == name)
            other.master.clear();
    emit(net_event("remove", it->second));
    netdevs.erase(it);
    dirty = true;
}

} // namespace simhost
