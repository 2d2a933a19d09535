// Collecting diagnostics while walking a TOML document (internal to the config loader).
#pragma once

#include "config/loader.hpp"

#include <string>
#include <string_view>
#include <toml++/toml.h>
#include <vector>

namespace hostdevd::config_detail {

class DiagnosticSink {
public:
    DiagnosticSink(std::string file, std::vector<ConfigDiagnostic>& out)
        : file_(std::move(file)), out_(out) {}

    const std::string& file() const { return file_; }
    SourceLocation location(const toml::source_region& region) const;
    void error(const toml::source_region& region, std::string message);
    void error(const SourceLocation& where, std::string message);
    size_t count() const { return out_.size(); }

private:
    std::string file_;
    std::vector<ConfigDiagnostic>& out_;
};

// "a string", "an integer", ... for "`vfs` must be an integer, not a string".
std::string describe_type(const toml::node& node);

// "`vfs`" for a plain key; an escaped, quoted form for keys with unusual characters.
std::string key_name(std::string_view key);

// The known key closest to `unknown` (edit distance at most 2, case-insensitive), or "" if none is close.
std::string closest_key(std::string_view unknown, const std::vector<std::string_view>& known);

// Reports every key of `table` not in `known`: "unknown key `vf_count` in [[pf]]; did you mean `vfs`?",
// or the list of known keys when none is close. Returns true if all keys are known.
bool check_known_keys(const toml::table& table, const std::vector<std::string_view>& known,
                      std::string_view where, DiagnosticSink& sink);

} // namespace hostdevd::config_detail
