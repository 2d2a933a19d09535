// Serves the simulated kernel's sysfs tree through FUSE (libfuse3 high-level API, multi-threaded loop).
// No caching anywhere (attr/entry/negative timeouts 0, direct_io) so every read and write reaches the model,
// and writes are carried out synchronously in the handler: when write(2) returns, the change is done.
#pragma once

#include "kernel.hpp"

#include <string>
#include <thread>

struct fuse;

namespace simhost {

class FuseSysfs {
public:
    explicit FuseSysfs(Kernel& kernel);
    ~FuseSysfs(); // unmounts and joins the loop
    FuseSysfs(const FuseSysfs&) = delete;
    FuseSysfs& operator=(const FuseSysfs&) = delete;

    // Mounts on `mountpoint` (e.g. /sys) and starts serving on a background thread. Throws on failure.
    void mount(const std::string& mountpoint);
    void unmount();

private:
    Kernel& kernel_;
    fuse* fuse_ = nullptr;
    bool mounted_ = false;
    std::thread loop_;
};

} // namespace simhost
