#include "observe/holders.hpp"

#include "sysfs/read.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <linux/capability.h>
#include <optional>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

namespace hostdevd {

namespace {

constexpr std::string_view kVfioDir = "/dev/vfio/";
constexpr std::string_view kCdevDir = "devices/";
// drivers/vfio/vfio_main.c vfio_device_open_file(): anon_inode_getfile("[vfio-device]", ...);
// fs/anon_inodes.c names such files "anon_inode:<name>" in /proc/<pid>/fd.
constexpr std::string_view kDeviceFdLink = "anon_inode:[vfio-device]";
// drivers/vfio/vfio_main.c vfio_device_show_fdinfo() (Linux >= 6.18): the device's sysfs path.
constexpr std::string_view kSyspathKey = "vfio-device-syspath:";

struct FdInfo {
    unsigned long flags = 0;
    std::string syspath; // "" when the kernel prints none
};

// /proc/<pid>/fdinfo/<fd> (fs/proc/fd.c seq_show: "flags:\t0%o" and each file's show_fdinfo lines).
// nullopt when the fd was closed meanwhile. A file that cannot be read otherwise (a fixture without
// fdinfo, a kernel without it) counts as an ordinary read-write open: unknown is not harmless.
std::optional<FdInfo> read_fdinfo(const std::string& path) {
    TextResult text = read_file(path, 64 * 1024);
    if (!text.ok())
        return text.error == ENOENT || text.error == ESRCH ? std::nullopt : std::optional<FdInfo>(FdInfo{});
    FdInfo info;
    std::string_view rest = text.text;
    while (!rest.empty()) {
        std::string_view line = rest.substr(0, rest.find('\n'));
        rest.remove_prefix(std::min(rest.size(), line.size() + 1));
        auto value_of = [&line](std::string_view key) -> std::optional<std::string_view> {
            if (line.substr(0, key.size()) != key)
                return std::nullopt;
            std::string_view value = line.substr(key.size());
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
                value.remove_suffix(1);
            return value;
        };
        if (auto flags = value_of("flags:")) {
            unsigned long parsed = 0;
            auto [ptr, ec] = std::from_chars(flags->data(), flags->data() + flags->size(), parsed, 8);
            if (ec == std::errc())
                info.flags = parsed;
        } else if (auto syspath = value_of(kSyspathKey)) {
            info.syspath = std::string(*syspath);
        }
    }
    return info;
}

// "243:1" as sysfs prints a device number (drivers/base/core.c dev_show, "%u:%u").
std::optional<dev_t> parse_dev(const std::string& text) {
    auto colon = text.find(':');
    if (colon == std::string::npos)
        return std::nullopt;
    auto major_number = parse_decimal(std::string_view(text).substr(0, colon));
    auto minor_number = parse_decimal(std::string_view(text).substr(colon + 1));
    if (!major_number || !minor_number || *major_number > 0xfffff || *minor_number > 0xfffff)
        return std::nullopt;
    return makedev(static_cast<unsigned>(*major_number), static_cast<unsigned>(*minor_number));
}

// The device numbers sysfs gives for VFIO nodes, read at most once per scan: /sys/class/vfio/<N>/dev for
// group N (vfio_main.c vfio_group_alloc: device in class "vfio"), /sys/class/vfio-dev/vfioN/dev for a
// device cdev (class "vfio-dev"; 6.1 registers the class device without a cdev, so no `dev` file).
class KernelNodes {
public:
    explicit KernelNodes(const SysfsLayout& layout) : layout_(layout) {}
    std::optional<dev_t> group(const std::string& name) { return lookup("class/vfio/" + name + "/dev"); }
    std::optional<dev_t> cdev(const std::string& name) { return lookup("class/vfio-dev/" + name + "/dev"); }

private:
    std::optional<dev_t> lookup(const std::string& relative) {
        auto [it, added] = cache_.try_emplace(relative);
        if (added) {
            TextResult text = read_attribute(layout_.sys(relative));
            it->second = text.ok() ? parse_dev(text.text) : std::nullopt;
        }
        return it->second;
    }
    const SysfsLayout& layout_;
    std::map<std::string, std::optional<dev_t>> cache_;
};

// Whether the file open at `fd_path` is the character device `expected` (stat follows the /proc magic
// link to the open file itself, whatever path it was opened at and whatever this process's /dev shows).
bool is_kernel_node(const std::string& fd_path, std::optional<dev_t> expected) {
    struct stat held {};
    if (!expected || ::stat(fd_path.c_str(), &held) != 0)
        return false; // no such node in sysfs (group gone), or the fd closed meanwhile
    return S_ISCHR(held.st_mode) && held.st_rdev == *expected;
}

// The real uid of a process, from the "Uid:" line of /proc/<pid>/status (fs/proc/array.c task_state).
long read_uid(const SysfsLayout& layout, const std::string& pid) {
    TextResult status = read_file(layout.proc(pid + "/status"), 64 * 1024);
    if (!status.ok())
        return -1;
    auto at = status.text.find("\nUid:");
    if (at == std::string::npos)
        return -1;
    std::string_view rest = std::string_view(status.text).substr(at + 5);
    while (!rest.empty() && (rest.front() == '\t' || rest.front() == ' '))
        rest.remove_prefix(1);
    long uid = -1;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), uid);
    return ec == std::errc() ? uid : -1;
}

