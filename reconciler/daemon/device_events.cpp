#include "daemon/device_events.hpp"

namespace hostdevd {

namespace {

using journal::Event;
using journal::Kind;
using journal::Priority;

std::string join(const std::vector<std::string>& items, const char* separator) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : separator) + item;
    return out;
}

// "device=0000:3b:02.1 action=bind vfio-pci applied": the plain-text line (stderr), also the journal's
// MESSAGE, so both read the same and existing log scrapers keep working.
std::string device_line(const std::string& device, const std::string& action, const std::string& what) {
    return "device=" + device + (action.empty() ? "" : " action=" + action) + " " + what;
}

Event event(Kind kind, Priority priority, const std::string& device, const std::string& action,
            const std::string& verdict, const std::string& message) {
    return Event{kind, priority, device, action, verdict, message, {}};
}

// The VFs a sriov_numvfs action destroyed: on a PF with VFs its first write is 0 (iov.c refuses N -> M),
// and once that went through every VF the PF had is gone, whatever happened to the next write.
void destroyed_vfs(const Action& action, const ActionResult& result, const ObservedState& before,
                   std::vector<Event>& events) {
    const PciDevice* pf = before.find(action.object);
    if (action.kind != ActionKind::SetNumVfs || result.writes_done == 0 || !pf || pf->num_vfs == 0)
        return;
    for (const std::string& vf : pf->vfs) {
        events.push_back(event(Kind::Destroyed, Priority::Notice, vf, action.summary, "destroyed",
                               device_line(vf, "", "destroyed by " + action.object + " " + action.summary)));
        events.back().fields = {{"pf", action.object}};
    }
}

} // namespace

std::vector<Event> action_events(const Action& action, const ActionResult& result,
                                 const ObservedState& before) {
    std::vector<Event> events;
    const std::string& device = action.object;
    const std::string& summary = action.summary;
    switch (result.outcome) {
    case ActionOutcome::Ok:
        events.push_back(event(Kind::Applied, Priority::Info, device, summary, "applied",
                               device_line(device, summary, "applied")));
        events.back().fields = {{"source", action.source}};
        // What the writes destroyed, one event per device, so each one's history ends with it.
        destroyed_vfs(action, result, before, events);
        if (action.kind == ActionKind::RemoveMdev)
            events.push_back(event(Kind::Destroyed, Priority::Notice, device, summary, "destroyed",
                                   device_line(device, summary, "destroyed")));
        if (action.kind == ActionKind::SetVgpu && !action.writes.empty() &&
            action.writes.front().value == "0")
            events.push_back(event(Kind::Destroyed, Priority::Notice, device, summary, "destroyed",
                                   device_line(device, summary, "vGPU destroyed")));
        break;
    case ActionOutcome::Failed:
        events.push_back(event(Kind::Failed, Priority::Err, device, summary, "failed",
                               device_line(device, summary, "failed: " + result.message)));
        events.back().fields = {{"source", action.source}};
        if (result.failed_write)
            events.back().fields.push_back(
                {"write", "/sys/" + result.failed_write->path + "=" + result.failed_write->value});
        if (result.error)
            events.back().fields.push_back({"errno", std::to_string(result.error)});
        destroyed_vfs(action, result, before, events); // the 0 went through, then a write failed
        break;
    case ActionOutcome::Stuck:
        // The writes went through in the end, after the kernel held one for seconds: no success (issue 13),
        // logged at err like a failure, naming the write; what they destroyed is logged as well.
        events.push_back(event(Kind::Failed, Priority::Err, device, summary, "stuck",
                               device_line(device, summary, "stuck: " + result.message)));
        events.back().fields = {{"source", action.source}};
        if (result.stuck)
            events.back().fields.push_back(
                {"write", "/sys/" + result.stuck->write.path + "=" + result.stuck->write.value});
        destroyed_vfs(action, result, before, events);
        break;
    case ActionOutcome::Blocked:
        // Found in use by the re-check right before the write: nothing was written. The next pass plans
        // it as blocked, and StateJournal logs that (warning) once, with the holders.
        events.push_back(event(Kind::Blocked, Priority::Info, device, summary, "blocked",
                               device_line(device, summary, "not applied: in use (" + result.message + ")")));
        events.back().fields = {{"holders", join(result.holders, "; ")}};
        break;
    }
    return events;
}

void StateJournal::visit(const std::string& key, const std::string& state, const std::string& reason,
                         const std::vector<std::string>& holders, std::vector<Event>& out) {
    auto it = seen_.find(key);
    const bool first = it == seen_.end();
    const Seen before = first ? Seen{} : it->second;
    seen_[key] = Seen{state, reason};
    if (state == "blocked" && (first || before.state != "blocked" || before.reason != reason)) {
        Event e{Kind::Blocked,
                Priority::Warning,
                key,
                "",
                "blocked",
                device_line(key, "", "blocked: " + reason),
                {{"reason", reason}}};
        if (!holders.empty())
            e.fields.push_back({"holders", join(holders, "; ")});
        out.push_back(std::move(e));
    } else if (state == "converged" && !first && before.state != "converged") {
        out.push_back({Kind::Converged,
                       Priority::Info,
                       key,
                       "",
                       "converged",
                       device_line(key, "", "converged (was " + before.state + ")"),
                       {}});
    }
}

std::vector<Event> StateJournal::update(const Views& views, const std::set<std::string>* keys) {
    std::vector<Event> out;
    auto visit_key = [&](const std::string& key) {
        if (auto d = views.devices.find(key); d != views.devices.end())
            visit(key, d->second.state, d->second.reason, d->second.holders, out);
        else if (auto m = views.mdevs.find(key); m != views.mdevs.end())
            visit(key, m->second.state, m->second.reason, m->second.holders, out);
        else
            seen_.erase(key);
    };
    if (keys) {
        for (const std::string& key : *keys)
            visit_key(key);
        return out;
    }
    for (auto it = seen_.begin(); it != seen_.end();)
        it = views.devices.count(it->first) || views.mdevs.count(it->first) ? std::next(it) : seen_.erase(it);
    for (const auto& [key, view] : views.devices)
        visit(key, view.state, view.reason, view.holders, out);
    for (const auto& [key, view] : views.mdevs)
        visit(key, view.state, view.reason, view.holders, out);
    return out;
}

} // namespace hostdevd
