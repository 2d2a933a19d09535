#include "observe/parallel_read.hpp"

#include "common/parallel_for.hpp"

#include <algorithm>

namespace hostdevd {

std::map<std::string, RawPciDevice> read_pci_devices(const SysfsLayout& layout,
                                                     const std::vector<std::string>& addresses) {
    const size_t readers =
        std::max<size_t>(1, std::min<size_t>(kMaxDeviceReaders, addresses.size() / kMinDevicesPerReader));
    // One map per reader, spliced together at the end (node handles move, nothing is copied). Not one
    // array of results: a multi-megabyte temporary on the 4096-VF host raises glibc's mmap threshold
    // for good and leaves the daemon's later allocations in its heap (+3.6 MiB RSS, benchmarks.md B7).
    std::vector<std::map<std::string, RawPciDevice>> found(readers);
    parallel_for(0, addresses.size(), readers, [&](size_t index, size_t reader) {
        if (auto raw = read_pci_device(layout, addresses[index]))
            found[reader].insert_or_assign(addresses[index], std::move(*raw));
    });
    for (size_t t = 1; t < readers; ++t)
        found[0].merge(found[t]);
    return std::move(found[0]);
}

} // namespace hostdevd
