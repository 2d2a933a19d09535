// Syntax of the names consumers give to a pool ([[pool]] tables, docs/consumers.md): each rule is the
// consumer's own, cited from its source, so that a name hostdevd accepts is one the consumer accepts.
// Pure functions, like value_syntax.hpp, whose SyntaxError/Parsed they return.
#pragma once

#include "config/value_syntax.hpp"

#include <string>
#include <string_view>

namespace hostdevd::config_syntax {

// A placement resource class as nova writes it into placement (nova/compute/pci_placement_translator.py
// _get_rc_for_dev): upper-cased; a standard class (os_resource_classes.STANDARDS: "PGPU", "SRIOV_NET_VF",
// ...) or a name starting with "CUSTOM_" is kept, anything else becomes os_resource_classes.normalize_name:
// "CUSTOM_" + the name with every run of characters other than A-Z, a-z, 0-9 replaced by one '_', upper
// case ("gold nic" -> "CUSTOM_GOLD_NIC"). The result must be a name placement accepts: A-Z, 0-9 and '_',
// at most 255 characters (placement's resource class schema), else it is refused here.
Parsed<std::string> parse_nova_resource_class(std::string_view text);

// A placement trait, normalized as nova does for the `traits` tag (pci_placement_translator.py
// _normalize_traits): a name already written in placement's alphabet (A-Z, 0-9, '_') is kept (nova keeps
// standard traits and CUSTOM_ ones, and prefixes any other itself), anything else is upper-cased and,
// unless it starts with "CUSTOM_", becomes os_traits.normalize_name ("fast nic" -> "CUSTOM_FAST_NIC").
// The result must be A-Z, 0-9 and '_' (the tag is a comma-separated list), at most 255 characters.
Parsed<std::string> parse_nova_trait(std::string_view text);

// A nova PCI alias name: 1..256 characters (nova/pci/request.py _ALIAS_SCHEMA), no ',' or ':' (a flavor
// names it in `pci_passthrough:alias = "NAME:COUNT,..."`), no control characters, no leading or trailing
// space (nova strips it, so the flavor would name another alias).
Parsed<std::string> parse_nova_alias(std::string_view text);

// A neutron physical network name: 1..64 characters (neutron's physical_network column is a
// String(64)), no ':' or ',' (bridge_mappings = "NAME:BRIDGE,..."), no whitespace or control characters.
Parsed<std::string> parse_physical_network(std::string_view text);

// The SR-IOV network device plugin's resourceName: letters, digits, '_' and '-' (its
// utils.ValidResourceName, `^[a-zA-Z0-9_-]+$`), and a Kubernetes qualified-name part: at most 63
// characters, beginning and ending with a letter or digit.
Parsed<std::string> parse_dp_resource_name(std::string_view text);

// The device plugin's resourcePrefix, the prefix of a Kubernetes extended resource: a DNS-1123 subdomain
// ("hostdevd.io"): lower-case letters, digits, '-' and '.', labels beginning and ending with a letter or
// digit, at most 253 characters.
Parsed<std::string> parse_dp_resource_prefix(std::string_view text);

// A libvirt network name: non-empty, no '/' (libvirt refuses it: virNetworkDefParseXML), no control
// characters, no leading '.' (hostdevd names the file `<name>.xml`: a dot file is easily missed).
Parsed<std::string> parse_libvirt_network_name(std::string_view text);

// An `[export]` path: absolute, normalized (no empty, "." or ".." components, no trailing '/'), no
// control characters, at most 4095 bytes (PATH_MAX with the NUL).
Parsed<std::string> parse_export_path(std::string_view text);

} // namespace hostdevd::config_syntax
