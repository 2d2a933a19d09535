// The unmodified hostdevd on the simulated QEMU NVMe host (the VM tier's hardware) with a private
// dbus-daemon (issue 13): holders that keep only a VFIO device fd block a VF-count change and an mdev
// removal with zero writes and the change happens once they exit; while the daemon's write is stuck in
// the kernel, hostdevctl devices, status, plan and export answer at once, `devices` naming the busy device; a
// sriov_drivers_autoprobe changed by hand (no uevent) is read again before the daemon enables VFs; the
// daemon's Plan() names the writes on VFs that do not exist yet.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>

using namespace std::chrono_literals;
using testing::ConfigDir;

namespace {

constexpr const char* kPf = "0000:01:00.0";
constexpr const char* kManager = "/io/hostdevd1";
constexpr const char* kManagerIface = "io.hostdevd1.Manager";
// The second instance of the mtty entry (UUIDv5 of "mtty/1"): the one `count = 1` removes.
constexpr const char* kSecondMdev = "64111159-134c-55b6-b36d-2d6c0214e526";

std::string vfio_config(unsigned count) {
    return "version = 1\n[[pf]]\nmatch = { address = \"0000:01:00.0\" }\ndestroy = \"when-idle\"\nvfs = " +
           std::to_string(count) + "\nautoprobe = false\n[[pf.vf]]\nindex = \"0-" +
           std::to_string(count - 1) + "\"\ndriver = \"vfio-pci\"\n";
}

std::string mtty_config(unsigned count) {
    return "version = 1\n[[mdev]]\nparent = { name = \"mtty\" }\ndestroy = \"when-idle\"\ntype = "
           "\"mtty-2\"\ncount = " +
           std::to_string(count) + "\n";
}

std::string property(testing::BusClient& client, const std::string& path, const std::string& iface,
                     const std::string& name) {
    try {
        return client.get_string(path, iface, name);
    } catch (const std::runtime_error&) {
        return "";
    }
}

std::string device_property(testing::BusClient& client, const std::string& address, const std::string& name) {
    return property(client, testing::device_path(address), "io.hostdevd1.Device", name);
}

std::string mdev_property(testing::BusClient& client, const std::string& uuid, const std::string& name) {
    return property(client, testing::object_path("/io/hostdevd1/mdev", uuid), "io.hostdevd1.Mdev", name);
}

std::string numvfs() {
    return testing::trimmed(testing::read_file(std::string("/sys/bus/pci/devices/") + kPf + "/sriov_numvfs"));
}

// The daemon on its own configuration directory, converged.
struct Nvme {
    ConfigDir conf;
    testing::PrivateBus bus;
    std::unique_ptr<testing::Daemon> daemon;
    std::unique_ptr<testing::BusClient> client;

    explicit Nvme(const std::string& file, const std::string& content) {
        conf.write(file, content);
        daemon = std::make_unique<testing::Daemon>(bus, conf.path());
        client = std::make_unique<testing::BusClient>(bus.address());
        INFO("hostdevd log:\n" << daemon->log());
        REQUIRE(converged());
    }
    bool converged(std::chrono::milliseconds timeout = 15s) {
        return testing::wait_until(
            [&] { return property(*client, kManager, kManagerIface, "State") == "converged"; }, timeout);
    }
};

// hostdevctl with the daemon's bus, bounded (a hung command fails the test instead of stalling it).
testing::Completed hostdevctl(const Nvme& host, std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "DBUS_SYSTEM_BUS_ADDRESS=" + host.bus.address(), "timeout", "20",
                                     testing::hostdevctl()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::run(argv);
}

} // namespace

