#include "observe/effect_check.hpp"

#include "sysfs/read.hpp"

#include <filesystem>

namespace hostdevd {

namespace {

std::string trimmed(std::string v) {
    while (!v.empty() && (v.back() == '\n' || v.back() == ' '))
        v.pop_back();
    return v;
}

// The driver a bind asks for: the driver_override value, or <drv> of drivers/<drv>/bind.
std::string bind_target(const Action& action) {
    for (const SysfsWrite& w : action.writes) {
        if (w.path.size() > 16 && w.path.compare(w.path.size() - 16, 16, "/driver_override") == 0)
            return trimmed(w.value);
        constexpr std::string_view drivers = "bus/pci/drivers/";
        if (w.path.rfind(drivers, 0) == 0 && w.path.size() > 5 &&
            w.path.compare(w.path.size() - 5, 5, "/bind") == 0)
            return w.path.substr(drivers.size(), w.path.size() - drivers.size() - 5);
    }
    return "";
}

} // namespace

std::optional<bool> effect_visible(const SysfsLayout& layout, const Action& action) {
    if (action.writes.empty())
        return std::nullopt;
    const SysfsWrite& last = action.writes.back();
    const std::string value = trimmed(last.value);
    switch (action.kind) {
    case ActionKind::Bind: {
        const std::string want = bind_target(action);
        TextResult driver = read_link_name(layout.pci_device_attr(action.object, "driver"));
        return !want.empty() && driver.ok() && driver.text == want;
    }
    case ActionKind::Unbind: {
        if (last.path.size() < 7 || last.path.compare(last.path.size() - 7, 7, "/unbind") != 0)
            return std::nullopt; // only driver_override = none
        return !read_link_name(layout.pci_device_attr(action.object, "driver")).ok();
    }
    case ActionKind::SetNumVfs:
    case ActionKind::SetAutoprobe:
    case ActionKind::SetVgpu: {
        TextResult now = read_attribute(layout.sys(last.path));
        if (!now.ok())
            return std::nullopt;
        return trimmed(now.text) == value;
    }
    case ActionKind::CreateMdev:
    case ActionKind::RemoveMdev: {
        std::error_code ec;
        const bool exists = std::filesystem::exists(layout.mdev_device(action.object), ec);
        return action.kind == ActionKind::CreateMdev ? exists : !exists;
    }
    case ActionKind::LoadModule:
        return std::nullopt;
    }
    return std::nullopt;
}

} // namespace hostdevd
