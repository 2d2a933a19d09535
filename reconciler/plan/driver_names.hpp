// Driver names checked against the running kernel (issue 15 "validation that knows the host"): a name
// the kernel registers, a module that registers a driver of another name (`vfio_pci` is vfio-pci's
// module), a name no driver or module of this kernel has. Used by the planner (the device's binding is
// `invalid`, nothing is unbound) and by `hostdevctl validate`. Pure.
#pragma once

#include "model/observed.hpp"

#include <optional>
#include <string>
#include <vector>

namespace hostdevd::planner {

// Why `name` (a `driver = "..."` value naming a driver) cannot be bound on this host, with the likely
// intended name ("\"vfio_pci\" is the module's name; its driver is \"vfio-pci\": did you mean driver =
// \"vfio-pci\"?"; the closest name by common/closest_match.hpp). nullopt when it is registered, or a
// module of this kernel may register it.
std::optional<std::string> driver_name_problem(const std::string& name, const ObservedState& observed);

// A vGPU profile name that is not one of `known` (the names this host's GPUs list) but is one of them in
// another case, with or without the "NVIDIA " prefix: the known name meant.
std::optional<std::string> profile_suggestion(const std::string& profile,
                                              const std::vector<std::string>& known);

// vfio_pci.c vfio_pci_dev_in_denylist() (Debian's 6.1.192, upstream 6.10+): vfio-pci's probe refuses
// these devices unless its disable_denylist parameter is set.
bool vfio_pci_denylisted(uint16_t vendor, uint16_t device);

} // namespace hostdevd::planner
