#include "config/cross_checks.hpp"

#include "config/consumer_parser.hpp"
#include "config/entry_values.hpp"

#include <map>
#include <string>

namespace hostdevd::config_detail {

namespace {

template <typename Entry, typename GetMatch>
void check_duplicate_selections(const std::vector<Entry>& entries, std::string_view header,
                                GetMatch&& match_of, std::vector<ConfigDiagnostic>& errors) {
    for (size_t later = 0; later < entries.size(); ++later) {
        for (size_t earlier = 0; earlier < later; ++earlier) {
            const Match& a = match_of(entries[earlier]);
            const Match& b = match_of(entries[later]);
            if (!same_selection(a, b))
                continue;
            errors.push_back(ConfigDiagnostic{
                entries[later].source, "this " + std::string(header) + " selects the same device as the " +
                                           std::string(header) + " at " +
                                           entries[earlier].source.file_line() + " (" + b.str() + ")"});
            break; // one report per entry is enough
        }
    }
}

} // namespace

void check_across_entries(const ParsedEntries& entries, std::vector<ConfigDiagnostic>& errors) {
    check_duplicate_selections(
        entries.pfs, "[[pf]]", [](const PfEntry& e) -> const Match& { return e.match; }, errors);
    check_duplicate_selections(
        entries.devices, "[[device]]", [](const DeviceEntry& e) -> const Match& { return e.match; }, errors);

    for (size_t later = 0; later < entries.mdevs.size(); ++later) {
        const auto& b = entries.mdevs[later];
        if (!b.count)
            continue;
        for (size_t earlier = 0; earlier < later; ++earlier) {
            const auto& a = entries.mdevs[earlier];
            if (!a.count || !same_selection(a.parent, b.parent))
                continue;
            errors.push_back(ConfigDiagnostic{
                b.source, "this [[mdev]] uses `count` on the same parent as the [[mdev]] at " +
                              a.source.file_line() + " (" + b.parent.str() +
                              "); their instance UUIDs would collide: merge them or use `uuids`"});
            break;
        }
    }

    check_consumers(entries, errors);

    std::map<std::string, SourceLocation> first_use;
    for (const auto& use : entries.mdev_uuids) {
        auto [it, inserted] = first_use.emplace(use.uuid, use.where);
        if (!inserted)
            errors.push_back(ConfigDiagnostic{use.where, "UUID " + use.uuid +
                                                             " is already used by another [[mdev]] at " +
                                                             it->second.file_line()});
    }
}

} // namespace hostdevd::config_detail
