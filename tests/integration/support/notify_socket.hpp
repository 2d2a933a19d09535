// A datagram socket standing in for systemd's NOTIFY_SOCKET: collects what the daemon sends (READY=1,
// STATUS=...). Its path is in the simulated host's private /run.
#pragma once

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

namespace testing {

class NotifySocket {
public:
    NotifySocket() {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
        unlink(path_.c_str());
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~NotifySocket() {
        close(fd_);
        unlink(path_.c_str());
    }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;
    const std::string& path() const { return path_; }
    // Takes every datagram already queued; true when one of all received so far says READY=1.
    bool drain() {
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            messages.emplace_back(buf, n);
        for (const auto& m : messages)
            if (m.find("READY=1") != std::string::npos)
                return true;
        return false;
    }
    std::vector<std::string> messages;

private:
    std::string path_ = "/run/hostdevd-test-notify";
    int fd_ = -1;
};

} // namespace testing
