// JSON views of snapshots and plans: the stable, script-facing format of `hostdevctl ... --json` and of
// the daemon's Describe(). Field names only ever get added, never renamed.
#pragma once

#include "apply/executor.hpp"
#include "model/observed.hpp"
#include "model/plan.hpp"

#include <nlohmann/json.hpp>

namespace hostdevd {

nlohmann::json to_json(const ObservedState& observed);
nlohmann::json to_json(const Plan& plan);
// The plan with the actions on devices that do not exist yet (plan/future.hpp) under "future".
nlohmann::json to_json(const Plan& plan, const std::vector<Action>& future);
nlohmann::json to_json(const Action& action);
nlohmann::json to_json(const ObjectStatus& status);
nlohmann::json to_json(const ActionResult& result);

// One line for humans: "0000:3b:00.0 sriov_numvfs 0 -> 8: ok".
std::string describe(const ActionResult& result);

} // namespace hostdevd
