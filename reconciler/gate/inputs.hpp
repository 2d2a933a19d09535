// The inputs an action was planned from, as the gate keys its history (gate.hpp): the action as the
// configuration asks it (kind, object, summary, writes, module) and the observed facts of the objects it
// reads and changes. Holders are not inputs: a guest coming and going changes whether an action may run
// (the planner's verdict), not what it would do. Pure.
#pragma once

#include "model/observed.hpp"
#include "model/plan.hpp"

#include <string>

namespace hostdevd {

// A fingerprint of the inputs (16 hex digits of a 64-bit FNV-1a hash of their canonical text).
std::string gate_inputs(const Action& action, const ObservedState& observed);
// The canonical text itself, for tests and debugging.
std::string gate_inputs_text(const Action& action, const ObservedState& observed);

// What the kernel did with an action that ran without error and is planned again, in words:
// "driver enabled 16 VFs when 4 were written", "0000:3b:02.0 has no driver after binding vfio-pci".
std::string describe_no_effect(const Action& action, const ObservedState& observed);

} // namespace hostdevd
