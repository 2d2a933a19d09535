#include "sandbox.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace simhost {
namespace {

[[noreturn]] void fail(const std::string& what, int err = errno) {
    throw SandboxError(what + ": " + std::strerror(err));
}

void do_mount(const char* source, const std::string& target, const char* type, unsigned long flags,
              const char* data = nullptr) {
    if (::mount(source, target.c_str(), type, flags, data) < 0)
        fail(std::string("mount ") + (type ? type : source ? source : "") + " on " + target);
}

void make_dirs(const std::string& path, mode_t mode = 0755) {
    std::error_code ec;
    fs::create_directories(path, ec);
    if (ec)
        throw SandboxError("mkdir " + path + ": " + ec.message());
    ::chmod(path.c_str(), mode);
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush())
        throw SandboxError("cannot write " + path);
}

void bring_up_loopback() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail("socket for loopback");
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(fd, SIOCGIFFLAGS, &request) < 0 ||
        (request.ifr_flags |= IFF_UP | IFF_RUNNING, ::ioctl(fd, SIOCSIFFLAGS, &request) < 0)) {
        const int err = errno;
        ::close(fd);
        fail("bring up lo", err);
    }
    ::close(fd);
}

} // namespace

void enter_private_namespaces() {
    if (::unshare(CLONE_NEWNS | CLONE_NEWNET) < 0)
        fail("unshare(CLONE_NEWNS|CLONE_NEWNET)");
    // Without this, mounts below would propagate back to the host's shared peer groups.
    do_mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
    bring_up_loopback();
}

void mount_private_run() {
    do_mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
    make_dirs("/run/simhost");
    // libudev subscribes to udevd's multicast group only when udevd looks alive: systemd's
    // device_monitor_new_full() (sd-device/device-monitor.c) checks access("/run/udev/control") and
    // otherwise silently receives nothing. simhost plays udevd, so it provides that marker.
    make_dirs("/run/udev/data");
    write_file("/run/udev/control", "");
}

void mount_private_dev() {
    // Keep a handle on the host's /dev before covering it, bind back what programs expect, then drop it.
    const std::string host_dev = "/run/simhost/host-dev";
    make_dirs(host_dev);
    do_mount("/dev", host_dev, nullptr, MS_BIND | MS_REC);
    do_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755");

    static const char* const kNodes[] = {"null", "zero", "full", "random",  "urandom", "tty",
                                         "fuse", "kvm",  "ptmx", "console", "net/tun", "kmsg"};
    for (const char* node : kNodes) {
        const std::string source = host_dev + "/" + node;
        struct stat st {};
        if (::stat(source.c_str(), &st) < 0)
            continue; // absent on this host (e.g. no /dev/kvm): absent in the world too
        const std::string target = std::string("/dev/") + node;
        make_dirs(fs::path(target).parent_path());
        ::close(::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0666));
        do_mount(source.c_str(), target, nullptr, MS_BIND);
    }
    static const char* const kDirectories[] = {"pts", "shm", "mqueue", "hugepages"};
    for (const char* directory : kDirectories) {
        const std::string source = host_dev + "/" + directory;
        struct stat st {};
        if (::stat(source.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        const std::string target = std::string("/dev/") + directory;
        make_dirs(target);
        do_mount(source.c_str(), target, nullptr, MS_BIND | MS_REC);
    }
    ::symlink("/proc/self/fd", "/dev/fd");
    ::symlink("/proc/self/fd/0", "/dev/stdin");
    ::symlink("/proc/self/fd/1", "/dev/stdout");
    ::symlink("/proc/self/fd/2", "/dev/stderr");
    if (::umount2(host_dev.c_str(), MNT_DETACH) < 0)
        fail("umount " + host_dev);
    ::rmdir(host_dev.c_str());

    make_dirs("/dev/vfio");
}

void overlay_directory(const std::string& directory) {
    std::string name = directory;
    std::replace(name.begin(), name.end(), '/', '_');
    const std::string scratch = "/run/simhost/overlay/" + name;
    make_dirs(scratch + "/upper");
    make_dirs(scratch + "/work");
    const std::string options =
        "lowerdir=" + directory + ",upperdir=" + scratch + "/upper,workdir=" + scratch + "/work";
    do_mount("overlay", directory, "overlay", 0, options.c_str());
}

void install_modules_alias(const std::string& content) {
    utsname uts{};
    ::uname(&uts);
    // /lib is a symlink to usr/lib on merged-/usr systems; overlay the real directory.
    const std::string lib = fs::canonical("/lib").string();
    overlay_directory(lib);
    const std::string directory = lib + "/modules/" + uts.release;
    make_dirs(directory);
    write_file(directory + "/modules.alias", content);
}

void install_modprobe_shim(const std::string& simhost_executable) {
    std::error_code ec;
    const fs::path sbin = fs::exists("/sbin") ? fs::canonical("/sbin") : fs::path("/usr/sbin");
    overlay_directory(sbin.string());
    const fs::path shim = sbin / "modprobe";
    fs::remove(shim, ec); // in the overlay: a whiteout; the host's modprobe is untouched
    if (::symlink(simhost_executable.c_str(), shim.c_str()) < 0)
        fail("symlink " + shim.string());
}

void DevNodes::set_present(const DevNode& node, bool present) {
    std::lock_guard lock(mutex_);
    const std::string path = "/dev/" + node.name;
    auto known =
        std::find_if(present_.begin(), present_.end(), [&](const DevNode& n) { return n.name == node.name; });
    if (present) {
        std::error_code ec;
        fs::create_directories(fs::path(path).parent_path(), ec);
        ::unlink(path.c_str());
        // vfio_main.c vfio_devnode(): group nodes are 0600 root; the container (misc device) is 0666.
        const mode_t mode = node.name == "vfio/vfio" ? 0666 : 0600;
        if (::mknod(path.c_str(), S_IFCHR | mode, ::makedev(node.major, node.minor)) == 0)
            ::chmod(path.c_str(), mode); // the umask cut it
        if (known == present_.end())
            present_.push_back(node);
        else
            *known = node;
    } else {
        ::unlink(path.c_str());
        if (known != present_.end())
            present_.erase(known);
    }
}

void DevNodes::replace_all(const std::vector<DevNode>& nodes) {
    std::vector<DevNode> old;
    {
        std::lock_guard lock(mutex_);
        old = present_;
    }
    for (const auto& node : old)
        if (std::find(nodes.begin(), nodes.end(), node) == nodes.end())
            set_present(node, false);
    for (const auto& node : nodes)
        set_present(node, true);
}

} // namespace simhost
