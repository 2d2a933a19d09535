// Checks between entries, within one file and across the files of a directory (internal to the loader).
#pragma once

#include "config/document_parser.hpp"

#include <vector>

namespace hostdevd::config_detail {

// Reports, at the later entry and naming the earlier one's FILE:LINE:
// - two [[pf]] (or two [[device]]) that select the same device (same_selection);
// - two [[mdev]] with `count` on the same parent: their instance UUIDs are derived from
//   "<parent address>/<index>" only (config.md), so they would collide;
// - the consumer tables' checks (consumer_parser.hpp: [[pool]] and [export]);
// - an explicit mdev UUID used twice (the kernel refuses a duplicate UUID on any parent with -EEXIST,
//   mdev_core.c mdev_device_create).
void check_across_entries(const ParsedEntries& entries, std::vector<ConfigDiagnostic>& errors);

} // namespace hostdevd::config_detail
