// The daemon's single event loop: poll(2) over registered fds, one timerfd carrying the earliest of any
// number of deadlines, and the sd-bus connection (sdbus-c++'s own poll data). Everything the daemon
// reacts to arrives here; callbacks run on this thread only, so daemon state needs no locks.
//
// Fairness (docs/daemon.md, "The loop"): one turn polls every source, runs the due timers, then every
// ready fd's callback, then at most `BusBudget` of D-Bus messages. The bus is the only source other
// users can fill (anyone may call Describe()), so it is the one that is rationed: however many calls
// are queued, uevents, timers (passes, the watchdog ping), signals, inotify and the worker's eventfd
// are looked at again after at most one batch of them. The messages left over wait for the next turn,
// which then polls without sleeping.
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

// How much D-Bus work one turn of the loop may do: at most `messages` messages, and no new one once `time`
// has passed since the first (a message already started runs to its end). A batch that leaves work behind
// (more messages, or a reply the socket has not taken yet) is followed by a rest `rest_factor` times as
// long as the batch took, in which the bus is not served: a flood gets at most 1 / (1 + rest_factor) of
// the daemon's time, and the answers it makes (each one work for dbus-daemon and the caller too, on the
// same CPUs as the reconciling) are rationed with it. A lone call is answered without any rest.
struct BusBudget {
    size_t messages = 16;
    std::chrono::milliseconds time{20};
    unsigned rest_factor = 3;
};

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
    void attach(sdbus::IConnection& bus, BusBudget budget = {}) {
        bus_ = &bus;
        bus_budget_ = budget;
    }

    int run(); // until quit(); returns the code given to quit()
    void quit(int code = 0);

private:
    void arm_timerfd();
    void fire_due_timers();
    // Processes at most one budget of bus messages; true when it stopped with messages possibly left.
    bool process_bus_batch();
    bool output_pending() const; // sd-bus holds output the socket has not taken yet

    int timer_fd_ = -1;
    bool running_ = false;
    int exit_code_ = 0;
    TimerId next_id_ = 1;
    std::map<int, Callback> watches_;
    std::multimap<Clock::time_point, std::pair<TimerId, Callback>> timers_;
    sdbus::IConnection* bus_ = nullptr;
    BusBudget bus_budget_;
    Clock::time_point bus_rest_until_{}; // the bus is not served before this (BusBudget::rest_factor)
};

} // namespace hostdevd
