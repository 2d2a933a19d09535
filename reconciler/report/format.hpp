// Small text formats shared by the reports.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace hostdevd {

// A PCI vendor/device ID as D-Bus and JSON show it: four lower-case hex digits, no 0x ("8086").
inline std::string hex4(uint16_t v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", v);
    return buf;
}

} // namespace hostdevd
