// hostdevctl's command line: finds the command, parses its options from the command table, prints help
// and version, and turns every mistake into a clear message with exit status 2 (and a suggestion when a
// command, option or value is close to a known one).
//
// Syntax: `hostdevctl COMMAND [ARGS] [OPTIONS]`; options may also stand before the command
// (`hostdevctl --json plan`), `--opt VALUE` and `--opt=VALUE` are both accepted, `--` ends the options.
// Long options are never abbreviated: `--conf` is a mistake, answered with "did you mean --config-dir?".
#pragma once

#include "command.hpp"

#include <optional>
#include <ostream>
#include <string>

namespace hostdevd::cli {

// Parses argv. Returns an exit status when the program should stop now (help or version printed,
// usage error reported on stderr); otherwise fills `out`.
std::optional<int> parse_command_line(int argc, const char* const* argv, Invocation& out);

void print_global_help(std::ostream& out);
void print_command_help(std::ostream& out, const Command& command);

// "hostdevctl: MESSAGE" and a pointer to the help on stderr; returns kExitUsage.
int usage_error(const std::string& message, const Command* command = nullptr);

// The values a --state filter accepts, in the order the states are listed.
const std::vector<std::string>& object_states();

} // namespace hostdevd::cli
