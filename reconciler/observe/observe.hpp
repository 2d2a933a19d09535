// The observe layer's public face: snapshots of the host as plain values (model/observed.hpp). Nothing
// else in hostdevd reads sysfs or /proc.
#pragma once

#include "model/observed.hpp"
#include "sysfs/layout.hpp"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace hostdevd {

// Everything: PCI devices (with SR-IOV, netdevs, mdev types, NVIDIA vGPU files), mdevs, drivers, the
// `vfio_pci:` lines of modules.alias, loaded modules' PCI drivers, and in-use holders of every device.
// Devices in `busy` (PCI address -> why) are not read at all: they go into ObservedState::busy instead,
// with their VFs (found through their `physfn` link, which takes no lock): reading a device whose lock a
// stuck store holds blocks the reader (observe/bounded_read.hpp).
ObservedState observe_host(const SysfsLayout& layout, const std::map<std::string, std::string>& busy = {});

// What a refresh_devices() changed in the state, for the incremental planner (plan/incremental.hpp).
struct ObservedChanges {
    std::set<std::string> devices; // PCI addresses re-read, added or removed, or whose holders changed
    std::set<std::string> mdevs;   // mdev UUIDs re-read, added or removed, or whose holders changed
    bool host_wide = false;        // the driver list, the modules' drivers or the known vGPU types changed
};

// The daemon's targeted re-read after events: re-reads the given PCI devices (a PF brings its VFs
// along, old and new), the mdevs on them, the driver list, and every holder (one fresh /proc scan).
// Devices that vanished are removed from `state`; addresses that are not PCI devices are ignored.
// A device or mdev that was re-read counts as changed, whether or not anything in it differs.
ObservedChanges refresh_devices(const SysfsLayout& layout, const std::vector<std::string>& addresses,
                                ObservedState& state);

// The mdev parents under /sys/class/mdev_bus that are not PCI devices, with their types. They are few
// (one per sample driver, AP matrix or CCW subchannel), so every pass reads them all.
std::map<std::string, MdevParent> read_mdev_parents(const SysfsLayout& layout);

// The in-use signals of one object right now, for the executor's re-check immediately before a
// disruptive write (safety.md): a fresh /proc scan and fresh netdev flags, nothing cached. `object` is
// a PCI address or an mdev UUID. An object that cannot be found has no holders (it is gone).
std::vector<std::string> holders_now(const SysfsLayout& layout, const std::string& object);

// The alias lines of modules.alias that start with "alias vfio_pci:" (file2alias.c emits them for
// override_only VFIO entries). Missing file: none.
std::vector<std::string> read_vfio_aliases(const SysfsLayout& layout);

// Adds the vGPU types creatable now to `state.vgpu_type_names`, merges what earlier observations of this
// boot remembered in <run>/hostdevd/vgpu-types, and saves the union there when it grew.
void remember_vgpu_types(const SysfsLayout& layout, ObservedState& state);

} // namespace hostdevd
