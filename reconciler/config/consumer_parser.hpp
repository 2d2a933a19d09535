// The consumer tables of a configuration file (internal to the config loader, docs/consumers.md):
// `[[pool]]` (what nova, libvirt and the SR-IOV device plugin need to know about a pool beyond its name)
// and `[export]` (the files the daemon keeps current), and the checks between them and the entries.
#pragma once

#include "config/document_parser.hpp"

#include <toml++/toml.h>
#include <vector>

namespace hostdevd::config_detail {

// One `[[pool]]` table; a valid one is appended to out.pools.
void parse_pool(const toml::table& entry, DiagnosticSink& sink, ParsedEntries& out);

// The `[export]` table of one file; its valid keys are appended to out.exports.
void parse_export(const toml::node& node, DiagnosticSink& sink, ParsedEntries& out);

// Reports, naming both places where two are involved:
// - two [[pool]] tables for one pool name, and a [[pool]] that no entry's `pool` names (a typo);
// - entries of one pool that bind its devices differently: left to libvirt/nova (`managed = true`),
//   bound to a VFIO driver by hostdevd, or anything else (a host driver, vGPU, no driver). A pool's
//   consumers see one binding: nova's `managed` tag, libvirt's <forward managed=...>;
// - two `[export]` keys for one format (in two files), or two formats written to one path.
void check_consumers(const ParsedEntries& entries, std::vector<ConfigDiagnostic>& errors);

} // namespace hostdevd::config_detail
