// The safety oracle's churn rule: hostdevd never repeats a destructive write when nothing changed since
// the last one (issue 15: a driver enabling 16 VFs when 4 are written made hostdevd write 0 then 4, over
// and over). The model remembers each destructive write that succeeded (the same writes kernel_oracle.cpp
// calls disruptive) with the state of the object it destroyed before and right after it. The same write
// issued again is a repetition when the object is in that same "before" state and has been in no third
// state in between: the first attempt ended where it started, and nothing the kernel shows has changed.
//
// "Input" also means what the kernel cannot see: hostdevd's configuration. Tests announce a change of it
// with `simhost ctl input-changed` (and `reset` starts afresh), which forgets every remembered write.
// Holders are not part of the state: a guest coming and going changes whether hostdevd may act, not what
// its action would do.
#include "kernel_oracle_repeat.hpp"

#include "kernel_impl.hpp"

namespace simhost {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

const DeviceState* device_by_dir(const Impl& k, std::string_view dir) {
    for (auto& [a, d] : k.devices)
        if (d.present && d.dir == dir)
            return &d;
    return nullptr;
}

// Everything about a PCI device a destructive write to it can depend on, holders excepted.
std::string device_state(const Impl& k, const std::string& address) {
    const DeviceState* d = k.dev(address);
    if (!d)
        return "absent";
    std::string out = "driver=" + d->driver +
                      " override=" + (d->driver_override ? *d->driver_override : "-") +
                      " numvfs=" + std::to_string(d->numvfs) + " autoprobe=" + (d->autoprobe ? "1" : "0") +
                      " vgpu=" + std::to_string(d->vgpu_type) + " parent=" + (d->mdev_registered ? "1" : "0");
    if (d->is_vf) // a VF's creatable vGPUs depend on its siblings'
        for (auto& [a, other] : k.devices)
            if (other.present && other.is_vf && other.pf == d->pf && a != address)
                out += " sibling-vgpu=" + std::to_string(other.vgpu_type);
    for (auto& [uuid, m] : k.mdevs)
        if (m.parent == address)
            out += " mdev=" + uuid + ":" + m.type;
    out += " modules=";
    for (const auto& m : k.loaded_modules)
        out += m + ",";
    return out;
}

std::string mdev_state(const Impl& k, const std::string& uuid) {
    auto it = k.mdevs.find(uuid);
    if (it == k.mdevs.end())
        return "absent";
    return "type=" + it->second.type + " parent=" + it->second.parent + " [" +
           device_state(k, it->second.parent) + "]";
}

std::string object_state(const Impl& k, const std::string& object) {
    if (object.rfind("mdev:", 0) == 0)
        return mdev_state(k, object.substr(5));
    return device_state(k, object.substr(4)); // "dev:<address>"
}

} // namespace

std::optional<DestructiveWrite> destructive_write(const Impl& k, const std::string& canon,
                                                  std::string_view data) {
    const std::string value = strip_newline(data);
    const std::string dir = parent_dir(canon);
    std::optional<DestructiveWrite> out;
    auto make = [&](const std::string& object) {
        out = DestructiveWrite{canon + "=" + value, object, object_state(k, object)};
    };
    unsigned long long n = 0;
    if (ends_with(canon, "/sriov_numvfs")) {
        const DeviceState* pf = device_by_dir(k, dir);
        if (pf && pf->numvfs > 0 && kstrtoull(data, 0, ~0ull, n) == 0 && n == 0)
            make("dev:" + pf->address);
    } else if (ends_with(canon, "/unbind") && canon.rfind("/bus/pci/drivers/", 0) == 0) {
        const DeviceState* d = k.dev(value);
        if (d && !d->driver.empty() && "/bus/pci/drivers/" + d->driver + "/unbind" == canon)
            make("dev:" + d->address);
    } else if (ends_with(canon, "/nvidia/current_vgpu_type")) {
        const DeviceState* vf = device_by_dir(k, parent_dir(dir));
        if (vf && vf->vgpu_type != 0 && kstrtoull(data, 0, ~0ull, n) == 0 && n == 0)
            make("dev:" + vf->address);
    } else if (ends_with(canon, "/remove")) {
        const std::string uuid = dir.substr(dir.rfind('/') + 1);
        if (k.mdevs.count(uuid) && kstrtoull(data, 0, ~0ull, n) == 0 && n != 0)
            make("mdev:" + uuid);
    } else if (ends_with(canon, "/reset")) {
        if (const DeviceState* d = device_by_dir(k, dir))
            make("dev:" + d->address);
    }
    return out;
}

std::string repeated_destruction(const Impl& k, const DestructiveWrite& w) {
    auto it = k.destructions.find(w.key);
    if (it == k.destructions.end() || it->second.before != w.before || it->second.other_state_seen)
        return {};
    return w.key.substr(w.key.rfind('/') + 1) + " on " + w.object.substr(w.object.find(':') + 1) +
           " repeated from the same state, with no change of input since the last one (" + w.before + ")";
}

void remember_destruction(Impl& k, const DestructiveWrite& w) {
    k.destructions[w.key] = Impl::Destruction{w.object, w.before, object_state(k, w.object), false};
}

void track_destructions(Impl& k) {
    for (auto& [key, d] : k.destructions) {
        if (d.other_state_seen)
            continue;
        const std::string now = object_state(k, d.object);
        d.other_state_seen = now != d.before && now != d.after;
    }
}

} // namespace simhost
