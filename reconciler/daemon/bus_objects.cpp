#include "daemon/bus_objects.hpp"

#include "hostdevd1-adaptor.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <systemd/sd-bus.h>

namespace hostdevd {

namespace {

constexpr const char* kDevicePrefix = "/io/hostdevd1/device";
constexpr const char* kMdevPrefix = "/io/hostdevd1/mdev";

std::string encode(const char* prefix, const std::string& id) {
    char* path = nullptr;
    if (sd_bus_path_encode(prefix, id.c_str(), &path) < 0 || !path)
        throw std::runtime_error("cannot encode object path for " + id);
    std::string out(path);
    free(path);
    return out;
}

// Reload(), Reconcile() and Approve() change the host: root only. The bus policy says the same; this check
// holds even when the policy file is missing or edited (dbus.md, Access control).
void require_root(sdbus::IObject& object) {
    auto* msg = object.getCurrentlyProcessedMessage();
    if (!msg || msg->getCredsUid() != 0)
        throw sdbus::Error("io.hostdevd1.Error.AccessDenied", "only root may do this");
}

} // namespace

std::string device_object_path(const std::string& address) {
    return encode(kDevicePrefix, address);
}
std::string mdev_object_path(const std::string& uuid) {
    return encode(kMdevPrefix, uuid);
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

    sdbus::IObject& object() { return getObject(); }

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
        if (v.export_errors != view_.export_errors)
            changed.push_back("ExportErrors");
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
    void Approve(const std::vector<std::string>& objects) override {
        require_root(getObject());
        backend_.approve(objects, 0);
    }
    std::vector<PlanRow> Plan() override { return backend_.plan_rows(); }
    std::string Describe() override { return backend_.describe(); }
    std::vector<ExportDocumentRow> Export(const std::string& format, const bool& all) override {
        return backend_.export_documents(format, all);
    }
    std::string Version() override { return view_.version; }
    std::string State() override { return view_.state; }
    uint64_t ConfigGeneration() override { return view_.config_generation; }
    bool ConfigValid() override { return view_.config_valid; }
    std::string ConfigError() override { return view_.config_error; }
    std::vector<std::string> ConfigFiles() override { return view_.config_files; }
    uint64_t LastReconcileUSec() override { return view_.last_reconcile_usec; }
    std::vector<std::string> ExportErrors() override { return view_.export_errors; }

    ManagerBackend& backend_;
    ManagerView view_;
};

namespace {

// Property getters for the fallback vtables: sd-bus hands over the view find() returned.
int append(sd_bus_message* m, const std::string& v) {
    return sd_bus_message_append_basic(m, 's', v.c_str());
}
int append(sd_bus_message* m, bool v) {
    int b = v;
    return sd_bus_message_append_basic(m, 'b', &b);
}
int append(sd_bus_message* m, uint32_t v) {
    return sd_bus_message_append_basic(m, 'u', &v);
}
int append(sd_bus_message* m, const std::vector<std::string>& v) {
    int r = sd_bus_message_open_container(m, 'a', "s");
    for (size_t i = 0; r >= 0 && i < v.size(); ++i)
        r = sd_bus_message_append_basic(m, 's', v[i].c_str());
    return r < 0 ? r : sd_bus_message_close_container(m);
}

template <typename>
struct member_of;
template <typename View, typename T>
struct member_of<T View::*> {
    using view = View;
};

template <auto Member>
int get(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void* userdata,
        sd_bus_error*) {
    using View = typename member_of<decltype(Member)>::view;
    return append(reply, static_cast<const View*>(userdata)->*Member);
}

// The interfaces of dbus/io.hostdevd1.xml (test_bus_objects checks them against it). Properties are in
// alphabetical order, the order sdbus-c++ registered them in: introspection and GetAll list them as before.
constexpr uint64_t kEmits = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;
constexpr uint64_t kConst = SD_BUS_VTABLE_PROPERTY_CONST;

const sd_bus_vtable kDeviceVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Address", "s", get<&DeviceView::address>, 0, kConst),
    SD_BUS_PROPERTY("DesiredDriver", "s", get<&DeviceView::desired_driver>, 0, kEmits),
    SD_BUS_PROPERTY("DesiredVFs", "s", get<&DeviceView::desired_vfs>, 0, kEmits),
    SD_BUS_PROPERTY("DesiredVgpu", "s", get<&DeviceView::desired_vgpu>, 0, kEmits),
    SD_BUS_PROPERTY("DeviceId", "s", get<&DeviceView::device_id>, 0, kEmits),
    SD_BUS_PROPERTY("Driver", "s", get<&DeviceView::driver>, 0, kEmits),
    SD_BUS_PROPERTY("Holders", "as", get<&DeviceView::holders>, 0, kEmits),
    SD_BUS_PROPERTY("InUse", "b", get<&DeviceView::in_use>, 0, kEmits),
    SD_BUS_PROPERTY("Managed", "b", get<&DeviceView::managed>, 0, kEmits),
    SD_BUS_PROPERTY("NumVFs", "u", get<&DeviceView::num_vfs>, 0, kEmits),
    SD_BUS_PROPERTY("PhysFn", "s", get<&DeviceView::physfn>, 0, kEmits),
    SD_BUS_PROPERTY("Pool", "s", get<&DeviceView::pool>, 0, kEmits),
    SD_BUS_PROPERTY("Reason", "s", get<&DeviceView::reason>, 0, kEmits),
    SD_BUS_PROPERTY("Role", "s", get<&DeviceView::role>, 0, kEmits),
    SD_BUS_PROPERTY("Source", "s", get<&DeviceView::source>, 0, kEmits),
    SD_BUS_PROPERTY("State", "s", get<&DeviceView::state>, 0, kEmits),
    SD_BUS_PROPERTY("TotalVFs", "u", get<&DeviceView::total_vfs>, 0, kEmits),
    SD_BUS_PROPERTY("VendorId", "s", get<&DeviceView::vendor_id>, 0, kEmits),
    SD_BUS_PROPERTY("Vgpu", "s", get<&DeviceView::vgpu>, 0, kEmits),
    SD_BUS_VTABLE_END,
};

const sd_bus_vtable kMdevVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Active", "b", get<&MdevView::active>, 0, kEmits),
    SD_BUS_PROPERTY("Holders", "as", get<&MdevView::holders>, 0, kEmits),
    SD_BUS_PROPERTY("InUse", "b", get<&MdevView::in_use>, 0, kEmits),
    SD_BUS_PROPERTY("Parent", "s", get<&MdevView::parent>, 0, kEmits),
    SD_BUS_PROPERTY("Reason", "s", get<&MdevView::reason>, 0, kEmits),
    SD_BUS_PROPERTY("Source", "s", get<&MdevView::source>, 0, kEmits),
    SD_BUS_PROPERTY("State", "s", get<&MdevView::state>, 0, kEmits),
    SD_BUS_PROPERTY("Type", "s", get<&MdevView::type>, 0, kEmits),
    SD_BUS_PROPERTY("Uuid", "s", get<&MdevView::uuid>, 0, kConst),
    SD_BUS_VTABLE_END,
};

