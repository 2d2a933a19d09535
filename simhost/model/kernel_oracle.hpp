// The safety oracle of the write log (see kernel_oracle.cpp). Internal to the model.
#pragma once

#include <string>
#include <string_view>

namespace simhost {

struct Impl;

// For a write of `data` to the canonical sysfs path `canon` ("/devices/.../sriov_numvfs"), evaluated
// against the state *before* the write runs: "" when the write disrupts nothing in use, else a
// human-readable reason naming the write, the device and the holder. Call with the model's mutex held.
std::string disrupted_in_use(const Impl& k, const std::string& canon, std::string_view data);

} // namespace simhost
