#include "config/diagnostics.hpp"

#include "common/closest_match.hpp"
#include "config/value_syntax.hpp"

#include <algorithm>
#include <cctype>

namespace hostdevd {

std::string ConfigDiagnostic::str() const {
    if (where.line == 0)
        return where.file + ": " + message;
    return where.str() + ": " + message;
}

} // namespace hostdevd

namespace hostdevd::config_detail {

std::string key_name(std::string_view key) {
    // Quoted TOML keys may hold anything; show odd ones escaped rather than raw in a terminal.
    bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
    });
    return plain ? "`" + std::string(key) + "`" : config_syntax::quote(key);
}

SourceLocation DiagnosticSink::location(const toml::source_region& region) const {
    return SourceLocation{file_, static_cast<uint32_t>(region.begin.line),
                          static_cast<uint32_t>(region.begin.column)};
}

void DiagnosticSink::error(const toml::source_region& region, std::string message) {
    out_.push_back(ConfigDiagnostic{location(region), std::move(message)});
}

void DiagnosticSink::error(const SourceLocation& where, std::string message) {
    out_.push_back(ConfigDiagnostic{where, std::move(message)});
}

std::string describe_type(const toml::node& node) {
    switch (node.type()) {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time:
        return "a date/time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

std::string closest_key(std::string_view unknown, const std::vector<std::string_view>& known) {
    return closest_match(unknown, known);
}

bool check_known_keys(const toml::table& table, const std::vector<std::string_view>& known,
                      std::string_view where, DiagnosticSink& sink) {
    bool all_known = true;
    for (auto&& [key, value] : table) {
        if (std::find(known.begin(), known.end(), key.str()) != known.end())
            continue;
        all_known = false;
        std::string message = "unknown key " + key_name(key.str()) + " in " + std::string(where);
        if (auto suggestion = closest_key(key.str(), known); !suggestion.empty()) {
            message += "; did you mean `" + suggestion + "`?";
        } else {
            message += " (known keys:";
            for (size_t i = 0; i < known.size(); ++i)
                message += (i == 0 ? " " : ", ") + std::string(known[i]);
            message += ")";
        }
        sink.error(key.source(), std::move(message));
    }
    return all_known;
}

} // namespace hostdevd::config_detail
