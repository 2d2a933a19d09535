// The daemon's side of the exports: keeps the files of the `[export]` table current and counts the actions
// it carried out for the metrics. The daemon calls refresh() whenever it publishes status (so the files
// are written before READY=1 and follow every change); a file is rewritten only when its content changes,
// and a failure to write is logged and reported (the Manager's ExportErrors), never fatal: it is retried
// at the next refresh.
#pragma once

#include "apply/executor.hpp"
#include "export/export_input.hpp"
#include "model/desired.hpp"

#include <map>
#include <string>
#include <vector>

namespace hostdevd {

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
    void refresh(const std::vector<ExportTarget>& targets, const ExportInput& input, bool changed);

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
