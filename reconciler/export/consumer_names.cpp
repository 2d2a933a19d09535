#include "export/consumer_names.hpp"

namespace hostdevd {

namespace {

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}
bool is_ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string in_quotes(const std::string& text) {
    return "\"" + text + "\"";
}

} // namespace

std::string nova_alias_name(const ExportPool& pool) {
    if (pool.settings.nova.alias)
        return *pool.settings.nova.alias;
    std::string name = pool.name;
    for (char& c : name)
        if (c == ',' || c == ':' || is_control(c))
            c = '_';
    while (!name.empty() && name.front() == ' ')
        name.erase(0, 1);
    while (!name.empty() && name.back() == ' ')
        name.pop_back();
    if (name.empty() || name.size() > 256)
        throw ExportError("pool " + in_quotes(pool.name) +
                          " cannot be a nova alias name (1 to 256 characters); set [pool.nova] alias");
    return name;
}

std::string dp_resource_name(const ExportPool& pool) {
    if (pool.settings.sriov_dp.resource_name)
        return *pool.settings.sriov_dp.resource_name;
    std::string name = pool.name;
    for (char& c : name)
        if (!is_ascii_alnum(c) && c != '_' && c != '-')
            c = '_';
    while (!name.empty() && !is_ascii_alnum(name.front()))
        name.erase(0, 1);
    while (!name.empty() && !is_ascii_alnum(name.back()))
        name.pop_back();
    if (name.empty() || name.size() > 63)
        throw ExportError("pool " + in_quotes(pool.name) +
                          " cannot be a device plugin resource name (1 to 63 letters, digits, '_', '-'); "
                          "set [pool.sriov_dp] resource_name");
    return name;
}

std::string libvirt_network_name(const ExportPool& pool) {
    if (pool.settings.libvirt.network)
        return *pool.settings.libvirt.network;
    std::string name = pool.name;
    for (char& c : name)
        if (c == '/' || is_control(c))
            c = '_';
    if (!name.empty() && name.front() == '.')
        name.front() = '_';
    return name;
}

void NameRegistry::claim(const std::string& name, const ExportPool& pool) {
    auto [it, inserted] = taken_.emplace(name, pool.name);
    if (!inserted)
        throw ExportError("pools " + in_quotes(it->second) + " and " + in_quotes(pool.name) +
                          " would both be " + what_ + " " + in_quotes(name) + "; set " + key_ +
                          " for one of them");
}

} // namespace hostdevd
