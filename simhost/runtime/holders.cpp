#include "holders.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

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

// One entry of a simulated fd table: the link text and the fdinfo text (fs/proc/fd.c seq_show).
struct SimulatedFd {
    std::string target;
    std::string fdinfo;
};

// fdinfo of a file opened by path: O_RDWR | O_LARGEFILE | O_CLOEXEC (what QEMU's qemu_open does).
SimulatedFd path_fd(const std::string& target, unsigned ino) {
    return {target, "pos:\t0\nflags:\t02100002\nmnt_id:\t25\nino:\t" + std::to_string(ino) + "\n"};
}

// A VFIO device fd (vfio_main.c: anon_inode_getfile("[vfio-device]", ..., O_RDWR), made close-on-exec by
// the ioctl's fd). Every anon inode file shares one inode (fs/anon_inodes.c), so `ino` names no device;
// Linux >= 6.18 adds the device's sysfs path (vfio_device_show_fdinfo).
SimulatedFd device_fd(const VfioGroupInfo::Device& device, bool syspath) {
    SimulatedFd fd{"anon_inode:[vfio-device]", "pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t9705\n"};
    if (syspath)
        fd.fdinfo += "vfio-device-syspath: " + device.syspath + "\n";
    return fd;
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    out << text;
}

} // namespace

const char* to_string(HoldOptions::Kind kind) {
    switch (kind) {
    case HoldOptions::Kind::Group:
        return "group";
    case HoldOptions::Kind::Qemu:
        return "device";
    case HoldOptions::Kind::DeviceOnly:
        return "device-only";
    case HoldOptions::Kind::Cdev:
        return "cdev";
    }
    return "?";
}

Holders::Holders(Kernel& kernel, std::string simhost_executable)
    : kernel_(kernel), executable_(std::move(simhost_executable)) {}

Holders::~Holders() {
    kill_all();
}

int Holders::simulate_fds(pid_t pid, const std::string& scratch, const HoldOptions& options,
                          const VfioGroupInfo& info, std::string& error) {
    std::vector<SimulatedFd> fds = {path_fd("/dev/null", 4), path_fd("/dev/null", 4),
                                    path_fd("/dev/null", 4)};
    const SimulatedFd group_fd = path_fd("/dev/vfio/" + std::to_string(info.group), 150);
    switch (options.kind) {
    case HoldOptions::Kind::Group:
        fds.push_back(group_fd);
        break;
    case HoldOptions::Kind::Qemu:
        fds.push_back(path_fd("/dev/vfio/vfio", 140));
        fds.push_back(group_fd);
        for (const auto& device : info.devices)
            fds.push_back(device_fd(device, options.syspath));
        break;
    case HoldOptions::Kind::DeviceOnly:
        for (const auto& device : info.devices)
            fds.push_back(device_fd(device, options.syspath));
        break;
    case HoldOptions::Kind::Cdev:
        fds.push_back(path_fd("/dev/iommu", 141));
        for (const auto& device : info.devices) {
            // A cdev fd is a VFIO device file too (vfio_device_fops): same fdinfo lines.
            SimulatedFd fd =
                path_fd("/dev/vfio/devices/vfio" + std::to_string(device.cdev), 300 + device.cdev);
            if (options.syspath)
                fd.fdinfo += "vfio-device-syspath: " + device.syspath + "\n";
            fds.push_back(fd);
        }
        break;
    }
    std::error_code ec;
    fs::create_directories(scratch + "/fd", ec);
    fs::create_directories(scratch + "/fdinfo", ec);
    if (ec) {
        error = "cannot create " + scratch + ": " + ec.message();
        return -EIO;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
        const std::string n = std::to_string(i);
        if (::symlink(fds[i].target.c_str(), (scratch + "/fd/" + n).c_str()) < 0) {
            error = "symlink: " + std::string(std::strerror(errno));
            return -EIO;
        }
        write_text(scratch + "/fdinfo/" + n, fds[i].fdinfo);
    }
    ::chmod((scratch + "/fd").c_str(), 0500); // as proc_fd_inode: dr-x------
    for (const char* dir : {"fd", "fdinfo"}) {
        const std::string target = "/proc/" + std::to_string(pid) + "/" + dir;
        if (::mount((scratch + "/" + dir).c_str(), target.c_str(), nullptr, MS_BIND, nullptr) < 0) {
            const int err = errno;
            error = "cannot bind-mount the simulated " + target + ": " + std::strerror(err);
            ::umount2(("/proc/" + std::to_string(pid) + "/fd").c_str(), MNT_DETACH);
            return -err;
        }
    }
    return 0;
}

