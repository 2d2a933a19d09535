// hostdevd on D-Bus (docs/dbus.md): the Manager object with the ObjectManager interface, one Device
// object per managed/foreign PCI device and one Mdev object per declared mdev. The Manager's adaptor is
// generated from dbus/io.hostdevd1.xml at build time. Devices and mdevs are thousands of objects: they are
// served by one sd-bus fallback vtable per interface that reads the published views, not by one
// sdbus-c++ object each (B7: those cost ~6 KiB per object). publish() emits InterfacesAdded/Removed and at
// most one PropertiesChanged per object. Everything here runs on the thread that processes the bus.
#pragma once

#include "report/views.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <sdbus-c++/sdbus-c++.h>
#include <set>
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
    std::vector<std::string> export_errors; // "PATH: what failed", one per [export] file not written
    bool operator==(const ManagerView&) const = default;
};

using PlanRow = sdbus::Struct<std::string, std::string, std::string, std::string, std::string>;
using ExportDocumentRow = sdbus::Struct<std::string, std::string>; // (name, content)

// What the Manager's methods do; implemented by the daemon. Methods run on the loop thread.
class ManagerBackend {
public:
    virtual ~ManagerBackend() = default;
    virtual void reload() = 0; // throws sdbus::Error(io.hostdevd1.Error.InvalidConfig) on failure
    virtual void reconcile_now() = 0;
    // Consent for the destructive actions awaiting it on these objects (addresses, mdev UUIDs); throws
    // sdbus::Error (io.hostdevd1.Error.UnknownObject / .NothingAwaitingConsent), approving nothing then.
    virtual void approve(const std::vector<std::string>& objects, uint32_t uid) = 0;
    virtual std::vector<PlanRow> plan_rows() = 0;
    virtual std::string describe() = 0;
    // Export(format, all); throws sdbus::Error (io.hostdevd1.Error.InvalidArgument, .ExportFailed).
    virtual std::vector<ExportDocumentRow> export_documents(const std::string& format, bool all) = 0;
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
    // The same when only the objects named in `changed_keys` (device addresses, mdev UUIDs) can differ
    // from what was last published; the others are not compared.
    bool publish(const ManagerView& manager, const Views& views, const std::set<std::string>& changed_keys);
    void emit_reconciled(uint64_t generation, const std::string& state);

private:
    class ManagerObject;
    template <typename View>
    class ObjectTable; // the objects under one path prefix, served from their views

    sdbus::IConnection& bus_;
    std::unique_ptr<ManagerObject> manager_;
    std::unique_ptr<ObjectTable<DeviceView>> devices_;
    std::unique_ptr<ObjectTable<MdevView>> mdevs_;
};

} // namespace hostdevd
