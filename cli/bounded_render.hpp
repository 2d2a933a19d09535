// Reading the host for a report without hanging behind a stuck write (observe/bounded_read.hpp): the
// observation and its rendering run in a child process, and a device whose read blocks in the kernel is
// left out and reported busy.
#pragma once

#include "model/observed.hpp"

#include <functional>
#include <optional>
#include <string>

namespace hostdevd::cli {

// Observes the host (minus busy devices) and returns what `render` made of it; prints the reason and
// returns nullopt when the host could not be read at all.
std::optional<std::string> render_bounded(const std::function<std::string(const ObservedState&)>& render);

} // namespace hostdevd::cli
