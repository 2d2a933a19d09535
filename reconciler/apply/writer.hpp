// The writer seam: every sysfs write hostdevd makes goes through Writer::write, which returns the errno
// instead of throwing, so fault injection needs a fake writer, not a fake world (architecture.md).
#pragma once

#include "model/plan.hpp"
#include "sysfs/layout.hpp"

#include <chrono>
#include <string>

namespace hostdevd {

struct WriteOutcome {
    int error = 0; // 0 or the positive errno write(2) (or open(2)) returned
    std::chrono::microseconds duration{0};
    bool ok() const { return error == 0; }
};

class Writer {
public:
    virtual ~Writer();
    virtual WriteOutcome write(const SysfsWrite& write) = 0;
};

// Writes under layout.sys(): open(O_WRONLY|O_CLOEXEC), one write(2) of the whole value, close. sysfs
// hands the whole buffer to the attribute's store() in one call (fs/kernfs/file.c kernfs_fop_write_iter),
// so a value is never split. A path that is absolute or climbs out with ".." is refused with EINVAL
// before anything is opened.
class SysfsWriter : public Writer {
public:
    explicit SysfsWriter(const SysfsLayout& layout) : layout_(layout) {}
    WriteOutcome write(const SysfsWrite& write) override;

private:
    const SysfsLayout& layout_;
};

// Whether retrying the same write later can succeed without a configuration change: the device was
// busy (EBUSY: VFs enabled, driver bound; EAGAIN: mdev not yet active, mdev_core.c), the call was
// interrupted, or it timed out. Everything else (EINVAL, ERANGE, ENOENT, ENODEV, EEXIST, EUSERS,
// ENOSPC, EPERM, EOPNOTSUPP, ...) needs the world or the configuration to change first.
bool is_transient(int error);

// "EBUSY (Device or resource busy)"; "errno 1234" for numbers without a name.
std::string describe_errno(int error);

} // namespace hostdevd
