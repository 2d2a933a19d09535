#include "gate/inputs.hpp"

#include <cstdio>
#include <optional>

namespace hostdevd {

namespace {

std::string hex64(uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

uint64_t fnv1a(const std::string& text) {
    uint64_t h = 1469598103934665603ull;
    for (char c : text)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    return h;
}

void mdev_types_text(std::string& out, const std::vector<MdevType>& types) {
    for (const MdevType& t : types)
        out += " type=" + t.id + ":" + std::to_string(t.available) + ":" + std::to_string(t.devices.size());
}

// Everything observed about a PCI device that a write to it can depend on, holders excepted.
void device_text(std::string& out, const ObservedState& observed, const std::string& address) {
    out += "\npci " + address;
    const PciDevice* d = observed.find(address);
    if (!d) {
        out += " absent";
        return;
    }
    out += " id=" + std::to_string(d->vendor) + ":" + std::to_string(d->device);
    out += " driver=" + d->driver;
    out += " override=" + (d->has_driver_override ? d->driver_override : std::string("(no file)"));
    if (d->is_pf)
        out += " vfs=" + std::to_string(d->num_vfs) + "/" + std::to_string(d->total_vfs) +
               " autoprobe=" + (d->drivers_autoprobe ? "1" : "0");
    if (!d->physfn.empty())
        out += " physfn=" + d->physfn + ":" + std::to_string(d->vf_index);
    if (d->vgpu) {
        out += " vgpu=" + std::to_string(d->vgpu->current) + " creatable=";
        for (const VgpuType& t : d->vgpu->creatable)
            out += std::to_string(t.id) + ",";
    }
    mdev_types_text(out, d->mdev_types);
}

void parent_text(std::string& out, const ObservedState& observed, const std::string& parent) {
    if (observed.find(parent)) {
        device_text(out, observed, parent);
        return;
    }
    out += "\nparent " + parent;
    auto it = observed.mdev_parents.find(parent);
    if (it == observed.mdev_parents.end()) {
        out += " absent";
        return;
    }
    mdev_types_text(out, it->second.mdev_types);
}

// What decides whether a bind or a module load can take: the drivers registered, the modules loaded
// with the drivers they register, vfio-pci's denylist switch.
void host_drivers_text(std::string& out, const ObservedState& observed) {
    out += "\ndrivers";
    for (const std::string& d : observed.drivers)
        out += " " + d;
    out += "\nmodules"; // those registering PCI drivers (a host has hundreds of modules, most without)
    for (const auto& [module, drivers] : observed.module_drivers) {
        if (drivers.empty())
            continue;
        out += " " + module + "=";
        for (const std::string& d : drivers)
            out += d + ",";
    }
    if (observed.vfio_pci_disable_denylist)
        out += *observed.vfio_pci_disable_denylist ? " denylist-off" : " denylist-on";
}

// The parent an mdev create writes to: "bus/pci/devices/<p>/mdev_supported_types/..." or
// "class/mdev_bus/<p>/mdev_supported_types/...".
std::optional<std::string> create_parent(const Action& action) {
    for (const SysfsWrite& w : action.writes) {
        for (std::string prefix : {"bus/pci/devices/", "class/mdev_bus/"}) {
            if (w.path.rfind(prefix, 0) == 0) {
                std::string rest = w.path.substr(prefix.size());
                return rest.substr(0, rest.find('/'));
            }
        }
    }
    return std::nullopt;
}

const char* kind_text(ActionKind k) {
    return to_string(k);
}

std::string last_value(const Action& action) {
    if (action.writes.empty())
        return "";
    std::string v = action.writes.back().value;
    while (!v.empty() && v.back() == '\n')
        v.pop_back();
    return v;
}

// The driver a bind asks for: the driver_override value, or <drv> of drivers/<drv>/bind.
std::string bind_target(const Action& action) {
    for (const SysfsWrite& w : action.writes) {
        if (w.path.size() > 16 && w.path.compare(w.path.size() - 16, 16, "/driver_override") == 0)
            return w.value;
        constexpr std::string_view drivers = "bus/pci/drivers/";
        if (w.path.rfind(drivers, 0) == 0) {
            std::string rest = w.path.substr(drivers.size());
            return rest.substr(0, rest.find('/'));
        }
    }
    return "";
}

} // namespace

std::string gate_inputs_text(const Action& a, const ObservedState& observed) {
    std::string out = std::string("action ") + kind_text(a.kind) + " " + a.object + " \"" + a.summary + "\"";
    for (const SysfsWrite& w : a.writes)
        out += "\nwrite " + w.path + "=" + w.value;
    if (!a.module.empty())
        out += "\nmodule " + a.module;
    switch (a.kind) {
    case ActionKind::SetAutoprobe:
    case ActionKind::SetNumVfs:
    case ActionKind::SetVgpu:
        device_text(out, observed, a.object);
        break;
    case ActionKind::Bind:
    case ActionKind::Unbind:
    case ActionKind::LoadModule:
        device_text(out, observed, a.object);
        host_drivers_text(out, observed);
        break;
    case ActionKind::CreateMdev:
    case ActionKind::RemoveMdev: {
        auto mdev = observed.mdevs.find(a.object);
        if (mdev == observed.mdevs.end()) {
            out += "\nmdev " + a.object + " absent";
        } else {
            out += "\nmdev " + a.object + " parent=" + mdev->second.parent + " type=" + mdev->second.type;
            parent_text(out, observed, mdev->second.parent);
        }
        if (auto parent = create_parent(a);
            parent && (mdev == observed.mdevs.end() || mdev->second.parent != *parent))
            parent_text(out, observed, *parent);
        break;
    }
    }
    return out;
}

std::string gate_inputs(const Action& action, const ObservedState& observed) {
    return hex64(fnv1a(gate_inputs_text(action, observed)));
}

std::string describe_no_effect(const Action& a, const ObservedState& observed) {
    const PciDevice* d = observed.find(a.object);
    const std::string value = last_value(a);
    switch (a.kind) {
    case ActionKind::SetNumVfs:
        if (d && value == "0")
            return std::to_string(d->num_vfs) + " VFs still enabled after writing 0";
        if (d)
            return "driver enabled " + std::to_string(d->num_vfs) + " VFs when " + value +
                   (value == "1" ? " was written" : " were written");
        break;
    case ActionKind::SetAutoprobe:
        if (d)
            return std::string("sriov_drivers_autoprobe is ") + (d->drivers_autoprobe ? "1" : "0") +
                   " after writing " + value;
        break;
    case ActionKind::Bind:
        if (d)
            return a.object + (d->driver.empty() ? " has no driver" : " is bound to " + d->driver) +
                   " after binding " + bind_target(a) + " (the write succeeded; the probe did not take)";
        break;
    case ActionKind::Unbind:
        if (d && !d->driver.empty())
            return a.object + " is bound to " + d->driver + " again after the unbind";
        if (d)
            return a.object + " driver_override is \"" + d->driver_override + "\" after writing \"" + value +
                   "\"";
        break;
    case ActionKind::SetVgpu:
        if (d && d->vgpu)
            return "nvidia/current_vgpu_type is " + std::to_string(d->vgpu->current) + " after writing " +
                   value;
        break;
    case ActionKind::CreateMdev:
        return "mdev " + a.object + " does not exist after the create write";
    case ActionKind::RemoveMdev:
        return "mdev " + a.object + " still exists after the remove write";
    case ActionKind::LoadModule:
        return "modprobe " + a.module + " succeeded but the driver it should register did not appear";
    }
    return "the write succeeded but the device did not change";
}

} // namespace hostdevd
