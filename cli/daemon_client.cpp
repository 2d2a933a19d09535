#include "daemon_client.hpp"

#include "hostdevd1-proxy.h"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>

namespace hostdevd {

namespace {

constexpr const char* kBusName = "io.hostdevd1";
constexpr const char* kManagerPath = "/io/hostdevd1";

uint64_t realtime_usec() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The Manager with its signals. The connection is not run by a thread of sdbus-c++: wait_for_news()
// polls its fd and dispatches on the caller's thread, so the handlers below need no lock.
class ManagerProxy final
    : public sdbus::ProxyInterfaces<io::hostdevd1::Manager_proxy, sdbus::Properties_proxy> {
public:
    ManagerProxy(sdbus::IConnection& bus) : ProxyInterfaces(bus, kBusName, kManagerPath) { registerProxy(); }
    ~ManagerProxy() { unregisterProxy(); }
    bool news = false; // a Reconciled signal or a Manager property change arrived

private:
    void onReconciled(const uint64_t&, const std::string&) override { news = true; }
    void onPropertiesChanged(const std::string&, const std::map<std::string, sdbus::Variant>&,
                             const std::vector<std::string>&) override {
        news = true;
    }
};

class BusDaemonClient final : public DaemonClient {
public:
    explicit BusDaemonClient(std::unique_ptr<sdbus::IConnection> bus) : bus_(std::move(bus)), proxy_(*bus_) {}

    nlohmann::json describe() override { return nlohmann::json::parse(proxy_.Describe()); }

    std::vector<std::pair<std::string, std::string>> export_documents(const std::string& format,
                                                                      bool all) override {
        std::vector<std::pair<std::string, std::string>> out;
        try {
            for (const auto& row : proxy_.Export(format, all))
                out.emplace_back(row.get<0>(), row.get<1>());
        } catch (const sdbus::Error& e) {
            throw std::runtime_error(e.getMessage());
        }
        return out;
    }

    nlohmann::json reload_and_follow(std::chrono::milliseconds timeout,
                                     const std::function<void(const nlohmann::json&)>& on_update) override {
        const uint64_t asked_at = realtime_usec();
        try {
            proxy_.Reload();
            proxy_.Reconcile();
        } catch (const sdbus::Error& e) {
            throw std::runtime_error(e.getMessage() + " (" + e.getName() + ")");
        }
        return follow(asked_at, timeout, on_update);
    }

    nlohmann::json approve_and_follow(const std::vector<std::string>& objects,
                                      std::chrono::milliseconds timeout,
                                      const std::function<void(const nlohmann::json&)>& on_update) override {
        const uint64_t asked_at = realtime_usec();
        try {
            proxy_.Approve(objects);
        } catch (const sdbus::Error& e) {
            throw std::runtime_error(e.getMessage() + " (" + e.getName() + ")");
        }
        return follow(asked_at, timeout, on_update);
    }

private:
    // Follows the daemon until a pass that began after `asked_at` has settled (see reload_and_follow).
    nlohmann::json follow(uint64_t asked_at, std::chrono::milliseconds timeout,
                          const std::function<void(const nlohmann::json&)>& on_update) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            proxy_.news = false;
            nlohmann::json d = describe();
            on_update(d);
            const auto& m = d.at("manager");
            const std::string state = m.at("state");
            if (m.at("last_reconcile_usec").get<uint64_t>() >= asked_at && state != "starting" &&
                state != "progressing")
                return d;
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline)
                return d;
            wait_for_news(
                std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::seconds(1)));
        }
    }

    // Dispatches incoming messages until a Reconciled signal or a Manager property change arrived, or
    // `limit` passed.
    void wait_for_news(std::chrono::steady_clock::duration limit) {
        const auto until = std::chrono::steady_clock::now() + limit;
        for (;;) {
            while (bus_->processPendingRequest())
                if (proxy_.news)
                    return;
            if (proxy_.news)
                return;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return;
            auto poll_data = bus_->getEventLoopPollData();
            pollfd fd{poll_data.fd, poll_data.events, 0};
            int wait_ms = static_cast<int>(left.count()) + 1;
            if (auto bus_timeout = poll_data.getRelativeTimeout())
                wait_ms = std::min<int>(wait_ms, static_cast<int>(bus_timeout->count() / 1000) + 1);
            ::poll(&fd, 1, wait_ms);
        }
    }

    std::unique_ptr<sdbus::IConnection> bus_;
    ManagerProxy proxy_;
};

} // namespace

std::unique_ptr<DaemonClient> DaemonClient::connect_if_running() {
    try {
        auto bus = sdbus::createSystemBusConnection();
        auto dbus = sdbus::createProxy(*bus, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        bool has_owner = false;
        dbus->callMethod("NameHasOwner")
            .onInterface("org.freedesktop.DBus")
            .withArguments(std::string(kBusName))
            .storeResultsTo(has_owner);
        if (!has_owner)
            return nullptr;
        return std::make_unique<BusDaemonClient>(std::move(bus));
    } catch (const sdbus::Error&) {
        return nullptr; // no system bus here: nobody to race with
    }
}

} // namespace hostdevd