TEST_CASE("daemon: a guest holding only a VFIO device fd blocks a VF-count change until it exits",
          "[qemu-nvme]") {
    Nvme host("10-vfs.toml", vfio_config(3));
    const std::string pid =
        testing::trimmed(testing::simhost_ctl({"hold", "0000:01:00.2", "--device-only", "--uid", "64055"}));
    testing::clear_write_log();
    host.conf.write("10-vfs.toml", vfio_config(2)); // reloaded through inotify
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(
        testing::wait_until([&] { return device_property(*host.client, kPf, "State") == "blocked"; }, 15s));
    CHECK_THAT(device_property(*host.client, kPf, "Reason"),
               Catch::Contains("VF 0000:01:00.2 in use: pid " + pid +
                               " uid 64055 (qemu-system-x86) holds a VFIO "
                               "device fd the kernel does not attribute (unknown counts as in use)"));
    CHECK(testing::write_log().empty()); // zero writes
    CHECK(numvfs() == "3");
    // Closing a file sends no uevent: the daemon's holder re-check while blocked sees the guest gone.
    testing::simhost_ctl({"release", pid});
    CHECK(host.converged());
    CHECK(numvfs() == "2");
}

TEST_CASE("daemon: a guest holding only an mdev's device fd blocks its removal until it exits",
          "[qemu-nvme]") {
    Nvme host("20-mtty.toml", mtty_config(2));
    const std::string pid = testing::trimmed(testing::simhost_ctl({"hold", kSecondMdev, "--device-only"}));
    testing::clear_write_log();
    host.conf.write("20-mtty.toml", mtty_config(1));
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(testing::wait_until(
        [&] { return mdev_property(*host.client, kSecondMdev, "State") == "blocked"; }, 15s));
    CHECK_THAT(mdev_property(*host.client, kSecondMdev, "Reason"), Catch::Contains("pid " + pid + " uid 0"));
    CHECK(testing::write_log().empty());
    testing::simhost_ctl({"release", pid});
    CHECK(host.converged());
    CHECK(testing::writes_to(testing::write_log(), std::string(kSecondMdev) + "/remove").size() == 1);
}

TEST_CASE("daemon: while its write is stuck in the kernel hostdevctl devices and status and plan and "
          "export answer at once",
          "[qemu-nvme]") {
    Nvme host("10-vfs.toml", vfio_config(2));
    // The daemon's next sriov_numvfs write stays in the kernel for 8 s, holding the PF's device lock: a
    // read of the PF's sriov_numvfs or driver_override waits for it meanwhile (iov.c, pci-sysfs.c).
    testing::simhost_ctl(
        {"fault", "block", std::string("/sys/bus/pci/devices/") + kPf + "/sriov_numvfs", "8"});
    host.conf.write("10-vfs.toml", vfio_config(1));
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(testing::wait_until(
        [&] {
            return device_property(*host.client, kPf, "Reason")
                       .find("busy: write \"0\" to /sys/bus/pci/devices/") != std::string::npos;
        },
        15s));
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"devices"},
          {"devices", "--json"},
          {"status"},
          {"plan"},
          {"export", "prometheus", "--local", "--config-dir", host.conf.path()}}) {
        auto start = std::chrono::steady_clock::now();
        auto c = hostdevctl(host, args);
        auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        INFO("hostdevctl " << args[0] << " took " << took.count() << " ms:\n" << c.out << c.err);
        // devices lists (0); status and plan report the daemon's state in their exit status (degraded,
        // pending: hostdevctl(8)), so only a usage error or no answer would be wrong here.
        if (args[0] == "devices" || args[0] == "export")
            CHECK(c.exit_code == 0);
        else
            CHECK((c.exit_code == 1 || c.exit_code == 3 || c.exit_code == 4));
        CHECK(!c.out.empty());
        CHECK(took < 1000ms);
        if (args[0] == "devices")
            CHECK_THAT(c.out, Catch::Contains(kPf) && Catch::Contains("busy"));
        if (args[0] == "export") // made here without the busy PF: its object is not reported converged
            CHECK_THAT(c.out, Catch::Contains("hostdevd_config_valid 1") &&
                                  !Catch::Contains("address=\"" + std::string(kPf) + "\""));
    }
    // The write returns; it was stuck, so the PF is failed, naming the write, until asked again.
    REQUIRE(testing::wait_until(
        [&] {
            return device_property(*host.client, kPf, "Reason").find("was blocked in the kernel for 8.") !=
                   std::string::npos;
        },
        30s));
    CHECK(device_property(*host.client, kPf, "State") == "failed");
    CHECK_THAT(host.daemon->log(), Catch::Contains("stuck: write \"0\" to /sys/bus/pci/devices/0000:01:00.0/"
                                                   "sriov_numvfs was blocked in the kernel for 8."));
    auto apply = hostdevctl(host, {"apply", "--config-dir", host.conf.path()});
    CHECK(apply.exit_code == 0); // asked again: converged (the write did take effect)
}