void add_unique(std::vector<std::string>& holders, const std::string& holder) {
    if (std::find(holders.begin(), holders.end(), holder) == holders.end())
        holders.push_back(holder);
}

bool permission_error(int error) {
    return error == EACCES || error == EPERM;
}

// Whether this process may read every process's fd links: ptrace_may_access(PTRACE_MODE_READ_FSCREDS)
// needs CAP_SYS_PTRACE for other users' (and non-dumpable) processes (fs/proc/fd.c, kernel/ptrace.c).
bool can_read_every_process() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0)
        return false;
    return (data[CAP_SYS_PTRACE / 32].effective & (1u << (CAP_SYS_PTRACE % 32))) != 0;
}

// What one process holds, before it is named.
struct ProcessFinds {
    std::vector<int> groups;
    std::vector<std::string> cdevs;
    std::vector<std::string> devices;
    unsigned unattributed = 0;
    int unreadable = 0; // errno when its fd table could not be read
    bool any() const {
        return !groups.empty() || !cdevs.empty() || !devices.empty() || unattributed || unreadable;
    }
};

// One fd of a process: what it holds, if anything, into `finds`.
void classify_fd(const SysfsLayout& layout, KernelNodes& nodes, const std::string& fd_path,
                 const std::string& fdinfo_path, std::string_view target, ProcessFinds& finds) {
    const bool live = layout.root() == "/";
    if (target == kDeviceFdLink) {
        auto info = read_fdinfo(fdinfo_path);
        if (!info || (info->flags & kOpathFlag))
            return;
        if (info->syspath.empty())
            ++finds.unattributed;
        else
            finds.devices.emplace_back(last_component(info->syspath));
        return;
    }
    if (target.substr(0, kVfioDir.size()) != kVfioDir)
        return;
    target.remove_prefix(kVfioDir.size());
    const bool cdev = target.substr(0, kCdevDir.size()) == kCdevDir;
    const std::string name(cdev ? target.substr(kCdevDir.size()) : target);
    std::optional<uint64_t> group;
    if (!cdev) {
        group = parse_decimal(name); // "/dev/vfio/vfio" (the container) holds no device
        if (!group || *group > 0x7fffffff)
            return;
    } else if (name.empty() || name.find('/') != std::string::npos) {
        return;
    }
    auto info = read_fdinfo(fdinfo_path);
    if (!info || (info->flags & kOpathFlag))
        return; // closed meanwhile, or an O_PATH fd: opens no device
    if (live && !is_kernel_node(fd_path, cdev ? nodes.cdev(name) : nodes.group(name)))
        return;
    if (cdev)
        finds.cdevs.push_back(name);
    else
        finds.groups.push_back(static_cast<int>(*group));
}

