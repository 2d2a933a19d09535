// Small helpers for integration tests: run a program and capture its output, read simhost's write log,
// prepare a root-owned configuration directory (the loader refuses files others can write).
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace testing {

struct Completed {
    int exit_code = -1; // 128+N when killed by signal N
    std::string out;
    std::string err;
};

// Runs argv[0] (PATH lookup) with the given arguments; fails the test on spawn errors.
Completed run(const std::vector<std::string>& argv);

// Paths baked in at build time.
std::string hostdevctl();
std::string hostdevd();
std::string simhost();
std::string source_dir();

// `simhost ctl ARGS...`, required to succeed; returns stdout.
std::string simhost_ctl(const std::vector<std::string>& args);

// Waits (up to `timeout`) until some thread of some process is blocked inside write(2) on a file whose
// path ends with `suffix`: /proc/PID/task/TID/syscall starts with the write syscall's number while the
// thread is in it, and /proc/PID/fd/FD names the file. A fault that slows a write (`fault block`) then
// has the injection happen inside that write, whatever the machine's load, instead of after a guessed
// delay. Returns the PID, or 0 on timeout.
int wait_write_in_flight(const std::string& suffix, std::chrono::milliseconds timeout);

// Every write the simulated kernel saw since the last `log clear`, as JSON records.
nlohmann::json write_log();
void clear_write_log();
// Writes in the log whose path ends with `suffix`.
std::vector<nlohmann::json> writes_to(const nlohmann::json& log, const std::string& suffix);

// A fresh directory (root-owned, 0755) holding copies of `files` (0644); removed at destruction.
class ConfigDir {
public:
    ConfigDir();
    ~ConfigDir();
    ConfigDir(const ConfigDir&) = delete;
    ConfigDir& operator=(const ConfigDir&) = delete;
    void copy_from(const std::string& example_dir); // every *.toml of examples/config/<host>
    void write(const std::string& name, const std::string& content);
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

std::string read_file(const std::string& path);

// The actions `hostdevctl plan --local` calls safe for `conf`, as "OBJECT SUMMARY" lines: empty when the
// host has settled (nothing left that hostdevd would do now).
std::vector<std::string> safe_actions(const ConfigDir& conf);
// Without trailing newlines and spaces (sysfs accepts a value with or without its newline).
std::string trimmed(std::string text);

// Polls `predicate` until it holds or `timeout` passes; returns whether it held. For state that changes
// asynchronously (a daemon reacting to an event), never a fixed sleep.
bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout);

} // namespace testing
