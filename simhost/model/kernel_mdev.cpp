// Mediated devices (drivers/vfio/mdev/mdev_sysfs.c, mdev_core.c) and NVIDIA's per-VF vendor-specific
// vGPU files (nvidia/creatable_vgpu_types, nvidia/current_vgpu_type; vgpu-device-manager PR #195).
#include "kernel_impl.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>

namespace simhost {

unsigned Impl::mdev_available(const DeviceState& parent, const MdevTypeSpec& type) const {
    const MdevSpec& spec = *parent.spec->mdev;
    unsigned mine = 0, used = 0;
    bool other_type = false;
    for (auto& [u, m] : mdevs) {
        if (m.parent != parent.address)
            continue;
        for (auto& t : spec.types)
            if (t.id == m.type)
                used += t.cost;
        if (m.type == type.id)
            ++mine;
        else
            other_type = true;
    }
    // A single-type parent (NVIDIA time-sliced vGPU on one physical GPU) offers nothing of other types
    // while any instance exists.
    if (spec.single_type && other_type)
        return 0;
    unsigned avail = type.max > mine ? type.max - mine : 0;
    if (spec.capacity)
        avail = std::min(avail, used >= spec.capacity ? 0u : (spec.capacity - used) / type.cost);
    return avail;
}

namespace {
// lib/uuid.c guid_parse(): 8-4-4-4-12 hex digits with dashes.
bool parse_uuid(std::string_view s, std::string& out) {
    if (s.size() < 36)
        return false;
    out.clear();
    for (size_t i = 0; i < 36; ++i) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c)))
            return false;
        out += char(std::tolower(static_cast<unsigned char>(c))); // the device is named "%pUl"
    }
    return true;
}
} // namespace

int Impl::w_mdev_create(const std::string& parent, const std::string& type, std::string_view data) {
    // mdev_sysfs.c create_store(): exactly UUID_STRING_LEN (36) or 37 bytes, then guid_parse().
    if (data.size() < 36 || data.size() > 37)
        return -EINVAL;
    std::string uuid;
    if (!parse_uuid(data, uuid))
        return -EINVAL;
    // mdev_core.c mdev_device_create(): a UUID in use on any parent is -EEXIST; then availability.
    if (mdevs.count(uuid))
        return -EEXIST;
    DeviceState* p = mdev_parent(parent);
    if (!p || !p->mdev_registered)
        return -ENODEV;
    const MdevTypeSpec* ty = nullptr;
    for (auto& t : p->spec->mdev->types)
        if (t.id == type)
            ty = &t;
    if (!ty)
        return -ENODEV;
    if (mdev_available(*p, *ty) == 0)
        return -p->spec->mdev->full_errno;
    MdevState m{uuid, parent, type, next_mdev_group++};
    mdevs[uuid] = m;
    tree_mdev_added(m);
    // device_add (KOBJ_ADD), then vfio_mdev probes: emulated IOMMU group + VFIO device, KOBJ_BIND.
    emit(mdev_event("add", m, false));
    refresh_vfio_group(m.group);
    refresh_vfio_device(uuid, true);
    emit(mdev_event("bind", m, true));
    return 0;
}

void Impl::remove_mdev(const std::string& uuid) {
    auto it = mdevs.find(uuid);
    if (it == mdevs.end())
        return;
    MdevState m = it->second;
    emit(mdev_event("unbind", m, false));
    refresh_vfio_device(uuid, false);
    mdevs.erase(it);
    refresh_vfio_group(m.group);
    emit(mdev_event("remove", m, false));
    holds.erase(m.group);
    tree_mdev_removed(m);
}

int Impl::w_mdev_remove(std::unique_lock<std::mutex>& lock, const std::string& uuid, std::string_view data) {
    // mdev_sysfs.c remove_store(): kstrtoul(buf, 0); 0 is accepted and does nothing.
    unsigned long long v = 0;
    if (kstrtoull(data, 0, ~0ull, v))
        return -EINVAL;
    if (v == 0)
        return 0;
    for (;;) {
        auto it = mdevs.find(uuid);
        if (it == mdevs.end())
            return -ENODEV;
        if (group_held(it->second.group)) {
            // mdev_core.c mdev_device_remove_common(): the type's devices/ link goes
            // (mdev_remove_sysfs_files), device_del() takes the device off the bus
            // (/sys/bus/mdev/devices/<uuid> goes), then releasing its driver waits in
            // vfio_unregister_group_dev() for the device fd to close. Seen on Debian's 6.1 kernel
            // (tests/vm/facts): the bus entry is gone while the write still blocks.
            if (!it->second.removing) {
                it->second.removing = true;
                tree_mdev_unlisted(it->second);
            }
            wait_locked(lock, {uuid});
            if (stopping)
                return -EINTR;
            continue;
        }
        remove_mdev(uuid);
        return 0;
    }
}

