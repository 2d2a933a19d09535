#include "sysfs/layout.hpp"

#include <sys/utsname.h>

namespace hostdevd {

namespace {

std::string join(std::string_view a, std::string_view b) {
    std::string out(a);
    if (b.empty())
        return out;
    if (!out.empty() && out.back() != '/')
        out += '/';
    while (!b.empty() && b.front() == '/')
        b.remove_prefix(1);
    out += b;
    return out;
}

std::string running_release() {
    struct utsname u {};
    if (uname(&u) != 0)
        return {};
    return u.release;
}

} // namespace

namespace sysfs_rel {

std::string pci_device(std::string_view address) {
    return join("bus/pci/devices", address);
}
std::string pci_device_attr(std::string_view address, std::string_view attr) {
    return join(pci_device(address), attr);
}

} // namespace sysfs_rel

SysfsLayout::SysfsLayout(std::string root, std::string kernel_release)
    : root_(std::move(root)), release_(std::move(kernel_release)) {
    if (root_.empty())
        root_ = "/";
    if (root_.back() != '/')
        root_ += '/';
    if (release_.empty())
        release_ = running_release();
}

std::string SysfsLayout::sys(std::string_view relative) const {
    return join(root_ + "sys", relative);
}
std::string SysfsLayout::proc(std::string_view relative) const {
    return join(root_ + "proc", relative);
}
std::string SysfsLayout::dev(std::string_view relative) const {
    return join(root_ + "dev", relative);
}

std::string SysfsLayout::run_dir() const {
    return root_ + "run/hostdevd";
}

std::string SysfsLayout::pci_devices_dir() const {
    return sys("bus/pci/devices");
}
std::string SysfsLayout::pci_device(std::string_view address) const {
    return sys(sysfs_rel::pci_device(address));
}
std::string SysfsLayout::pci_device_attr(std::string_view address, std::string_view attr) const {
    return sys(sysfs_rel::pci_device_attr(address, attr));
}
std::string SysfsLayout::pci_drivers_dir() const {
    return sys("bus/pci/drivers");
}
std::string SysfsLayout::mdev_devices_dir() const {
    return sys("bus/mdev/devices");
}
std::string SysfsLayout::mdev_device(std::string_view uuid) const {
    return join(mdev_devices_dir(), uuid);
}
std::string SysfsLayout::mdev_bus_class_dir() const {
    return sys("class/mdev_bus");
}
std::string SysfsLayout::modules_dir() const {
    return sys("module");
}
std::string SysfsLayout::modules_alias() const {
    return join(join(root_ + "lib/modules", release_), "modules.alias");
}
std::string SysfsLayout::modules_dep() const {
    return join(join(root_ + "lib/modules", release_), "modules.dep");
}

} // namespace hostdevd
