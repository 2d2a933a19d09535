// Small helpers shared by the planner's parts: sysfs paths relative to the sysfs root, in-use holder
// strings, joining. Internal to reconciler/plan.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

#include <string>
#include <vector>

namespace hostdevd::planner {

// "bus/pci/devices/<address>/<attribute>"
std::string device_attr(const std::string& address, const std::string& attribute);
// "class/mdev_bus/NAME/ATTR": an mdev parent by its mdev_bus name (any bus; the only way to a non-PCI one).
std::string mdev_bus_attr(const std::string& parent, const std::string& attribute);
// "bus/pci/drivers/<driver>/<attribute>"
std::string driver_attr(const std::string& driver, const std::string& attribute);

// Everything that holds `device`: its own holders, plus every in-use mdev whose parent it is ("mdev <uuid>:
// pid 7 (qemu)"), because destroying or detaching the parent destroys its mdevs (mdev_core.c removes the
// children when the parent driver unregisters).
std::vector<std::string> device_holders(const ObservedState& observed, const std::string& address);

// UUIDs of the mdevs whose parent is `address` (sorted, as ObservedState::mdevs is).
std::vector<std::string> child_mdevs(const ObservedState& observed, const std::string& address);

// What a destructive action destroys, one line each (Action::destroys): "0000:3b:02.0 (driver iavf)",
// "0000:3b:02.1 (no driver)"; "mdev <uuid> (type nvidia-222 on 0000:3d:00.4)".
std::string destroyed_device(const ObservedState& observed, const std::string& address);
std::string destroyed_mdev(const ObservedState& observed, const std::string& uuid);

std::string join(const std::vector<std::string>& parts, const std::string& separator);

// "<address> in use: h1, h2"
std::string in_use_reason(const std::string& what, const std::vector<std::string>& holders);

// An action with the fields every part fills the same way.
Action make_action(ActionKind kind, Wave wave, const std::string& object, const std::string& source);

// The configured driver as text: the name, "vfio", "none", or "" when the configuration leaves it alone.
std::string driver_text(const DriverChoice& driver);

} // namespace hostdevd::planner
