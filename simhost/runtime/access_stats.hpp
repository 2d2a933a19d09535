// Counts of what userspace asked of the simulated /sys, for benchmarks (bench/, docs/benchmarks.md):
// reads per device on a no-op pass, reads of an idle daemon, reconcile passes (listings of
// /sys/bus/pci/devices). Counted in the FUSE handlers, so they are the requests that reached "the kernel"
// (the kernel's own dentry/attribute caches are disabled: all timeouts are 0).
#pragma once

#include <cstdint>
#include <string>

namespace simhost {

enum class AccessKind { Read, Readlink, Readdir, Getattr, Write };

struct AccessCounts {
    uint64_t reads = 0;     // file contents generated (read(2) at offset 0)
    uint64_t readlinks = 0; // readlink(2), including symlink resolution by path walks
    uint64_t readdirs = 0;  // directory listings
    uint64_t getattrs = 0;  // lookups and stat(2)
    uint64_t writes = 0;    // write(2) calls, successful or not
};

// Process-wide (one simulated /sys per simhost process); thread-safe, the FUSE loop is multi-threaded.
void count_access(AccessKind kind, const char* path);
AccessCounts access_totals();
AccessCounts access_counts_for(const std::string& path);
void clear_access_counts();
std::string format_access_counts(const AccessCounts& counts);

} // namespace simhost
