#include "daemon_client.hpp"

#include "hostdevd1-proxy.h"

#include <chrono>
#include <sdbus-c++/sdbus-c++.h>
#include <thread>

namespace hostdevd {

namespace {

constexpr const char* kBusName = "io.hostdevd1";
constexpr const char* kManagerPath = "/io/hostdevd1";

class ManagerProxy final : public sdbus::ProxyInterfaces<io::hostdevd1::Manager_proxy> {
public:
    ManagerProxy(sdbus::IConnection& bus) : ProxyInterfaces(bus, kBusName, kManagerPath) { registerProxy(); }
    ~ManagerProxy() { unregisterProxy(); }

private:
    void onReconciled(const uint64_t&, const std::string&) override {}
};

class BusDaemonClient final : public DaemonClient {
public:
    explicit BusDaemonClient(std::unique_ptr<sdbus::IConnection> bus) : bus_(std::move(bus)), proxy_(*bus_) {}

    nlohmann::json describe() override { return nlohmann::json::parse(proxy_.Describe()); }

    std::vector<PlanRow> plan() override {
        std::vector<PlanRow> rows;
        for (const auto& r : proxy_.Plan())
            rows.emplace_back(r.get<0>(), r.get<1>(), r.get<2>(), r.get<3>(), r.get<4>());
        return rows;
    }

    std::string reload_and_reconcile(int timeout_ms) override {
        try {
            proxy_.Reload();
            proxy_.Reconcile();
        } catch (const sdbus::Error& e) {
            throw std::runtime_error(e.getMessage() + " (" + e.getName() + ")");
        }
        // The daemon applies wave by wave on its own; wait for it to settle.
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        std::string state;
        for (;;) {
            state = proxy_.State();
            if (state != "starting" && state != "progressing")
                return state;
            if (std::chrono::steady_clock::now() >= deadline)
                return state;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

private:
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
