// Configuration checked against the running host (`hostdevctl validate` and `plan`): driver names the
// kernel does not know or that name a module instead of its driver, vGPU profile names that are a slip
// away from one this host's GPUs offer. Each problem points at the entry that carries the value. The
// planner reports the same for devices it acts on (an `invalid` verdict); this also covers VFs that do
// not exist yet. Pure.
#pragma once

#include "model/desired.hpp"
#include "model/observed.hpp"

#include <string>
#include <vector>

namespace hostdevd {

struct ConfigProblem {
    SourceLocation where; // the [[pf.vf]] or [[device]] table
    std::string message;
    std::string str() const; // "FILE:LINE:COL: message"
};

std::vector<ConfigProblem> check_against_host(const DesiredState& desired, const ObservedState& observed);

} // namespace hostdevd
