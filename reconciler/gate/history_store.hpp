// Where the gate's memory of ineffective destructive attempts lives between processes: one file per boot,
// /run/hostdevd/gate-history.json, written by the daemon and by `hostdevctl apply` alike, so that neither a
// second `hostdevctl apply` nor a restarted daemon repeats a tear-down that did not converge (docs/planner.md
// "The gate"). Kept there: the no-effect records, and a destructive attempt decided but not yet recorded
// (a process killed during its writes). Back-off and flapping are the daemon's timing and start afresh with
// each process. Deleting the file (or rebooting) forgets them.
#pragma once

#include "gate/gate.hpp"
#include "sysfs/layout.hpp"

#include <string>

namespace hostdevd {

std::string gate_history_path(const SysfsLayout& layout);

// The persisted part of `history`, as stored (tests compare it).
GateHistory persisted_part(const GateHistory& history);

// A missing file is an empty history; an unreadable or corrupt one too (logged: the memory only saves
// churn, it never makes anything unsafe).
GateHistory load_gate_history(const SysfsLayout& layout);
// Writes the persisted part atomically (temporary file + rename). Returns false (logged) on failure.
bool save_gate_history(const SysfsLayout& layout, const GateHistory& history);

} // namespace hostdevd
