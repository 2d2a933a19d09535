#include "observe/parallel_read.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace hostdevd {

std::map<std::string, RawPciDevice> read_pci_devices(const SysfsLayout& layout,
                                                     const std::vector<std::string>& addresses) {
    const size_t readers =
        std::max<size_t>(1, std::min<size_t>(kMaxDeviceReaders, addresses.size() / kMinDevicesPerReader));
    // One map per reader, spliced together at the end (node handles move, nothing is copied). Not one
    // array of results: a multi-megabyte temporary on the 4096-VF host raises glibc's mmap threshold
    // for good and leaves the daemon's later allocations in its heap (+3.6 MiB RSS, benchmarks.md B7).
    std::vector<std::map<std::string, RawPciDevice>> found(readers);
    std::atomic<size_t> next{0};
    std::mutex failure_mutex;
    std::exception_ptr failure;
    // Each reader takes the next unread address until none is left (devices differ in cost: a PF with
    // mdev types or netdevs reads far more than a VF).
    auto reader = [&](std::map<std::string, RawPciDevice>& mine) {
        try {
            for (size_t i = next++; i < addresses.size(); i = next++) {
                if (auto raw = read_pci_device(layout, addresses[i]))
                    mine.insert_or_assign(addresses[i], std::move(*raw));
            }
        } catch (...) {
            std::lock_guard lock(failure_mutex);
            failure = std::current_exception();
            next = addresses.size(); // the others stop at their next device
        }
    };
    {
        std::vector<std::jthread> threads;
        threads.reserve(readers - 1);
        for (size_t t = 1; t < readers; ++t)
            threads.emplace_back(reader, std::ref(found[t]));
        reader(found[0]);
    } // the jthreads join here
    if (failure)
        std::rethrow_exception(failure);
    for (size_t t = 1; t < readers; ++t)
        found[0].merge(found[t]);
    return std::move(found[0]);
}

} // namespace hostdevd
