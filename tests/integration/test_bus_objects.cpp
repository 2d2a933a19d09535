// BusPublisher (reconciler/daemon/bus_objects.*) on a private dbus-daemon, without the daemon or a simulated
// host: devices and mdevs are served from their views by sd-bus fallback vtables, and a client sees them as
// ordinary objects (properties, signals, introspection, GetManagedObjects, UnknownObject once gone).
#include "daemon/bus_objects.hpp"
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <systemd/sd-bus.h>

using namespace std::chrono_literals;
using hostdevd::DeviceView;
using hostdevd::MdevView;
using hostdevd::Views;
using nlohmann::json;

namespace {

constexpr const char* kDeviceIface = "io.hostdevd1.Device";
constexpr const char* kMdevIface = "io.hostdevd1.Mdev";

struct NoBackend final : hostdevd::ManagerBackend {
    void reload() override {}
    void reconcile_now() override {}
    void approve(const std::vector<std::string>&, uint32_t) override {}
    std::vector<hostdevd::PlanRow> plan_rows() override { return {}; }
    std::string describe() override { return "{}"; }
    std::vector<hostdevd::ExportDocumentRow> export_documents(const std::string&, bool) override {
        return {};
    }
};

DeviceView pf() {
    DeviceView v;
    v.address = "0000:3b:00.0";
    v.role = "pf";
    v.vendor_id = "8086";
    v.device_id = "1572";
    v.driver = "i40e";
    v.num_vfs = 2;
    v.total_vfs = 64;
    v.desired_vfs = "2";
    v.state = "converged";
    v.source = "/etc/hostdevd/10-nics.toml:6";
    return v;
}

DeviceView vf(int fn) {
    DeviceView v;
    v.address = "0000:3b:02." + std::to_string(fn);
    v.role = "vf";
    v.vendor_id = "8086";
    v.device_id = "154c";
    v.physfn = "0000:3b:00.0";
    v.driver = "vfio-pci";
    v.desired_driver = "vfio: vfio-pci: only the generic vfio_pci alias matches";
    v.managed = true;
    v.pool = "guests";
    v.in_use = true;
    v.holders = {"pid 4242 uid 0 (qemu-system-x86)", "netdev ens1f0v3 is up"};
    v.state = "blocked";
    v.reason = "would unbind a device in use";
    v.source = "/etc/hostdevd/10-nics.toml:12";
    return v;
}

MdevView mdev() {
    MdevView v;
    v.uuid = "a9854ed7-12fe-5c4d-a80b-38f333c3e417";
    v.parent = "0000:3d:00.0";
    v.type = "nvidia-701";
    v.active = true;
    v.state = "converged";
    v.source = "/etc/hostdevd/20-gpus.toml:5";
    return v;
}

Views views_of(const std::vector<DeviceView>& devices, const std::vector<MdevView>& mdevs) {
    Views views;
    for (const auto& d : devices)
        views.devices[d.address] = d;
    for (const auto& m : mdevs)
        views.mdevs[m.uuid] = m;
    return views;
}

// What busctl --json=short prints for the properties of a view (the whole interface, nothing more).
json typed(const char* type, json data) {
    return {{"type", type}, {"data", std::move(data)}};
}
json expected(const DeviceView& v) {
    return {{"Address", typed("s", v.address)},
            {"Role", typed("s", v.role)},
            {"VendorId", typed("s", v.vendor_id)},
            {"DeviceId", typed("s", v.device_id)},
            {"PhysFn", typed("s", v.physfn)},
            {"Driver", typed("s", v.driver)},
            {"DesiredDriver", typed("s", v.desired_driver)},
            {"Managed", typed("b", v.managed)},
            {"Pool", typed("s", v.pool)},
            {"NumVFs", typed("u", v.num_vfs)},
            {"TotalVFs", typed("u", v.total_vfs)},
            {"DesiredVFs", typed("s", v.desired_vfs)},
            {"Vgpu", typed("s", v.vgpu)},
            {"DesiredVgpu", typed("s", v.desired_vgpu)},
            {"InUse", typed("b", v.in_use)},
            {"Holders", typed("as", v.holders)},
            {"State", typed("s", v.state)},
            {"Reason", typed("s", v.reason)},
            {"Source", typed("s", v.source)}};
}
json expected(const MdevView& v) {
    return {{"Uuid", typed("s", v.uuid)},    {"Parent", typed("s", v.parent)},
            {"Type", typed("s", v.type)},    {"Active", typed("b", v.active)},
            {"InUse", typed("b", v.in_use)}, {"Holders", typed("as", v.holders)},
            {"State", typed("s", v.state)},  {"Reason", typed("s", v.reason)},
            {"Source", typed("s", v.source)}};
}

hostdevd::ManagerView manager(const std::string& state) {
    hostdevd::ManagerView m;
    m.version = "test";
    m.state = state;
    return m;
}

// The publisher's side, served on this thread as the daemon's loop serves it; clients run on another
// thread (a client call answered by this process would otherwise wait for itself).
struct Server {
    testing::PrivateBus bus;
    std::unique_ptr<sdbus::IConnection> connection;
    NoBackend backend;
    std::unique_ptr<hostdevd::BusPublisher> publisher;

