#include "process.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;

namespace testing {

Completed run(const std::vector<std::string>& argv) {
    int out_pipe[2], err_pipe[2];
    REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
    REQUIRE(pipe2(err_pipe, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        dprintf(2, "exec %s: %s\n", args[0], strerror(errno));
        _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    Completed c;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    char buf[4096];
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? c.out : c.err).append(buf, n);
            }
        }
    }
    int status = 0;
    waitpid(pid, &status, 0);
    c.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return c;
}

std::string hostdevctl() {
    return HOSTDEVD_TEST_HOSTDEVCTL;
}
std::string hostdevd() {
    return HOSTDEVD_TEST_HOSTDEVD;
}
std::string simhost() {
    return HOSTDEVD_TEST_SIMHOST;
}
std::string source_dir() {
    return HOSTDEVD_TEST_SOURCE_DIR;
}

std::string simhost_ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {simhost(), "ctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    Completed c = run(argv);
    INFO("simhost ctl stderr: " << c.err);
    REQUIRE(c.exit_code == 0);
    return c.out;
}

nlohmann::json write_log() {
    return nlohmann::json::parse(simhost_ctl({"log", "--json"}));
}

void clear_write_log() {
    simhost_ctl({"log", "clear"});
}

std::vector<nlohmann::json> writes_to(const nlohmann::json& log, const std::string& suffix) {
    std::vector<nlohmann::json> out;
    for (const auto& rec : log) {
        std::string path = rec.at("path");
        if (path.size() >= suffix.size() &&
            path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
            out.push_back(rec);
    }
    return out;
}

ConfigDir::ConfigDir() {
    char tmpl[] = "/run/hostdevd-test-config-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
    REQUIRE(chmod(path_.c_str(), 0755) == 0);
}

ConfigDir::~ConfigDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

void ConfigDir::copy_from(const std::string& example_dir) {
    for (const auto& entry : fs::directory_iterator(example_dir))
        if (entry.path().extension() == ".toml")
            write(entry.path().filename(), read_file(entry.path()));
}

void ConfigDir::write(const std::string& name, const std::string& content) {
    std::string file = path_ + "/" + name;
    std::string tmp = file + ".tmp";
    {
        std::ofstream out(tmp);
        out << content;
        REQUIRE(out.good());
    }
    REQUIRE(chmod(tmp.c_str(), 0644) == 0);
    REQUIRE(rename(tmp.c_str(), file.c_str()) == 0); // atomic, as editors and config management do
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> safe_actions(const ConfigDir& conf) {
    auto c = run({hostdevctl(), "plan", "--json", "--local", "--config-dir", conf.path()});
    INFO("plan: " << c.err);
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4)); // exit_codes.hpp
    std::vector<std::string> out;
    const auto plan = nlohmann::json::parse(c.out); // the loop must not range over a dead temporary
    for (const auto& a : plan.at("actions"))
        if (a.at("verdict") == "safe")
            out.push_back(a.at("object").get<std::string>() + " " + a.at("summary").get<std::string>());
    return out;
}

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

bool wait_until(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

namespace {

// The PID of a thread blocked in write(2) on a file ending in `suffix`, or 0.
int write_in_flight(const std::string& suffix) {
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
        const std::string pid = proc.path().filename();
        if (pid.find_first_not_of("0123456789") != std::string::npos)
            continue;
        for (const auto& task : fs::directory_iterator(proc.path() / "task", ec)) {
            std::ifstream in(task.path() / "syscall");
            std::string nr, fd_hex;
            if (!(in >> nr >> fd_hex) || nr != std::to_string(SYS_write))
                continue;
            const std::string fd = std::to_string(std::stoul(fd_hex, nullptr, 16));
            std::error_code link_ec;
            const std::string target = fs::read_symlink(proc.path() / "fd" / fd, link_ec);
            if (!link_ec && target.size() >= suffix.size() &&
                target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0)
                return std::stoi(pid);
        }
    }
    return 0;
}

} // namespace

int wait_write_in_flight(const std::string& suffix, std::chrono::milliseconds timeout) {
    int pid = 0;
    wait_until([&] { return (pid = write_in_flight(suffix)) != 0; }, timeout);
    return pid;
}

} // namespace testing
