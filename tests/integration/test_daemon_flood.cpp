// A local user floods hostdevd over D-Bus (issue 17): four connections as `nobody`, each keeping 128
// Describe() calls in flight (what the bus policy allows everyone, and dbus-daemon's per-connection limit).
// The loop is fair (reconciler/daemon/event_loop.hpp, docs/daemon.md): meanwhile a hot-plugged PF is
// configured, the systemd watchdog keeps being pinged (the test is the notify socket, as systemd would be)
// and the flood itself keeps being answered. The assertions are about order and counts; the times are
// printed for the record (benchmark B9 measures the ratio: docs/benchmarks.md).
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPf = "0000:5e:00.0"; // lab.toml's hot-pluggable E810, 8 VFs on vfio-pci
constexpr int kClients = 4;
constexpr int kInFlight = 128;
constexpr auto kWatchdog = 4s; // WATCHDOG_USEC: the daemon pings every 2 s; systemd would kill after 4 s

using RealTime = std::chrono::system_clock::time_point;

std::string driver_of(const std::string& address) {
    std::error_code ec;
    return fs::read_symlink("/sys/bus/pci/devices/" + address + "/driver", ec).filename();
}

bool pf_converged() {
    std::ifstream numvfs("/sys/bus/pci/devices/" + std::string(kPf) + "/sriov_numvfs");
    int n = 0;
    if (!(numvfs >> n) || n != 8)
        return false;
    for (int i = 0; i < 8; ++i)
        if (driver_of("0000:5e:01." + std::to_string(i)) != "vfio-pci")
            return false;
    return true;
}

// The notify socket systemd would give the service (NOTIFY_SOCKET): records every datagram with the time
// the kernel received it (SO_TIMESTAMPNS), so late reading by this thread does not move the times.
class NotifySocket {
public:
    NotifySocket() {
        char tmpl[] = "/run/hostdevd-test-notify-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/notify";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        int on = 1;
        REQUIRE(setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        reader_ = std::thread([this] { read_all(); });
    }
    ~NotifySocket() {
        stop_ = true;
        reader_.join();
        close(fd_);
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    const std::string& path() const { return path_; }

    // Reception times of the datagrams that carried `field` ("WATCHDOG=1").
    std::vector<RealTime> times_of(const std::string& field) {
        std::lock_guard lock(mutex_);
        std::vector<RealTime> out;
        for (const auto& [text, when] : received_)
            if (("\n" + text + "\n").find("\n" + field + "\n") != std::string::npos)
                out.push_back(when);
        return out;
    }

private:
    void read_all() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0)
                continue;
            char data[4096];
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
            iovec iov{data, sizeof data};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            ssize_t n = recvmsg(fd_, &msg, MSG_DONTWAIT);
            if (n < 0)
                continue;
            RealTime when = std::chrono::system_clock::now();
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    timespec ts;
                    std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    when = RealTime(std::chrono::duration_cast<RealTime::duration>(
                        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
                }
            std::lock_guard lock(mutex_);
            received_.emplace_back(std::string(data, static_cast<size_t>(n)), when);
        }
    }

    std::string dir_, path_;
    int fd_ = -1;
    std::atomic<bool> stop_{false};
    std::thread reader_;
    std::mutex mutex_;
    std::vector<std::pair<std::string, RealTime>> received_;
};

// bench_describe_flood as nobody (setpriv), in the background; it keeps "REPLIES ERRORS" in a status file.
class Flood {
public:
    explicit Flood(const testing::PrivateBus& bus) {
        char tmpl[] = "/run/hostdevd-test-flood-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir_ = tmpl;
        REQUIRE(chmod(dir_.c_str(), 0777) == 0); // nobody writes its status file here
        const std::string status = dir_ + "/status", out = dir_ + "/out";
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            dup2(fd, 1);
            dup2(fd, 2);
            setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
            const std::string clients = std::to_string(kClients), in_flight = std::to_string(kInFlight);
            execlp("setpriv", "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   HOSTDEVD_TEST_DESCRIBE_FLOOD, "--clients", clients.c_str(), "--in-flight",
                   in_flight.c_str(), "--status", status.c_str(), static_cast<char*>(nullptr));
            _exit(127);
        }
    }
    ~Flood() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // Replies and errors the flood has received so far.
    std::pair<uint64_t, uint64_t> counts() const {
        std::ifstream in(dir_ + "/status");
        uint64_t replies = 0, errors = 0;
        in >> replies >> errors;
        return {replies, errors};
    }
    bool running() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
    // Stops it; returns what it printed (its totals, or why it failed).
    std::string stop() {
        kill(pid_, SIGTERM);
        int status = 0;
        waitpid(pid_, &status, 0);
        pid_ = -1;
        return testing::read_file(dir_ + "/out");
    }

