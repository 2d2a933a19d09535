// Uevents on netlink as libudev sees them, /dev/vfio, holder processes, faults, the write log and hot-plug,
// each test in a fresh simulated host (tests/simhost/hosts/runtime.toml).
#include "sysfs_helpers.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <libudev.h>
#include <nlohmann/json.hpp>
#include <poll.h>
#include <sys/syscall.h>
#include <vector>

using namespace simtest;

namespace {
const std::string kPf = "/sys/bus/pci/devices/0000:3b:00.0";
const std::string kNumvfs = kPf + "/sriov_numvfs";
const std::string kVf0 = "/sys/bus/pci/devices/0000:3b:02.0";

struct ReceivedEvent {
    std::string action, sysname, subsystem, seqnum, vendor, slot;
};

// A libudev monitor on the "udev" group, filtered in the kernel by the BPF program libudev builds from
// its filters (so the subsystem hash and tag bloom in simhost's messages must be right).
class Monitor {
public:
    Monitor(const char* subsystem, const char* tag) {
        udev_ = udev_new();
        monitor_ = udev_monitor_new_from_netlink(udev_, "udev");
        REQUIRE(monitor_);
        if (subsystem)
            REQUIRE(udev_monitor_filter_add_match_subsystem_devtype(monitor_, subsystem, nullptr) == 0);
        if (tag)
            REQUIRE(udev_monitor_filter_add_match_tag(monitor_, tag) == 0);
        REQUIRE(udev_monitor_enable_receiving(monitor_) == 0);
    }
    ~Monitor() {
        udev_monitor_unref(monitor_);
        udev_unref(udev_);
    }
    // Collects events until `count` have arrived or the deadline passes.
    std::vector<ReceivedEvent> receive(std::size_t count, int deadline_ms = 5000) {
        std::vector<ReceivedEvent> events;
        const auto start = std::chrono::steady_clock::now();
        while (events.size() < count) {
            const int left = deadline_ms - static_cast<int>(seconds_since(start) * 1000);
            pollfd p{udev_monitor_get_fd(monitor_), POLLIN, 0};
            if (::poll(&p, 1, std::max(left, 0)) <= 0)
                break;
            udev_device* device = udev_monitor_receive_device(monitor_);
            if (!device)
                continue;
            auto text = [](const char* s) { return std::string(s ? s : ""); };
            events.push_back({text(udev_device_get_action(device)), text(udev_device_get_sysname(device)),
                              text(udev_device_get_subsystem(device)),
                              text(udev_device_get_property_value(device, "SEQNUM")),
                              // read through /sys (the FUSE tree) by libudev itself
                              text(udev_device_get_sysattr_value(device, "vendor")),
                              text(udev_device_get_property_value(device, "PCI_SLOT_NAME"))});
            udev_device_unref(device);
        }
        return events;
    }

private:
    udev* udev_ = nullptr;
    udev_monitor* monitor_ = nullptr;
};

std::vector<ReceivedEvent> only_action(const std::vector<ReceivedEvent>& events, const std::string& action) {
    std::vector<ReceivedEvent> out;
    for (const auto& e : events)
        if (e.action == action)
            out.push_back(e);
    return out;
}

void check_vf_adds_in_order(const std::vector<ReceivedEvent>& events) {
    const auto adds = only_action(events, "add");
    REQUIRE(adds.size() == 4);
    const char* expected[] = {"0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2", "0000:3b:02.3"};
    for (std::size_t i = 0; i < 4; ++i) {
        INFO("event " << i);
        CHECK(adds[i].sysname == expected[i]);
        CHECK(adds[i].slot == expected[i]);
        CHECK(adds[i].subsystem == "pci");
        CHECK(adds[i].vendor == "0x8086");
    }
    for (std::size_t i = 1; i < events.size(); ++i)
        CHECK(std::stoull(events[i].seqnum) > std::stoull(events[i - 1].seqnum));
}

void bind_vf0_to_vfio_pci() {
    REQUIRE(run("modprobe vfio-pci").status == 0);
    REQUIRE(write_attr(kPf + "/sriov_drivers_autoprobe", "0") == 0);
    REQUIRE(write_attr(kNumvfs, "1") == 0);
    REQUIRE(write_attr(kVf0 + "/driver_override", "vfio-pci") == 0);
    REQUIRE(write_attr("/sys/bus/pci/drivers_probe", "0000:3b:02.0") == 0);
    REQUIRE(exists("/dev/vfio/100"));
}

// Every /proc/PID/fd link target of `pid`.
std::vector<std::string> open_files(pid_t pid) {
    std::vector<std::string> targets;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    if (DIR* d = ::opendir(dir.c_str())) {
        while (const dirent* entry = ::readdir(d))
            if (entry->d_name[0] != '.')
                targets.push_back(link_target(dir + "/" + entry->d_name));
        ::closedir(d);
    }
    return targets;
}

nlohmann::json write_log() {
    const auto result = ctl("log --json");
    REQUIRE(result.status == 0);
    return nlohmann::json::parse(result.output);
}
} // namespace

