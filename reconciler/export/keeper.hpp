// The daemon's side of the exports: keeps the files of the `[export]` table current and counts the actions
// it carried out for the metrics. The daemon calls refresh() whenever it publishes status (so the files
// are written before READY=1 and follow every change); a file is rewritten only when its content changes,
// and a failure to write is reported (the events refresh() returns, which the daemon sends to its journal,
// and the Manager's ExportErrors), never fatal: it is retried at the next refresh.
#pragma once

#include "apply/executor.hpp"
#include "export/export_input.hpp"
#include "model/desired.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd {

// What a refresh did to one [export] file, for the daemon's journal (reconciler/daemon/export_events):
// this module writes files and logs nothing itself.
struct ExportFileEvent {
    enum class What {
        Updated,   // its content changed and the new file is in place
        Failed,    // not written; once per distinct failure, not at every retry
        Recovered, // written (or found current) again after a failure
    };
    What what;
    ExportFormat format;
    std::string path;
    std::string error; // Failed: "PATH: what failed"
};

class ExportKeeper {
public:
    // Counts one executed action (Blocked ones were not attempted and are not counted).
    void count(const Action& action, ActionOutcome outcome);
    const ActionCounters& counters() const { return counters_; }

    // False when there is nothing to do at all (no targets now or at the last refresh): the daemon then
    // skips building the input.
    bool wanted(const std::vector<ExportTarget>& targets) const {
        return !targets.empty() || !last_targets_.empty() || !errors_.empty();
    }

    // Brings every target up to date with `input`. `changed` says the views or the plan may differ from
    // the last call; otherwise only a changed manager state or a failed target makes it render again.
    // Returns what happened to the files, in format order (nothing when no file had to change).
    std::vector<ExportFileEvent> refresh(const std::vector<ExportTarget>& targets, const ExportInput& input,
                                         bool changed);

    // "PATH: message" for each target whose last write failed, in format order; empty when all are
    // written.
    std::vector<std::string> errors() const;

private:
    ActionCounters counters_;
    std::map<ExportFormat, std::string> errors_;     // by format, the last failure
    std::vector<ExportTarget> last_targets_;         // what the last refresh wrote
    std::optional<ExportManagerState> last_manager_; // the manager state it wrote with
};

} // namespace hostdevd
