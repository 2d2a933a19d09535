// Whether an action's effect shows right after its writes returned: one or two reads of the object it
// changed. The daemon asks this as soon as a wave is done, so that an effect undone by someone else a
// moment later counts as flapping (re-applied with back-off) and not as "did not take" (which a
// destructive action never repeats): the next pass may look only after the undo (docs/planner.md "The gate").
#pragma once

#include "model/plan.hpp"
#include "sysfs/layout.hpp"

#include <optional>

namespace hostdevd {

// true: the device is as the action's last write asks; false: it is not; nullopt: this kind is not checked
// (module loads) or the object cannot be read.
std::optional<bool> effect_visible(const SysfsLayout& layout, const Action& action);

} // namespace hostdevd
