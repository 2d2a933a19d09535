#include "apply/hooks.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hostdevd {

namespace {

constexpr size_t kMaxOutput = 64 * 1024; // of a hook's output, only the first line is used

std::string owner_mode_problem(const struct stat& st, const std::string& what, bool sticky_ok) {
    if (st.st_uid != 0)
        return what + " is owned by uid " + std::to_string(st.st_uid) + ", not root (chown root)";
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(sticky_ok && (st.st_mode & S_ISVTX)))
        return what + " is writable by group/other (chmod go-w)";
    return {};
}

std::string first_line_of(const std::string& output) {
    size_t start = 0;
    while (start < output.size()) {
        size_t end = std::min(output.find('\n', start), output.size());
        std::string line = output.substr(start, end - start);
        line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
        if (line.find_first_not_of(" \t") != std::string::npos)
            return line.size() > 200 ? line.substr(0, 200) + "..." : line;
        start = end + 1;
    }
    return {};
}

std::string join_lines(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

// The environment every hook gets, for one action and phase (docs/hooks.md lists them).
std::vector<std::string> hook_environment(const Action& action, const char* phase) {
    std::vector<std::string> writes;
    for (const SysfsWrite& w : action.writes) {
        std::string value = w.value;
        value.erase(std::remove(value.begin(), value.end(), '\n'), value.end());
        writes.push_back("/sys/" + w.path + " " + value);
    }
    return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            std::string("HOSTDEVD_PHASE=") + phase,
            std::string("HOSTDEVD_ACTION=") + to_string(action.kind),
            "HOSTDEVD_DEVICE=" + action.object,
            "HOSTDEVD_SUMMARY=" + action.summary,
            "HOSTDEVD_AFFECTED=" + join_lines(action.must_be_idle, " "),
            "HOSTDEVD_WRITES=" + join_lines(writes, "\n"),
            "HOSTDEVD_SOURCE=" + action.source};
}

std::string seconds_text(std::chrono::milliseconds timeout) {
    auto ms = timeout.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

} // namespace

HookSettings hook_settings_for(const std::string& config_dir) {
    HookSettings settings;
    settings.dir = config_dir + "/hooks.d";
    if (const char* text = std::getenv("HOSTDEVD_HOOK_TIMEOUT")) {
        char* end = nullptr;
        long seconds = std::strtol(text, &end, 10);
        if (end && *end == '\0' && seconds >= 1 && seconds <= 3600)
            settings.timeout = std::chrono::seconds(seconds);
        else
            spdlog::warn("HOSTDEVD_HOOK_TIMEOUT={} is not a number of seconds from 1 to 3600; using {}", text,
                         seconds_text(settings.timeout));
    }
    return settings;
}

std::string untrusted_path_problem(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
        return path + ": " + std::strerror(errno);
    if (std::string problem = owner_mode_problem(st, path, false); !problem.empty())
        return problem;
    // Every directory above it, up to "/": whoever can replace one of them can replace the path.
    std::string dir = path;
    while (true) {
        size_t slash = dir.find_last_of('/');
        if (slash == std::string::npos)
            break;
        dir = slash == 0 ? "/" : dir.substr(0, slash);
        if (::stat(dir.c_str(), &st) != 0)
            return dir + ": " + std::strerror(errno);
        if (std::string problem = owner_mode_problem(st, dir, true); !problem.empty())
            return problem;
        if (dir == "/")
            break;
    }
    return {};
}

