#include "import_mdevctl.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace hostdevd {

namespace fs = std::filesystem;

namespace {

// mdevctl.d also holds mdevctl's own callout scripts (scripts.d/callouts, scripts.d/notifiers).
constexpr const char* kScriptsDir = "scripts.d";

bool is_uuid(const std::string& text) {
    static const std::regex uuid(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    return std::regex_match(text, uuid);
}

// PCI parents are selected by address; mdevctl also knows non-PCI parents (vfio_ap's "matrix", vfio_ccw's
// subchannels, the sample mtty), which hostdevd selects by their /sys/class/mdev_bus name.
bool is_pci_address(const std::string& text) {
    static const std::regex address("^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\\.[0-7]$");
    return std::regex_match(text, address);
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

// A TOML basic string: quotes, backslashes and control characters escaped (TOML 1.0 §String).
std::string toml_string(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                char buffer[8];
                std::snprintf(buffer, sizeof buffer, "\\u%04X", c);
                out += buffer;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

MdevctlDefinition parse_definition(const fs::path& file, const std::string& parent) {
    auto fail = [&](const std::string& why) { return std::runtime_error(file.string() + ": " + why); };
    std::ifstream in(file);
    if (!in)
        throw fail("cannot be read");
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& error) {
        throw fail(std::string("not valid JSON: ") + error.what());
    }
    if (!json.is_object())
        throw fail("not a JSON object");

    MdevctlDefinition def;
    def.parent = parent;
    def.uuid = lower(file.filename().string());
    def.file = file.string();
    if (!json.contains("mdev_type") || !json["mdev_type"].is_string() ||
        json["mdev_type"].get<std::string>().empty())
        throw fail("\"mdev_type\" must be a non-empty string");
    def.type = json["mdev_type"].get<std::string>();
    if (def.type.find('/') != std::string::npos)
        throw fail("\"mdev_type\" " + def.type + " contains '/'");
    // mdevctl treats a missing "start" as manual (it writes "start" on every define).
    if (json.contains("start") && !json["start"].is_string())
        throw fail("\"start\" must be \"auto\" or \"manual\"");
    const std::string start = json.value("start", std::string("manual"));
    if (start != "auto" && start != "manual")
        throw fail("\"start\" must be \"auto\" or \"manual\", not \"" + start + "\"");
    def.auto_start = start == "auto";
    if (json.contains("attrs")) {
        if (!json["attrs"].is_array())
            throw fail("\"attrs\" must be an array");
        // Each element is a one-key object; the array order is the write order (mdevctl applies them in
        // order after create, as hostdevd does).
        for (const auto& attr : json["attrs"]) {
            if (!attr.is_object() || attr.size() != 1 || !attr.begin().value().is_string())
                throw fail("each \"attrs\" element must be an object with one string value");
            const std::string name = attr.begin().key();
            if (name.empty() || name.find('/') != std::string::npos)
                throw fail("attribute name \"" + name + "\" is not a file name");
            def.attrs.emplace_back(name, attr.begin().value().get<std::string>());
        }
    }
    return def;
}

void write_entry(std::ostream& out, const std::vector<const MdevctlDefinition*>& group, bool commented) {
    const MdevctlDefinition& first = *group.front();
    const std::string prefix = commented ? "# " : "";
    out << prefix << "[[mdev]]\n";
    out << prefix << "parent = { " << (is_pci_address(first.parent) ? "address" : "name") << " = "
        << toml_string(first.parent) << " }\n";
    out << prefix << "type = " << toml_string(first.type) << "\n";
    out << prefix << "uuids = [\n";
    for (const MdevctlDefinition* def : group)
        out << prefix << "  " << toml_string(def->uuid) << ",\n";
    out << prefix << "]\n";
    if (!first.attrs.empty()) {
        out << prefix << "attrs = [\n";
        for (const auto& [name, value] : first.attrs)
            out << prefix << "  { name = " << toml_string(name) << ", value = " << toml_string(value)
                << " },\n";
        out << prefix << "]\n";
    }
}

} // namespace

std::vector<MdevctlDefinition> read_mdevctl_definitions(const std::string& dir) {
    std::error_code error;
    if (!fs::is_directory(dir, error))
        throw std::runtime_error(dir + ": not a directory");
    std::vector<MdevctlDefinition> out;
    for (const fs::directory_entry& parent_dir : fs::directory_iterator(dir)) {
        const std::string parent = parent_dir.path().filename().string();
        if (!parent_dir.is_directory() || parent == kScriptsDir)
            continue;
        for (const fs::directory_entry& file : fs::directory_iterator(parent_dir.path())) {
            if (!file.is_regular_file())
                continue;
            if (!is_uuid(file.path().filename().string()))
                throw std::runtime_error(file.path().string() + ": file name is not an mdev UUID");
            out.push_back(parse_definition(file.path(), parent));
        }
    }
    std::sort(out.begin(), out.end(), [](const MdevctlDefinition& a, const MdevctlDefinition& b) {
        return std::tie(a.parent, a.uuid) < std::tie(b.parent, b.uuid);
    });
    // The kernel refuses a UUID that exists on any parent (mdev_core.c), and so does hostdevd's loader.
    std::map<std::string, const MdevctlDefinition*> seen;
    for (const MdevctlDefinition& def : out)
        if (auto [it, fresh] = seen.emplace(def.uuid, &def); !fresh)
            throw std::runtime_error(def.file + ": UUID " + def.uuid + " is also defined in " +
                                     it->second->file);
    return out;
}

std::string mdevctl_definitions_to_toml(const std::vector<MdevctlDefinition>& definitions,
                                        const std::string& source_dir) {
    // Definitions that differ only by UUID share one entry; a different start mode or attrs list keeps them
    // apart. std::map keeps the output order stable (parent, type, ...).
    using Key = std::tuple<std::string, std::string, bool, std::vector<std::pair<std::string, std::string>>>;
    std::map<Key, std::vector<const MdevctlDefinition*>> groups;
    for (const MdevctlDefinition& def : definitions)
        groups[{def.parent, def.type, !def.auto_start, def.attrs}].push_back(&def);

    std::ostringstream out;
    out << "# Imported from " << source_dir << " by `hostdevctl import-mdevctl`.\n"
        << "# Auto-start definitions are desired state; manual ones are commented out (hostdevd keeps\n"
        << "# every configured mdev created, it has no \"defined but stopped\" state).\n"
        << "version = 1\n";
    for (const auto& [key, group] : groups) {
        const MdevctlDefinition& first = *group.front();
        out << "\n";
        if (!first.auto_start) {
            out << "# start = \"manual\" in mdevctl: uncomment to have hostdevd keep these created.\n";
            write_entry(out, group, true);
        } else {
            write_entry(out, group, false);
        }
    }
    return out.str();
}

int run_import_mdevctl(const std::string& dir) {
    try {
        const std::vector<MdevctlDefinition> definitions = read_mdevctl_definitions(dir);
        std::cout << mdevctl_definitions_to_toml(definitions, dir);
        if (definitions.empty())
            std::cerr << "hostdevctl: import-mdevctl: no mdev definitions in " << dir << "\n";
        return 0;
    } catch (const std::exception& error) {
        // Nothing has been printed yet: a partial file would silently drop definitions.
        std::cerr << "hostdevctl: import-mdevctl: " << error.what() << "\n";
        return 1;
    } catch (...) {
        std::cerr << "hostdevctl: import-mdevctl: unexpected error\n";
        return 1;
    }
}

} // namespace hostdevd
