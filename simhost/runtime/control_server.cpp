#include "control_server.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace simhost {
namespace {

constexpr int kRequestTimeoutMs = 5000;
constexpr std::size_t kMaxRequest = 4096;

bool read_request_line(int fd, std::string& line) {
    char buffer[512];
    while (line.find('\n') == std::string::npos) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, kRequestTimeoutMs) <= 0)
            return false;
        const ssize_t n = ::read(fd, buffer, sizeof(buffer));
        if (n <= 0)
            return !line.empty(); // a request without a final newline is still a request
        line.append(buffer, static_cast<std::size_t>(n));
        if (line.size() > kMaxRequest)
            return false;
    }
    line.resize(line.find('\n'));
    return true;
}

void write_all(int fd, const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::send(fd, text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; // the client went away; nothing to tell it
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

ControlServer::ControlServer(Kernel& kernel, DevNodes& devnodes, const std::string& simhost_executable,
                             std::function<void()> settle)
    : holders_(kernel, simhost_executable), commands_(kernel, holders_, devnodes),
      settle_(std::move(settle)) {}

ControlServer::~ControlServer() {
    stop();
}

void ControlServer::start(const std::string& socket_path) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path))
        throw std::runtime_error("control socket path too long: " + socket_path);
    std::strcpy(address.sun_path, socket_path.c_str());
    ::unlink(socket_path.c_str());
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) < 0 ||
        ::listen(listen_fd_, 64) < 0)
        throw std::runtime_error("control socket " + socket_path + ": " + std::strerror(errno));
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    thread_ = std::thread([this] { serve(); });
}

void ControlServer::stop() {
    if (thread_.joinable()) {
        const uint64_t one = 1;
        (void)::write(wake_fd_, &one, sizeof(one));
        thread_.join();
    }
    holders_.kill_all();
    for (int* fd : {&listen_fd_, &wake_fd_})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
}

void ControlServer::serve() {
    for (;;) {
        std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
        for (const int pidfd : holders_.pidfds())
            fds.push_back({pidfd, POLLIN, 0});
        if (::poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[0].revents)
            return;
        for (std::size_t i = 2; i < fds.size(); ++i)
            if (fds[i].revents)
                holders_.reap(fds[i].fd); // a holder was killed from outside: its group is free again
        if (fds[1].revents & POLLIN) {
            const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client >= 0) {
                answer(client);
                ::close(client);
            }
        }
    }
}

void ControlServer::answer(int client) {
    std::string line;
    if (!read_request_line(client, line)) {
        write_all(client, ControlReply{EINVAL, "incomplete request (one line expected)", {}}.serialize());
        return;
    }
    settle_();
    const ControlReply reply = commands_.handle(split_words(line));
    settle_();
    write_all(client, reply.serialize());
}

} // namespace simhost
