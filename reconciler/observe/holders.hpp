// Who holds VFIO devices open: one scan of /proc/<pid>/fd per observation, indexed by what is held.
// Never probe by opening /dev/vfio/<group>: that open is itself a claim and can make a starting VM
// fail (safety.md). Reading the fd links of other processes is passive.
#pragma once

#include "sysfs/layout.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd {

struct HolderIndex {
    // IOMMU group number → holders, "pid 4242 (qemu-system-x86)", one entry per process.
    std::map<int, std::vector<std::string>> groups;
    // VFIO device cdev name ("vfio3", from /dev/vfio/devices/vfio3) → holders.
    std::map<std::string, std::vector<std::string>> cdevs;
};

// Scans <root>/proc. Processes that exit mid-scan or whose fds cannot be read are skipped.
HolderIndex scan_vfio_holders(const SysfsLayout& layout);

// "pid 4242 (qemu-system-x86)": the form every holder of a process takes in reports.
std::string describe_process(int pid, const std::string& comm);

} // namespace hostdevd