ProcessFinds scan_process(const SysfsLayout& layout, KernelNodes& nodes, const std::string& pid) {
    ProcessFinds finds;
    const std::string fd_dir = layout.proc(pid + "/fd");
    ListResult fds = list_directory(fd_dir);
    if (!fds.ok()) {
        if (permission_error(fds.error))
            finds.unreadable = fds.error;
        return finds; // exited (ENOENT, ESRCH): it holds nothing
    }
    const std::string fdinfo_dir = layout.proc(pid + "/fdinfo");
    for (const std::string& fd : fds.names) {
        // The target is the path as the *process* sees it (fs/proc/fd.c, d_path), so it is compared as
        // text and never joined with our root.
        TextResult target = read_link(fd_dir + "/" + fd);
        if (!target.ok()) {
            if (permission_error(target.error))
                finds.unreadable = target.error;
            continue; // closed meanwhile
        }
        classify_fd(layout, nodes, fd_dir + "/" + fd, fdinfo_dir + "/" + fd, target.text, finds);
    }
    return finds;
}

std::string errno_name(int error) {
    return error == EACCES ? "EACCES" : error == EPERM ? "EPERM" : "errno " + std::to_string(error);
}

} // namespace

std::string describe_process(int pid, long uid, const std::string& comm) {
    return "pid " + std::to_string(pid) + " uid " + (uid < 0 ? std::string("?") : std::to_string(uid)) +
           " (" + comm + ")";
}

HolderIndex scan_vfio_holders(const SysfsLayout& layout) {
    HolderIndex index;
    ListResult pids = list_directory(layout.proc());
    if (!pids.ok()) {
        // Without /proc nobody can be ruled out: every VFIO device counts as held.
        index.unattributed.push_back("cannot list " + layout.proc() + " (" + errno_name(pids.error) +
                                     "; unknown counts as in use)");
        return index;
    }
    KernelNodes nodes(layout);
    // Processes whose open files cannot be read (no privilege): one entry for all of them.
    std::vector<std::string> unreadable;
    int unreadable_error = 0;
    for (const std::string& name : pids.names) {
        auto pid = parse_decimal(name);
        if (!pid || *pid == 0 || *pid > 0x7fffffff)
            continue; // "self", "sys", ...
        ProcessFinds finds = scan_process(layout, nodes, name);
        if (!finds.any())
            continue;
        TextResult comm = read_attribute(layout.proc(name + "/comm"));
        if (!comm.ok())
            continue; // exited between the fd scan and now: it holds nothing any more
        const std::string holder =
            describe_process(static_cast<int>(*pid), read_uid(layout, name), comm.text);
        for (int group : finds.groups)
            add_unique(index.groups[group], holder);
        for (const std::string& cdev : finds.cdevs)
            add_unique(index.cdevs[cdev], holder);
        for (const std::string& device : finds.devices)
            add_unique(index.devices[device], holder);
        if (finds.unattributed)
            index.unattributed.push_back(holder +
                                         " holds a VFIO device fd the kernel does not attribute (unknown "
                                         "counts as in use)");
        if (finds.unreadable) {
            unreadable.push_back(holder);
            unreadable_error = finds.unreadable;
        }
    }
    if (!unreadable.empty() && can_read_every_process()) {
        // With CAP_SYS_PTRACE nothing but a security policy about those very processes (an LSM, or a
        // sandbox's own init) keeps them from us: they are left out, and said so.
        spdlog::debug("holders: {} processes hide their open files despite CAP_SYS_PTRACE ({}, first {}); "
                      "not counted",
                      unreadable.size(), errno_name(unreadable_error), unreadable.front());
    } else if (!unreadable.empty()) {
        // Without the privilege (a user's hostdevctl, a unit without CAP_SYS_PTRACE) every other user's VMM
        // would be invisible: unknown counts as in use.
        spdlog::debug("holders: the open files of {} processes cannot be read: {}", unreadable.size(),
                      errno_name(unreadable_error));
        std::string who = unreadable.front();
        for (size_t i = 1; i < unreadable.size() && i < 3; ++i)
            who += ", " + unreadable[i];
        if (unreadable.size() > 3)
            who += " and " + std::to_string(unreadable.size() - 3) + " more";
        index.unattributed.push_back("the open files of " + who + " cannot be read (" +
                                     errno_name(unreadable_error) + "; unknown counts as in use)");
    }
    return index;
}

} // namespace hostdevd
