// hostdevctl's view of a running hostdevd over the system bus (dbus.md). When the daemon runs, `plan`
// and `apply` go through it instead of racing it with writes of their own.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace hostdevd {

class DaemonClient {
public:
    // nullopt when there is no system bus or nobody owns io.hostdevd1 on it.
    static std::unique_ptr<DaemonClient> connect_if_running();
    virtual ~DaemonClient() = default;

    virtual nlohmann::json describe() = 0; // Describe()
    using PlanRow = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    virtual std::vector<PlanRow> plan() = 0; // Plan()
    // Reload() then Reconcile(), then waits (up to `timeout_ms`) until the manager leaves `starting`/
    // `progressing`. Throws std::runtime_error with the daemon's error text (InvalidConfig, AccessDenied).
    virtual std::string reload_and_reconcile(int timeout_ms) = 0;
};

} // namespace hostdevd
