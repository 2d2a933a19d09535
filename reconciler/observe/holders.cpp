#include "observe/holders.hpp"

#include "sysfs/read.hpp"

#include <algorithm>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace hostdevd {

namespace {

// Whether the file a process has open at `fd_path` is our `/dev/vfio/<name>` (fd targets are paths in the
// *process's* mount namespace: a guest in a container, or another simulated host, can hold a different
// file under the same name). Character devices are compared by device number, other files by identity.
// When our node is gone, a character device still counts (a stale group fd: unknown counts as in use).
bool same_vfio_node(const std::string& fd_path, const std::string& our_node) {
    struct stat held {
    }, ours{};
    if (::stat(fd_path.c_str(), &held) != 0)
        return false; // closed or exited meanwhile
    if (::stat(our_node.c_str(), &ours) != 0)
        return S_ISCHR(held.st_mode);
    if (S_ISCHR(held.st_mode) || S_ISCHR(ours.st_mode))
        return S_ISCHR(held.st_mode) && S_ISCHR(ours.st_mode) && held.st_rdev == ours.st_rdev;
    return held.st_dev == ours.st_dev && held.st_ino == ours.st_ino;
}

void add_unique(std::vector<std::string>& holders, const std::string& holder) {
    if (std::find(holders.begin(), holders.end(), holder) == holders.end())
        holders.push_back(holder);
}

} // namespace

std::string describe_process(int pid, const std::string& comm) {
    return "pid " + std::to_string(pid) + " (" + comm + ")";
}

HolderIndex scan_vfio_holders(const SysfsLayout& layout) {
    HolderIndex index;
    ListResult pids = list_directory(layout.proc());
    if (!pids.ok()) {
        spdlog::debug("holders: cannot list {}: errno {}", layout.proc(), pids.error);
        return index;
    }
    for (const std::string& name : pids.names) {
        auto pid = parse_decimal(name);
        if (!pid || *pid == 0 || *pid > 0x7fffffff)
            continue; // "self", "sys", ...
        const std::string fd_dir = layout.proc(name + "/fd");
        ListResult fds = list_directory(fd_dir);
        if (!fds.ok())
            continue; // exited, or a kernel thread we may not look into
        std::vector<int> groups;
        std::vector<std::string> cdevs;
        for (const std::string& fd : fds.names) {
            // The target is the path as the *process* sees it (fs/proc/fd.c, d_path), so it is compared
            // as text and never joined with our root.
            TextResult target = read_link(fd_dir + "/" + fd);
            if (!target.ok())
                continue;
            std::string_view t = target.text;
            constexpr std::string_view vfio = "/dev/vfio/";
            constexpr std::string_view devices = "devices/";
            if (t.substr(0, vfio.size()) != vfio)
                continue;
            t.remove_prefix(vfio.size());
            // On a live system (root "/") the open file itself is compared; under another root (a fixture
            // tree, a copy of /proc) the links are plain text and only the name can be compared.
            if (layout.root() == "/" &&
                !same_vfio_node(fd_dir + "/" + fd, layout.dev("vfio/" + std::string(t))))
                continue;
            if (t.substr(0, devices.size()) == devices) {
                cdevs.emplace_back(t.substr(devices.size()));
            } else if (auto group = parse_decimal(t); group && *group <= 0x7fffffff) {
                groups.push_back(static_cast<int>(*group)); // "/dev/vfio/vfio" (the container) is no device
            }
        }
        if (groups.empty() && cdevs.empty())
            continue;
        TextResult comm = read_attribute(layout.proc(name + "/comm"));
        if (!comm.ok())
            continue; // exited between the fd scan and now: it holds nothing any more
        const std::string holder = describe_process(static_cast<int>(*pid), comm.text);
        for (int group : groups)
            add_unique(index.groups[group], holder);
        for (const std::string& cdev : cdevs)
            add_unique(index.cdevs[cdev], holder);
    }
    return index;
}

} // namespace hostdevd
