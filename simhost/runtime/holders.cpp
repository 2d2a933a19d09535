#include "holders.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace simhost {
namespace {

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Reads the holder's one-line handshake; "" when it exited (or said nothing) within the deadline.
std::string read_handshake(int fd, int timeout_ms) {
    std::string line;
    char c;
    while (line.size() < 512) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0 || ::read(fd, &c, 1) != 1)
            break;
        if (c == '\n')
            break;
        line += c;
    }
    return line;
}

} // namespace

Holders::Holders(Kernel& kernel, std::string simhost_executable)
    : kernel_(kernel), executable_(std::move(simhost_executable)) {}

Holders::~Holders() {
    kill_all();
}

pid_t Holders::start(int group, bool device, const std::string& comm, std::string& error) {
    // drivers/vfio/group.c vfio_group_fops_open(): a group has one opener at a time, else -EBUSY.
    for (const auto& holder : holders_)
        if (holder.group == group) {
            error =
                "group " + std::to_string(group) + " is already held by PID " + std::to_string(holder.pid);
            return -EBUSY;
        }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return -EIO;
    }
    const std::string group_text = std::to_string(group);
    const char* argv[] = {executable_.c_str(), "__hold",           group_text.c_str(),
                          comm.c_str(),        device ? "1" : "0", nullptr};
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        // Only async-signal-safe calls between fork and exec (the parent is multi-threaded).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL); // dies with the simhost thread that started it
        if (::getppid() != parent)
            ::_exit(127);
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::execv(argv[0], const_cast<char**>(argv));
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    if (pid < 0) {
        ::close(pipe_fds[0]);
        error = std::string("fork: ") + std::strerror(errno);
        return -EIO;
    }
    const std::string handshake = read_handshake(pipe_fds[0], 10000);
    ::close(pipe_fds[0]);
    if (handshake != "ready") {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        // The holder reports "ERRNO-NUMBER message" when it cannot open the group.
        int err = EIO;
        std::size_t used = 0;
        if (!handshake.empty() && std::isdigit(static_cast<unsigned char>(handshake[0])))
            err = std::stoi(handshake, &used);
        error = handshake.empty() ? "holder did not start" : handshake.substr(used ? used + 1 : 0);
        return -err;
    }
    const GroupHold hold = device ? GroupHold::Device : GroupHold::Group;
    if (const int rc = kernel_.set_group_hold(group, hold, error); rc < 0) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return rc;
    }
    holders_.push_back({pid, pidfd_open(pid), group, hold});
    return pid;
}

bool Holders::release(pid_t pid, std::string& error) {
    const auto it = std::find_if(holders_.begin(), holders_.end(), [&](auto& h) { return h.pid == pid; });
    if (it == holders_.end()) {
        error = "PID " + std::to_string(pid) + " is not a holder started by simhost";
        return false;
    }
    ::kill(pid, SIGKILL);
    forget(static_cast<std::size_t>(it - holders_.begin()));
    return true;
}

std::vector<int> Holders::pidfds() const {
    std::vector<int> fds;
    for (const auto& holder : holders_)
        if (holder.pidfd >= 0)
            fds.push_back(holder.pidfd);
    return fds;
}

void Holders::reap(int pidfd) {
    const auto it = std::find_if(holders_.begin(), holders_.end(), [&](auto& h) { return h.pidfd == pidfd; });
    if (it != holders_.end())
        forget(static_cast<std::size_t>(it - holders_.begin()));
}

void Holders::forget(std::size_t index) {
    const Holder holder = holders_[index];
    holders_.erase(holders_.begin() + static_cast<std::ptrdiff_t>(index));
    ::waitpid(holder.pid, nullptr, 0);
    if (holder.pidfd >= 0)
        ::close(holder.pidfd);
    // The group's file is closed with the process: vfio_group_fops_release() drops the hold.
    std::string ignored;
    kernel_.set_group_hold(holder.group, GroupHold::None, ignored);
}

void Holders::kill_all() {
    while (!holders_.empty()) {
        ::kill(holders_.back().pid, SIGKILL);
        forget(holders_.size() - 1);
    }
}

int holder_main(int argc, char** argv) {
    if (argc != 5) {
        std::printf("%d usage: simhost __hold GROUP COMM 0|1\n", EINVAL);
        return 2;
    }
    const std::string group_path = std::string("/dev/vfio/") + argv[2];
    const int group_fd = ::open(group_path.c_str(), O_RDWR | O_CLOEXEC);
    if (group_fd < 0) {
        const int err = errno;
        std::printf("%d cannot open %s: %s (is the device bound to vfio-pci?)\n", err, group_path.c_str(),
                    std::strerror(err));
        return 1;
    }
    if (std::strcmp(argv[4], "1") == 0 && ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC) < 0) {
        const int err = errno;
        std::printf("%d cannot open /dev/vfio/vfio: %s\n", err, std::strerror(err));
        return 1;
    }
    ::prctl(PR_SET_NAME, argv[3]); // /proc/PID/comm, truncated to 15 characters like any comm
    std::printf("ready\n");
    std::fflush(stdout);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    for (;;)
        ::pause();
}

} // namespace simhost
