// B8's in-process client: one sd-bus connection to the system bus ($DBUS_SYSTEM_BUS_ADDRESS honoured)
// calling org.freedesktop.DBus.Properties.Get in a loop for SECONDS, timing each round trip. busctl pays
// a process start per call (tens of ms on a loaded machine, more than hostdevd's answer); this measures
// what a long-lived consumer (libvirt, nova, an exporter) waits for.
//
//   bench_bus_latency SECONDS SERVICE PATH INTERFACE PROPERTY
//
// Prints one JSON object: calls, errors, median_ms, p99_ms, max_ms. Exit 1 if any call failed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <systemd/sd-bus.h>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s SECONDS SERVICE PATH INTERFACE PROPERTY\n", argv[0]);
        return 2;
    }
    const double seconds = std::atof(argv[1]);
    sd_bus* bus = nullptr;
    if (int r = sd_bus_open_system(&bus); r < 0) {
        std::fprintf(stderr, "cannot connect to the system bus: %d\n", r);
        return 1;
    }
    using Clock = std::chrono::steady_clock;
    std::vector<double> ms;
    unsigned errors = 0;
    const auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message* reply = nullptr;
        const auto t = Clock::now();
        int r = sd_bus_call_method(bus, argv[2], argv[3], "org.freedesktop.DBus.Properties", "Get", &error,
                                   &reply, "ss", argv[4], argv[5]);
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        if (r < 0)
            ++errors;
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
    }
    sd_bus_unref(bus);
    if (ms.empty())
        ms.push_back(0);
    std::sort(ms.begin(), ms.end());
    std::printf("{\"calls\": %zu, \"errors\": %u, \"median_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
                ms.size(), errors, ms[ms.size() / 2], ms[static_cast<size_t>(0.99 * (ms.size() - 1))], ms.back());
    return errors ? 1 : 0;
}
