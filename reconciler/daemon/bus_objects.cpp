#include "daemon/bus_objects.hpp"

#include "hostdevd1-adaptor.h"

#include <cstdlib>
#include <systemd/sd-bus.h>

namespace hostdevd {

namespace {

std::string encode(const char* prefix, const std::string& id) {
    char* path = nullptr;
    if (sd_bus_path_encode(prefix, id.c_str(), &path) < 0 || !path)
        throw std::runtime_error("cannot encode object path for " + id);
    std::string out(path);
    free(path);
    return out;
}

// Reload() and Reconcile() change the host: root only. The bus policy says the same; this check holds
// even when the policy file is missing or edited (dbus.md, Access control).
void require_root(sdbus::IObject& object) {
    auto* msg = object.getCurrentlyProcessedMessage();
    if (!msg || msg->getCredsUid() != 0)
        throw sdbus::Error("io.hostdevd1.Error.AccessDenied", "only root may do this");
}

} // namespace

std::string device_object_path(const std::string& address) {
    return encode("/io/hostdevd1/device", address);
}
std::string mdev_object_path(const std::string& uuid) {
    return encode("/io/hostdevd1/mdev", uuid);
}

class BusPublisher::ManagerObject final
    : public sdbus::AdaptorInterfaces<io::hostdevd1::Manager_adaptor, sdbus::ObjectManager_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    ManagerObject(sdbus::IConnection& bus, ManagerBackend& backend, ManagerView view)
        : AdaptorInterfaces(bus, kManagerPath), backend_(backend), view_(std::move(view)) {
        registerAdaptor();
    }
    ~ManagerObject() { unregisterAdaptor(); }

    void update(const ManagerView& v) {
        std::vector<std::string> changed;
        if (v.state != view_.state)
            changed.push_back("State");
        if (v.config_generation != view_.config_generation)
            changed.push_back("ConfigGeneration");
        if (v.config_valid != view_.config_valid)
            changed.push_back("ConfigValid");
        if (v.config_error != view_.config_error)
            changed.push_back("ConfigError");
        if (v.config_files != view_.config_files)
            changed.push_back("ConfigFiles");
        if (v.last_reconcile_usec != view_.last_reconcile_usec)
            changed.push_back("LastReconcileUSec");
        view_ = v;
        if (!changed.empty())
            emitPropertiesChangedSignal(io::hostdevd1::Manager_adaptor::INTERFACE_NAME, changed);
    }

private:
    void Reload() override {
        require_root(getObject());
        backend_.reload();
    }
    void Reconcile() override {
        require_root(getObject());
        backend_.reconcile_now();
    }
    std::vector<PlanRow> Plan() override { return backend_.plan_rows(); }
    std::string Describe() override { return backend_.describe(); }
    std::string Version() override { return view_.version; }
    std::string State() override { return view_.state; }
    uint64_t ConfigGeneration() override { return view_.config_generation; }
    bool ConfigValid() override { return view_.config_valid; }
    std::string ConfigError() override { return view_.config_error; }
    std::vector<std::string> ConfigFiles() override { return view_.config_files; }
    uint64_t LastReconcileUSec() override { return view_.last_reconcile_usec; }

    ManagerBackend& backend_;
    ManagerView view_;
};

class BusPublisher::DeviceObject final
    : public sdbus::AdaptorInterfaces<io::hostdevd1::Device_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    DeviceObject(sdbus::IConnection& bus, DeviceView view)
        : AdaptorInterfaces(bus, device_object_path(view.address)), view_(std::move(view)) {
        registerAdaptor();
        emitInterfacesAddedSignal({std::string(io::hostdevd1::Device_adaptor::INTERFACE_NAME)});
    }
    ~DeviceObject() {
        emitInterfacesRemovedSignal({std::string(io::hostdevd1::Device_adaptor::INTERFACE_NAME)});
        unregisterAdaptor();
    }
    bool update(const DeviceView& v) {
        auto changed = changed_properties(view_, v);
        view_ = v;
        if (!changed.empty())
            emitPropertiesChangedSignal(io::hostdevd1::Device_adaptor::INTERFACE_NAME, changed);
        return !changed.empty();
    }

