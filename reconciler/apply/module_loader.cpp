#include "apply/module_loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hostdevd {

ModuleLoader::~ModuleLoader() = default;

namespace {

constexpr size_t kMaxMessage = 4096;

std::string trim_trailing_newlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text;
}

} // namespace

ModuleLoadOutcome ModprobeLoader::load(const std::string& module) {
    ModuleLoadOutcome outcome;
    if (module.empty() || module.front() == '-') {
        // A leading dash would be read as an option by modprobe.
        outcome.error = EINVAL;
        outcome.exit_status = -1;
        outcome.message = "invalid module name '" + module + "'";
        return outcome;
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        outcome.error = errno;
        outcome.exit_status = -1;
        outcome.message = std::string("pipe: ") + std::strerror(outcome.error);
        return outcome;
    }
    // Everything the child needs is prepared before fork: after fork in a threaded program only
    // async-signal-safe calls are allowed.
    const char* argv[] = {modprobe_.c_str(), "--", module.c_str(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) {
        outcome.error = errno;
        outcome.exit_status = -1;
        outcome.message = std::string("fork: ") + std::strerror(outcome.error);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        return outcome;
    }
    if (pid == 0) {
        ::dup2(pipe_fds[1], STDERR_FILENO); // dup2 clears O_CLOEXEC on the copy
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
        }
        ::execvp(argv[0], const_cast<char* const*>(argv));
        const char msg[] = "cannot execute modprobe\n";
        [[maybe_unused]] ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    std::string message;
    char buffer[512];
    for (;;) {
        ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (message.size() < kMaxMessage)
            message.append(buffer, static_cast<size_t>(std::min<ssize_t>(n, kMaxMessage - message.size())));
    }
    ::close(pipe_fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            outcome.error = errno;
            outcome.exit_status = -1;
            outcome.message = std::string("waitpid: ") + std::strerror(outcome.error);
            return outcome;
        }
    }
    outcome.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.message = trim_trailing_newlines(std::move(message));
    if (!WIFEXITED(status))
        outcome.message = "modprobe killed by signal " + std::to_string(WTERMSIG(status));
    return outcome;
}

} // namespace hostdevd
