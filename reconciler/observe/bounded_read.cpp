#include "observe/bounded_read.hpp"

#include "model/pci_address.hpp"
#include "sysfs/read.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <fcntl.h>
#include <poll.h>
#include <set>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace hostdevd {

namespace {

using Clock = std::chrono::steady_clock;

bool is_uuid(std::string_view text) {
    if (text.size() != 36)
        return false;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash != (text[i] == '-') || (!dash && !std::isxdigit(static_cast<unsigned char>(text[i]))))
            return false;
    }
    return true;
}

void write_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        done += static_cast<size_t>(n);
    }
}

// The file a thread of `pid` is reading right now, "" when it is in no read(2)/pread64(2):
// /proc/<pid>/task/<tid>/syscall is "<nr> <arg0> ..." inside a system call (arg0: the fd, in hex).
std::string file_in_read(pid_t pid, const std::string& tid) {
    const std::string task = "/proc/" + std::to_string(pid) + "/task/" + tid;
    TextResult call = read_attribute(task + "/syscall");
    if (!call.ok())
        return "";
    char* end = nullptr;
    const long nr = std::strtol(call.text.c_str(), &end, 10);
    if (end == call.text.c_str() || (nr != SYS_read && nr != SYS_pread64))
        return "";
    const long fd = std::strtol(end, nullptr, 16);
    TextResult target = read_link("/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
    return target.ok() ? target.text : "";
}

// The /sys files some process is writing to right now, by any of its threads: "/proc/<pid>/task/<tid>"
// -> the file, from /proc/<pid>/task/<tid>/syscall (write(2)/pwrite64(2) and their fd).
std::map<std::string, std::string> sysfs_writes_now() {
    std::map<std::string, std::string> writes;
    for (const std::string& pid : list_directory("/proc").names) {
        if (!parse_decimal(pid))
            continue;
        const std::string tasks = "/proc/" + pid + "/task";
        for (const std::string& tid : list_directory(tasks).names) {
            TextResult call = read_attribute(tasks + "/" + tid + "/syscall");
            if (!call.ok())
                continue;
            char* end = nullptr;
            const long nr = std::strtol(call.text.c_str(), &end, 10);
            if (end == call.text.c_str() || (nr != SYS_write && nr != SYS_pwrite64))
                continue;
            const long fd = std::strtol(end, nullptr, 16);
            const std::string link = "/proc/" + pid + "/fd/" + std::to_string(fd);
            TextResult target = read_link(link);
            if (!target.ok() || target.text.rfind("/sys/", 0) != 0)
                continue;
            // The same file as ours: a process in another mount namespace (a container, another
            // simulated host) writes to its own /sys, whose paths read the same.
            struct stat held {
            }, here{};
            if (::stat(link.c_str(), &held) == 0 && ::stat(target.text.c_str(), &here) == 0 &&
                held.st_dev == here.st_dev && held.st_ino == here.st_ino)
                writes[tasks + "/" + tid] = target.text;
        }
    }
    return writes;
}

// One run of `work` in a child; `stuck` gets the /sys files a thread of it sat in for `stall`.
// Returns true with the child's answer ("O<output>" or "E<error>") when it finished.
bool run_once(const std::function<std::string(const std::map<std::string, std::string>&)>& work,
              const std::map<std::string, std::string>& busy, std::chrono::milliseconds stall,
              std::set<std::string>& stuck, std::string& answer) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) < 0)
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::close(pipe_fds[0]);
        // The child keeps none of the caller's stdio: a child left stuck in the kernel must not hold open
        // the pipe a caller's reader waits on (`hostdevctl devices | less`).
        if (int null_fd = ::open("/dev/null", O_RDWR); null_fd >= 0) {
            ::dup2(null_fd, 0);
            ::dup2(null_fd, 1);
            ::dup2(null_fd, 2);
        }
        std::string result;
        try {
            result = "O" + work(busy);
        } catch (const std::exception& e) {
            result = std::string("E") + e.what();
        }
        write_all(pipe_fds[1], result);
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    std::map<std::pair<std::string, std::string>, Clock::time_point> reading; // (tid, file) -> since
    std::string data;
    for (;;) {
        pollfd p{pipe_fds[0], POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
            char buffer[65536];
            ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
            if (n > 0) {
                data.append(buffer, static_cast<size_t>(n));
                continue;
            }
            if (n == 0 || errno != EINTR) {
                ::close(pipe_fds[0]);
                int status = 0;
                ::waitpid(pid, &status, 0);
                answer = data.empty() ? std::string("Ethe reading process ended without an answer") : data;
                return true;
            }
        }
        // Which /sys file is each thread reading, and since when?
        const auto now = Clock::now();
        std::map<std::pair<std::string, std::string>, Clock::time_point> still;
        for (const std::string& tid : list_directory("/proc/" + std::to_string(pid) + "/task").names) {
            std::string file = file_in_read(pid, tid);
            if (file.rfind("/sys/", 0) != 0)
                continue;
            auto key = std::make_pair(tid, file);
            auto it = reading.find(key);
            const auto since = it == reading.end() ? now : it->second;
            still.emplace(key, since);
            if (now - since >= stall)
                stuck.insert(file);
        }
        reading = std::move(still);
        if (!stuck.empty()) {
            // Abandoned: it dies once the kernel lets it go. Not waited for (that is the point).
            ::kill(pid, SIGKILL);
            ::close(pipe_fds[0]);
            return false;
        }
    }
}

} // namespace

