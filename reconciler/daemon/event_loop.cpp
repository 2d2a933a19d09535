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

int EventLoop::run() {
    running_ = true;
    std::vector<pollfd> fds;
    std::vector<int> order;
    while (running_) {
        int timeout_ms = -1;
        if (bus_) {
            while (bus_->processPendingRequest()) {
            }
        }
        fds.clear();
        order.clear();
        fds.push_back({timer_fd_, POLLIN, 0});
        if (bus_) {
            auto pd = bus_->getEventLoopPollData();
            fds.push_back({pd.fd, pd.events, 0});
            if (pd.timeout_usec != std::numeric_limits<uint64_t>::max()) {
                timespec now{};
                clock_gettime(CLOCK_MONOTONIC, &now);
                uint64_t now_us = uint64_t(now.tv_sec) * 1'000'000 + uint64_t(now.tv_nsec) / 1000;
                timeout_ms = pd.timeout_usec <= now_us ? 0 : int((pd.timeout_usec - now_us + 999) / 1000);
            }
        }
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
    }
    return exit_code_;
}

} // namespace hostdevd
