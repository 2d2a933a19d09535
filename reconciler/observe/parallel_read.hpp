// Reading many PCI devices at once. Internal to the observe layer.
#pragma once

#include "observe/pci_reader.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd {

// read_pci_device() of every address, on up to kMaxDeviceReaders threads when there are enough of them.
// Devices are independent and each read is a series of small blocking syscalls, so a few readers overlap
// one another's waits: on simhost a FUSE round trip is a pair of context switches (docs/benchmarks.md
// B1), on a real kernel each attribute's show() runs on the caller's CPU. The result is the same as
// reading them one by one in order: addresses that vanished or cannot be read are absent. An exception
// thrown by a read (out of memory) is rethrown here after every reader has stopped.
std::map<std::string, RawPciDevice> read_pci_devices(const SysfsLayout& layout,
                                                     const std::vector<std::string>& addresses);

// Readers at most, and devices per reader at least: fewer devices are read on the calling thread, so a
// pass after one uevent starts no thread.
inline constexpr unsigned kMaxDeviceReaders = 8;
inline constexpr size_t kMinDevicesPerReader = 16;

} // namespace hostdevd