// sdbus-c++ 1.2 (Debian 12) has no accessor for the sd_bus under a connection. A Message keeps its
// sd_bus_message in the protected member msg_ (sdbus-c++/Message.h), and a signal created through the
// connection belongs to that bus. Naming the member through a derived class is C++'s own way to reach a
// protected member; the signal is never sent.
struct MessageAccess : sdbus::Message {
    static sd_bus_message* raw(const sdbus::Message& m) {
        return static_cast<sd_bus_message*>(m.*(&MessageAccess::msg_));
    }
};

sd_bus* bus_of(sdbus::IObject& object) {
    auto probe = object.createSignal(io::hostdevd1::Manager_adaptor::INTERFACE_NAME, "Reconciled");
    sd_bus* bus = sd_bus_message_get_bus(MessageAccess::raw(probe));
    if (!bus)
        throw std::runtime_error("no sd-bus connection under the sdbus-c++ connection");
    return bus;
}

void check(int r, const char* what) {
    if (r < 0)
        throw sdbus::createError(-r, what);
}

} // namespace

// All objects under one prefix (/io/hostdevd1/device, /io/hostdevd1/mdev), served by one fallback vtable:
// sd-bus asks find() for the view behind a path, and a node enumerator for the paths (introspection,
// busctl tree, GetManagedObjects). An object costs its view and a map node.
template <typename View>
class BusPublisher::ObjectTable {
public:
    ObjectTable(sd_bus* bus, const char* prefix, const char* interface, const sd_bus_vtable* vtable,
                std::string (*path_of)(const std::string&))
        : bus_(sd_bus_ref(bus)), prefix_(prefix), parent_(parent_path(prefix)), interface_(interface),
          path_of_(path_of) {
        int r = sd_bus_add_fallback_vtable(bus_, &vtable_slot_, prefix, interface, vtable, find, this);
        if (r >= 0)
            r = sd_bus_add_node_enumerator(bus_, &enumerator_slot_, parent_.c_str(), enumerate, this);
        if (r < 0) {
            release();
            check(r, "cannot register the objects under a prefix");
        }
    }

