#include "daemon/event_loop.hpp"

#include <cerrno>
#include <cstring>
#include <limits>
#include <poll.h>
#include <sdbus-c++/IConnection.h>
#include <stdexcept>
#include <sys/timerfd.h>
#include <system_error>
#include <unistd.h>

namespace hostdevd {

EventLoop::EventLoop() {
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (timer_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "timerfd_create");
}

EventLoop::~EventLoop() {
    if (timer_fd_ >= 0)
        close(timer_fd_);
}

void EventLoop::watch(int fd, Callback cb) {
    watches_[fd] = std::move(cb);
}

void EventLoop::unwatch(int fd) {
    watches_.erase(fd);
}

EventLoop::TimerId EventLoop::at(Clock::time_point when, Callback cb) {
    TimerId id = next_id_++;
    timers_.emplace(when, std::make_pair(id, std::move(cb)));
    arm_timerfd();
    return id;
}

void EventLoop::cancel(TimerId id) {
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.first == id) {
            timers_.erase(it);
            break;
        }
    }
    arm_timerfd();
}

void EventLoop::quit(int code) {
    running_ = false;
    exit_code_ = code;
}

// The timerfd always carries the earliest deadline; disarmed when there is none, so an idle daemon
// sleeps in poll(2) with no timeout at all.
void EventLoop::arm_timerfd() {
    itimerspec spec{};
    if (!timers_.empty()) {
        auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(timers_.begin()->first.time_since_epoch());
        if (ns.count() <= 0)
            ns = std::chrono::nanoseconds(1);
        spec.it_value.tv_sec = ns.count() / 1'000'000'000;
        spec.it_value.tv_nsec = ns.count() % 1'000'000'000;
    }
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void EventLoop::fire_due_timers() {
    uint64_t expirations;
    while (read(timer_fd_, &expirations, sizeof expirations) > 0) {
    }
    auto now = Clock::now();
    std::vector<Callback> due;
    while (!timers_.empty() && timers_.begin()->first <= now) {
        due.push_back(std::move(timers_.begin()->second.second));
        timers_.erase(timers_.begin());
    }
    arm_timerfd();
    for (auto& cb : due)
        cb();
}

bool EventLoop::output_pending() const {
    return (bus_->getEventLoopPollData().events & POLLOUT) != 0;
}

bool EventLoop::process_bus_batch() {
    const auto start = Clock::now();
    for (size_t n = 0; n < bus_budget_.messages; ++n) {
        if (n > 0 && Clock::now() - start >= bus_budget_.time)
            return true;
        if (!bus_->processPendingRequest())
            return false;
        // A reply the socket did not take whole waits in sd-bus's write queue: answer nothing more until
        // it is gone, so a client that does not read its replies makes them pile up in dbus-daemon (within
        // its per-connection limits), not here.
        if (output_pending())
            return false;
    }
    return true;
}

int EventLoop::run() {
    running_ = true;
    std::vector<pollfd> fds;
    std::vector<int> order;
    bool bus_backlog = false; // the last batch stopped at its budget: more messages may be waiting
    while (running_) {
        fds.clear();
        order.clear();
        fds.push_back({timer_fd_, POLLIN, 0});
        int timeout_ms = -1;
        bool bus_blocked = false; // replies wait for the socket: serve the bus when it is writable
        const auto turn = Clock::now();
        const bool bus_resting = bus_ && turn < bus_rest_until_;
        if (bus_resting) {
            // Not polled (its readiness would wake the loop at once); the rest's end is the timeout.
            fds.push_back({-1, 0, 0});
            auto rest = std::chrono::ceil<std::chrono::milliseconds>(bus_rest_until_ - turn);
            timeout_ms = int(rest.count());
        } else if (bus_) {
            auto pd = bus_->getEventLoopPollData();
            bus_blocked = (pd.events & POLLOUT) != 0;
            fds.push_back({pd.fd, pd.events, 0});
            // sd-bus's timeout is 0 while it holds unprocessed messages; with replies blocked they wait
            // for POLLOUT instead of spinning.
            if (pd.timeout_usec != std::numeric_limits<uint64_t>::max() && !bus_blocked) {
                timespec now{};
                clock_gettime(CLOCK_MONOTONIC, &now);
                uint64_t now_us = uint64_t(now.tv_sec) * 1'000'000 + uint64_t(now.tv_nsec) / 1000;
                timeout_ms = pd.timeout_usec <= now_us ? 0 : int((pd.timeout_usec - now_us + 999) / 1000);
            }
        }
        if (bus_backlog && !bus_blocked && !bus_resting)
            timeout_ms = 0; // look at the other sources, then go on with the bus without sleeping
        size_t first_watch = fds.size();
        for (const auto& [fd, cb] : watches_) {
            fds.push_back({fd, POLLIN, 0});
            order.push_back(fd);
        }
        int n = poll(fds.data(), fds.size(), timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (fds[0].revents & POLLIN)
            fire_due_timers();
        for (size_t i = first_watch; i < fds.size() && running_; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            auto it = watches_.find(order[i - first_watch]);
            if (it != watches_.end()) {
                auto cb = it->second; // the callback may unwatch itself
                cb();
            }
        }
        // Last in the turn, and rationed: the bus is what other users can fill (see the header). sd-bus
        // may hold messages it has already read, which poll(2) cannot see; processing finds them.
        if (bus_ && running_ && !bus_resting &&
            (!bus_blocked || (fds[1].revents & (POLLOUT | POLLHUP | POLLERR)))) {
            const auto start = Clock::now();
            bus_backlog = process_bus_batch();
            if (bus_backlog || output_pending()) {
                const auto end = Clock::now();
                bus_rest_until_ = end + (end - start) * bus_budget_.rest_factor;
            }
        }
    }
    return exit_code_;
}

} // namespace hostdevd