TEST_CASE("daemon: sriov_drivers_autoprobe changed by hand is read again before the VFs are enabled",
          "[qemu-nvme]") {
    Nvme host("10-vfs.toml", vfio_config(2));
    const std::string pid = testing::trimmed(testing::simhost_ctl({"hold", "0000:01:00.1", "--device"}));
    host.conf.write("10-vfs.toml", vfio_config(1));
    INFO("hostdevd log:\n" << host.daemon->log());
    REQUIRE(
        testing::wait_until([&] { return device_property(*host.client, kPf, "State") == "blocked"; }, 15s));
    // Meanwhile someone turns autoprobe back on. The kernel announces nothing (iov.c).
    REQUIRE(testing::run({"sh", "-c", "echo 1 > /sys/bus/pci/devices/0000:01:00.0/sriov_drivers_autoprobe"})
                .exit_code == 0);
    testing::clear_write_log();
    testing::simhost_ctl({"release", pid}); // the blocked re-check pass finds the guest gone
    REQUIRE(host.converged());
    // Autoprobe was put back to 0 before the VF was enabled, so nvme never probed it: no unbind needed.
    std::vector<std::string> writes;
    for (const auto& w : testing::write_log())
        writes.push_back(
            w.at("path").get<std::string>().substr(w.at("path").get<std::string>().rfind('/') + 1) + "=" +
            testing::trimmed(w.at("value")));
    INFO("writes:\n" << testing::write_log().dump(1));
    auto at = [&](const std::string& w) {
        return std::find(writes.begin(), writes.end(), w) - writes.begin();
    };
    REQUIRE(at("sriov_numvfs=1") < static_cast<long>(writes.size()));
    CHECK(at("sriov_drivers_autoprobe=0") < at("sriov_numvfs=1"));
    CHECK(testing::writes_to(testing::write_log(), "/unbind").empty());
}

TEST_CASE("daemon: Plan() names the binds of the VFs a VF-count change creates", "[qemu-nvme]") {
    Nvme host("10-vfs.toml", vfio_config(1));
    // The kernel takes 4 s over the VF disable, so the plan the daemon is carrying out can be read.
    testing::simhost_ctl(
        {"fault", "block", std::string("/sys/bus/pci/devices/") + kPf + "/sriov_numvfs", "4"});
    host.conf.write("10-vfs.toml", vfio_config(3));
    std::string plan;
    bool shown = testing::wait_until(
        [&] {
            plan = hostdevctl(host, {"plan"}).out; // through the daemon: its Plan() rows
            return plan.find("sriov_numvfs 1 -> 0 -> 3") != std::string::npos &&
                   plan.find("0000:01:00.3  bind vfio-pci (after the VFs appear)") != std::string::npos;
        },
        10s);
    INFO(plan << "\nhostdevd log:\n" << host.daemon->log());
    CHECK(shown);
    CHECK_THAT(plan, Catch::Contains("0000:01:00.1  bind vfio-pci (after the VFs appear)"));
    CHECK(host.converged());
}
