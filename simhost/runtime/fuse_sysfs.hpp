// Serves the simulated kernel's sysfs tree through FUSE (libfuse3 low-level API, multi-threaded loop).
//
// Cached (the default): the kernel caches dentries, attributes, link targets, directory listings and the
// text of fixed files (vendor, modalias, ...: a function of the path); every other file is opened for
// direct I/O, so each read(2) generates its text and each write(2) is one store, as in kernfs. simhost
// keeps every cache exact: the model lists what each change made stale (kernel_cache.cpp) and the
// invalidations reach the kernel before the write(2) that caused them returns and before its uevents go
// out (docs/simhost.md "Caching"). No opendir requests at all.
// Uncached: nothing is cached (all timeouts 0, direct I/O for every file, opendir served), so every access
// a program makes reaches simhost; the benchmarks that count sysfs reads use it.
//
// Writes are carried out synchronously in the handler; the reply is posted to the output pipe after the
// change's invalidations, uevents and /dev updates (post() them there), so when write(2) returns all of
// them are done.
#pragma once

#include "kernel.hpp"
#include "output_pipe.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

struct fuse_session;

namespace simhost {

class FuseSysfs {
public:
    FuseSysfs(Kernel& kernel, bool cached);
    ~FuseSysfs(); // unmounts and joins the loop
    FuseSysfs(const FuseSysfs&) = delete;
    FuseSysfs& operator=(const FuseSysfs&) = delete;

    // Mounts on `mountpoint` (e.g. /sys) and starts serving on a background thread. Throws on failure.
    void mount(const std::string& mountpoint);
    void unmount();

    // Queues what must happen, in order, after a change: forwarding its invalidations (invalidate()),
    // sending its uevents, updating /dev. Write replies queue behind them.
    void post(std::function<void()> task) { pipe_.post(std::move(task)); }
    // Waits until everything posted so far is done (control commands, before they answer).
    void settle() { pipe_.barrier(); }
    // Tells the kernel what a change made stale. Only as a posted task: an invalidation may wait for a
    // directory lock held by a process that waits for a FUSE handler.
    void invalidate(const std::vector<Invalidation>& batch);

    bool cached() const { return cached_; }
    Kernel& kernel() { return kernel_; }

private:
    OutputPipe pipe_; // first: destroyed last, after the loop that posts to it
    Kernel& kernel_;
    const bool cached_;
    fuse_session* session_ = nullptr;
    std::atomic<bool> mounted_{false};
    std::thread loop_;
};

} // namespace simhost
