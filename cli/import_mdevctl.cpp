#include "import_mdevctl.hpp"

#include <iostream>

namespace hostdevd {

int run_import_mdevctl(const std::string& dir) {
    std::cerr << "hostdevctl: import-mdevctl " << dir << ": not implemented yet\n";
    return 1;
}

} // namespace hostdevd
