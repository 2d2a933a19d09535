// Non-PCI mdev parents. The mdev core links every registered parent into the class_compat `mdev_bus`
// (mdev_core.c mdev_register_parent → class_compat_create_link), named by the parent device: a PCI
// address for PCI parents (read with their PCI device), otherwise the device's own name ("mtty",
// "matrix", "0.0.0313"). Their mdev_supported_types look the same as a PCI parent's.
#include "observe/observe.hpp"
#include "observe/pci_reader.hpp"
#include "model/pci_address.hpp"
#include "sysfs/read.hpp"

namespace hostdevd {

std::map<std::string, MdevParent> read_mdev_parents(const SysfsLayout& layout) {
    std::map<std::string, MdevParent> parents;
    const std::string class_dir = layout.mdev_bus_class_dir();
    for (const std::string& name : list_directory(class_dir).names) {
        if (PciAddress::parse(name))
            continue;
        MdevParent parent;
        parent.name = name;
        parent.mdev_types = read_mdev_types(class_dir + "/" + name);
        parents.emplace(name, std::move(parent));
    }
    return parents;
}

} // namespace hostdevd
