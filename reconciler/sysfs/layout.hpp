// SysfsLayout: the one place that knows where hostdevd's files live. Every path the program reads or
// writes (/sys, /proc, /dev, /lib/modules/<release>/modules.alias) is built here from a root directory,
// so tests point the whole program at a fixture tree and simhost needs no path rewriting.
#pragma once

#include <string>
#include <string_view>

namespace hostdevd {

// Paths *relative to the sysfs root*. Pure string building, no root. (The planner builds the relative
// paths of its writes itself, plan/plan_util.hpp, and stays free of this layer.)
namespace sysfs_rel {
std::string pci_device(std::string_view address);                             // "bus/pci/devices/ADDR"
std::string pci_device_attr(std::string_view address, std::string_view attr); // ".../ADDR/ATTR"
} // namespace sysfs_rel

class SysfsLayout {
public:
    // `root` is the directory that holds sys/, proc/, dev/ and lib/modules/ ("/" in production).
    // `kernel_release` names /lib/modules/<release>; empty means uname(2)'s release.
    explicit SysfsLayout(std::string root = "/", std::string kernel_release = "");

    const std::string& root() const { return root_; }
    const std::string& kernel_release() const { return release_; }

    // <root>/sys/<relative>; `relative` is a sysfs_rel path (no leading slash).
    std::string sys(std::string_view relative) const;
    std::string proc(std::string_view relative = "") const; // <root>/proc/<relative>
    std::string dev(std::string_view relative) const;       // <root>/dev/<relative>
    std::string run_dir() const;                            // <root>/run/hostdevd (hostdevd's own state)

    std::string pci_devices_dir() const; // <root>/sys/bus/pci/devices
    std::string pci_device(std::string_view address) const;
    std::string pci_device_attr(std::string_view address, std::string_view attr) const;
    std::string pci_drivers_dir() const;  // <root>/sys/bus/pci/drivers
    std::string mdev_devices_dir() const; // <root>/sys/bus/mdev/devices
    std::string mdev_device(std::string_view uuid) const;
    std::string mdev_bus_class_dir() const; // <root>/sys/class/mdev_bus
    std::string modules_dir() const;        // <root>/sys/module
    std::string modules_alias() const;      // <root>/lib/modules/<release>/modules.alias
    std::string modules_dep() const;        // <root>/lib/modules/<release>/modules.dep

private:
    std::string root_; // always ends with '/'
    std::string release_;
};

} // namespace hostdevd
