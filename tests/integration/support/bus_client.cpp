#include "bus_client.hpp"

#include <stdexcept>
#include <systemd/sd-bus.h>

namespace testing {

sd_bus* connect_bus(const std::string& address) {
    sd_bus* bus = nullptr;
    int r = sd_bus_new(&bus);
    if (r >= 0)
        r = sd_bus_set_address(bus, address.c_str());
    if (r >= 0)
        r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0)
        r = sd_bus_start(bus);
    if (r < 0) {
        sd_bus_unref(bus);
        return nullptr;
    }
    return bus;
}

BusClient::BusClient(const std::string& address) : bus_(connect_bus(address)) {
    if (!bus_)
        throw std::runtime_error("cannot connect to " + address);
}

BusClient::~BusClient() {
    sd_bus_flush_close_unref(bus_);
}

int BusClient::on_signal(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* self = static_cast<BusClient*>(userdata);
    Signal s;
    s.path = sd_bus_message_get_path(m) ? sd_bus_message_get_path(m) : "";
    s.interface = sd_bus_message_get_interface(m) ? sd_bus_message_get_interface(m) : "";
    s.member = sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : "";
    if (s.member == "PropertiesChanged") {
        const char* iface = nullptr;
        if (sd_bus_message_read(m, "s", &iface) >= 0 && iface)
            s.changed_interface = iface;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") >= 0) {
            while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char* name = nullptr;
                sd_bus_message_read(m, "s", &name);
                if (name)
                    s.changed.push_back(name);
                sd_bus_message_skip(m, "v");
                sd_bus_message_exit_container(m);
            }
            sd_bus_message_exit_container(m);
        }
    }
    self->signals_.push_back(std::move(s));
    return 0;
}

void BusClient::watch_signals() {
    if (sd_bus_add_match(bus_, nullptr, "type='signal',sender='io.hostdevd1'", on_signal, this) < 0)
        throw std::runtime_error("cannot add a signal match");
}

bool BusClient::wait_for(const std::function<bool(const std::vector<Signal>&)>& predicate,
                         std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        while (sd_bus_process(bus_, nullptr) > 0) {
        }
        if (predicate(signals_))
            return true;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline)
            return false;
        auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
        sd_bus_wait(bus_, left.count());
    }
}

std::string BusClient::get_string(const std::string& path, const std::string& interface,
                                  const std::string& property) {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    char* value = nullptr;
    int r = sd_bus_get_property_string(bus_, "io.hostdevd1", path.c_str(), interface.c_str(),
                                       property.c_str(), &error, &value);
    if (r < 0) {
        std::string message = error.message ? error.message : "error";
        sd_bus_error_free(&error);
        throw std::runtime_error(message);
    }
    std::string out(value);
    free(value);
    return out;
}

} // namespace testing
