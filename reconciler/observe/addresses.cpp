#include "observe/addresses.hpp"

#include <cstring>
#include <functional>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <map>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hostdevd {

namespace {

// Sends one dump request and calls `on_message` for every reply until NLMSG_DONE. False on any error.
bool dump(int fd, uint16_t type, uint8_t family, const std::function<void(const nlmsghdr*)>& on_message) {
    struct {
        nlmsghdr header;
        rtgenmsg body;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = type;
    request.body.rtgen_family = family;
    if (send(fd, &request, sizeof request, 0) < 0)
        return false;
    alignas(nlmsghdr) char buf[32768];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return false;
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(n));
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE)
                return true;
            if (h->nlmsg_type == NLMSG_ERROR)
                return false;
            on_message(h);
        }
    }
}

} // namespace

std::set<std::string> interfaces_with_addresses() {
    std::set<std::string> out;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        spdlog::debug("holders: rtnetlink unavailable: {}", std::strerror(errno));
        return out;
    }
    std::map<int, std::string> names;
    bool ok = dump(fd, RTM_GETLINK, AF_UNSPEC, [&](const nlmsghdr* h) {
        auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        int len = static_cast<int>(IFLA_PAYLOAD(h));
        for (auto* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len))
            if (a->rta_type == IFLA_IFNAME)
                names[info->ifi_index] = static_cast<const char*>(RTA_DATA(a));
    });
    ok = ok && dump(fd, RTM_GETADDR, AF_UNSPEC, [&](const nlmsghdr* h) {
             auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
             if (info->ifa_family == AF_INET6 && info->ifa_scope == RT_SCOPE_LINK)
                 return;
             if (auto it = names.find(static_cast<int>(info->ifa_index)); it != names.end())
                 out.insert(it->second);
         });
    close(fd);
    if (!ok)
        spdlog::debug("holders: rtnetlink dump failed; addresses not known");
    return out;
}

} // namespace hostdevd