    // The objects go away with the daemon: announce it, as an sdbus-c++ object did when destroyed.
    ~ObjectTable() {
        for (const auto& [key, view] : views_)
            sd_bus_emit_interfaces_removed(bus_, path_of_(key).c_str(), interface_, nullptr);
        release();
    }
    ObjectTable(const ObjectTable&) = delete;
    ObjectTable& operator=(const ObjectTable&) = delete;

    // Brings the objects in line with `views`: objects gone first (InterfacesRemoved), then new ones
    // (InterfacesAdded) and changed ones (one PropertiesChanged naming what changed), in key order.
    bool sync(const std::map<std::string, View>& views) {
        bool changed = false;
        for (auto it = views_.begin(); it != views_.end();) {
            if (views.count(it->first)) {
                ++it;
                continue;
            }
            remove((it++)->first);
            changed = true;
        }
        for (const auto& [key, view] : views)
            changed = sync_one(key, view) || changed;
        return changed;
    }

    // The same for the objects named in `keys` only, when nothing else can differ from what was
    // published (the daemon's update_views re-derives exactly those): a pass on a big host compares a
    // handful of views instead of every one (benchmarks.md B4).
    bool sync(const std::map<std::string, View>& views, const std::set<std::string>& keys) {
        bool changed = false;
        for (const std::string& key : keys) {
            if (auto view = views.find(key); view != views.end()) {
                changed = sync_one(key, view->second) || changed;
            } else if (views_.count(key)) {
                remove(key);
                changed = true;
            }
        }
        return changed;
    }

private:
    // InterfacesRemoved for `key`, then forgets its view (the key is copied: it may live in views_).
    void remove(std::string key) {
        check(sd_bus_emit_interfaces_removed(bus_, path_of_(key).c_str(), interface_, nullptr),
              "cannot emit InterfacesRemoved");
        views_.erase(key);
    }

    // Adds `key` (InterfacesAdded) or emits PropertiesChanged for what differs. True if anything did.
    bool sync_one(const std::string& key, const View& view) {
        auto [it, added] = views_.try_emplace(key, view);
        if (added) {
            // sd-bus reads the properties through find() to fill the signal: the view is in place.
            // Unannounced, it is taken out again, so that the next publish announces it.
            int r = sd_bus_emit_interfaces_added(bus_, path_of_(key).c_str(), interface_, nullptr);
            if (r < 0)
                views_.erase(it);
            check(r, "cannot emit InterfacesAdded");
            return true;
        }
        if (it->second == view)
            return false;
        auto names = changed_properties(it->second, view);
        it->second = view;
        if (names.empty())
            return false;
        std::vector<char*> strv;
        for (auto& n : names)
            strv.push_back(n.data());
        strv.push_back(nullptr);
        check(sd_bus_emit_properties_changed_strv(bus_, path_of_(key).c_str(), interface_, strv.data()),
              "cannot emit PropertiesChanged");
        return true;
    }

    void release() {
        vtable_slot_ = sd_bus_slot_unref(vtable_slot_);
        enumerator_slot_ = sd_bus_slot_unref(enumerator_slot_);
        bus_ = sd_bus_unref(bus_);
    }

