#include "daemon_fixture.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace testing {

PrivateBus::PrivateBus(bool with_policy) {
    char tmpl[] = "/run/hostdevd-test-bus-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    std::vector<std::string> argv = {source_dir() + "/scripts/private-bus.sh", dir_};
    if (!with_policy)
        argv.push_back("--without-policy");
    auto c = run(argv);
    INFO(c.err);
    REQUIRE(c.exit_code == 0);
    auto nl = c.out.find('\n');
    REQUIRE(nl != std::string::npos);
    address_ = c.out.substr(0, nl);
    pid_ = std::stoi(c.out.substr(nl + 1));
    chmod((dir_ + "/system_bus_socket").c_str(), 0666); // for the tests that call as nobody
}

PrivateBus::~PrivateBus() {
    if (pid_ > 0)
        kill(pid_, SIGTERM);
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

Daemon::Daemon(const PrivateBus& bus, const std::string& config_dir, std::vector<std::string> extra_args,
               std::vector<std::pair<std::string, std::string>> env) {
    char tmpl[] = "/run/hostdevd-test-log-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    log_path_ = tmpl;
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address().c_str(), 1);
        for (const auto& [name, value] : env)
            setenv(name.c_str(), value.c_str(), 1);
        std::vector<std::string> argv = {hostdevd(), "--config-dir", config_dir};
        argv.insert(argv.end(), extra_args.begin(), extra_args.end());
        std::vector<char*> args;
        for (auto& a : argv)
            args.push_back(a.data());
        args.push_back(nullptr);
        execv(args[0], args.data());
        _exit(127);
    }
    close(fd);
    // Ready when the bus name answers.
    bool up = wait_until(
        [&] {
            return busctl(bus, {"get-property", "io.hostdevd1", "/io/hostdevd1", "io.hostdevd1.Manager",
                                "Version"})
                           .exit_code == 0 ||
                   !running();
        },
        std::chrono::seconds(10));
    INFO("hostdevd log:\n" << log());
    REQUIRE(up);
    REQUIRE(running());
}

Daemon::~Daemon() {
    if (running())
        stop(SIGKILL);
    unlink(log_path_.c_str());
}

bool Daemon::running() const {
    if (exit_code_ >= 0)
        return false;
    int status;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
    }
    return true;
}

int Daemon::stop(int sig, std::chrono::milliseconds timeout) {
    if (running())
        kill(pid_, sig);
    bool exited = wait_until([&] { return !running(); }, timeout);
    if (!exited) {
        kill(pid_, SIGKILL);
        wait_until([&] { return !running(); }, std::chrono::seconds(5));
        return -1;
    }
    return exit_code_;
}

std::string Daemon::log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

Completed busctl(const PrivateBus& bus, const std::vector<std::string>& args, bool as_user) {
    std::vector<std::string> argv;
    if (as_user)
        argv = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    argv.push_back("busctl");
    argv.push_back("--address=" + bus.address());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
}

nlohmann::json get_property(const PrivateBus& bus, const std::string& path, const std::string& interface,
                            const std::string& property) {
    auto c = busctl(bus, {"--json=short", "get-property", "io.hostdevd1", path, interface, property});
    INFO("busctl: " << c.err);
    REQUIRE(c.exit_code == 0);
    return nlohmann::json::parse(c.out).at("data");
}

std::string object_path(const std::string& prefix, const std::string& id) {
    char* path = nullptr;
    REQUIRE(sd_bus_path_encode(prefix.c_str(), id.c_str(), &path) >= 0);
    std::string out(path);
    free(path);
    return out;
}

std::string device_path(const std::string& address) {
    return object_path("/io/hostdevd1/device", address);
}

} // namespace testing
