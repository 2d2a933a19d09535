// Progress of a long `hostdevctl apply` on a terminal: one line, rewritten in place, that says what the
// command is waiting for ("waiting 8 s for 0000:3b:00.0/sriov_numvfs = "0""), shown once an apply has
// run for a second and erased before the result is printed. Quiet when stdout is not a terminal, so
// scripts and logs get exactly the result and nothing else.
#pragma once

#include "apply/module_loader.hpp"
#include "apply/writer.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

namespace hostdevd::cli {

// The line itself. Writes nothing unless `enabled` (stdout is a terminal, see on_terminal()).
class ProgressLine {
public:
    ProgressLine(std::ostream& out, bool enabled) : out_(out), enabled_(enabled) {}
    ~ProgressLine() { clear(); }
    static bool stdout_is_terminal();
    bool enabled() const { return enabled_; }
    void show(const std::string& text); // replaces the line (cut to the terminal's width)
    void clear();                       // erases it, before regular output

private:
    std::ostream& out_;
    bool enabled_;
    bool shown_ = false;
};

// Calls `render` every 250 ms on its own thread, starting `delay` after construction, and shows what it
// returns on the line; stops (and clears the line) on destruction. Rendering is a display refresh, not a
// wait: the work itself runs on the caller's thread and never waits for this one.
class ProgressTicker {
public:
    ProgressTicker(ProgressLine& line, std::function<std::string()> render,
                   std::chrono::milliseconds delay = std::chrono::seconds(1));
    ~ProgressTicker();
    ProgressTicker(const ProgressTicker&) = delete;
    ProgressTicker& operator=(const ProgressTicker&) = delete;

private:
    ProgressLine& line_;
    std::function<std::string()> render_;
    std::mutex mutex_;
    std::condition_variable stop_cv_;
    bool stop_ = false;
    std::thread thread_;
};

// Decorates the writer and module loader of a local apply and remembers what is in flight, so the
// progress line can say what the apply is waiting for. Thread-safe: the executor binds on several
// threads at once.
class ApplyActivity final : public Writer, public ModuleLoader {
public:
    ApplyActivity(Writer& writer, ModuleLoader& modules) : writer_(writer), modules_(modules) {}
    WriteOutcome write(const SysfsWrite& write) override;
    ModuleLoadOutcome load(const std::string& module) override;
    // "applying: 12 writes done; waiting 8 s for 0000:3b:00.0/sriov_numvfs = "0" (+3 more in flight)",
    // or "applying: 12 writes done; reading the host" between writes.
    std::string describe() const;

private:
    using Clock = std::chrono::steady_clock;
    Writer& writer_;
    ModuleLoader& modules_;
    mutable std::mutex mutex_;
    unsigned next_id_ = 0, done_ = 0;
    std::map<unsigned, std::pair<Clock::time_point, std::string>> in_flight_; // id -> (start, what)
    unsigned begin(std::string what);
    void end(unsigned id);
};

} // namespace hostdevd::cli
