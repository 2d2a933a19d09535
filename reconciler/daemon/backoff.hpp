// Back-off for actions that keep failing or keep being undone by someone else (safety.md: "reports the
// flapping instead of fighting in a loop"). Pure: time is a parameter, so it is unit-tested directly.
#pragma once

#include "model/plan.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace hostdevd {

class Backoff {
public:
    using Clock = std::chrono::steady_clock;

    static std::string key(const Action& a); // object + kind + summary

    // An action failed (or "succeeded" without effect): wait 1 s, 2 s, 4 s ... up to 5 min before retrying.
    void failed(const std::string& key, Clock::time_point now);
    // An action succeeded. If the same action keeps being needed again (someone else undoes it), after
    // `kFlapLimit` applications within `kFlapWindow` it is held back like a failure and reported as flapping.
    void succeeded(const std::string& key, Clock::time_point now);
    // The action's effect is in place (it no longer appears in the plan): forget its history.
    void settled(const std::string& key);

    bool allowed(const std::string& key, Clock::time_point now) const;
    std::optional<Clock::time_point> next_retry() const; // earliest pending retry, if any
    bool flapping(const std::string& key) const;
    unsigned failures(const std::string& key) const;

    static constexpr unsigned kFlapLimit = 3;
    static constexpr std::chrono::minutes kFlapWindow{10};
    static constexpr std::chrono::seconds kMaxDelay{300};

private:
    struct Entry {
        unsigned failures = 0;
        unsigned applications = 0;
        Clock::time_point window_start{};
        Clock::time_point retry_at{};
        bool flapping = false;
    };
    std::map<std::string, Entry> entries_;
};

} // namespace hostdevd