TEST_CASE("a libudev monitor filtered on subsystem pci sees the VF events in order") {
    Monitor monitor("pci", nullptr);
    REQUIRE(write_attr(kNumvfs, "4") == 0);
    // The events are on the wire before write(2) returns, so no waiting for stragglers: take what came.
    const auto events = monitor.receive(100, 300);
    check_vf_adds_in_order(events);
}

TEST_CASE("a libudev monitor filtered on tag hostdevd sees the VF events") {
    Monitor tagged("pci", "hostdevd");
    Monitor other_subsystem("net", nullptr);
    REQUIRE(write_attr(kNumvfs, "4") == 0);
    check_vf_adds_in_order(tagged.receive(100, 300));
    for (const auto& event : other_subsystem.receive(100, 300))
        CHECK(event.subsystem == "net"); // the kernel-side BPF filter dropped the pci events
}

TEST_CASE("the VF add events come before write returns") {
    Monitor monitor("pci", nullptr);
    REQUIRE(write_attr(kNumvfs, "2") == 0);
    // Zero timeout: whatever is not already queued on the socket does not count.
    const auto adds = only_action(monitor.receive(100, 0), "add");
    CHECK(adds.size() == 2);
}

TEST_CASE("hold starts a process that keeps /dev/vfio open and looks like a guest") {
    bind_vf0_to_vfio_pci();
    const auto held = ctl("hold 0000:3b:02.0");
    REQUIRE(held.status == 0);
    const pid_t pid = std::stoi(held.output);
    REQUIRE(pid > 0);
    CHECK(read_attr("/proc/" + std::to_string(pid) + "/comm") == "qemu-system-x86");
    const auto files = open_files(pid);
    CHECK(std::find(files.begin(), files.end(), "/dev/vfio/100") != files.end());
    CHECK(ctl("hold 100").status == 1); // vfio_group_fops_open(): one opener per group

    REQUIRE(ctl("release " + std::to_string(pid)).status == 0);
    CHECK(::kill(pid, 0) < 0);
    CHECK(ctl("release " + std::to_string(pid)).status == 1);
}

TEST_CASE("hold with a custom name and a killed holder frees the group") {
    bind_vf0_to_vfio_pci();
    const auto held = ctl("hold 100 --device --comm my-guest");
    REQUIRE(held.status == 0);
    const pid_t pid = std::stoi(held.output);
    CHECK(read_attr("/proc/" + std::to_string(pid) + "/comm") == "my-guest");
    const auto files = open_files(pid);
    CHECK(std::find(files.begin(), files.end(), "/dev/vfio/vfio") != files.end());
    REQUIRE(::kill(pid, SIGKILL) == 0);
    // simhost notices the death (pidfd) and lets another holder in; wait for that with a deadline.
    const auto start = std::chrono::steady_clock::now();
    CommandResult again;
    while ((again = ctl("hold 100")).status != 0 && seconds_since(start) < 5)
        ::usleep(20000);
    CHECK(again.status == 0);
}

TEST_CASE("hold of a group that is not bound to vfio-pci fails") {
    const auto held = ctl("hold 0000:3b:00.0");
    CHECK(held.status == 1);
    CHECK(held.output.find("ENOENT") != std::string::npos);
}

TEST_CASE("fault fail makes the next matching write fail with the given errno") {
    REQUIRE(ctl("fault fail " + kNumvfs + " EIO").status == 0);
    CHECK(write_attr(kNumvfs, "2") == EIO);
    CHECK(read_attr(kNumvfs) == "0");
    CHECK(write_attr(kNumvfs, "2") == 0);
}

TEST_CASE("fault fail with a count and fault clear") {
    REQUIRE(ctl("fault fail '" + kPf + "/*' EBUSY 0").status == 0); // quoted: a prefix, not a shell glob
    CHECK(write_attr(kNumvfs, "2") == EBUSY);
    CHECK(write_attr(kNumvfs, "2") == EBUSY);
    REQUIRE(ctl("fault clear").status == 0);
    CHECK(write_attr(kNumvfs, "2") == 0);
}

TEST_CASE("fault block delays the write by the given time") {
    REQUIRE(ctl("fault block " + kNumvfs + " 0.4").status == 0);
    const auto start = std::chrono::steady_clock::now();
    CHECK(write_attr(kNumvfs, "1") == 0);
    CHECK(seconds_since(start) >= 0.4);
    CHECK(read_attr(kNumvfs) == "1");
}

