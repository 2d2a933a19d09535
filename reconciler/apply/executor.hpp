// The executor: performs one wave of planned actions through the Writer and ModuleLoader seams, with
// the in-use re-check of safety.md immediately before each disruptive action. Runs on the worker
// thread (writes can block in the kernel for seconds); pure apart from the seams it is given.
#pragma once

#include "apply/module_loader.hpp"
#include "apply/writer.hpp"
#include "model/plan.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hostdevd {

// The holders of a device (PCI address or mdev UUID) right now; empty = idle. The daemon and the CLI
// build it from observe/observe.hpp holders_now().
using InUseCheck = std::function<std::vector<std::string>(const std::string& address)>;

enum class ActionOutcome {
    Ok,      // every write succeeded (success of a write is not convergence: re-observe)
    Failed,  // a write or the module load failed; later writes of the action were not attempted
    Blocked, // not attempted: a must_be_idle device is in use now, or the action was not Safe
    Stuck,   // every write succeeded, but one was blocked in the kernel beyond the report threshold: never
             // a success (for a disruptive write, the kernel waited for someone to let go of a device it
             // removes: something was in use that the re-check did not see)
};
const char* to_string(ActionOutcome outcome);

// A write that stayed in the kernel at least the report threshold (ExecuteOptions::stuck_after).
struct StuckWrite {
    SysfsWrite write;
    std::chrono::microseconds blocked{0};
};

struct ActionResult {
    std::string object;  // Action::object
    std::string summary; // Action::summary
    ActionKind kind = ActionKind::Bind;
    std::string source; // Action::source
    ActionOutcome outcome = ActionOutcome::Ok;
    int error = 0;                          // errno of the failing write, 0 otherwise
    std::optional<SysfsWrite> failed_write; // the write that failed
    std::string message;                    // one line for logs and D-Bus `Reason`
    bool transient = false;                 // retrying later may succeed (is_transient)
    std::vector<std::string> holders;       // Blocked: who holds what, "0000:3b:02.1: pid 42 (qemu)"
    unsigned writes_done = 0;               // successful writes of this action
    std::chrono::microseconds duration{0};  // time spent in writes and module loads
    std::optional<StuckWrite> stuck;        // Stuck (or Failed after being stuck): the write that was
};

struct ExecutionReport {
    std::vector<ActionResult> results; // one per action, in wave order
    bool all_ok() const;
    size_t count(ActionOutcome outcome) const;
};

// For each action in order: a non-Safe action is not attempted (Blocked). A LoadModule action runs the
// loader. A disruptive action first asks `check` about every must_be_idle device; any holder (or a
// check that throws: unknown counts as in use) blocks it before its first write. Then its writes run in
// order and stop at the first failure. One action's failure never stops the others.
//
// With `parallel` > 1, a run of consecutive binds (ActionKind::Bind, Safe, not disruptive: a device with
// no driver getting driver_override + drivers_probe) is spread over up to `parallel` threads. Those
// binds touch different devices and nothing else in the wave waits on them (the planner puts what
// depends on a bind in a later pass), and the kernel probes different devices concurrently
// (device_attach takes each device's own lock). Each bind's writes stay in order; results stay in
// wave order; every other action runs alone, in order. `writer` must then be safe to call from
// several threads at once (SysfsWriter is).
//
// A write that took `stuck_after` or longer was blocked in the kernel: the action is Stuck (Failed if a
// write failed), with the write and its time, whatever the kernel finally answered (safety.md "Writes
// that can block"). Disabling VFs sleeps about 1 s per call (iov.c ssleep(1)); the threshold is far
// above what an unblocked write takes.
ExecutionReport execute(const std::vector<const Action*>& wave, Writer& writer, ModuleLoader& modules,
                        const InUseCheck& check, unsigned parallel = 1,
                        std::chrono::milliseconds stuck_after = std::chrono::seconds(5));

// Binds run side by side by hostdevctl apply and the daemon: enough to overlap the kernel's probes
// (and, on simhost, FUSE round trips) without a thread per device.
inline constexpr unsigned kParallelBinds = 8;

// The threshold beyond which a write counts as stuck in the kernel, for hostdevctl apply and the daemon
// (its `blocked_write_report`).
inline constexpr std::chrono::milliseconds kStuckWriteReport{5000};

// "write \"0\" to /sys/bus/pci/devices/0000:3b:00.0/sriov_numvfs was blocked in the kernel for 20.3 s ..."
std::string describe_stuck(const StuckWrite& stuck, bool disruptive, bool succeeded);

} // namespace hostdevd
