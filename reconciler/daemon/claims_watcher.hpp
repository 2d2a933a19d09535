// The daemon's view of consumers' claims (observe/libvirt_claims.hpp), read off the event loop: asking
// libvirt can block (a daemon that does not answer), so a thread of its own reads the claims when asked
// and tells the loop when they changed. A pass plans with the last claims read and asks for a re-read;
// the executor's re-check right before a destructive or rebinding write reads them afresh on the worker
// thread (observe/libvirt_claims.hpp FreshClaims), so a claim made after the last read still blocks it.
//
// Until the first read has returned, a host where libvirt is configured has unknown claims: nothing
// destructive runs on a daemon that has not heard from libvirt yet.
#pragma once

#include "observe/libvirt_claims.hpp"

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace hostdevd {

class EventLoop;

class ClaimsWatcher {
public:
    // `on_change` runs on the loop whenever a read returns claims that differ from the last ones.
    ClaimsWatcher(EventLoop& loop, const SysfsLayout& layout, std::function<void()> on_change,
                  LibvirtSource source = {});
    ~ClaimsWatcher();
    ClaimsWatcher(const ClaimsWatcher&) = delete;
    ClaimsWatcher& operator=(const ClaimsWatcher&) = delete;

    LibvirtClaims claims() const; // the last claims read
    void refresh();               // read again soon (requests made while a read runs coalesce)

private:
    void thread_main();
    void on_eventfd();

    EventLoop& loop_;
    const SysfsLayout& layout_;
    std::function<void()> on_change_;
    LibvirtSource source_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    LibvirtClaims claims_;
    bool requested_ = true; // the first read starts at once
    bool changed_ = false;
    bool stopping_ = false;
    int event_fd_ = -1;
    std::thread thread_;
};

} // namespace hostdevd