    Server() {
        connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
        connection->requestName(hostdevd::kBusName);
        publisher = std::make_unique<hostdevd::BusPublisher>(*connection, backend, manager("starting"));
    }

    bool publish(const Views& views) { return publisher->publish(manager("progressing"), views); }

    // Runs `client` on its own thread while serving the connection; returns what it returned.
    template <typename F>
    auto serving(F client) -> decltype(client()) {
        auto result = std::async(std::launch::async, std::move(client));
        while (result.wait_for(0s) != std::future_status::ready) {
            while (connection->processPendingRequest()) {
            }
            auto pd = connection->getEventLoopPollData();
            pollfd pfd{pd.fd, pd.events, 0};
            int timeout = pd.getPollTimeout();
            poll(&pfd, 1, timeout < 0 || timeout > 10 ? 10 : timeout); // 10 ms: notice the client finishing
        }
        return result.get();
    }

    testing::Completed busctl(std::vector<std::string> args) {
        return serving([&] { return testing::busctl(bus, args); });
    }
    json get_all(const std::string& path, const char* interface) {
        auto c = busctl({"--json=short", "call", "io.hostdevd1", path, "org.freedesktop.DBus.Properties",
                         "GetAll", "s", interface});
        INFO(c.err);
        REQUIRE(c.exit_code == 0);
        return json::parse(c.out).at("data").at(0);
    }
    // The D-Bus error name a Get of `property` answers with, "" when it succeeds.
    std::string get_error(const std::string& path, const char* interface, const char* property) {
        return serving([&] {
            sd_bus* client = nullptr;
            sd_bus_error error = SD_BUS_ERROR_NULL;
            sd_bus_message* reply = nullptr;
            std::string name = "cannot connect";
            if (sd_bus_new(&client) >= 0 && sd_bus_set_address(client, bus.address().c_str()) >= 0 &&
                sd_bus_set_bus_client(client, 1) >= 0 && sd_bus_start(client) >= 0) {
                int r = sd_bus_call_method(client, "io.hostdevd1", path.c_str(),
                                           "org.freedesktop.DBus.Properties", "Get", &error, &reply, "ss",
                                           interface, property);
                name = r >= 0 ? "" : error.name ? error.name : "errno " + std::to_string(-r);
            }
            sd_bus_message_unref(reply);
            sd_bus_error_free(&error);
            sd_bus_flush_close_unref(client);
            return name;
        });
    }
};

// hostdevd's signals as a client sees them.
struct Seen {
    std::string path, member;
    std::string object;             // InterfacesAdded/Removed: the object
    std::string interface;          // PropertiesChanged: the interface
    std::vector<std::string> names; // PropertiesChanged: properties; InterfacesAdded: the interface's
                                    // properties; InterfacesRemoved: interfaces
    uint64_t generation = 0;        // Reconciled
};

class SignalRecorder {
public:
    explicit SignalRecorder(const std::string& address) : bus_(testing::connect_bus(address)) {
        REQUIRE(bus_);
        REQUIRE(sd_bus_add_match(bus_, nullptr, "type='signal',sender='io.hostdevd1'", on_signal, this) >= 0);
    }
    ~SignalRecorder() { sd_bus_flush_close_unref(bus_); }
    SignalRecorder(const SignalRecorder&) = delete;
    SignalRecorder& operator=(const SignalRecorder&) = delete;

