#include "child.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace safety {

ChildResult run_child(const std::vector<std::string>& argv, std::chrono::milliseconds deadline,
                      std::chrono::microseconds kill_after) {
    // Output goes to an unlinked temporary file, so a child killed mid-write cannot block on a pipe.
    char name[] = "/tmp/hostdevd-safety-XXXXXX";
    const int out = ::mkstemp(name);
    if (out < 0)
        throw std::runtime_error("mkstemp failed");
    ::unlink(name);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::execv(args[0], args.data());
        std::_Exit(127);
    }
    ChildResult result;
    const auto start = std::chrono::steady_clock::now();
    const auto kill_at = kill_after.count() > 0 ? start + kill_after : start + deadline;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR)
            throw std::runtime_error("waitpid failed");
        if (std::chrono::steady_clock::now() >= kill_at) {
            result.timed_out = kill_after.count() == 0;
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            break;
        }
        // Polling the child's exit: a short nap between checks (the deadline is what bounds the wait).
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    ::lseek(out, 0, SEEK_SET);
    char buf[4096];
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;)
        result.output.append(buf, std::size_t(n));
    ::close(out);
    return result;
}

} // namespace safety
