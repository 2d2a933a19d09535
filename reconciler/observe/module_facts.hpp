// What the running kernel offers besides its devices: the modules it can load (modules.dep) and
// vfio-pci's denylist switch. Read whole every time; the files are small or cached by the kernel.
#pragma once

#include "model/observed.hpp"
#include "sysfs/layout.hpp"

namespace hostdevd {

// Fills `available_modules`, `vfio_pci_disable_denylist` and `vfio_pci_enable_sriov`. Returns whether they
// changed.
bool read_module_facts(const SysfsLayout& layout, ObservedState& state);

} // namespace hostdevd
