// Shared helpers for the simulated-kernel tests: load an example host, read files, record events.
#pragma once

#include "kernel.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace simtest {

inline std::unique_ptr<simhost::Kernel> host(const std::string& name) {
    return std::make_unique<simhost::Kernel>(simhost::load_host_spec(std::string(HOSTS_DIR) + "/" + name));
}

// Reads a file, failing the test if it cannot be read.
inline std::string rd(const simhost::Kernel& k, const std::string& path) {
    std::string out;
    int r = k.read(path, out);
    INFO("read " << path);
    REQUIRE(r == 0);
    return out;
}

inline std::string lnk(const simhost::Kernel& k, const std::string& path) {
    std::string out;
    int r = k.readlink(path, out);
    INFO("readlink " << path);
    REQUIRE(r == 0);
    return out;
}

inline bool exists(const simhost::Kernel& k, const std::string& path) {
    simhost::NodeInfo info;
    return k.stat(path, info) == 0;
}

// Collects uevents and devnode changes as "ACTION SUBSYSTEM DEVPATH-tail" strings.
struct Recorder {
    std::mutex mu;
    std::vector<simhost::Uevent> events;
    std::vector<std::chrono::steady_clock::time_point> times; // when each event was delivered
    std::vector<std::string> devnodes;

    explicit Recorder(simhost::Kernel& k) {
        k.on_uevent([this](const simhost::Uevent& e) {
            std::lock_guard l(mu);
            events.push_back(e);
            times.push_back(std::chrono::steady_clock::now());
        });
        k.on_devnode([this](const simhost::DevNode& n, bool present) {
            std::lock_guard l(mu);
            devnodes.push_back((present ? "+" : "-") + n.name);
        });
    }
    // "add pci 0000:3b:02.0" per event (last DEVPATH component).
    std::vector<std::string> summary() {
        std::lock_guard l(mu);
        std::vector<std::string> out;
        for (auto& e : events) {
            auto p = e.get("DEVPATH");
            out.push_back(e.get("ACTION") + " " + e.get("SUBSYSTEM") + " " + p.substr(p.rfind('/') + 1));
        }
        return out;
    }
    void clear() {
        std::lock_guard l(mu);
        events.clear();
        times.clear();
        devnodes.clear();
    }
};

inline const std::string kPf0 = "/bus/pci/devices/0000:3b:00.0";

} // namespace simtest
