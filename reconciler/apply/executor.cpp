#include "apply/executor.hpp"

#include "common/parallel_for.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>

namespace hostdevd {

namespace {

// Holders of every device the action needs idle, each prefixed with the device so a report naming a
// PF's VF says which VF ("0000:3b:02.1: pid 4242 (qemu-system-x86)").
std::vector<std::string> current_holders(const Action& action, const InUseCheck& check) {
    std::vector<std::string> holders;
    for (const std::string& device : action.must_be_idle) {
        std::vector<std::string> found;
        try {
            found = check ? check(device) : std::vector<std::string>{};
        } catch (const std::exception& e) {
            found = {std::string("in-use check failed (unknown counts as in use): ") + e.what()};
        }
        for (const std::string& holder : found)
            holders.push_back(device + ": " + holder);
    }
    return holders;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

void run_module_load(const Action& action, ModuleLoader& modules, ActionResult& result) {
    auto start = std::chrono::steady_clock::now();
    ModuleLoadOutcome loaded = modules.load(action.module);
    result.duration +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
    if (loaded.ok())
        return;
    result.outcome = ActionOutcome::Failed;
    result.error = loaded.error;
    std::string why = loaded.error != 0 ? describe_errno(loaded.error)
                                        : "exit status " + std::to_string(loaded.exit_status);
    result.message = "modprobe " + action.module + " failed: " + why;
    if (!loaded.message.empty())
        result.message += ": " + loaded.message;
}

void run_writes(const Action& action, Writer& writer, ActionResult& result,
                std::chrono::milliseconds stuck_after) {
    for (const SysfsWrite& write : action.writes) {
        WriteOutcome outcome = writer.write(write);
        result.duration += outcome.duration;
        if (outcome.duration >= stuck_after && !result.stuck) // the first: what later writes waited behind
            result.stuck = StuckWrite{write, outcome.duration};
        if (outcome.ok()) {
            ++result.writes_done;
            continue;
        }
        result.outcome = ActionOutcome::Failed;
        result.error = outcome.error;
        result.failed_write = write;
        result.transient = is_transient(outcome.error);
        result.message =
            "write \"" + write.value + "\" to " + write.path + " failed: " + describe_errno(outcome.error);
        // Strip the newline a value may carry so the message stays one line.
        result.message.erase(std::remove(result.message.begin(), result.message.end(), '\n'),
                             result.message.end());
        if (result.writes_done > 0)
            result.message += " (after " + std::to_string(result.writes_done) + " of " +
                              std::to_string(action.writes.size()) + " writes)";
        if (result.stuck)
            result.message += "; " + describe_stuck(*result.stuck, action.disruptive, false);
        return;
    }
    if (result.stuck) {
        result.outcome = ActionOutcome::Stuck;
        result.message = describe_stuck(*result.stuck, action.disruptive, true);
    }
}

ActionResult perform(const Action& action, Writer& writer, ModuleLoader& modules, const InUseCheck& check,
                     std::chrono::milliseconds stuck_after) {
    ActionResult result;
    result.object = action.object;
    result.summary = action.summary;
    result.kind = action.kind;
    result.source = action.source;
    if (action.verdict != Verdict::Safe) {
        result.outcome = ActionOutcome::Blocked;
        result.message = std::string("not attempted: planner verdict is ") + to_string(action.verdict);
        return result;
    }
    if (action.disruptive) {
        // Immediately before the first write, not only at planning time: a VM may have started since
        // the snapshot (safety.md "Checks run immediately before each disruptive write").
        result.holders = current_holders(action, check);
        if (!result.holders.empty()) {
            result.outcome = ActionOutcome::Blocked;
            result.transient = true; // retried when the holders let go
            result.message = "in use: " + join(result.holders);
            return result;
        }
    }
    if (action.kind == ActionKind::LoadModule)
        run_module_load(action, modules, result);
    if (result.outcome == ActionOutcome::Ok)
        run_writes(action, writer, result, stuck_after);
    return result;
}

// Binds of unbound devices: the actions execute() may run side by side (see executor.hpp).
bool runs_alongside(const Action& action) {
    return action.kind == ActionKind::Bind && action.verdict == Verdict::Safe && !action.disruptive;
}

} // namespace

const char* to_string(ActionOutcome outcome) {
    switch (outcome) {
    case ActionOutcome::Ok:
        return "ok";
    case ActionOutcome::Failed:
        return "failed";
    case ActionOutcome::Blocked:
        return "blocked";
    case ActionOutcome::Stuck:
        return "stuck";
    }
    return "?";
}

std::string describe_stuck(const StuckWrite& stuck, bool disruptive, bool succeeded) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(stuck.blocked.count()) / 1e6);
    std::string value = stuck.write.value;
    value.erase(std::remove(value.begin(), value.end(), '\n'), value.end());
    std::string text = "write \"" + value + "\" to /sys/" + stuck.write.path +
                       " was blocked in the kernel for " + seconds + " s" +
                       (succeeded ? " before it succeeded" : "");
    if (disruptive)
        text += ": the kernel waited for a process to let go of a device this write removes or detaches, so "
                "that device was in use although the in-use check right before found no holder";
    return text;
}

bool ExecutionReport::all_ok() const {
    return count(ActionOutcome::Ok) == results.size();
}

size_t ExecutionReport::count(ActionOutcome outcome) const {
    return static_cast<size_t>(std::count_if(
        results.begin(), results.end(), [outcome](const ActionResult& r) { return r.outcome == outcome; }));
}

ExecutionReport execute(const std::vector<const Action*>& wave, Writer& writer, ModuleLoader& modules,
                        const InUseCheck& check, unsigned parallel, std::chrono::milliseconds stuck_after) {
    std::vector<const Action*> actions;
    for (const Action* action : wave) {
        if (action)
            actions.push_back(action);
    }
    ExecutionReport report;
    report.results.resize(actions.size());
    for (size_t i = 0; i < actions.size();) {
        size_t end = i + 1;
        while (parallel > 1 && end < actions.size() && runs_alongside(*actions[i]) &&
               runs_alongside(*actions[end]))
            ++end;
        // One action runs on this thread; results land at each action's own index (wave order).
        parallel_for(i, end, parallel, [&](size_t k, size_t) {
            report.results[k] = perform(*actions[k], writer, modules, check, stuck_after);
        });
        i = end;
    }
    return report;
}

} // namespace hostdevd
