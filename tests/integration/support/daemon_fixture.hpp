// A private system bus and an unmodified hostdevd on it, inside the simulated host the test runs in.
#pragma once

#include "process.hpp"

#include <chrono>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

namespace testing {

// dbus-daemon with a system-bus-like configuration: root may do anything; everyone else gets the policy of
// dbus/io.hostdevd1.conf (when `with_policy`), or may call everything (to prove the daemon's own check).
class PrivateBus {
public:
    explicit PrivateBus(bool with_policy = true);
    ~PrivateBus();
    const std::string& address() const { return address_; }

private:
    std::string dir_;
    std::string address_;
    pid_t pid_ = -1;
};

class Daemon {
public:
    Daemon(const PrivateBus& bus, const std::string& config_dir, std::vector<std::string> extra_args = {},
           std::vector<std::pair<std::string, std::string>> env = {});
    ~Daemon();
    pid_t pid() const { return pid_; }
    // Sends `sig` and waits for the exit; returns the exit code (128+N when killed by signal N).
    int stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool running() const;
    std::string log() const; // everything the daemon wrote to stderr so far

private:
    pid_t pid_ = -1;
    std::string log_path_;
    mutable int exit_code_ = -1;
};

// busctl against the private bus (--address); `as_user` runs it through setpriv as nobody.
Completed busctl(const PrivateBus& bus, const std::vector<std::string>& args, bool as_user = false);
// Property value as busctl prints it with --json=short, parsed; e.g. get_property(bus, "/io/hostdevd1",
// "io.hostdevd1.Manager", "State").
nlohmann::json get_property(const PrivateBus& bus, const std::string& path, const std::string& interface,
                            const std::string& property);
std::string device_path(const std::string& address); // sd_bus_path_encode, as the daemon does
std::string object_path(const std::string& prefix, const std::string& id); // the same, any prefix

} // namespace testing