    // Marks the end of a publish by emitting Reconciled(`generation`) and returns the signals up to it
    // (Reconciled itself left out). Empty with a failure when it does not come within 10 s.
    std::vector<Seen> until_reconciled(Server& server, uint64_t generation) {
        server.publisher->emit_reconciled(generation, "progressing");
        bool arrived = server.serving([&] {
            auto deadline = std::chrono::steady_clock::now() + 10s;
            for (;;) {
                while (sd_bus_process(bus_, nullptr) > 0) {
                }
                for (const auto& s : seen_)
                    if (s.member == "Reconciled" && s.generation == generation)
                        return true;
                auto now = std::chrono::steady_clock::now();
                if (now >= deadline)
                    return false;
                sd_bus_wait(bus_,
                            std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count());
            }
        });
        REQUIRE(arrived);
        std::vector<Seen> out;
        for (auto& s : seen_)
            if (s.member != "Reconciled")
                out.push_back(std::move(s));
        seen_.clear();
        return out;
    }

private:
    static std::vector<std::string> dict_keys(sd_bus_message* m) {
        std::vector<std::string> names;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
            return names;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
            const char* name = nullptr;
            sd_bus_message_read(m, "s", &name);
            names.push_back(name ? name : "");
            sd_bus_message_skip(m, "v");
            sd_bus_message_exit_container(m);
        }
        sd_bus_message_exit_container(m);
        return names;
    }

    static int on_signal(sd_bus_message* m, void* userdata, sd_bus_error*) {
        auto* self = static_cast<SignalRecorder*>(userdata);
        Seen s;
        s.path = sd_bus_message_get_path(m);
        s.member = sd_bus_message_get_member(m);
        const char* text = nullptr;
        if (s.member == "PropertiesChanged") {
            sd_bus_message_read(m, "s", &text);
            s.interface = text ? text : "";
            s.names = dict_keys(m);
        } else if (s.member == "InterfacesAdded") {
            sd_bus_message_read(m, "o", &text);
            s.object = text ? text : "";
            sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
            while (sd_bus_message_enter_container(m, 'e', "sa{sv}") > 0) {
                sd_bus_message_read(m, "s", &text);
                s.interface = text ? text : "";
                s.names = dict_keys(m);
                sd_bus_message_exit_container(m);
            }
        } else if (s.member == "InterfacesRemoved") {
            sd_bus_message_read(m, "o", &text);
            s.object = text ? text : "";
            char** interfaces = nullptr;
            sd_bus_message_read_strv(m, &interfaces);
            for (char** i = interfaces; i && *i; ++i) {
                s.names.push_back(*i);
                free(*i);
            }
            free(interfaces);
        } else if (s.member == "Reconciled") {
            sd_bus_message_read(m, "t", &s.generation);
        }
        self->seen_.push_back(std::move(s));
        return 0;
    }

    sd_bus* bus_ = nullptr;
    std::vector<Seen> seen_;
};

std::vector<Seen> about(const std::vector<Seen>& seen, const std::string& member, const std::string& path) {
    std::vector<Seen> out;
    for (const auto& s : seen)
        if (s.member == member && (s.path == path || s.object == path))
            out.push_back(s);
    return out;
}

