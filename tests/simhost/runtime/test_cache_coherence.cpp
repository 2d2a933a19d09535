// The kernel caches what simhost's /sys serves (dentries, attributes, link targets, listings, texts) and
// simhost invalidates exactly what each change makes stale before the write(2) returns and before the
// change's uevents go out (docs/simhost.md "Caching"). These tests change the simulated host over and
// over while other processes keep their caches warm, and check that another process sees every change
// the moment the write (or `simhost ctl` command) returns, each test in a fresh simulated host
// (tests/simhost/hosts/runtime.toml). They run with SIMHOST_VERIFY_CACHE=1 like every simhost test.
#include "sysfs_helpers.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <dirent.h>
#include <functional>
#include <libudev.h>
#include <poll.h>
#include <sys/prctl.h>

using namespace simtest;

namespace {
const std::string kPf = "/sys/bus/pci/devices/0000:3b:00.0";
const std::string kNumvfs = kPf + "/sriov_numvfs";
const std::string kVf0Name = "0000:3b:02.0";
const std::string kVf0 = "/sys/bus/pci/devices/" + kVf0Name;
const std::string kGpu = "/sys/bus/pci/devices/0000:00:02.0";
const std::string kType4 = kGpu + "/mdev_supported_types/i915-GVTg_V5_4";
const std::string kUuid = "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001";
constexpr int kRounds = 200;

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            names.emplace_back(e->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

bool listed(const std::string& dir, const std::string& name) {
    const auto names = names_in(dir);
    return std::binary_search(names.begin(), names.end(), name);
}

// A process of its own that answers "what do you see now?": for every byte the test sends, it runs
// `look` and sends back one line. Between questions it looks too, so its view is always cached.
class Observer {
public:
    explicit Observer(std::function<std::string()> look) {
        int to_child[2], from_child[2];
        REQUIRE(::pipe(to_child) == 0);
        REQUIRE(::pipe(from_child) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::close(to_child[1]);
            ::close(from_child[0]);
            char c;
            while (::read(to_child[0], &c, 1) == 1) {
                const std::string seen = look() + "\n";
                if (::write(from_child[1], seen.data(), seen.size()) != static_cast<ssize_t>(seen.size()))
                    ::_exit(1);
                look(); // warm the caches with this state before the next change
            }
            ::_exit(0);
        }
        ::close(to_child[0]);
        ::close(from_child[1]);
        ask_ = to_child[1];
        answer_ = from_child[0];
    }
    ~Observer() {
        ::close(ask_);
        ::close(answer_);
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    std::string see() {
        REQUIRE(::write(ask_, "?", 1) == 1);
        std::string line;
        char c;
        while (::read(answer_, &c, 1) == 1 && c != '\n')
            line += c;
        return line;
    }

private:
    pid_t pid_ = -1;
    int ask_ = -1, answer_ = -1;
};

// Processes that read the same files in a loop while the test changes them, so that invalidations race
// with lookups, reads and listings in flight.
class Hammer {
public:
    Hammer(std::function<void()> body, int processes = 2) {
        for (int i = 0; i < processes; ++i) {
            const pid_t pid = ::fork();
            REQUIRE(pid >= 0);
            if (pid == 0) {
                ::prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (;;)
                    body();
            }
            pids_.push_back(pid);
        }
    }
    ~Hammer() {
        for (pid_t pid : pids_) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }

private:
    std::vector<pid_t> pids_;
};

std::string vf0_view() {
    const std::string link = basename_of(link_target(kVf0 + "/driver"));
    return "link=" + (link.empty() ? std::string("-") : link) +
           " stat=" + (exists(kVf0 + "/driver") ? "y" : "n") +
           " listed=" + (listed(kVf0, "driver") ? "y" : "n") +
           " in_driver=" + (listed("/sys/bus/pci/drivers/vfio-pci", kVf0Name) ? "y" : "n") +
           " uevent=" + read_attr(kVf0 + "/uevent").substr(0, 15) +
           " override=" + read_attr(kVf0 + "/driver_override") + " enable=" + read_attr(kVf0 + "/enable");
}

void enable_unbound_vf0() {
    REQUIRE(run("modprobe vfio-pci").status == 0);
    REQUIRE(write_attr(kPf + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(write_attr(kNumvfs, "1") == 0);
}

} // namespace

TEST_CASE("a bind and an unbind are seen by another process as soon as the write returns") {
    enable_unbound_vf0();
    const std::string unbound =
        "link=- stat=n listed=n in_driver=n uevent=PCI_CLASS=20000 override=(null) enable=0";
    // vfio-pci enables a device only while it is open (vfio_pci_core_enable): bound, `enable` stays 0.
    const std::string bound =
        "link=vfio-pci stat=y listed=y in_driver=y uevent=DRIVER=vfio-pci override=vfio-pci enable=0";
    Observer observer(vf0_view);
    Hammer hammer([] { vf0_view(); });
    REQUIRE(observer.see() == unbound);
    for (int round = 0; round < kRounds; ++round) {
        INFO("round " << round);
        REQUIRE(write_attr(kVf0 + "/driver_override", "vfio-pci") == 0);
        REQUIRE(write_attr("/sys/bus/pci/drivers_probe", kVf0Name) == 0);
        REQUIRE(observer.see() == bound);
        REQUIRE(write_attr("/sys/bus/pci/drivers/vfio-pci/unbind", kVf0Name) == 0);
        REQUIRE(write_attr(kVf0 + "/driver_override", "\n") == 0);
        REQUIRE(observer.see() == unbound);
    }
}

TEST_CASE("VFs created and removed are seen by another process as soon as the write returns") {
    REQUIRE(write_attr(kPf + "/sriov_drivers_autoprobe", "0") == 0);
    auto view = [] {
        return "numvfs=" + read_attr(kNumvfs) +
               " vf1=" + (exists(kVf0.substr(0, kVf0.size() - 1) + "1") ? "y" : "n") +
               " listed=" + (listed("/sys/bus/pci/devices", "0000:3b:02.1") ? "y" : "n") +
               " virtfn1=" + basename_of(link_target(kPf + "/virtfn1")) +
               " vendor=" + read_attr("/sys/bus/pci/devices/0000:3b:02.1/vendor");
    };
    Observer observer(view);
    Hammer hammer([&view] { view(); });
    for (int round = 0; round < kRounds / 2; ++round) {
        INFO("round " << round);
        REQUIRE(write_attr(kNumvfs, "2") == 0);
        REQUIRE(observer.see() == "numvfs=2 vf1=y listed=y virtfn1=0000:3b:02.1 vendor=0x8086");
        REQUIRE(write_attr(kNumvfs, "0") == 0);
        REQUIRE(observer.see() == "numvfs=0 vf1=n listed=n virtfn1= vendor=<2>");
    }
}

TEST_CASE("mdevs created and removed are seen by another process as soon as the write returns") {
    auto view = [] {
        return "available=" + read_attr(kType4 + "/available_instances") +
               " listed=" + (listed("/sys/bus/mdev/devices", kUuid) ? "y" : "n") +
               " type_listed=" + (listed(kType4 + "/devices", kUuid) ? "y" : "n") +
               " type=" + basename_of(link_target("/sys/bus/mdev/devices/" + kUuid + "/mdev_type"));
    };
    Observer observer(view);
    Hammer hammer([&view] { view(); });
    for (int round = 0; round < kRounds / 2; ++round) {
        INFO("round " << round);
        REQUIRE(write_attr(kType4 + "/create", kUuid) == 0);
        REQUIRE(observer.see() == "available=3 listed=y type_listed=y type=i915-GVTg_V5_4");
        REQUIRE(write_attr("/sys/bus/mdev/devices/" + kUuid + "/remove", "1") == 0);
        REQUIRE(observer.see() == "available=4 listed=n type_listed=n type=");
    }
}

TEST_CASE("a uevent's listener reading /sys sees the state the event announces") {
    enable_unbound_vf0();
    // The listener is its own process: on each bind or unbind event of the VF it reads the driver link
    // at once and reports what it saw.
    int report[2], ready[2];
    REQUIRE(::pipe(report) == 0);
    REQUIRE(::pipe(ready) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        udev* u = udev_new();
        udev_monitor* m = udev_monitor_new_from_netlink(u, "udev");
        udev_monitor_filter_add_match_subsystem_devtype(m, "pci", nullptr);
        udev_monitor_enable_receiving(m);
        (void)::write(ready[1], "r", 1);
        for (;;) {
            pollfd p{udev_monitor_get_fd(m), POLLIN, 0};
            if (::poll(&p, 1, 10000) <= 0)
                ::_exit(1);
            udev_device* d = udev_monitor_receive_device(m);
            if (!d)
                continue;
            const std::string action = udev_device_get_action(d) ? udev_device_get_action(d) : "";
            const std::string name = udev_device_get_sysname(d) ? udev_device_get_sysname(d) : "";
            udev_device_unref(d);
            if (name != kVf0Name || (action != "bind" && action != "unbind"))
                continue;
            const std::string line = action + " " + basename_of(link_target(kVf0 + "/driver")) + "\n";
            (void)::write(report[1], line.data(), line.size());
        }
    }
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    auto next_report = [&] {
        std::string line;
        while (::read(report[0], &c, 1) == 1 && c != '\n')
            line += c;
        return line;
    };
    for (int round = 0; round < kRounds / 2; ++round) {
        INFO("round " << round);
        REQUIRE(write_attr(kVf0 + "/driver_override", "vfio-pci") == 0);
        REQUIRE(write_attr("/sys/bus/pci/drivers_probe", kVf0Name) == 0);
        REQUIRE(next_report() == "bind vfio-pci");
        REQUIRE(write_attr("/sys/bus/pci/drivers/vfio-pci/unbind", kVf0Name) == 0);
        REQUIRE(next_report() == "unbind ");
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

TEST_CASE("control commands are seen by another process as soon as they return") {
    // Link state (no uevent) and hot-plug, changed through the control socket.
    auto view = [] {
        return "flags=" + read_attr("/sys/class/net/ens1f0/flags") +
               " gpu=" + (exists("/sys/bus/pci/devices/0000:af:00.0") ? "y" : "n") +
               " listed=" + (listed("/sys/bus/pci/devices", "0000:af:00.0") ? "y" : "n");
    };
    REQUIRE(exists("/sys/class/net/ens1f0"));
    Observer observer(view);
    Hammer hammer([&view] { view(); });
    for (int round = 0; round < 20; ++round) {
        INFO("round " << round);
        REQUIRE(ctl("link ens1f0 up").status == 0);
        REQUIRE(ctl("plug 0000:af:00.0").status == 0);
        REQUIRE(observer.see() == "flags=0x1003 gpu=y listed=y");
        REQUIRE(ctl("link ens1f0 down").status == 0);
        REQUIRE(ctl("unplug 0000:af:00.0").status == 0);
        REQUIRE(observer.see() == "flags=0x1002 gpu=n listed=n");
    }
}

TEST_CASE("after a reset another process sees the host description again") {
    auto view = [] { return "numvfs=" + read_attr(kNumvfs) + " vf0=" + (exists(kVf0) ? "y" : "n"); };
    Observer observer(view);
    for (int round = 0; round < 10; ++round) {
        INFO("round " << round);
        REQUIRE(write_attr(kNumvfs, "2") == 0);
        REQUIRE(observer.see() == "numvfs=2 vf0=y");
        REQUIRE(ctl("reset").status == 0);
        REQUIRE(observer.see() == "numvfs=0 vf0=n");
    }
}
