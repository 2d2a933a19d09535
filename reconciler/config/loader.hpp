// Loading /etc/hostdevd/*.toml into a DesiredState (the contract is ../shared/design/config.md and
// docs/configuration.md). All or nothing: any error and there is no state, only every error found.
#pragma once

#include "model/desired.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hostdevd {

struct ConfigDiagnostic {
    SourceLocation where; // line 0 means the whole file (or directory), e.g. a permission problem
    std::string message;
    std::string str() const; // "FILE:LINE:COL: message", or "FILE: message" when line is 0
};

struct LoadOptions {
    // Refuse files (and the directory) not owned by root or writable by group/other. Tests that run on
    // checked-out files turn it off; the daemon never does.
    bool check_permissions = true;
};

struct LoadResult {
    std::optional<DesiredState> state;
    std::vector<ConfigDiagnostic> errors;
    bool ok() const { return state.has_value(); }
};

// Every `*.toml` file in `dir` (dot files skipped), in lexical (byte) order. Diagnostics name files as
// `dir + "/" + name`, with `dir` as given. A missing directory is an error; an empty one is a valid,
// empty configuration.
LoadResult load_config_dir(const std::string& dir, const LoadOptions& options = {});

// One file's text, with cross-entry checks within it; no file system access. `file_name` is used in
// diagnostics and SourceLocations.
LoadResult parse_config(std::string_view text, const std::string& file_name);

} // namespace hostdevd
