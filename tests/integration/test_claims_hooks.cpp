// Issue 16 part B on the simulated QEMU NVMe host: consumers' claims and veto hooks.
//  - A real libvirtd (Debian's), started here inside the simulated host's mount namespace on tmpfs copies
//    of its state directories (the machine's own libvirt state is never touched), with a defined, shut
//    off domain whose <hostdev> names a VF and an mdev: resizing the PF, rebinding the VF and removing
//    the mdev are blocked naming the domain, by hostdevctl apply --local and by the daemon; after
//    `virsh undefine` they go through.
//  - libvirt configured but not answering (a socket nobody answers on): blocked, "unknown".
//  - Hooks in <config dir>/hooks.d: exit 1 vetoes (reason shown), a hang times out as a veto, a
//    group-writable hook is refused with a clear error, the post phase runs after the action.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace std::chrono_literals;
using testing::ConfigDir;

namespace {

constexpr const char* kPf = "0000:01:00.0";
constexpr const char* kVf = "0000:01:00.1"; // VF 0 (offset 1, stride 1)
// The second instance of the mtty entry (UUIDv5 of "mtty/1"): the one `count = 1` removes.
constexpr const char* kSecondMdev = "64111159-134c-55b6-b36d-2d6c0214e526";

// destroy = "when-idle": these tests are about claims and hooks, not the operator's consent (test_consent).
std::string vfs_config(unsigned count, const std::string& vf_driver = "vfio-pci") {
    return "version = 1\n[[pf]]\nmatch = { address = \"0000:01:00.0\" }\nvfs = " + std::to_string(count) +
           "\nautoprobe = false\ndestroy = \"when-idle\"\n[[pf.vf]]\nindex = \"0-" +
           std::to_string(count - 1) + "\"\ndriver = \"" + vf_driver + "\"\n";
}

std::string mtty_config(unsigned count) {
    return "version = 1\n[[mdev]]\nparent = { name = \"mtty\" }\ntype = \"mtty-2\"\ndestroy = "
           "\"when-idle\"\ncount = " +
           std::to_string(count) + "\n";
}

std::string numvfs() {
    return testing::trimmed(testing::read_file(std::string("/sys/bus/pci/devices/") + kPf + "/sriov_numvfs"));
}

bool mdev_exists(const std::string& uuid) {
    struct stat st {};
    return ::stat(("/sys/bus/mdev/devices/" + uuid).c_str(), &st) == 0;
}

std::string driver_of(const std::string& address) {
    char target[256] = {};
    ssize_t n =
        ::readlink(("/sys/bus/pci/devices/" + address + "/driver").c_str(), target, sizeof target - 1);
    if (n <= 0)
        return "";
    std::string text(target, static_cast<size_t>(n));
    return text.substr(text.rfind('/') + 1);
}

testing::Completed apply_local(const ConfigDir& conf,
                               std::vector<std::pair<std::string, std::string>> env = {}) {
    std::vector<std::string> argv = {"env"};
    for (const auto& [k, v] : env)
        argv.push_back(k + "=" + v);
    for (const char* arg : {"timeout", "60"})
        argv.push_back(arg);
    for (const std::string& arg : {testing::hostdevctl(), std::string("apply"), std::string("--local"),
                                   std::string("--config-dir"), conf.path()})
        argv.push_back(arg);
    return testing::run(argv);
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
    {
        std::ofstream out(path);
        out << text;
    }
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// A process started in the background, killed (and reaped) at the end of the test: a process left
// running would keep the simulated host's namespace alive.
class Background {
public:
    explicit Background(const std::vector<std::string>& argv, const std::string& log) {
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            FILE* out = std::fopen(log.c_str(), "w");
            if (out) {
                ::dup2(fileno(out), 1);
                ::dup2(fileno(out), 2);
            }
            std::vector<char*> args;
            for (const std::string& a : argv)
                args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            ::execvp(args[0], args.data());
            ::_exit(127);
        }
    }
    ~Background() {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }

private:
    pid_t pid_ = -1;
};

// libvirt's state directories on tmpfs, in this simulated host's own mount namespace (simhost made `/`
// rprivate): the libvirtd started here defines domains there and nowhere else. /run is simhost's tmpfs.
void private_libvirt_state() {
    for (const char* dir : {"/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt"}) {
        ::mkdir(dir, 0755);
        INFO(dir);
        REQUIRE(::mount("tmpfs", dir, "tmpfs", 0, "mode=0755") == 0);
    }
    ::mkdir("/etc/libvirt/qemu", 0755);
    // Never started here; running QEMU as root keeps libvirtd from needing the libvirt-qemu user's dirs.
    write_file("/etc/libvirt/qemu.conf", "user = \"root\"\ngroup = \"root\"\n", 0644);
}

struct Libvirtd {
    std::unique_ptr<Background> process;
    Libvirtd() {
        private_libvirt_state();
        process = std::make_unique<Background>(std::vector<std::string>{"libvirtd"}, "/run/libvirtd.log");
        REQUIRE(testing::wait_until(
            [] {
                return testing::run({"virsh", "-r", "-c", "qemu:///system", "list", "--all"}).exit_code == 0;
            },
            60s));
    }
    void define(const std::string& name, const std::string& devices) {
        const std::string xml =
            "<domain type='qemu'><name>" + name +
            "</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os><devices>" + devices +
            "</devices></domain>";
        write_file("/run/" + name + ".xml", xml, 0644);
        auto defined = testing::run({"virsh", "-c", "qemu:///system", "define", "/run/" + name + ".xml"});
        INFO(defined.out << defined.err << testing::read_file("/run/libvirtd.log"));
        REQUIRE(defined.exit_code == 0);
    }
    void undefine(const std::string& name) {
        REQUIRE(testing::run({"virsh", "-c", "qemu:///system", "undefine", name}).exit_code == 0);
    }
};

const std::string kVfHostdev = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address "
                               "domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source></hostdev>";
const std::string kMdevHostdev = std::string("<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                                             "<address uuid='") +
                                 kSecondMdev + "'/></source></hostdev>";

std::string property(testing::BusClient& client, const std::string& path, const std::string& iface,
                     const std::string& name) {
    try {
        return client.get_string(path, iface, name);
    } catch (const std::runtime_error&) {
        return "";
    }
}

} // namespace

TEST_CASE("claims: a shut-off libvirt domain's VF and mdev are in use until it is undefined - hostdevctl "
          "apply --local and the daemon",
          "[qemu-nvme]") {
    Libvirtd libvirt;
    ConfigDir conf;
    conf.write("10-vfs.toml", vfs_config(2));
    conf.write("20-mtty.toml", mtty_config(2));
    auto first = apply_local(conf);
    INFO(first.out << first.err);
    REQUIRE(first.exit_code == 0);
    REQUIRE(numvfs() == "2");
    REQUIRE(mdev_exists(kSecondMdev));
    libvirt.define("web1", kVfHostdev + kMdevHostdev);
    const std::string holder = "libvirt domain 'web1' (shut off)";

    // hostdevctl: resizing the PF (it destroys the claimed VF), rebinding the VF, removing the mdev.
    conf.write("10-vfs.toml", vfs_config(1));
    conf.write("20-mtty.toml", mtty_config(1));
    auto blocked = apply_local(conf);
    INFO(blocked.out << blocked.err);
    CHECK(blocked.exit_code != 0);
    CHECK_THAT(blocked.out, Catch::Contains(holder));
    CHECK(numvfs() == "2");
    CHECK(mdev_exists(kSecondMdev));
    auto devices = testing::run({testing::hostdevctl(), "devices"});
    CHECK_THAT(devices.out, Catch::Contains(holder));
    conf.write("10-vfs.toml", vfs_config(2, "nvme"));
    auto rebind = apply_local(conf);
    INFO(rebind.out << rebind.err);
    CHECK_THAT(rebind.out, Catch::Contains(holder));
    CHECK(driver_of(kVf) == "vfio-pci");        // claimed: not rebound
    CHECK(driver_of("0000:01:00.2") == "nvme"); // unclaimed: rebound
    conf.write("10-vfs.toml", vfs_config(1));

    // The daemon: blocked naming the domain; after `virsh undefine` both changes go through.
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    auto reason = [&](const std::string& path, const char* iface) {
        return property(client, path, iface, "Reason");
    };
    const std::string pf_path = testing::device_path(kPf);
    const std::string mdev_path = testing::object_path("/io/hostdevd1/mdev", kSecondMdev);
    REQUIRE(testing::wait_until(
        [&] {
            return reason(pf_path, "io.hostdevd1.Device").find(holder) != std::string::npos &&
                   reason(mdev_path, "io.hostdevd1.Mdev").find(holder) != std::string::npos;
        },
        30s));
    CHECK(property(client, pf_path, "io.hostdevd1.Device", "State") == "blocked");
    CHECK(numvfs() == "2");
    CHECK(mdev_exists(kSecondMdev));
    libvirt.undefine("web1");
    CHECK(testing::wait_until([&] { return numvfs() == "1" && !mdev_exists(kSecondMdev); }, 30s));
}

TEST_CASE("claims: libvirt configured but not answering counts as in use - unknown", "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfs_config(2));
    REQUIRE(apply_local(conf).exit_code == 0);
    // A socket where libvirtd's read-only one would be, that accepts connections and never answers.
    ::mkdir("/run/libvirt", 0755);
    Background silent(
        {"python3", "-c",
         "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind('/run/libvirt/libvirt-sock-ro')\n"
         "s.listen(16)\nc=[]\nwhile True: c.append(s.accept())\n"},
        "/run/silent.log");
    REQUIRE(testing::wait_until([] { return ::access("/run/libvirt/libvirt-sock-ro", F_OK) == 0; }, 10s));
    conf.write("10-vfs.toml", vfs_config(1));
    auto blocked = apply_local(conf);
    INFO(blocked.out << blocked.err);
    CHECK(blocked.exit_code != 0);
    // The first read waits 5 s; a later one in the same run answers at once while that one still hangs.
    CHECK_THAT(blocked.out, Catch::Contains("libvirt at qemu:///system did not answer within 5 s (unknown "
                                            "counts as in use)") ||
                                Catch::Contains("libvirt at qemu:///system has not answered an earlier read "
                                                "yet (unknown counts as in use)"));
    CHECK(numvfs() == "2");
}

TEST_CASE("hooks: a hook that exits 1 vetoes and a hanging one times out and a group-writable one is "
          "refused - the post phase runs after the action",
          "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfs_config(2));
    REQUIRE(apply_local(conf).exit_code == 0);
    const std::string hooks = conf.path() + "/hooks.d";
    REQUIRE(::mkdir(hooks.c_str(), 0755) == 0);
    conf.write("10-vfs.toml", vfs_config(1));

    write_file(hooks + "/50-guard", "#!/bin/sh\necho 'maintenance window closed'\nexit 1\n", 0755);
    auto vetoed = apply_local(conf);
    INFO(vetoed.out << vetoed.err);
    CHECK(vetoed.exit_code != 0);
    CHECK_THAT(vetoed.out,
               Catch::Contains("hook 50-guard vetoed (exit status 1): maintenance window closed"));
    CHECK(numvfs() == "2");

    write_file(hooks + "/50-guard", "#!/bin/sh\nexec sleep 600\n", 0755);
    auto hung = apply_local(conf, {{"HOSTDEVD_HOOK_TIMEOUT", "1"}});
    INFO(hung.out << hung.err);
    CHECK_THAT(hung.out, Catch::Contains("hook 50-guard did not answer within 1 s (a timeout is a veto)"));
    CHECK(numvfs() == "2");

    write_file(hooks + "/50-guard", "#!/bin/sh\nexit 0\n", 0775);
    auto refused = apply_local(conf);
    INFO(refused.out << refused.err);
    CHECK_THAT(refused.out, Catch::Contains("hook 50-guard refused: " + hooks +
                                            "/50-guard is writable by group/other (chmod go-w)"));
    CHECK(numvfs() == "2");

    // An accepting hook: asked before, told after, with the action in its environment.
    write_file(hooks + "/50-guard",
               "#!/bin/sh\necho \"$HOSTDEVD_PHASE $HOSTDEVD_ACTION $HOSTDEVD_DEVICE $HOSTDEVD_RESULT\" >> " +
                   conf.path() + "/hook.log\n",
               0755);
    auto applied = apply_local(conf);
    INFO(applied.out << applied.err);
    CHECK(applied.exit_code == 0);
    CHECK(numvfs() == "1");
    const std::string log = testing::read_file(conf.path() + "/hook.log");
    CHECK_THAT(log, Catch::StartsWith("pre set-numvfs 0000:01:00.0 \npost set-numvfs 0000:01:00.0 ok\n"));
}

TEST_CASE("hooks: the daemon shows a veto as blocked with the hook's reason and runs the change once the "
          "hook lets it through",
          "[qemu-nvme]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", vfs_config(2));
    const std::string hooks = conf.path() + "/hooks.d";
    REQUIRE(::mkdir(hooks.c_str(), 0755) == 0);
    write_file(hooks + "/50-guard",
               "#!/bin/sh\n[ -e " + conf.path() + "/allow ] && exit 0\necho 'not now'\nexit 1\n", 0755);
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(testing::wait_until(
        [&] { return property(client, "/io/hostdevd1", "io.hostdevd1.Manager", "State") == "converged"; },
        30s));
    conf.write("10-vfs.toml", vfs_config(1));
    const std::string pf_path = testing::device_path(kPf);
    REQUIRE(testing::wait_until(
        [&] { return property(client, pf_path, "io.hostdevd1.Device", "State") == "blocked"; }, 30s));
    CHECK(property(client, pf_path, "io.hostdevd1.Device", "Reason") ==
          "hook 50-guard vetoed (exit status 1): not now");
    auto status =
        testing::run({"env", "DBUS_SYSTEM_BUS_ADDRESS=" + bus.address(), testing::hostdevctl(), "status"});
    CHECK_THAT(status.out, Catch::Contains("hook 50-guard vetoed (exit status 1): not now"));
    CHECK(numvfs() == "2");
    write_file(conf.path() + "/allow", "", 0644);
    // Asked again after the veto's back-off (1 s, 2 s, ...): no event is needed.
    CHECK(testing::wait_until([&] { return numvfs() == "1"; }, 30s));
}
