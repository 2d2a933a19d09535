// Who holds VFIO devices open: one scan of /proc/<pid>/fd per observation, indexed by what is held.
// Never probe by opening /dev/vfio/<group>: that open is itself a claim and can make a starting VM
// fail (safety.md). Everything here is a passive read of /proc and sysfs.
//
// The signals (docs/safety.md "In use: the signals"):
//  - a VFIO group fd, `/dev/vfio/<N>`, and an iommufd device cdev fd, `/dev/vfio/devices/vfioN`: they
//    count only when the open file is the kernel's node for it: a character device whose number is the
//    one sysfs gives (/sys/class/vfio/<N>/dev, /sys/class/vfio-dev/vfioN/dev), compared on the open file
//    itself (stat of the /proc fd link), never with /dev (hidden under PrivateDevices=yes). A file of
//    another kind or number at such a path (a /dev/null bind-mounted there in a user namespace, a file
//    in a container's own /dev) holds nothing;
//  - an `O_PATH` fd (fdinfo `flags` has 010000000) holds nothing: it opens no device and needs no
//    permission on the node, so anyone could make one;
//  - a VFIO device fd (`anon_inode:[vfio-device]`, what VFIO_GROUP_GET_DEVICE_FD returns; it keeps the
//    device open after the group fd is closed): attributed to its device by the fdinfo line
//    `vfio-device-syspath: /sys/devices/...` (Linux >= 6.18); without it (6.1 ... 6.17) it could be any
//    VFIO device, and unknown counts as in use (observe.cpp decides which devices that can be);
//  - a process whose open files cannot be read (EACCES/EPERM) because hostdevd lacks CAP_SYS_PTRACE (a
//    user's hostdevctl, a unit without it) could hold anything: unknown counts as in use, the same way.
//    With CAP_SYS_PTRACE only a security policy about that very process can hide it; it is logged and
//    not counted (otherwise one confined process would block every VFIO device forever).
#pragma once

#include "sysfs/layout.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd {

struct HolderIndex {
    // IOMMU group number → holders ("pid 4242 uid 64055 (qemu-system-x86)"), one entry per process.
    std::map<int, std::vector<std::string>> groups;
    // VFIO device cdev name ("vfio3", from /dev/vfio/devices/vfio3) → holders.
    std::map<std::string, std::vector<std::string>> cdevs;
    // Device fds attributed by fdinfo: the device's sysfs name (PCI address or mdev UUID) → holders.
    std::map<std::string, std::vector<std::string>> devices;
    // Holders that could hold any VFIO device: device fds the kernel does not attribute, processes whose
    // open files cannot be read. Each string says why ("... (unknown counts as in use)").
    std::vector<std::string> unattributed;
};

// Scans <root>/proc. Processes that exit mid-scan are skipped. On a live system (root "/") the open
// files are checked against sysfs device numbers; under another root (a fixture tree, a copy of /proc)
// fd links are plain text, so only their text and fdinfo are checked.
HolderIndex scan_vfio_holders(const SysfsLayout& layout);

// "pid 4242 uid 64055 (qemu-system-x86)": the form every holder of a process takes in reports. The uid
// tells a guest (libvirt-qemu) from a local user's prank; `uid` < 0 is shown as "uid ?".
std::string describe_process(int pid, long uid, const std::string& comm);

// fdinfo `flags` (octal, fs/proc/fd.c seq_show) of an O_PATH file (include/uapi/asm-generic/fcntl.h).
inline constexpr unsigned long kOpathFlag = 010000000;

} // namespace hostdevd
