// An in-process client of the private bus (sd-bus): records hostdevd's signals and times property reads,
// without the cost of spawning busctl.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <systemd/sd-bus.h>
#include <vector>

namespace testing {

struct Signal {
    std::string path, interface, member;
    std::vector<std::string> changed; // PropertiesChanged: names of the changed properties
    std::string changed_interface;    // PropertiesChanged: the interface they belong to
};

// A client connection to the bus at `address` (a private dbus-daemon); nullptr when it cannot connect.
sd_bus* connect_bus(const std::string& address);

class BusClient {
public:
    explicit BusClient(const std::string& address);
    ~BusClient();
    BusClient(const BusClient&) = delete;
    BusClient& operator=(const BusClient&) = delete;

    // Starts recording every signal hostdevd (io.hostdevd1) sends.
    void watch_signals();
    // Processes incoming messages until `predicate` holds over the recorded signals or `timeout` passes.
    bool wait_for(const std::function<bool(const std::vector<Signal>&)>& predicate,
                  std::chrono::milliseconds timeout);
    const std::vector<Signal>& signals() const { return signals_; }

    // A string property of hostdevd; throws std::runtime_error on a D-Bus error.
    std::string get_string(const std::string& path, const std::string& interface,
                           const std::string& property);

private:
    static int on_signal(sd_bus_message* m, void* userdata, sd_bus_error* error);
    sd_bus* bus_ = nullptr;
    std::vector<Signal> signals_;
};

} // namespace testing
