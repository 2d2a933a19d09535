// Helpers for tests that run inside `simhost run`: sysfs access through real syscalls (so each test
// sees exactly the errno a program would), and `simhost ctl`.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace simtest {

// open(2) + one write(2) + close(2); returns 0 or the errno of whichever call failed.
inline int write_attr(const std::string& path, const std::string& value, int flags = O_WRONLY | O_TRUNC) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno;
    const ssize_t n = ::write(fd, value.data(), value.size());
    const int err = n < 0 ? errno : 0;
    ::close(fd);
    return err;
}

inline std::string read_attr(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "<" + std::to_string(errno) + ">";
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;)
        out.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    if (!out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

inline bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

inline std::string link_target(const std::string& path) {
    char buffer[4096];
    const ssize_t n = ::readlink(path.c_str(), buffer, sizeof(buffer));
    return n < 0 ? "" : std::string(buffer, static_cast<std::size_t>(n));
}

inline std::string basename_of(const std::string& path) {
    return path.substr(path.rfind('/') + 1);
}

struct CommandResult {
    int status = -1;
    std::string output; // stdout and stderr
};

// Runs a shell command (inside the simulated host) and captures its output.
inline CommandResult run(const std::string& command) {
    CommandResult result;
    FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
    if (!pipe)
        return result;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;)
        result.output.append(buffer, n);
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

inline CommandResult ctl(const std::string& args) {
    return run(std::string(SIMHOST_BINARY) + " ctl " + args);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

} // namespace simtest