TEST_CASE("a blocked write does not stall reads of other files") {
    REQUIRE(ctl("fault block " + kNumvfs + " 2").status == 0);
    pid_t writer = ::fork();
    if (writer == 0)
        ::_exit(write_attr(kNumvfs, "1"));
    // The read is made while the writer is inside write(2) (its /proc/PID/syscall says so), not after a
    // guessed delay; it must come back while the writer is still blocked in the model. A read that
    // waited for the write would only return after it, so the writer would be gone by then.
    auto in_write = [&] {
        std::ifstream in("/proc/" + std::to_string(writer) + "/syscall");
        std::string nr;
        return in >> nr && nr == std::to_string(SYS_write);
    };
    const auto start = std::chrono::steady_clock::now();
    while (!in_write() && seconds_since(start) < 10)
        ::usleep(1000); // polling the writer's state, with a deadline
    REQUIRE(in_write());
    CHECK(read_attr(kPf + "/vendor") == "0x8086");
    int status = 0;
    CHECK(in_write()); // the writer is still inside its write: the read did not wait for it
    REQUIRE(::waitpid(writer, &status, 0) == writer);
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("fault limit-vfs makes the driver enable fewer VFs and still succeed") {
    REQUIRE(ctl("fault limit-vfs 0000:3b:00.0 2").status == 0);
    CHECK(write_attr(kNumvfs, "4") == 0);
    CHECK(exists("/sys/bus/pci/devices/0000:3b:02.1"));
    CHECK_FALSE(exists("/sys/bus/pci/devices/0000:3b:02.2"));
}

TEST_CASE("fault arguments are checked") {
    CHECK(ctl("fault fail " + kNumvfs + " ENOTANERRNO").status == 1);
    CHECK(ctl("fault block " + kNumvfs + " soon").status == 1);
    CHECK(ctl("fault explode " + kNumvfs).status == 1);
    CHECK(ctl("no-such-command").status == 1);
}

TEST_CASE("the write log records every write with its result") {
    REQUIRE(ctl("log clear").status == 0);
    CHECK(write_attr(kNumvfs, "9\n") == ERANGE);
    CHECK(write_attr(kNumvfs, "2\n") == 0);
    const auto log = write_log();
    REQUIRE(log.size() == 2);
    CHECK(log[0]["value"] == "9\n");
    CHECK(log[0]["result"] == "ERANGE");
    CHECK(log[0]["errno"] == ERANGE);
    CHECK(log[1]["result"] == "OK");
    CHECK(log[1]["path"].get<std::string>().find("sriov_numvfs") != std::string::npos);
    const auto text = ctl("log");
    CHECK(text.output.find("ERANGE") != std::string::npos);
    REQUIRE(ctl("log clear").status == 0);
    CHECK(write_log().empty());
}

TEST_CASE("plug and unplug a hot-pluggable device") {
    Monitor monitor("pci", nullptr);
    CHECK_FALSE(exists("/sys/bus/pci/devices/0000:af:00.0"));
    REQUIRE(ctl("plug 0000:af:00.0").status == 0);
    CHECK(exists("/sys/bus/pci/devices/0000:af:00.0"));
    REQUIRE(ctl("unplug 0000:af:00.0").status == 0);
    CHECK_FALSE(exists("/sys/bus/pci/devices/0000:af:00.0"));
    const auto events = monitor.receive(100, 300);
    REQUIRE(events.size() >= 2);
    CHECK(events.front().action == "add");
    CHECK(events.back().action == "remove");
    CHECK(ctl("plug 0000:ff:00.0").status == 1);
}

TEST_CASE("reset returns the host to its description") {
    REQUIRE(write_attr(kNumvfs, "3") == 0);
    REQUIRE(ctl("reset").status == 0);
    CHECK(read_attr(kNumvfs) == "0");
    CHECK_FALSE(exists(kVf0));
}

TEST_CASE("the environment names the control socket") {
    CHECK(std::string(std::getenv("SIMHOST")) == "1");
    CHECK(std::string(std::getenv("SIMHOST_CONTROL")) == "/run/simhost/control.sock");
}

TEST_CASE("libudev enumerates and opens the simulated devices") {
    udev* context = udev_new();
    udev_enumerate* enumerate = udev_enumerate_new(context);
    REQUIRE(udev_enumerate_add_match_subsystem(enumerate, "pci") == 0);
    REQUIRE(udev_enumerate_scan_devices(enumerate) == 0);
    bool found = false;
    for (udev_list_entry* e = udev_enumerate_get_list_entry(enumerate); e; e = udev_list_entry_get_next(e))
        found = found || std::string(udev_list_entry_get_name(e)).find("0000:3b:00.0") != std::string::npos;
    CHECK(found);
    udev_device* device = udev_device_new_from_subsystem_sysname(context, "pci", "0000:3b:00.0");
    REQUIRE(device);
    CHECK(std::string(udev_device_get_sysattr_value(device, "sriov_totalvfs")) == "8");
    CHECK(std::string(udev_device_get_driver(device)) == "i40e");
    udev_device_unref(device);
    udev_enumerate_unref(enumerate);
    udev_unref(context);
}
