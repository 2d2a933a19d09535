// Turning one parsed TOML document into configuration entries, with every static error reported
// (internal to the config loader; cross-entry checks are in cross_checks.hpp).
#pragma once

#include "config/diagnostics.hpp"
#include "model/desired.hpp"

#include <string>
#include <toml++/toml.h>
#include <vector>

namespace hostdevd::config_detail {

// Where one explicit mdev UUID was written, so duplicates across entries and files can name both places.
struct UuidUse {
    std::string uuid;
    SourceLocation where;
};

// The valid entries of one or more files. An entry with an error is reported and left out, and the
// walk goes on, so one pass shows every mistake; the caller discards everything if any error was found.
struct ParsedEntries {
    std::vector<PfEntry> pfs;
    std::vector<DeviceEntry> devices;
    std::vector<MdevEntry> mdevs;
    std::vector<UuidUse> mdev_uuids;
    std::vector<PoolSettings> pools;   // [[pool]] (consumer_parser.hpp)
    std::vector<ExportTarget> exports; // [export] keys, in file order
    // [policy] destroy, and where it was set (one file sets it: a second one is an error naming both).
    std::optional<DestroyPolicy> destroy;
    SourceLocation destroy_source;
};

void parse_document(const toml::table& document, DiagnosticSink& sink, ParsedEntries& out);

} // namespace hostdevd::config_detail
