// The table of hostdevctl's commands (see command.hpp for how to add one). Each `*_command()` is
// defined in the command's own file, cli/cmd_<name>.cpp.
#pragma once

#include "command.hpp"

#include <string_view>
#include <vector>

namespace hostdevd::cli {

Command validate_command();
Command plan_command();
Command apply_command();
Command devices_command();
Command status_command();
Command export_command();
Command import_mdevctl_command();
Command complete_command();

// Every command, in the order `hostdevctl --help` lists them (hidden ones last).
const std::vector<Command>& commands();
// nullptr when there is no command of that name.
const Command* find_command(std::string_view name);

} // namespace hostdevd::cli