std::string device_of_sysfs_path(const std::string& path) {
    std::string device;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string::npos)
            end = path.size();
        std::string_view part(path.data() + start, end - start);
        if (PciAddress::parse(part) && part.size() == 12)
            device = PciAddress::parse(part)->str();
        else if (is_uuid(part)) {
            device = std::string(part);
            for (char& c : device)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        start = end + 1;
    }
    return device;
}

std::map<std::string, std::string> devices_being_written(std::chrono::milliseconds apart) {
    std::map<std::string, std::string> busy;
    auto first = sysfs_writes_now();
    if (first.empty())
        return busy;
    // Still in the same write a moment later: a write in progress, not one passing by.
    struct timespec pause {
        0, static_cast<long>(std::chrono::nanoseconds(apart).count())
    };
    ::nanosleep(&pause, nullptr);
    for (const auto& [task, file] : sysfs_writes_now()) {
        auto before = first.find(task);
        if (before == first.end() || before->second != file)
            continue;
        if (std::string device = device_of_sysfs_path(file); !device.empty()) {
            const std::string proc = task.substr(0, task.find("/task")); // "/proc/<pid>"
            TextResult comm = read_attribute(proc + "/comm");
            busy.emplace(device, "busy: a write to " + file + " by pid " + proc.substr(6) +
                                     (comm.ok() ? " (" + comm.text + ")" : "") +
                                     " is in progress in the kernel; not read");
        }
    }
    return busy;
}

BoundedRead
read_bounded(const std::function<std::string(const std::map<std::string, std::string>& busy)>& work,
             std::chrono::milliseconds stall, int rounds) {
    BoundedRead result;
    // Devices someone is writing to right now are not even tried: a store in progress may hold the
    // device's lock (the daemon's stuck write, an `echo 0 > sriov_numvfs` by hand). Reads that still
    // block are found by the child's stall below.
    result.busy = devices_being_written(std::chrono::milliseconds(30));
    for (int round = 0; round < rounds; ++round) {
        std::set<std::string> stuck;
        std::string answer;
        if (run_once(work, result.busy, stall, stuck, answer)) {
            result.ok = !answer.empty() && answer[0] == 'O';
            (result.ok ? result.output : result.error) = answer.substr(1);
            return result;
        }
        for (const std::string& file : stuck) {
            const std::string device = device_of_sysfs_path(file);
            if (device.empty()) {
                result.error = "reading " + file + " blocks in the kernel";
                return result;
            }
            result.busy.emplace(device, "busy: reading it blocks in the kernel (" + file +
                                            "): a write to it is stuck; not read");
        }
    }
    result.error = "reading the host kept blocking in the kernel (" + std::to_string(result.busy.size()) +
                   " devices busy)";
    return result;
}

} // namespace hostdevd