pid_t Holders::start(int group, const HoldOptions& options, std::string& error) {
    // drivers/vfio/group.c vfio_group_fops_open(): a group has one opener at a time, else -EBUSY; a device
    // fd keeps its group's file open (the kernel's own reference) after the group fd is closed.
    for (const auto& holder : holders_)
        if (holder.group == group) {
            error =
                "group " + std::to_string(group) + " is already held by PID " + std::to_string(holder.pid);
            return -EBUSY;
        }
    VfioGroupInfo info;
    if (const int rc = kernel_.vfio_group_info(group, info, error); rc < 0)
        return rc;
    const bool opens_group = options.kind != HoldOptions::Kind::Cdev;
    if (opens_group && !info.node) {
        error = "no /dev/vfio/" + std::to_string(group) + " (is the device bound to vfio-pci?)";
        return -ENOENT;
    }
    if (options.kind != HoldOptions::Kind::Group && info.devices.empty()) {
        error = "group " + std::to_string(group) + " has no VFIO device to open";
        return -ENODEV;
    }
    if (options.kind == HoldOptions::Kind::Cdev &&
        std::any_of(info.devices.begin(), info.devices.end(), [](auto& d) { return d.cdev < 0; })) {
        error = "no VFIO device cdev (the host description sets no vfio_cdev = true)";
        return -ENODEV;
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
        error = std::string("pipe: ") + std::strerror(errno);
        return -EIO;
    }
    const std::string uid_text = std::to_string(options.uid);
    const char* argv[] = {executable_.c_str(), "__hold", options.comm.c_str(), uid_text.c_str(), nullptr};
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
    auto fail = [&](int rc) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return rc;
    };
    if (handshake != "ready") {
        // The holder reports "ERRNO-NUMBER message" when it cannot start.
        int err = EIO;
        std::size_t used = 0;
        if (!handshake.empty() && std::isdigit(static_cast<unsigned char>(handshake[0])))
            err = std::stoi(handshake, &used);
        error = handshake.empty() ? "holder did not start" : handshake.substr(used ? used + 1 : 0);
        return fail(-err);
    }
    const std::string scratch = "/run/simhost/holders/" + std::to_string(pid);
    if (const int rc = simulate_fds(pid, scratch, options, info, error); rc < 0) {
        std::error_code ec;
        fs::remove_all(scratch, ec);
        return fail(rc);
    }
    const GroupHold hold = options.kind == HoldOptions::Kind::Group ? GroupHold::Group : GroupHold::Device;
    if (const int rc = kernel_.set_group_hold(group, hold, error); rc < 0)
        return fail(rc);
    holders_.push_back({pid, pidfd_open(pid), group, hold, scratch});
    return pid;
}

bool Holders::release(pid_t pid, std::string& error) {
    const auto it = std::find_if(holders_.begin(), holders_.end(), [&](auto& h) { return h.pid == pid; });
    if (it == holders_.end()) {
        error = "PID " + std::to_string(pid) + " is not a holder started by simhost";
        return false;
    }
    // Its files close with it: the simulated table goes first, so nobody sees it after the release.
    for (const char* dir : {"fd", "fdinfo"})
        ::umount2(("/proc/" + std::to_string(pid) + "/" + dir).c_str(), MNT_DETACH);
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
    // The kernel detaches mounts on a dead process's /proc entries (d_invalidate); the scratch goes too.
    std::error_code ec;
    fs::remove_all(holder.scratch, ec);
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
    if (argc != 4) {
        std::printf("%d usage: simhost __hold COMM UID\n", EINVAL);
        return 2;
    }
    const long uid = std::strtol(argv[3], nullptr, 10);
    if (uid >= 0) {
        const auto id = static_cast<uid_t>(uid);
        if (::setgroups(0, nullptr) < 0 || ::setresgid(id, id, id) < 0 || ::setresuid(id, id, id) < 0) {
            const int err = errno;
            std::printf("%d cannot become uid %ld: %s\n", err, uid, std::strerror(err));
            return 1;
        }
    }
    ::prctl(PR_SET_NAME, argv[2]); // /proc/PID/comm, truncated to 15 characters like any comm
    std::printf("ready\n");
    std::fflush(stdout);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, STDOUT_FILENO);
    for (;;)
        ::pause();
}

} // namespace simhost
