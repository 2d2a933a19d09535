// The name each consumer knows a pool by: the one its [[pool]] table gives (checked by the loader,
// config/consumer_syntax.hpp), else one derived from the pool name by replacing what that consumer does
// not accept. Two pools that end up with one name are an ExportError naming both, raised by the export.
#pragma once

#include "export/export_input.hpp"

#include <map>
#include <string>

namespace hostdevd {

// nova alias: the pool name, ',' and ':' (flavor syntax) and control characters replaced by '_',
// surrounding spaces dropped. Throws ExportError when nothing usable is left or it is over 256 characters.
std::string nova_alias_name(const ExportPool& pool);

// Device plugin resourceName: the pool name with every character other than a letter, a digit, '_' or
// '-' replaced by '_', and leading or trailing '_' and '-' dropped. Throws ExportError when nothing is
// left or it is over 63 characters.
std::string dp_resource_name(const ExportPool& pool);

// libvirt network name: the pool name with '/' and control characters replaced by '_', and a leading
// '.' too.
std::string libvirt_network_name(const ExportPool& pool);

// Remembers which pool took which name; throws ExportError when a second pool wants a name already taken:
// "pools "a" and "b" would both be the nova alias "x"; set [pool.nova] alias = ... for one of them".
class NameRegistry {
public:
    NameRegistry(std::string what, std::string key) : what_(std::move(what)), key_(std::move(key)) {}
    void claim(const std::string& name, const ExportPool& pool);

private:
    std::string what_; // "the nova alias"
    std::string key_;  // "[pool.nova] alias"
    std::map<std::string, std::string> taken_;
};

} // namespace hostdevd
