#include "plan/plan_util.hpp"

namespace hostdevd::planner {

std::string device_attr(const std::string& address, const std::string& attribute) {
    return "bus/pci/devices/" + address + "/" + attribute;
}

std::string mdev_bus_attr(const std::string& parent, const std::string& attribute) {
    return "class/mdev_bus/" + parent + "/" + attribute;
}

std::string driver_attr(const std::string& driver, const std::string& attribute) {
    return "bus/pci/drivers/" + driver + "/" + attribute;
}

std::vector<std::string> device_holders(const ObservedState& observed, const std::string& address) {
    std::vector<std::string> holders;
    if (const PciDevice* device = observed.find(address))
        holders = device->holders;
    for (const auto& [uuid, mdev] : observed.mdevs)
        if (mdev.parent == address && mdev.in_use())
            holders.push_back("mdev " + uuid + ": " + join(mdev.holders, ", "));
    return holders;
}

std::vector<std::string> child_mdevs(const ObservedState& observed, const std::string& address) {
    std::vector<std::string> uuids;
    for (const auto& [uuid, mdev] : observed.mdevs)
        if (mdev.parent == address)
            uuids.push_back(uuid);
    return uuids;
}

std::string destroyed_device(const ObservedState& observed, const std::string& address) {
    const PciDevice* d = observed.find(address);
    return address + (d && !d->driver.empty() ? " (driver " + d->driver + ")" : " (no driver)");
}

std::string destroyed_mdev(const ObservedState& observed, const std::string& uuid) {
    auto it = observed.mdevs.find(uuid);
    return "mdev " + uuid +
           (it == observed.mdevs.end() ? "" : " (type " + it->second.type + " on " + it->second.parent + ")");
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty())
            out += separator;
        out += part;
    }
    return out;
}

std::string in_use_reason(const std::string& what, const std::vector<std::string>& holders) {
    return what + " in use: " + join(holders, ", ");
}

Action make_action(ActionKind kind, Wave wave, const std::string& object, const std::string& source) {
    Action action;
    action.kind = kind;
    action.wave = wave;
    action.object = object;
    action.source = source;
    return action;
}

std::string driver_text(const DriverChoice& driver) {
    switch (driver.kind) {
    case DriverChoice::Kind::Leave:
        return "";
    case DriverChoice::Kind::Named:
        return driver.name;
    case DriverChoice::Kind::Vfio:
        return "vfio";
    case DriverChoice::Kind::None:
        return "none";
    }
    return "";
}

} // namespace hostdevd::planner
