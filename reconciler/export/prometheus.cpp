// `hostdevctl export prometheus`: metrics in the Prometheus text exposition format (version 0.0.4), for
// node_exporter's textfile collector (hostdevd opens no port: its unit denies IP). Names follow the
// Prometheus conventions: the `hostdevd_` prefix, base units, `_total` for counters, `_timestamp_seconds`
// for times, enumerations as a label with value 1. Every family has HELP and TYPE lines, its samples
// follow them without interruption, and counters exist with 0 from the start, so rate() sees no gaps.
// Daemon-only facts (counters, configuration generation, last pass) are left out without a daemon.
#include "export/formats.hpp"

#include <cstdio>
#include <map>

namespace hostdevd {

namespace {

// Label values escape '\', '"' and newline (the exposition format's rule); HELP text escapes '\' and
// newline.
std::string label_value(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '\\' || c == '"')
            out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

class Families {
public:
    void family(const char* name, const char* type, const char* help) {
        out_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    // `labels` is a list of key/value pairs, in the order given.
    void sample(const char* name, std::initializer_list<std::pair<const char*, std::string>> labels,
                const std::string& value) {
        out_ += name;
        if (labels.size()) {
            out_ += '{';
            bool first = true;
            for (const auto& [key, v] : labels) {
                out_ += std::string(first ? "" : ",") + key + "=\"" + label_value(v) + "\"";
                first = false;
            }
            out_ += '}';
        }
        out_ += " " + value + "\n";
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string number(uint64_t v) {
    return std::to_string(v);
}

std::string seconds(uint64_t usec) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(usec / 1000000),
                  static_cast<unsigned long long>(usec % 1000000));
    return buf;
}

const char* const kObjectStates[] = {"converged", "pending", "blocked", "failed", "absent", "foreign"};
const char* const kManagerStates[] = {"starting", "converged", "progressing",
                                      "blocked",  "degraded",  "invalid-config"};
const Verdict kVerdicts[] = {Verdict::Safe, Verdict::Waiting, Verdict::Blocked, Verdict::Invalid,
                             Verdict::Never};
const ActionKind kActionKinds[] = {ActionKind::SetAutoprobe, ActionKind::SetNumVfs,  ActionKind::Bind,
                                   ActionKind::Unbind,       ActionKind::CreateMdev, ActionKind::RemoveMdev,
                                   ActionKind::SetVgpu,      ActionKind::LoadModule};

void counter_family(Families& f, const char* name, const char* help,
                    const std::map<std::string, uint64_t>& counts) {
    f.family(name, "counter", help);
    for (ActionKind kind : kActionKinds) {
        auto it = counts.find(to_string(kind));
        f.sample(name, {{"action", to_string(kind)}}, number(it == counts.end() ? 0 : it->second));
    }
}

} // namespace

std::string render_prometheus(const ExportInput& input) {
    Families f;
    const auto& m = input.manager;
    f.family("hostdevd_build_info", "gauge", "hostdevd's version, as a label (always 1).");
    f.sample("hostdevd_build_info", {{"version", m.version}}, "1");
    f.family("hostdevd_state", "gauge",
             "The daemon's state (the Manager's State): 1 for the current one, 0 for the others.");
    for (const char* state : kManagerStates)
        f.sample("hostdevd_state", {{"state", state}}, m.state == state ? "1" : "0");
    f.family("hostdevd_config_valid", "gauge",
             "1 when the last configuration load succeeded; 0 while an invalid one is refused.");
    f.sample("hostdevd_config_valid", {}, m.config_valid ? "1" : "0");
    if (input.counters) {
        f.family("hostdevd_config_generation", "gauge",
                 "Generation of the configuration in force; increments on every successful load.");
        f.sample("hostdevd_config_generation", {}, number(m.config_generation));
        f.family("hostdevd_last_reconcile_timestamp_seconds", "gauge",
                 "When the last reconcile pass began looking at the host, in seconds since the epoch.");
        f.sample("hostdevd_last_reconcile_timestamp_seconds", {}, seconds(m.last_reconcile_usec));
        f.family("hostdevd_exports_failing", "gauge",
                 "Files of the [export] table hostdevd could not write at its last attempt.");
        f.sample("hostdevd_exports_failing", {}, number(m.failing_exports));
    }

    // Counts per state: every device and mdev, and entries or VFs that select nothing (absent).
    std::map<std::pair<std::string, std::string>, uint64_t> counts;
    for (const auto& [address, v] : input.views.devices)
        ++counts[{"device", v.state}];
    for (const auto& [uuid, v] : input.views.mdevs)
        ++counts[{"mdev", v.state}];
    for (const auto& [key, status] : input.views.absent)
        ++counts[{status.role == "mdev" ? "mdev" : "device", to_string(status.state)}];
    f.family("hostdevd_objects", "gauge",
             "Objects hostdevd reports, by kind (device, mdev) and state; blocked ones cannot be changed "
             "now without disrupting a device in use.");
    for (const char* kind : {"device", "mdev"})
        for (const char* state : kObjectStates)
            f.sample("hostdevd_objects", {{"kind", kind}, {"state", state}}, number(counts[{kind, state}]));

    f.family("hostdevd_device_state", "gauge",
             "Every PCI device hostdevd reports, its state as a label (value 1).");
    for (const auto& [address, v] : input.views.devices)
        f.sample("hostdevd_device_state",
                 {{"address", v.address},
                  {"role", v.role},
                  {"pf", v.physfn},
                  {"pool", v.pool},
                  {"state", v.state}},
                 "1");
    f.family("hostdevd_device_in_use", "gauge",
             "1 when something holds the device (a guest's VFIO group, an interface that is up, ...).");
    for (const auto& [address, v] : input.views.devices)
        f.sample("hostdevd_device_in_use", {{"address", v.address}}, v.in_use ? "1" : "0");
    f.family("hostdevd_mdev_state", "gauge", "Every mdev hostdevd reports, its state as a label (value 1).");
    for (const auto& [uuid, v] : input.views.mdevs)
        f.sample("hostdevd_mdev_state",
                 {{"uuid", v.uuid}, {"parent", v.parent}, {"type", v.type}, {"state", v.state}}, "1");

    std::map<Verdict, uint64_t> verdicts;
    for (const auto& action : input.plan.actions)
        ++verdicts[action.verdict];
    f.family("hostdevd_plan_actions", "gauge",
             "Actions of the current plan by verdict (safe: applied now; blocked: would disrupt a device "
             "in use; ...).");
    for (Verdict v : kVerdicts)
        f.sample("hostdevd_plan_actions", {{"verdict", to_string(v)}}, number(verdicts[v]));

    if (input.counters) {
        counter_family(f, "hostdevd_actions_applied_total",
                       "Actions carried out (every write succeeded) since the daemon started, by kind.",
                       input.counters->applied);
        counter_family(f, "hostdevd_disruptive_actions_total",
                       "Disruptive actions carried out (they destroyed or detached something that could "
                       "have been in use, e.g. VFs before a count change) since the daemon started.",
                       input.counters->disruptive);
        counter_family(f, "hostdevd_action_failures_total",
                       "Actions that failed (a write or a module load) since the daemon started, by kind.",
                       input.counters->failed);
    }
    return f.take();
}

} // namespace hostdevd
