// hostdevctl's view of a running hostdevd over the system bus (dbus.md). When the daemon runs, `plan`
// and `apply` go through it instead of racing it with writes of their own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hostdevd {

class DaemonClient {
public:
    // nullopt when there is no system bus or nobody owns io.hostdevd1 on it.
    static std::unique_ptr<DaemonClient> connect_if_running();
    virtual ~DaemonClient() = default;

    virtual nlohmann::json describe() = 0; // Describe()
    // Export(format, all): (name, content) documents. Throws std::runtime_error with the daemon's error
    // text (an unknown format, an export that cannot be made).
    virtual std::vector<std::pair<std::string, std::string>> export_documents(const std::string& format,
                                                                              bool all) = 0;
    // Reload() then Reconcile(), then follows the daemon until a pass that began after the call has
    // settled: the Manager's LastReconcileUSec is later than the call and its State is neither
    // `starting` nor `progressing` (dbus.md). It wakes on the Reconciled signal and on the Manager's
    // PropertiesChanged, and at least every second so that `on_update` (called with every fresh
    // Describe()) can keep a progress display current. Returns the last Describe(), settled or not when
    // `timeout` passed. Throws std::runtime_error with the daemon's error text (InvalidConfig,
    // AccessDenied).
    virtual nlohmann::json reload_and_follow(std::chrono::milliseconds timeout,
                                             const std::function<void(const nlohmann::json&)>& on_update) = 0;
    // Approve(objects) (root only), then follows the daemon as reload_and_follow does. Throws
    // std::runtime_error with the daemon's error text (AccessDenied, UnknownObject, NothingAwaitingConsent).
    virtual nlohmann::json
    approve_and_follow(const std::vector<std::string>& objects, std::chrono::milliseconds timeout,
                       const std::function<void(const nlohmann::json&)>& on_update) = 0;
};

} // namespace hostdevd