void Impl::register_mdev_parent(DeviceState& d) {
    // mdev_core.c mdev_register_parent(): types appear, then KOBJ_CHANGE with MDEV_STATE=registered.
    d.mdev_registered = true;
    dirty = true;
    emit(pci_event("change", d, {{"MDEV_STATE", "registered"}}));
}

void Impl::register_virtual_parent(DeviceState& d) {
    // mtty.c mtty_dev_init(): device_register() of the class device (KOBJ_ADD), then
    // mdev_register_parent() (KOBJ_CHANGE, MDEV_STATE=registered).
    const std::string cls = d.dir.substr(0, d.dir.rfind('/')).substr(std::string("/devices/virtual/").size());
    d.mdev_registered = true;
    dirty = true;
    for (auto [action, state] : {std::pair{"add", ""}, std::pair{"change", "registered"}}) {
        Uevent ev;
        ev.properties = {{"ACTION", action}, {"DEVPATH", d.dir}, {"SUBSYSTEM", cls}};
        if (*state)
            ev.properties.emplace_back("MDEV_STATE", state);
        emit(std::move(ev));
    }
}

void Impl::unregister_mdev_parent(DeviceState& d) {
    // mdev_unregister_parent(): children removed first, then MDEV_STATE=unregistered.
    std::vector<std::string> mine;
    for (auto& [u, m] : mdevs)
        if (m.parent == d.address)
            mine.push_back(u);
    for (auto& u : mine)
        remove_mdev(u);
    d.mdev_registered = false;
    dirty = true;
    emit(pci_event("change", d, {{"MDEV_STATE", "unregistered"}}));
}

std::vector<const VgpuProfileSpec*> Impl::creatable_vgpu(const DeviceState& vf) const {
    std::vector<const VgpuProfileSpec*> out;
    const VgpuSpec& g = *vf.spec->vgpu;
    if (vf.vgpu_type != 0)
        return out; // a VF hosts one vGPU
    unsigned used = 0;
    for (auto& [a, d] : devices) {
        if (!d.present || !d.is_vf || d.pf != vf.pf || d.vgpu_type == 0)
            continue;
        for (auto& p : g.profiles)
            if (p.id == d.vgpu_type)
                used += g.capacity / p.max;
    }
    for (auto& p : g.profiles)
        if (used + g.capacity / p.max <= g.capacity)
            out.push_back(&p);
    return out;
}

int Impl::w_current_vgpu(std::unique_lock<std::mutex>& lock, const std::string& addr, std::string_view data) {
    unsigned long long id = 0;
    if (kstrtoull(data, 0, 0xffffffffull, id))
        return -EINVAL;
    for (;;) {
        DeviceState* vf = dev(addr);
        if (!vf)
            return -ENODEV;
        if (id == 0) {
            if (vf->vgpu_type == 0)
                return 0;
            if (group_held(vf->iommu_group)) {
                wait_locked(lock, {addr}); // the vGPU's VFIO device is open
                if (stopping)
                    return -EINTR;
                continue;
            }
            clear_vgpu(*vf);
            return 0;
        }
        if (vf->vgpu_type != 0)
            return -EBUSY;
        auto ok = creatable_vgpu(*vf);
        if (std::none_of(ok.begin(), ok.end(), [&](auto* p) { return p->id == id; }))
            return -EINVAL;
        vf->vgpu_type = unsigned(id);
        dirty = true;
        refresh_vfio_group(vf->iommu_group);
        return 0;
    }
}

void Impl::clear_vgpu(DeviceState& vf) {
    vf.vgpu_type = 0;
    dirty = true;
    refresh_vfio_group(vf.iommu_group);
}

} // namespace simhost
