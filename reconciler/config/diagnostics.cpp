#include "config/diagnostics.hpp"

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

namespace {

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

// Levenshtein distance, case-insensitive. Keys are short, so the O(n*m) table is cheap.
size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        previous[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t substitute = previous[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
        }
        std::swap(previous, current);
    }
    return previous[b.size()];
}

} // namespace

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
    // Very long keys are never a typo of ours; skip the quadratic distance for them (fuzzer input).
    if (unknown.size() > 64)
        return {};
    std::string_view best;
    size_t best_distance = 3;
    for (auto candidate : known) {
        size_t distance = edit_distance(unknown, candidate);
        if (distance < best_distance && distance < candidate.size()) {
            best = candidate;
            best_distance = distance;
        }
    }
    return std::string(best);
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