std::vector<std::string> HookRunner::hooks(std::string& problem) const {
    std::vector<std::string> names;
    problem.clear();
    DIR* dir = ::opendir(settings_.dir.c_str());
    if (!dir) {
        if (errno != ENOENT)
            problem = "hooks directory " + settings_.dir + ": " + std::strerror(errno);
        return names;
    }
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.')
            names.emplace_back(entry->d_name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    if (std::string why = untrusted_path_problem(settings_.dir); !why.empty())
        problem = "hooks directory refused: " + why;
    return names;
}

HookRun HookRunner::run(const std::string& name, const std::vector<std::string>& env) const {
    HookRun result;
    result.hook = name;
    const std::string path = settings_.dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_IXUSR)) {
        result.refused = path + " is not an executable file";
        return result;
    }
    if (std::string why = untrusted_path_problem(path); !why.empty()) {
        result.refused = why;
        return result;
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        result.refused = std::string("pipe: ") + std::strerror(errno);
        return result;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none); // the daemon blocks its loop's signals; a hook must not
    sigset_t defaults;
    sigfillset(&defaults);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    // Its own session and process group: at the timeout the hook and everything it started are killed.
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    std::vector<char*> argv = {const_cast<char*>(path.c_str()), nullptr};
    std::vector<char*> envp;
    for (const std::string& e : env)
        envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_t pid = -1;
    int spawned = posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(pipe_fds[1]);
    if (spawned != 0) {
        ::close(pipe_fds[0]);
        result.refused = "cannot run " + path + ": " + std::strerror(spawned);
        return result;
    }
    // Wait for the hook's exit (a pidfd) and read its output meanwhile, up to the deadline. A background
    // child that keeps the pipe open does not hold the answer up: the hook's own exit is the answer.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    const auto deadline = std::chrono::steady_clock::now() + settings_.timeout;
    std::string output;
    bool exited = false, pipe_open = true;
    while (!exited) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd fds[2];
        nfds_t count = 0;
        if (pidfd >= 0)
            fds[count++] = {pidfd, POLLIN, 0};
        const nfds_t pipe_index = count;
        if (pipe_open)
            fds[count++] = {pipe_fds[0], POLLIN, 0};
        // Without a pidfd (an old kernel) the exit is looked for every 50 ms.
        const long long wait_ms = std::min<long long>(left.count(), pidfd >= 0 ? 1000 : 50);
        if (::poll(fds, count, static_cast<int>(wait_ms)) < 0 && errno != EINTR)
            break;
        if (pipe_open && (fds[pipe_index].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buffer[4096];
            ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
            if (n > 0 && output.size() < kMaxOutput)
                output.append(buffer, static_cast<size_t>(n));
            else if (n == 0)
                pipe_open = false;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
    if (!exited) {
        ::kill(-pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        result.timed_out = true;
        result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    // What is left in the pipe now (without waiting for children that still hold it).
    int flags = ::fcntl(pipe_fds[0], F_GETFL);
    ::fcntl(pipe_fds[0], F_SETFL, flags | O_NONBLOCK);
    char buffer[4096];
    ssize_t n;
    while (pipe_open && output.size() < kMaxOutput && (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0)
        output.append(buffer, static_cast<size_t>(n));
    ::close(pipe_fds[0]);
    if (pidfd >= 0)
        ::close(pidfd);
    result.first_line = first_line_of(output);
    return result;
}

std::optional<std::string> HookRunner::before(const Action& action) {
    std::string problem;
    std::vector<std::string> names = hooks(problem);
    if (!problem.empty()) {
        spdlog::error("hooks: {}", problem);
        return problem;
    }
    const std::vector<std::string> env = hook_environment(action, "pre");
    for (const std::string& name : names) {
        HookRun r = run(name, env);
        if (!r.refused.empty()) {
            spdlog::error("hooks: hook {} refused: {}", name, r.refused);
            return "hook " + name + " refused: " + r.refused;
        }
        if (r.timed_out)
            return "hook " + name + " did not answer within " + seconds_text(settings_.timeout) +
                   " (a timeout is a veto)";
        if (r.exit_status != 0)
            return "hook " + name + " vetoed (exit status " + std::to_string(r.exit_status) + ")" +
                   (r.first_line.empty() ? "" : ": " + r.first_line);
    }
    return std::nullopt;
}

void HookRunner::after(const Action& action, const ActionResult& result) {
    std::string problem;
    std::vector<std::string> names = hooks(problem);
    if (!problem.empty()) {
        spdlog::error("hooks: {} (post notification not sent)", problem);
        return;
    }
    std::vector<std::string> env = hook_environment(action, "post");
    env.push_back(std::string("HOSTDEVD_RESULT=") + to_string(result.outcome));
    env.push_back("HOSTDEVD_MESSAGE=" + result.message);
    for (const std::string& name : names) {
        HookRun r = run(name, env);
        if (!r.refused.empty())
            spdlog::error("hooks: hook {} refused (post): {}", name, r.refused);
        else if (r.timed_out)
            spdlog::warn("hooks: hook {} (post, {} {}) did not return within {}; killed", name, action.object,
                         action.summary, seconds_text(settings_.timeout));
        else if (r.exit_status != 0)
            spdlog::warn("hooks: hook {} (post, {} {}) exited with status {} (ignored after the action){}",
                         name, action.object, action.summary, r.exit_status,
                         r.first_line.empty() ? "" : ": " + r.first_line);
        else
            spdlog::debug("hooks: hook {} (post, {} {}) ok", name, action.object, action.summary);
    }
}

} // namespace hostdevd
