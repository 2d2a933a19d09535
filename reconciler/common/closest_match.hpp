// "Did you mean ...?": the known word closest to a misspelt one. Shared by the configuration loader
// (unknown keys), hostdevctl (unknown commands, options and option values) and the planner's driver
// names (plan/driver_names.hpp: `vfio-pic` -> `vfio-pci`), so all of them suggest alike.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hostdevd {

// Edit distance, case-insensitive: Levenshtein with a swap of two adjacent characters counted as one edit
// (optimal string alignment), the usual slip when typing ("stauts", "vfio-pic").
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is at most two edits away (and the distance is smaller than
// the candidate itself, so "x" does not suggest "ok"); "" when none is that close. Ties go to the first
// candidate. Words longer than 64 characters are never a typo of a short name: "" without computing.
std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates);

} // namespace hostdevd
