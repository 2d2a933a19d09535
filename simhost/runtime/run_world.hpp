// `simhost run --host FILE [--] COMMAND [ARGS...]`: build the simulated world and run COMMAND in it.
#pragma once

#include <string>
#include <vector>

namespace simhost {

// Returns the exit status for simhost: COMMAND's own, 128+signal when it was killed, 2 for usage,
// host-file and setup errors.
int run_main(const std::vector<std::string>& args);

} // namespace simhost
