// The daemon's single event loop: poll(2) over registered fds, one timerfd carrying the earliest of any
// number of deadlines, and the sd-bus connection (sdbus-c++'s own poll data). Everything the daemon
// reacts to arrives here; callbacks run on this thread only, so daemon state needs no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace sdbus {
class IConnection;
}

namespace hostdevd {

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void()>;
    using TimerId = uint64_t;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // `fd` readable (POLLIN) → `cb`. The loop does not own the fd.
    void watch(int fd, Callback cb);
    void unwatch(int fd);

    // Runs `cb` once at `when` (CLOCK_MONOTONIC, same as steady_clock on Linux).
    TimerId at(Clock::time_point when, Callback cb);
    TimerId after(std::chrono::milliseconds delay, Callback cb) {
        return at(Clock::now() + delay, std::move(cb));
    }
    void cancel(TimerId id);

    // Serve this D-Bus connection from the loop (requests are processed on every wake-up).
    void attach(sdbus::IConnection& bus) { bus_ = &bus; }

    int run(); // until quit(); returns the code given to quit()
    void quit(int code = 0);

private:
    void arm_timerfd();
    void fire_due_timers();

    int timer_fd_ = -1;
    bool running_ = false;
    int exit_code_ = 0;
    TimerId next_id_ = 1;
    std::map<int, Callback> watches_;
    std::multimap<Clock::time_point, std::pair<TimerId, Callback>> timers_;
    sdbus::IConnection* bus_ = nullptr;
};

} // namespace hostdevd
