#include "daemon/systemd_module_loader.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <time.h>

namespace hostdevd {

namespace {

constexpr const char* kSystemd = "org.freedesktop.systemd1";
constexpr const char* kSystemdPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";

struct BusCloser {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using BusPtr = std::unique_ptr<sd_bus, BusCloser>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

ModuleLoadOutcome failure(int error, std::string message) {
    ModuleLoadOutcome outcome;
    outcome.error = error;
    outcome.exit_status = -1;
    outcome.message = std::move(message);
    return outcome;
}

// Job object path → result ("done", "failed", ...), from every JobRemoved seen on the connection.
int on_job_removed(sd_bus_message* m, void* userdata, sd_bus_error*) {
    uint32_t id = 0;
    const char *job = nullptr, *unit = nullptr, *result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) >= 0 && job && result)
        (*static_cast<std::map<std::string, std::string>*>(userdata))[job] = result;
    return 0;
}

uint64_t now_usec() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1'000'000 + uint64_t(ts.tv_nsec) / 1000;
}

} // namespace

bool valid_module_name(const std::string& module) {
    if (module.empty() || module.size() > 64 || module.front() == '-')
        return false;
    for (char c : module)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
            return false;
    return true;
}

ModuleLoadOutcome SystemdModuleLoader::load(const std::string& module) {
    if (!valid_module_name(module))
        return failure(EINVAL, "invalid module name '" + module + "'");
    sd_bus* raw = nullptr;
    if (sd_bus_open_system(&raw) < 0)
        return fallback_.load(module); // no system bus at all: nobody to ask
    BusPtr bus(raw);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int has_owner = 0;
    if (sd_bus_call_method(bus.get(), "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                           "NameHasOwner", &error, &reply, "s", kSystemd) >= 0)
        sd_bus_message_read(reply, "b", &has_owner);
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    if (!has_owner)
        return fallback_.load(module); // no systemd on this bus (a test's private bus)

    // JobRemoved is sent only to subscribers; subscribe and listen before the job can finish.
    std::map<std::string, std::string> finished;
    sd_bus_slot* slot = nullptr;
    int r = sd_bus_match_signal(bus.get(), &slot, kSystemd, kSystemdPath, kManager, "JobRemoved",
                                on_job_removed, &finished);
    if (r >= 0)
        r = sd_bus_call_method(bus.get(), kSystemd, kSystemdPath, kManager, "Subscribe", &error, nullptr, "");
    const std::string unit = "modprobe@" + module + ".service";
    std::string job;
    if (r >= 0) {
        r = sd_bus_call_method(bus.get(), kSystemd, kSystemdPath, kManager, "StartUnit", &error, &reply, "ss",
                               unit.c_str(), "replace");
        const char* path = nullptr;
        if (r >= 0 && sd_bus_message_read(reply, "o", &path) >= 0 && path)
            job = path;
        sd_bus_message_unref(reply);
    }
    if (r < 0) {
        std::string why = error.message ? error.message : std::strerror(-r);
        std::string name = error.name ? error.name : "";
        sd_bus_error_free(&error);
        sd_bus_slot_unref(slot);
        return failure(-r,
                       "systemd could not start " + unit + ": " + (name.empty() ? "" : name + ": ") + why);
    }
    sd_bus_error_free(&error);
    const uint64_t deadline = now_usec() + uint64_t(timeout_.count()) * 1'000'000;
    while (!finished.count(job)) {
        r = sd_bus_process(bus.get(), nullptr);
        if (r < 0)
            break;
        if (r > 0)
            continue;
        uint64_t now = now_usec();
        if (now >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        r = sd_bus_wait(bus.get(), deadline - now);
        if (r < 0)
            break;
    }
    sd_bus_slot_unref(slot);
    if (!finished.count(job))
        return failure(-r, "no answer from systemd about " + unit + ": " + std::strerror(-r));
    if (finished[job] != "done") {
        ModuleLoadOutcome outcome;
        outcome.exit_status = 1;
        outcome.message = unit + " ended with result '" + finished[job] + "' (journalctl -u " + unit + ")";
        return outcome;
    }
    // modprobe@ ignores modprobe's exit status: whether the module is there is the answer.
    std::string name = module;
    for (char& c : name)
        if (c == '-')
            c = '_';
    struct stat st {};
    if (stat((sys_module_ + "/" + name).c_str(), &st) != 0) {
        ModuleLoadOutcome outcome;
        outcome.exit_status = 1;
        outcome.message = unit + " ran, but the module is not loaded (journalctl -u " + unit + ")";
        return outcome;
    }
    spdlog::debug("module {} loaded through {}", module, unit);
    return {};
}

} // namespace hostdevd
