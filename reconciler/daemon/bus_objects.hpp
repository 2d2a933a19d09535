// hostdevd on D-Bus (docs/dbus.md): the Manager object with the ObjectManager interface, one Device
// object per managed/foreign PCI device and one Mdev object per declared mdev. Adaptors are generated
// from dbus/io.hostdevd1.xml at build time; this file only maps views onto them and emits at most one
// PropertiesChanged per object per publish().
#pragma once

#include "report/views.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <string>
#include <tuple>
#include <vector>

namespace hostdevd {

struct ManagerView {
    std::string version, state, config_error;
    uint64_t config_generation = 0;
    bool config_valid = true;
    std::vector<std::string> config_files;
    uint64_t last_reconcile_usec = 0;
    bool operator==(const ManagerView&) const = default;
};

using PlanRow = sdbus::Struct<std::string, std::string, std::string, std::string, std::string>;

// What the Manager's methods do; implemented by the daemon. Methods run on the loop thread.
class ManagerBackend {
public:
    virtual ~ManagerBackend() = default;
    virtual void reload() = 0; // throws sdbus::Error(io.hostdevd1.Error.InvalidConfig) on failure
    virtual void reconcile_now() = 0;
    virtual std::vector<PlanRow> plan_rows() = 0;
    virtual std::string describe() = 0;
};

inline constexpr const char* kBusName = "io.hostdevd1";
inline constexpr const char* kManagerPath = "/io/hostdevd1";
std::string device_object_path(const std::string& address); // sd_bus_path_encode
std::string mdev_object_path(const std::string& uuid);

class BusPublisher {
public:
    BusPublisher(sdbus::IConnection& bus, ManagerBackend& backend, ManagerView initial);
    ~BusPublisher();

    // Brings the bus objects in line with `manager` and `views`: adds and removes objects
    // (InterfacesAdded/Removed) and emits PropertiesChanged for what changed. Returns true when anything
    // visible changed.
    bool publish(const ManagerView& manager, const Views& views);
    void emit_reconciled(uint64_t generation, const std::string& state);

private:
    class ManagerObject;
    class DeviceObject;
    class MdevObject;

    sdbus::IConnection& bus_;
    std::unique_ptr<ManagerObject> manager_;
    std::map<std::string, std::unique_ptr<DeviceObject>> devices_;
    std::map<std::string, std::unique_ptr<MdevObject>> mdevs_;
};

} // namespace hostdevd
