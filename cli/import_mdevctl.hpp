// `hostdevctl import-mdevctl [DIR]`: turns mdevctl's persistent definitions (/etc/mdevctl.d) into an
// equivalent hostdevd configuration file on standard output.
#pragma once

#include <string>

namespace hostdevd {

// Returns the process exit status (0 ok, 1 unreadable/invalid definitions, 2 usage).
int run_import_mdevctl(const std::string& dir);

} // namespace hostdevd
