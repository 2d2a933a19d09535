// `hostdevctl import-mdevctl [DIR]`: turns mdevctl's persistent definitions (/etc/mdevctl.d) into an
// equivalent hostdevd configuration file on standard output.
//
// mdevctl keeps one JSON file per defined mdev at DIR/<parent>/<uuid> (mdevctl(8), "CONFIGURATION FILE
// FORMAT"): {"mdev_type": "...", "start": "auto"|"manual", "attrs": [{"name": "value"}, ...]}. Auto-start
// definitions become [[mdev]] entries with explicit `uuids` (so libvirt domains that reference them keep
// working); manual ones are written commented out, because hostdevd has no "defined but not started" state.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace hostdevd {

struct MdevctlDefinition {
    std::string parent; // directory name: the parent device (a PCI address for PCI parents)
    std::string uuid;   // file name, lower case
    std::string type;
    bool auto_start = false;
    std::vector<std::pair<std::string, std::string>> attrs; // in order
    std::string file;                                       // for messages
};

// Reads every DIR/<parent>/<uuid> definition (sorted by parent, then UUID). Throws std::runtime_error
// naming the file for anything unreadable or not in mdevctl's format; nothing is returned half-read.
std::vector<MdevctlDefinition> read_mdevctl_definitions(const std::string& dir);

// The hostdevd TOML text for the definitions: one [[mdev]] per parent + type + attrs + start mode.
std::string mdevctl_definitions_to_toml(const std::vector<MdevctlDefinition>& definitions,
                                        const std::string& source_dir);

// Returns the process exit status (0 ok, 1 unreadable/invalid definitions, 2 usage).
int run_import_mdevctl(const std::string& dir);

} // namespace hostdevd
