// Reading sysfs, /proc and friends with errors as values. Devices vanish between a readdir and a read
// (hot-unplug, VF disable), so ENOENT is an ordinary outcome here, never an exception.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hostdevd {

struct TextResult {
    int error = 0;    // 0 or a positive errno
    std::string text; // valid when error == 0
    bool ok() const { return error == 0; }
};

struct ListResult {
    int error = 0;
    std::vector<std::string> names; // sorted, without "." and ".."
    bool ok() const { return error == 0; }
    bool contains(std::string_view name) const;
};

// The content of a sysfs attribute without its trailing newline. sysfs hands out the whole value in
// one read (fs/sysfs/file.c, sysfs_kf_read), so a short first read ends it: one read(2) per attribute,
// which keeps the per-VF read budget of benchmarks.md B3.
TextResult read_attribute(const std::string& path);
// A whole regular file (modules.alias), at most `max_bytes` (EFBIG beyond).
TextResult read_file(const std::string& path, std::size_t max_bytes);
// A symlink's target as stored ("../../../0000:3b:00.0"), not resolved.
TextResult read_link(const std::string& path);
// The last path component of a symlink's target ("vfio-pci" for a `driver` link).
TextResult read_link_name(const std::string& path);
ListResult list_directory(const std::string& path);

// A directory opened once (O_PATH) so that each file below it costs the kernel one lookup, instead of a
// walk of the whole path per file: through /sys/bus/pci/devices/<addr>, a link to
// ../../../devices/pci0000:3a/..., every read otherwise re-resolves ~10 components and the link (sysfs
// dentries are cheap; a FUSE sysfs without entry caching, or a loaded host, pays for each). The observer
// sees `path() + "/" + name`, the same paths the path-based helpers report.
class SysfsDir {
public:
    explicit SysfsDir(std::string path);
    ~SysfsDir();
    SysfsDir(const SysfsDir&) = delete;
    SysfsDir& operator=(const SysfsDir&) = delete;

    int error() const { return fd_ < 0 ? error_ : 0; } // why opening failed (ENOENT: it vanished)
    const std::string& path() const { return path_; }
    TextResult read_attribute(const std::string& name) const;
    TextResult read_link_name(const std::string& name) const;
    ListResult list() const; // the directory itself

private:
    std::string path_;
    int fd_ = -1;
    int error_ = 0;
};

std::string_view last_component(std::string_view path);

// Numbers as the kernel prints them. All reject trailing garbage and surrounding space other than one
// trailing newline (already stripped by read_attribute).
std::optional<uint64_t> parse_decimal(std::string_view text);
std::optional<uint64_t> parse_hex(std::string_view text); // with or without "0x"

// Every path the helpers above touch, for tests and benchmarks that count reads (benchmarks.md B3).
enum class IoKind { Read, ReadLink, List };
using IoObserver = std::function<void(IoKind, const std::string& path)>;
// Installs an observer for the whole process (nullptr removes it); returns the previous one. It is
// called from whichever thread reads: observe reads many devices on several threads at once
// (observe/parallel_read.hpp), so an observer must be thread-safe. Install it while nothing reads.
IoObserver set_io_observer(IoObserver observer);

} // namespace hostdevd