    // The view behind `path`, if it is the canonical path of an object we publish.
    static int find(sd_bus*, const char* path, const char*, void* userdata, void** found, sd_bus_error*) {
        auto* self = static_cast<ObjectTable*>(userdata);
        char* raw = nullptr;
        int r = sd_bus_path_decode(path, self->prefix_, &raw);
        if (r <= 0 || !raw)
            return r;
        std::string key(raw);
        free(raw);
        auto it = self->views_.find(key);
        // sd_bus_path_decode also accepts spellings sd_bus_path_encode never makes ("_3A", an unescaped
        // leading digit): only the path the object was announced under answers.
        if (it == self->views_.end() || self->path_of_(key) != path)
            return 0;
        *found = &it->second;
        return 1;
    }

    // The enumerator sits on the parent (/io/hostdevd1), not on the prefix: in sd-bus a node with an
    // enumerator is an object of its own, and /io/hostdevd1/device is none (Get on it answers "Unknown
    // object", as before). sd-bus calls it with the path being listed. GetManagedObjects needs every
    // path. Introspection needs them only for the prefix itself: sd-bus 252 prints every enumerated path
    // as a child node of the introspected one ("device/_30000_3a3b..." under /io/hostdevd1, where the
    // objects showed "device" only), and introspecting one device must not encode all the others.
    static int enumerate(sd_bus* bus, const char* path, void* userdata, char*** nodes, sd_bus_error*) {
        auto* self = static_cast<ObjectTable*>(userdata);
        sd_bus_message* m = sd_bus_get_current_message(bus);
        bool introspecting =
            m && sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Introspectable", "Introspect") > 0;
        size_t count = !introspecting || strcmp(path, self->prefix_) == 0 ? self->views_.size() : 0;
        auto** list = static_cast<char**>(calloc(count + 1, sizeof(char*)));
        if (!list)
            return -ENOMEM;
        size_t n = 0;
        for (auto it = self->views_.begin(); n < count; ++it) {
            int r = sd_bus_path_encode(self->prefix_, it->first.c_str(), &list[n]);
            if (r < 0) {
                for (size_t i = 0; i < n; ++i)
                    free(list[i]);
                free(list);
                return r;
            }
            ++n;
        }
        *nodes = list;
        return 0;
    }

    static std::string parent_path(const char* prefix) {
        std::string p(prefix);
        auto slash = p.rfind('/');
        return slash == 0 ? "/" : p.substr(0, slash);
    }

    sd_bus* bus_;
    const char* prefix_;
    std::string parent_;
    const char* interface_;
    std::string (*path_of_)(const std::string&);
    std::map<std::string, View> views_; // as last published, by address or uuid
    sd_bus_slot* vtable_slot_ = nullptr;
    sd_bus_slot* enumerator_slot_ = nullptr;
};

BusPublisher::BusPublisher(sdbus::IConnection& bus, ManagerBackend& backend, ManagerView initial)
    : bus_(bus), manager_(std::make_unique<ManagerObject>(bus, backend, std::move(initial))) {
    sd_bus* raw = bus_of(manager_->object());
    devices_ = std::make_unique<ObjectTable<DeviceView>>(
        raw, kDevicePrefix, io::hostdevd1::Device_adaptor::INTERFACE_NAME, kDeviceVtable, device_object_path);
    mdevs_ = std::make_unique<ObjectTable<MdevView>>(
        raw, kMdevPrefix, io::hostdevd1::Mdev_adaptor::INTERFACE_NAME, kMdevVtable, mdev_object_path);
}

BusPublisher::~BusPublisher() = default;

bool BusPublisher::publish(const ManagerView& manager, const Views& views) {
    bool changed = devices_->sync(views.devices);
    changed = mdevs_->sync(views.mdevs) || changed;
    manager_->update(manager);
    return changed;
}

bool BusPublisher::publish(const ManagerView& manager, const Views& views,
                           const std::set<std::string>& changed_keys) {
    bool changed = devices_->sync(views.devices, changed_keys);
    changed = mdevs_->sync(views.mdevs, changed_keys) || changed;
    manager_->update(manager);
    return changed;
}

void BusPublisher::emit_reconciled(uint64_t generation, const std::string& state) {
    manager_->emitReconciled(generation, state);
}

} // namespace hostdevd
