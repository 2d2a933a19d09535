#include "run_world.hpp"

#include "control_server.hpp"
#include "fuse_sysfs.hpp"
#include "host_spec.hpp"
#include "kernel.hpp"
#include "sandbox.hpp"
#include "uevent_netlink.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace simhost {
namespace {

constexpr int kUsageExit = 2;

std::string self_executable() {
    char path[4096];
    const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        throw std::runtime_error(std::string("readlink /proc/self/exe: ") + std::strerror(errno));
    return std::string(path, static_cast<std::size_t>(n));
}

// The environment COMMAND gets: ours plus SIMHOST=1, SIMHOST_CONTROL and SYSTEMD_DEVICE_VERIFY_SYSFS=0. Built
// before fork() because only async-signal-safe calls are allowed in the child of a multi-threaded process.
std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        const std::string entry = *e;
        if (entry.rfind("SIMHOST=", 0) != 0 && entry.rfind("SIMHOST_CONTROL=", 0) != 0 &&
            entry.rfind("SYSTEMD_DEVICE_VERIFY_SYSFS=", 0) != 0)
            env.push_back(entry);
    }
    env.push_back("SIMHOST=1");
    // systemd's sd-device (libudev, udevadm) refuses a syspath whose filesystem is not sysfs (fstatfs
    // f_type == SYSFS_MAGIC in device_set_syspath(), sd-device.c); a FUSE mount cannot report that magic.
    // systemd provides this switch for exactly such test trees.
    env.push_back("SYSTEMD_DEVICE_VERIFY_SYSFS=0");
    env.push_back(std::string("SIMHOST_CONTROL=") + kControlSocketPath);
    return env;
}

std::vector<char*> as_argv(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings)
        pointers.push_back(s.data());
    pointers.push_back(nullptr);
    return pointers;
}

// Runs COMMAND as a child that dies with us (PR_SET_PDEATHSIG), forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT,
// and returns its exit status. `signals` is blocked in this thread (and every thread started after it).
int run_child(std::vector<std::string> command, const sigset_t& signals, const sigset_t& old_mask) {
    std::vector<std::string> env = child_environment();
    std::vector<char*> argv = as_argv(command);
    std::vector<char*> envp = as_argv(env);
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child < 0) {
        std::cerr << "simhost: fork: " << std::strerror(errno) << "\n";
        return kUsageExit;
    }
    if (child == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent)
            ::_exit(127);
        ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
        ::execvpe(argv[0], argv.data(), envp.data());
        const int err = errno;
        const char* prefix = "simhost: cannot run ";
        (void)::write(STDERR_FILENO, prefix, std::strlen(prefix));
        (void)::write(STDERR_FILENO, argv[0], std::strlen(argv[0]));
        (void)::write(STDERR_FILENO, "\n", 1);
        ::_exit(err == ENOENT ? 127 : 126);
    }
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(child, &status, WNOHANG);
        if (done == child) {
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        }
        siginfo_t info{};
        if (::sigwaitinfo(&signals, &info) < 0)
            continue;
        if (info.si_signo != SIGCHLD)
            ::kill(child, info.si_signo); // COMMAND decides how to stop; we exit when it does
    }
}

} // namespace

int run_main(const std::vector<std::string>& args) {
    std::string host_file;
    std::vector<std::string> command;
    bool cached = true;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--host" && i + 1 < args.size() && host_file.empty())
            host_file = args[++i];
        else if (args[i].rfind("--host=", 0) == 0 && host_file.empty())
            host_file = args[i].substr(7);
        else if (args[i] == "--uncached-sysfs")
            cached = false;
        else {
            command.assign(args.begin() + static_cast<std::ptrdiff_t>(i + (args[i] == "--" ? 1 : 0)),
                           args.end());
            break;
        }
    }
    if (host_file.empty() || command.empty()) {
        std::cerr << "usage: simhost run --host FILE [--uncached-sysfs] [--] COMMAND [ARGS...]\n";
        return kUsageExit;
    }
    std::unique_ptr<Kernel> kernel;
    try {
        kernel = std::make_unique<Kernel>(load_host_spec(host_file));
    } catch (const HostSpecError& e) {
        std::cerr << e.what() << "\n"; // already "FILE:LINE:COL: message"
        return kUsageExit;
    }
    // Test aid (kernel.hpp set_verify_cache): abort when a change forgot to invalidate a cached text.
    const char* verify = std::getenv("SIMHOST_VERIFY_CACHE");
    const bool verify_cache = verify && std::string(verify) == "1";
    if (::geteuid() != 0) {
        std::cerr << "simhost needs root (mount/network namespaces, FUSE)\n";
        return kUsageExit;
    }

    // Block the signals we wait for before any thread exists, so every thread inherits the mask and
    // only sigwaitinfo() below sees them.
    sigset_t signals, old_mask;
    sigemptyset(&signals);
    for (const int sig : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT})
        sigaddset(&signals, sig);
    ::sigprocmask(SIG_BLOCK, &signals, &old_mask);

    try {
        const std::string executable = self_executable();
        enter_private_namespaces();
        mount_private_run();
        mount_private_dev();
        install_modules_alias(kernel->modules_alias());
        install_modprobe_shim(executable);

        UeventBroadcaster uevents;
        DevNodes devnodes;
        FuseSysfs sysfs(*kernel, cached);
        // A change's invalidations, uevents and /dev updates are carried out in order on the output pipe,
        // and the write(2) that caused them returns after them (fuse_sysfs.hpp).
        kernel->on_invalidate([&sysfs](const std::vector<Invalidation>& batch) {
            sysfs.post([&sysfs, batch] { sysfs.invalidate(batch); });
        });
        kernel->on_uevent([&sysfs, &uevents](const Uevent& event) {
            sysfs.post([&uevents, event] { uevents.send(event); });
        });
        kernel->on_devnode([&sysfs, &devnodes](const DevNode& node, bool present) {
            sysfs.post([&devnodes, node, present] { devnodes.set_present(node, present); });
        });
        kernel->set_verify_cache(verify_cache);
        devnodes.replace_all(kernel->devnode_numbers());

        sysfs.mount("/sys");
        ControlServer control(*kernel, devnodes, executable, [&sysfs] { sysfs.settle(); });
        control.start(kControlSocketPath);

        const int status = run_child(std::move(command), signals, old_mask);
        control.stop();
        sysfs.unmount();
        kernel->on_invalidate(nullptr);
        kernel->on_uevent(nullptr);
        kernel->on_devnode(nullptr);
        sysfs.settle();
        return status;
    } catch (const std::exception& e) {
        std::cerr << "simhost: " << e.what() << "\n";
        return kUsageExit;
    }
}

} // namespace simhost