private:
    std::string Address() override { return view_.address; }
    std::string Role() override { return view_.role; }
    std::string VendorId() override { return view_.vendor_id; }
    std::string DeviceId() override { return view_.device_id; }
    std::string PhysFn() override { return view_.physfn; }
    std::string Driver() override { return view_.driver; }
    std::string DesiredDriver() override { return view_.desired_driver; }
    bool Managed() override { return view_.managed; }
    std::string Pool() override { return view_.pool; }
    uint32_t NumVFs() override { return view_.num_vfs; }
    uint32_t TotalVFs() override { return view_.total_vfs; }
    std::string DesiredVFs() override { return view_.desired_vfs; }
    bool InUse() override { return view_.in_use; }
    std::vector<std::string> Holders() override { return view_.holders; }
    std::string State() override { return view_.state; }
    std::string Reason() override { return view_.reason; }
    std::string Source() override { return view_.source; }

    DeviceView view_;
};

class BusPublisher::MdevObject final
    : public sdbus::AdaptorInterfaces<io::hostdevd1::Mdev_adaptor, sdbus::ManagedObject_adaptor,
                                      sdbus::Properties_adaptor> {
public:
    MdevObject(sdbus::IConnection& bus, MdevView view)
        : AdaptorInterfaces(bus, mdev_object_path(view.uuid)), view_(std::move(view)) {
        registerAdaptor();
        emitInterfacesAddedSignal({std::string(io::hostdevd1::Mdev_adaptor::INTERFACE_NAME)});
    }
    ~MdevObject() {
        emitInterfacesRemovedSignal({std::string(io::hostdevd1::Mdev_adaptor::INTERFACE_NAME)});
        unregisterAdaptor();
    }
    bool update(const MdevView& v) {
        auto changed = changed_properties(view_, v);
        view_ = v;
        if (!changed.empty())
            emitPropertiesChangedSignal(io::hostdevd1::Mdev_adaptor::INTERFACE_NAME, changed);
        return !changed.empty();
    }

private:
    std::string Uuid() override { return view_.uuid; }
    std::string Parent() override { return view_.parent; }
    std::string Type() override { return view_.type; }
    bool Active() override { return view_.active; }
    bool InUse() override { return view_.in_use; }
    std::vector<std::string> Holders() override { return view_.holders; }
    std::string State() override { return view_.state; }
    std::string Reason() override { return view_.reason; }
    std::string Source() override { return view_.source; }

    MdevView view_;
};

BusPublisher::BusPublisher(sdbus::IConnection& bus, ManagerBackend& backend, ManagerView initial)
    : bus_(bus), manager_(std::make_unique<ManagerObject>(bus, backend, std::move(initial))) {}

BusPublisher::~BusPublisher() = default;

// Brings a map of bus objects in line with a map of views.
template <typename Object, typename View>
static bool sync_objects(sdbus::IConnection& bus, std::map<std::string, std::unique_ptr<Object>>& objects,
                         const std::map<std::string, View>& views) {
    bool changed = false;
    for (auto it = objects.begin(); it != objects.end();) {
        if (!views.count(it->first)) {
            it = objects.erase(it);
            changed = true;
        } else {
            ++it;
        }
    }
    for (const auto& [key, view] : views) {
        auto it = objects.find(key);
        if (it == objects.end()) {
            objects.emplace(key, std::make_unique<Object>(bus, view));
            changed = true;
        } else if (it->second->update(view)) {
            changed = true;
        }
    }
    return changed;
}

bool BusPublisher::publish(const ManagerView& manager, const Views& views) {
    bool changed = sync_objects(bus_, devices_, views.devices);
    changed = sync_objects(bus_, mdevs_, views.mdevs) || changed;
    manager_->update(manager);
    return changed;
}

void BusPublisher::emit_reconciled(uint64_t generation, const std::string& state) {
    manager_->emitReconciled(generation, state);
}

} // namespace hostdevd