private:
    std::string dir_;
    pid_t pid_ = -1;
};

double seconds(std::chrono::steady_clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

} // namespace

TEST_CASE("daemon: a Describe() flood by an unprivileged user starves neither a hot-plug nor the watchdog",
          "[lab]") {
    testing::ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/lab");
    testing::PrivateBus bus;
    NotifySocket notify;
    const auto watchdog_usec = std::chrono::duration_cast<std::chrono::microseconds>(kWatchdog).count();
    testing::Daemon daemon(
        bus, conf.path(), {},
        {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", std::to_string(watchdog_usec)}});
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(testing::wait_until(
        [&] { return client.get_string("/io/hostdevd1", "io.hostdevd1.Manager", "State") == "converged"; },
        30s));

    // Unloaded: the hot-plug alone, for the record; then the card goes again (its objects with it).
    auto start = std::chrono::steady_clock::now();
    testing::simhost_ctl({"plug", kPf});
    REQUIRE(testing::wait_until(pf_converged, 60s));
    const double unloaded = seconds(std::chrono::steady_clock::now() - start);
    testing::simhost_ctl({"unplug", kPf});
    REQUIRE(testing::wait_until(
        [&] {
            try {
                client.get_string(testing::device_path(kPf), "io.hostdevd1.Device", "Address");
                return false;
            } catch (const std::runtime_error&) {
                return true; // the object is gone: the daemon has seen the unplug
            }
        },
        60s));

    // The flood: every one of the 4 x 128 calls answered once, so all of them are in flight from now on.
    Flood flood(bus);
    bool established = testing::wait_until(
        [&] { return flood.counts().first >= uint64_t(kClients * kInFlight) || !flood.running(); }, 60s);
    INFO("flood: " << (flood.running() ? "running" : flood.stop()));
    REQUIRE(established);
    REQUIRE(flood.running());
    const RealTime flood_on = std::chrono::system_clock::now();
    const size_t pings_before = notify.times_of("WATCHDOG=1").size();

    start = std::chrono::steady_clock::now();
    testing::simhost_ctl({"plug", kPf});
    const bool converged = testing::wait_until(pf_converged, 30s);
    const double flooded = seconds(std::chrono::steady_clock::now() - start);
    const auto at_convergence = flood.counts();
    // The flood goes on, and is still answered (the bus is rationed, not starved), while at least three
    // more watchdog pings come: a whole 2 s interval after the convergence, under load.
    const bool answered_after = testing::wait_until(
        [&] { return flood.counts().first > at_convergence.first + kClients * kInFlight; }, 30s);
    const bool pinged = testing::wait_until(
        [&] {
            const auto pings = notify.times_of("WATCHDOG=1");
            return std::count_if(pings.begin(), pings.end(), [&](RealTime t) { return t > flood_on; }) >= 3;
        },
        30s);
    const bool still_running = flood.running();
    const RealTime flood_off = std::chrono::system_clock::now();
    const std::string totals = flood.stop();

    // Every gap between two pings while the flood ran, counted from the last ping before it, is shorter
    // than WatchdogSec (systemd would have killed the daemon otherwise).
    const std::vector<RealTime> pings = notify.times_of("WATCHDOG=1");
    size_t during = 0;
    double longest_gap = 0;
    RealTime previous = pings_before > 0 ? pings[pings_before - 1] : flood_on;
    for (RealTime t : pings)
        if (t > flood_on && t < flood_off) {
            ++during;
            longest_gap = std::max(longest_gap, std::chrono::duration<double>(t - previous).count());
            previous = t;
        }
    longest_gap = std::max(longest_gap, std::chrono::duration<double>(flood_off - previous).count());
    std::cout << "flood test: hot-plug converged in " << unloaded << " s unloaded, " << flooded
              << " s under the flood (" << flooded / unloaded << "x); flood " << totals
              << "; watchdog pings during the flood: " << during << ", longest gap " << longest_gap
              << " s (WatchdogSec " << seconds(kWatchdog) << " s)\n";
    INFO("flood totals: " << totals);
    INFO("hot-plug: " << unloaded << " s unloaded, " << flooded << " s flooded");
    CHECK(converged);
    CHECK(answered_after);
    CHECK(still_running);
    CHECK(pinged);
    CHECK(flood.counts().second == 0); // no call failed (a timeout would count)
    CHECK(longest_gap > 0);
    CHECK(longest_gap < seconds(kWatchdog));
}
