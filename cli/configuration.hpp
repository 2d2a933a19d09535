// Loading the configuration for a command, with the loader's diagnostics printed the one way every
// hostdevctl command prints them.
#pragma once

#include "config/loader.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace hostdevd::cli {

// Loads `dir`; on errors prints each as FILE:LINE:COL: message and a closing line to stderr and returns
// nullopt.
std::optional<DesiredState> load_or_report(const std::string& dir);

// `hostdevctl validate --json`: {"config_dir", "valid", "files", "entries": {"pf", "device", "mdev", "pool"},
// "exports": {FORMAT: PATH}, "errors": [{"file", "line", "column", "message", "text"}]} (line and column 0
// for whole-file errors).
nlohmann::json validation_json(const std::string& dir, const LoadResult& loaded);

} // namespace hostdevd::cli
