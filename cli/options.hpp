// Options several hostdevctl commands share, spelt once.
#pragma once

#include "command.hpp"

namespace hostdevd::cli {

inline const char* const kDefaultConfigDir = "/etc/hostdevd";

inline OptionSpec config_dir_option() {
    return {"config-dir", ValueKind::Directory, "DIR", "configuration directory (default /etc/hostdevd)"};
}

inline OptionSpec json_option(const std::string& what = "machine-readable output (JSON)") {
    return {"json", ValueKind::None, "", what};
}

inline OptionSpec local_option() {
    return {"local", ValueKind::None, "",
            "work here even when hostdevd runs (normally this goes through it)"};
}

} // namespace hostdevd::cli
