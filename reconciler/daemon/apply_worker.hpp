// Runs sysfs writes off the event-loop thread. A write can block in the kernel for as long as a guest
// holds a device (vfio_main.c waits for the device fd), so the loop only submits a wave and is told when
// it is done; meanwhile it keeps serving D-Bus and udev, and can ask which write is in flight and since when.
#pragma once

#include "apply/executor.hpp"
#include "model/plan.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace hostdevd {

class EventLoop;

struct InFlightWrite {
    SysfsWrite write; // relative sysfs path and value
    std::chrono::steady_clock::time_point started;
};

class ApplyWorker {
public:
    using Done = std::function<void(ExecutionReport)>;

    // `writer`, `modules` and `check` are used on the worker thread only, except that the writer is also
    // called from the threads execute() starts for side-by-side binds (apply/executor.hpp): it must be
    // thread-safe, as SysfsWriter is.
    // A write in the kernel for `stuck_after` or longer makes its action Stuck (executor.hpp).
    ApplyWorker(EventLoop& loop, Writer& writer, ModuleLoader& modules, InUseCheck check,
                std::chrono::milliseconds stuck_after = kStuckWriteReport);
    ~ApplyWorker();
    ApplyWorker(const ApplyWorker&) = delete;
    ApplyWorker& operator=(const ApplyWorker&) = delete;

    bool busy() const;
    // Executes `wave` on the worker; `done` runs later on the loop thread. Requires !busy().
    void submit(std::vector<Action> wave, Done done);
    // The longest-running write now in the kernel (binds run side by side: executor.hpp), if any.
    std::optional<InFlightWrite> in_flight() const;
    // Waits until the current wave (if any) is done; false when it is still running after `timeout`
    // (a write stuck in the kernel).
    bool wait_idle(std::chrono::milliseconds timeout);

private:
    class TrackingWriter;
    void thread_main();
    void on_eventfd();

    EventLoop& loop_;
    std::unique_ptr<TrackingWriter> writer_;
    ModuleLoader& modules_;
    InUseCheck check_;
    std::chrono::milliseconds stuck_after_;
    int event_fd_ = -1;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable idle_;
    bool stopping_ = false;
    bool busy_ = false;    // a wave was submitted and its result not yet handed to the loop
    bool running_ = false; // the worker thread is executing a wave right now
    std::optional<std::vector<Action>> job_;
    Done done_;
    std::optional<ExecutionReport> result_;
    std::list<InFlightWrite> in_flight_; // oldest first: a write is appended when it starts
    std::thread thread_;
};

} // namespace hostdevd