// name → "TYPE ACCESS[ const]" for every property of `interface` in an introspection document.
std::map<std::string, std::string> properties_of(const std::string& xml, const std::string& interface) {
    auto start = xml.find("<interface name=\"" + interface + "\"");
    REQUIRE(start != std::string::npos);
    auto body = xml.substr(start, xml.find("</interface>", start) - start);
    static const std::regex property(
        R"re(<property name="([^"]+)" type="([^"]+)" access="([^"]+)"\s*(/>|>([\s\S]*?)</property>))re");
    std::map<std::string, std::string> out;
    for (std::sregex_iterator it(body.begin(), body.end(), property), end; it != end; ++it) {
        bool is_const = (*it)[5].str().find(R"(EmitsChangedSignal" value="const")") != std::string::npos;
        out[(*it)[1]] = (*it)[2].str() + " " + (*it)[3].str() + (is_const ? " const" : "");
    }
    return out;
}

} // namespace

TEST_CASE("bus objects: each device and mdev is an object whose properties are its view") {
    Server server;
    REQUIRE(server.publish(views_of({pf(), vf(0)}, {mdev()})));
    CHECK(server.get_all(hostdevd::device_object_path("0000:3b:00.0"), kDeviceIface) == expected(pf()));
    CHECK(server.get_all(hostdevd::device_object_path("0000:3b:02.0"), kDeviceIface) == expected(vf(0)));
    CHECK(server.get_all(hostdevd::mdev_object_path(mdev().uuid), kMdevIface) == expected(mdev()));
    auto one = server.busctl({"--json=short", "get-property", "io.hostdevd1",
                              hostdevd::device_object_path("0000:3b:02.0"), kDeviceIface, "Holders"});
    REQUIRE(one.exit_code == 0);
    CHECK(json::parse(one.out) == typed("as", vf(0).holders));
    // An interface the object does not have.
    CHECK(server.get_error(hostdevd::device_object_path("0000:3b:00.0"), kMdevIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownProperty");
}

TEST_CASE("bus objects: an object whose device vanished answers UnknownObject") {
    Server server;
    SignalRecorder signals(server.bus.address());
    std::string pf_path = hostdevd::device_object_path("0000:3b:00.0");
    std::string vf_path = hostdevd::device_object_path("0000:3b:02.0");
    REQUIRE(server.publish(views_of({pf(), vf(0)}, {mdev()})));
    signals.until_reconciled(server, 1);
    REQUIRE(server.get_error(vf_path, kDeviceIface, "State").empty());

    CHECK(server.publish(views_of({pf()}, {})));
    auto seen = signals.until_reconciled(server, 2);
    auto removed = about(seen, "InterfacesRemoved", vf_path);
    REQUIRE(removed.size() == 1);
    CHECK(removed[0].path == "/io/hostdevd1");
    CHECK(removed[0].names == std::vector<std::string>{kDeviceIface});
    CHECK(about(seen, "InterfacesRemoved", hostdevd::mdev_object_path(mdev().uuid)).size() == 1);
    CHECK(about(seen, "InterfacesRemoved", pf_path).empty());

    CHECK(server.get_error(vf_path, kDeviceIface, "State") == "org.freedesktop.DBus.Error.UnknownObject");
    CHECK(server.get_error(hostdevd::mdev_object_path(mdev().uuid), kMdevIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownObject");
    CHECK(server.get_error(pf_path, kDeviceIface, "State").empty());
    // Paths that decode to a published address but are not the path it was announced under, and the
    // prefix itself, are no objects either.
    CHECK(server.get_error("/io/hostdevd1/device/_30000_3A3b_3A00_2E0", kDeviceIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownObject");
    CHECK(server.get_error("/io/hostdevd1/device/0000_3a3b_3a00_2e0", kDeviceIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownObject");
    CHECK(server.get_error("/io/hostdevd1/device", kDeviceIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownObject");
}

TEST_CASE("bus objects: one publish emits at most one PropertiesChanged per object, naming what changed") {
    Server server;
    SignalRecorder signals(server.bus.address());
    std::string pf_path = hostdevd::device_object_path("0000:3b:00.0");
    std::string vf_path = hostdevd::device_object_path("0000:3b:02.0");
    REQUIRE(server.publish(views_of({pf(), vf(0)}, {mdev()})));
    signals.until_reconciled(server, 1);

    DeviceView changed = vf(0);
    changed.driver = "";
    changed.state = "pending";
    changed.reason = "no driver bound; vfio-pci requested";
    CHECK(server.publish(views_of({pf(), changed}, {mdev()})));
    auto seen = signals.until_reconciled(server, 2);
    auto vf_changes = about(seen, "PropertiesChanged", vf_path);
    REQUIRE(vf_changes.size() == 1);
    CHECK(vf_changes[0].interface == kDeviceIface);
    CHECK(vf_changes[0].names == std::vector<std::string>{"Driver", "State", "Reason"});
    CHECK(about(seen, "PropertiesChanged", pf_path).empty());
    CHECK(about(seen, "PropertiesChanged", hostdevd::mdev_object_path(mdev().uuid)).empty());
    CHECK(server.get_all(vf_path, kDeviceIface) == expected(changed));

    // The same views again: nothing visible changed, nothing is emitted for the objects.
    CHECK_FALSE(server.publish(views_of({pf(), changed}, {mdev()})));
    for (const auto& s : signals.until_reconciled(server, 3)) {
        INFO(s.member << " " << s.path);
        CHECK(s.path == "/io/hostdevd1"); // the Manager's own PropertiesChanged only
        CHECK(s.member == "PropertiesChanged");
    }
}

TEST_CASE("bus objects: a publish told which objects changed looks at those only") {
    Server server;
    SignalRecorder signals(server.bus.address());
    const std::string vf0_path = hostdevd::device_object_path("0000:3b:02.0");
    const std::string vf1_path = hostdevd::device_object_path("0000:3b:02.1");
    const std::string vf2_path = hostdevd::device_object_path("0000:3b:02.2");
    const std::string mdev_path = hostdevd::mdev_object_path(mdev().uuid);
    REQUIRE(server.publish(views_of({pf(), vf(0), vf(1)}, {mdev()})));
    signals.until_reconciled(server, 1);

    // vf(0) changed and is named; vf(1) "changed" but is not named (the daemon names every view it
    // re-derived, so this only shows that unnamed objects are not compared); vf(2) is new, the mdev gone.
    DeviceView vf0 = vf(0), vf1 = vf(1);
    vf0.state = "pending";
    vf1.state = "failed";
    const Views next = views_of({pf(), vf0, vf1, vf(2)}, {});
    CHECK(server.publisher->publish(manager("progressing"), next, {vf0.address, vf(2).address, mdev().uuid}));
    auto seen = signals.until_reconciled(server, 2);
    auto vf0_changes = about(seen, "PropertiesChanged", vf0_path);
    REQUIRE(vf0_changes.size() == 1);
    CHECK(vf0_changes[0].names == std::vector<std::string>{"State"});
    CHECK(about(seen, "PropertiesChanged", vf1_path).empty());
    CHECK(about(seen, "InterfacesAdded", vf2_path).size() == 1);
    CHECK(about(seen, "InterfacesRemoved", mdev_path).size() == 1);
    CHECK(server.get_all(vf1_path, kDeviceIface) == expected(vf(1))); // still what was published

    // Named but unchanged, or named and unknown on both sides: nothing is emitted for objects.
    CHECK_FALSE(server.publisher->publish(manager("progressing"), next, {vf0.address, "0000:99:00.0"}));

    // A whole publish catches up with everything.
    CHECK(server.publish(next));
    CHECK(about(signals.until_reconciled(server, 3), "PropertiesChanged", vf1_path).size() == 1);
    CHECK(server.get_all(vf1_path, kDeviceIface) == expected(vf1));
}

TEST_CASE("bus objects: a new object is announced with all its properties") {
    Server server;
    SignalRecorder signals(server.bus.address());
    REQUIRE(server.publish(views_of({pf()}, {})));
    signals.until_reconciled(server, 1);

    REQUIRE(server.publish(views_of({pf(), vf(3)}, {mdev()})));
    auto seen = signals.until_reconciled(server, 2);
    auto added = about(seen, "InterfacesAdded", hostdevd::device_object_path("0000:3b:02.3"));
    REQUIRE(added.size() == 1);
    CHECK(added[0].path == "/io/hostdevd1");
    CHECK(added[0].interface == kDeviceIface);
    std::vector<std::string> names;
    json properties = expected(vf(3));
    for (const auto& [name, value] : properties.items())
        names.push_back(name);
    std::sort(added[0].names.begin(), added[0].names.end());
    CHECK(added[0].names == names); // json keeps its keys sorted
    auto added_mdev = about(seen, "InterfacesAdded", hostdevd::mdev_object_path(mdev().uuid));
    REQUIRE(added_mdev.size() == 1);
    CHECK(added_mdev[0].interface == kMdevIface);
    CHECK(added_mdev[0].names.size() == expected(mdev()).size());
    CHECK(about(seen, "InterfacesAdded", hostdevd::device_object_path("0000:3b:00.0")).empty());
}

TEST_CASE("bus objects: busctl tree, introspection and GetManagedObjects list every object") {
    Server server;
    std::vector<DeviceView> devices = {pf()};
    for (int dev = 2; dev < 0x1a; ++dev)
        for (int fn = 0; fn < 8; ++fn) {
            DeviceView v = vf(fn);
            char address[16];
            snprintf(address, sizeof address, "0000:3b:%02x.%d", dev, fn);
            v.address = address;
            devices.push_back(v);
        }
    REQUIRE(server.publish(views_of(devices, {mdev()})));

    std::set<std::string> paths = {hostdevd::mdev_object_path(mdev().uuid)};
    for (const auto& d : devices)
        paths.insert(hostdevd::device_object_path(d.address));
    auto tree = server.busctl({"tree", "--list", "io.hostdevd1"});
    REQUIRE(tree.exit_code == 0);
    std::set<std::string> listed;
    std::istringstream lines(tree.out);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("/io/hostdevd1/device/", 0) == 0 || line.rfind("/io/hostdevd1/mdev/", 0) == 0)
            listed.insert(line);
    CHECK(listed == paths);

    // /io/hostdevd1 lists its two subtrees, each subtree its objects, one path segment each.
    auto top = server.busctl({"introspect", "--xml-interface", "io.hostdevd1", "/io/hostdevd1"});
    REQUIRE(top.exit_code == 0);
    CHECK_THAT(top.out,
               Catch::Contains(R"(<node name="device"/>)") && Catch::Contains(R"(<node name="mdev"/>)"));
    CHECK_THAT(top.out, !Catch::Contains(R"(<node name="device/)"));
    auto subtree = server.busctl({"introspect", "--xml-interface", "io.hostdevd1", "/io/hostdevd1/device"});
    REQUIRE(subtree.exit_code == 0);
    CHECK_THAT(subtree.out, Catch::Contains(R"(<node name="_30000_3a3b_3a19_2e7"/>)"));
    CHECK_THAT(subtree.out, !Catch::Contains("io.hostdevd1.Device")); // the prefix is no device

    auto managed = server.busctl({"--json=short", "call", "io.hostdevd1", "/io/hostdevd1",
                                  "org.freedesktop.DBus.ObjectManager", "GetManagedObjects"});
    REQUIRE(managed.exit_code == 0);
    auto objects = json::parse(managed.out).at("data").at(0);
    std::set<std::string> managed_paths;
    for (const auto& [path, interfaces] : objects.items())
        managed_paths.insert(path);
    CHECK(managed_paths == paths);
    for (const auto& d : devices) {
        INFO(d.address);
        CHECK(objects.at(hostdevd::device_object_path(d.address)).at(kDeviceIface) == expected(d));
    }
    CHECK(objects.at(hostdevd::mdev_object_path(mdev().uuid)).at(kMdevIface) == expected(mdev()));
}

TEST_CASE("bus objects: the Device and Mdev interfaces are those of io.hostdevd1.xml") {
    Server server;
    REQUIRE(server.publish(views_of({pf()}, {mdev()})));
    std::string contract = testing::read_file(testing::source_dir() + "/dbus/io.hostdevd1.xml");
    for (auto [path, interface] : {std::pair{hostdevd::device_object_path("0000:3b:00.0"), kDeviceIface},
                                   std::pair{hostdevd::mdev_object_path(mdev().uuid), kMdevIface}}) {
        INFO(interface);
        auto c = server.busctl({"introspect", "--xml-interface", "io.hostdevd1", path});
        REQUIRE(c.exit_code == 0);
        auto served = properties_of(c.out, interface);
        CHECK(served.size() >= 9);
        CHECK(served == properties_of(contract, interface));
    }
}

TEST_CASE("bus objects: the objects go away with the publisher") {
    Server server;
    SignalRecorder signals(server.bus.address());
    REQUIRE(server.publish(views_of({pf(), vf(1)}, {mdev()})));
    signals.until_reconciled(server, 1);

    server.publisher.reset();
    server.publisher =
        std::make_unique<hostdevd::BusPublisher>(*server.connection, server.backend, manager("progressing"));
    auto seen = signals.until_reconciled(server, 2);
    CHECK(about(seen, "InterfacesRemoved", hostdevd::device_object_path("0000:3b:00.0")).size() == 1);
    CHECK(about(seen, "InterfacesRemoved", hostdevd::device_object_path("0000:3b:02.1")).size() == 1);
    CHECK(about(seen, "InterfacesRemoved", hostdevd::mdev_object_path(mdev().uuid)).size() == 1);
    CHECK(server.get_error(hostdevd::device_object_path("0000:3b:00.0"), kDeviceIface, "State") ==
          "org.freedesktop.DBus.Error.UnknownObject");
}
