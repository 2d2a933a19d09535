#include "daemon/backoff.hpp"

#include <algorithm>

namespace hostdevd {

std::string Backoff::key(const Action& a) {
    return a.object + "|" + to_string(a.kind) + "|" + a.summary;
}

namespace {

std::chrono::seconds delay_for(unsigned failures, std::chrono::seconds max) {
    unsigned shift = std::min(failures > 0 ? failures - 1 : 0u, 16u);
    return std::min(std::chrono::seconds(1u << shift), max);
}

} // namespace

void Backoff::failed(const std::string& key, Clock::time_point now) {
    Entry& e = entries_[key];
    ++e.failures;
    e.retry_at = now + delay_for(e.failures, kMaxDelay);
}

void Backoff::succeeded(const std::string& key, Clock::time_point now) {
    Entry& e = entries_[key];
    e.failures = 0;
    if (e.applications == 0 || now - e.window_start > kFlapWindow) {
        e.window_start = now;
        e.applications = 0;
    }
    ++e.applications;
    if (e.applications > kFlapLimit) {
        e.flapping = true;
        e.retry_at = now + delay_for(e.applications - kFlapLimit, kMaxDelay);
    }
}

void Backoff::settled(const std::string& key) {
    auto it = entries_.find(key);
    // A flapping action keeps its history for the window so that the next undo is held back too.
    if (it != entries_.end() && !it->second.flapping)
        entries_.erase(it);
}

bool Backoff::allowed(const std::string& key, Clock::time_point now) const {
    auto it = entries_.find(key);
    return it == entries_.end() || it->second.retry_at <= now;
}

std::optional<Backoff::Clock::time_point> Backoff::next_retry() const {
    std::optional<Clock::time_point> best;
    for (const auto& [k, e] : entries_)
        if (e.retry_at != Clock::time_point{} && (!best || e.retry_at < *best))
            best = e.retry_at;
    return best;
}

bool Backoff::flapping(const std::string& key) const {
    auto it = entries_.find(key);
    return it != entries_.end() && it->second.flapping;
}

unsigned Backoff::failures(const std::string& key) const {
    auto it = entries_.find(key);
    return it == entries_.end() ? 0 : it->second.failures;
}

} // namespace hostdevd
