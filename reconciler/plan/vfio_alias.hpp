// `driver = "vfio"`: the best VFIO variant driver for a device from modules.alias `vfio_pci:` lines, the
// rule libvirt uses (virPCIDeviceFindBestVFIOVariant, sysfs-abi.md §4.2/4.3): prefix the device's modalias
// with "vfio_", match it against each `alias vfio_pci:<pattern> <module>` line (`*` wildcards over the
// fields v d sv sd bc sc i), keep the match with the fewest wildcards. The generic
// `alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci` line, or no match at all, means plain vfio-pci.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace hostdevd::planner {

// `*` matches any run of characters; everything else matches itself, ignoring ASCII case (modalias prints
// upper-case hex, pci-sysfs.c; modules.alias is written by file2alias.c in upper case too).
bool glob_match(const std::string& pattern, const std::string& text);

struct VfioAliasMatch {
    std::string module = "vfio_pci"; // alias right-hand side: a module name (underscores)
    int wildcards = -1;              // of the winning pattern; -1 when no line matched
    bool generic() const { return module == "vfio_pci"; }
};

// Ties keep the earlier line (modules.alias order), so the result is deterministic.
VfioAliasMatch best_vfio_alias(const std::string& modalias, const std::vector<std::string>& alias_lines);

// A module name as modprobe and /sys/module spell it: '-' becomes '_' ("xe-vfio-pci" -> "xe_vfio_pci").
std::string module_name_of(const std::string& driver);

// The PCI driver a loaded module registers (/sys/module/<module>/drivers/pci:<name>), or "" when the module
// is not loaded. The first name when a module registers several (sorted by the observe layer).
std::string driver_of_module(const std::string& module,
                             const std::map<std::string, std::vector<std::string>>& module_drivers);

// What `driver = "vfio"` resolves to for one device, with the reason (shown in action reasons and in the
// status's DesiredDriver). `driver` is "" while the chosen variant module is not loaded (its bind name is
// only known from /sys/module/<module>/drivers once it is).
struct VfioDriverPick {
    std::string driver;
    std::string module;
    std::string why; // "mlx5_vfio_pci: modules.alias match with 3 wildcards"
};
VfioDriverPick pick_vfio_driver(const std::string& modalias, const std::vector<std::string>& alias_lines,
                                const std::map<std::string, std::vector<std::string>>& module_drivers);

} // namespace hostdevd::planner
