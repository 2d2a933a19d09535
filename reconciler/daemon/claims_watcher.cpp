#include "daemon/claims_watcher.hpp"

#include "daemon/event_loop.hpp"

#include <cstdint>
#include <sys/eventfd.h>
#include <system_error>
#include <unistd.h>

namespace hostdevd {

ClaimsWatcher::ClaimsWatcher(EventLoop& loop, const SysfsLayout& layout, std::function<void()> on_change,
                             LibvirtSource source)
    : loop_(loop), layout_(layout), on_change_(std::move(on_change)), source_(std::move(source)) {
    if (layout_.root() == "/" && libvirt_configured(source_))
        claims_.unknown = "libvirt at " + source_.uri + " not read yet (unknown counts as in use)";
    event_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0)
        throw std::system_error(errno, std::generic_category(), "eventfd");
    loop_.watch(event_fd_, [this] { on_eventfd(); });
    thread_ = std::thread([this] { thread_main(); });
}

ClaimsWatcher::~ClaimsWatcher() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join(); // a read in progress returns within the source's timeout
    loop_.unwatch(event_fd_);
    close(event_fd_);
}

LibvirtClaims ClaimsWatcher::claims() const {
    std::lock_guard lock(mutex_);
    return claims_;
}

void ClaimsWatcher::refresh() {
    {
        std::lock_guard lock(mutex_);
        requested_ = true;
    }
    wake_.notify_all();
}

void ClaimsWatcher::thread_main() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [this] { return stopping_ || requested_; });
        if (stopping_)
            return;
        requested_ = false;
        lock.unlock();
        LibvirtClaims read = claims_for(layout_, source_);
        lock.lock();
        if (read == claims_)
            continue;
        claims_ = std::move(read);
        changed_ = true;
        uint64_t one = 1;
        if (::write(event_fd_, &one, sizeof one) < 0) {
            // EAGAIN only (the counter is full): the loop has a wake-up pending anyway.
        }
    }
}

void ClaimsWatcher::on_eventfd() {
    uint64_t count = 0;
    while (::read(event_fd_, &count, sizeof count) > 0) {
    }
    bool changed = false;
    {
        std::lock_guard lock(mutex_);
        std::swap(changed, changed_);
    }
    if (changed && on_change_)
        on_change_();
}

} // namespace hostdevd
