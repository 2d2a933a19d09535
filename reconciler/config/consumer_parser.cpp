#include "config/consumer_parser.hpp"

#include "config/consumer_syntax.hpp"
#include "config/entry_values.hpp"

#include <map>
#include <set>

namespace hostdevd::config_detail {

namespace sx = config_syntax;

namespace {

// A string value run through one of consumer_syntax's parsers, reporting its explanation at the value.
template <typename Parser>
std::optional<std::string> read_name(const toml::node& node, std::string_view key, DiagnosticSink& sink,
                                     Parser&& parser) {
    auto text = read_string(node, key, sink);
    if (!text)
        return std::nullopt;
    auto parsed = parser(*text);
    if (auto* why = std::get_if<sx::SyntaxError>(&parsed)) {
        sink.error(node.source(), why->why);
        return std::nullopt;
    }
    return std::get<std::string>(std::move(parsed));
}

// A consumer's sub-table of a [[pool]] (`nova = { ... }` or `[pool.nova]`), with its known keys checked.
const toml::table* consumer_table(const toml::table& pool, std::string_view key,
                                  const std::vector<std::string_view>& known, DiagnosticSink& sink) {
    auto* node = pool.get(key);
    if (!node)
        return nullptr;
    auto* table = node->as_table();
    if (!table) {
        sink.error(node->source(), "`" + std::string(key) + "` must be a table like " + std::string(key) +
                                       " = { " + std::string(known.front()) + " = \"...\" }, not " +
                                       describe_type(*node));
        return nullptr;
    }
    check_known_keys(*table, known, "[pool." + std::string(key) + "]", sink);
    return table;
}

void read_traits(const toml::node& node, PoolSettings& pool, DiagnosticSink& sink) {
    auto* array = node.as_array();
    if (!array) {
        sink.error(node.source(),
                   "`traits` must be an array of strings like [\"CUSTOM_FAST\"], not " + describe_type(node));
        return;
    }
    std::map<std::string, SourceLocation> seen;
    for (const auto& element : *array) {
        auto trait = read_name(element, "traits", sink, sx::parse_nova_trait);
        if (!trait)
            continue;
        auto where = sink.location(element.source());
        if (auto [it, inserted] = seen.emplace(*trait, where); !inserted) {
            sink.error(where, "trait " + *trait + " is listed twice (also at " + it->second.str() + ")");
            continue;
        }
        pool.nova.traits.push_back(*trait);
    }
}

void read_nova(const toml::table& entry, PoolSettings& pool, DiagnosticSink& sink) {
    static const std::vector<std::string_view> kKeys = {"resource_class", "physical_network", "traits",
                                                        "alias"};
    auto* nova = consumer_table(entry, "nova", kKeys, sink);
    if (!nova)
        return;
    if (auto* node = nova->get("resource_class"))
        pool.nova.resource_class = read_name(*node, "resource_class", sink, sx::parse_nova_resource_class);
    if (auto* node = nova->get("physical_network"))
        pool.nova.physical_network = read_name(*node, "physical_network", sink, sx::parse_physical_network);
    if (auto* node = nova->get("traits"))
        read_traits(*node, pool, sink);
    if (auto* node = nova->get("alias"))
        pool.nova.alias = read_name(*node, "alias", sink, sx::parse_nova_alias);
}

void read_device_plugin(const toml::table& entry, PoolSettings& pool, DiagnosticSink& sink) {
    static const std::vector<std::string_view> kKeys = {"resource_name", "resource_prefix", "is_rdma"};
    auto* dp = consumer_table(entry, "sriov_dp", kKeys, sink);
    if (!dp)
        return;
    if (auto* node = dp->get("resource_name"))
        pool.sriov_dp.resource_name = read_name(*node, "resource_name", sink, sx::parse_dp_resource_name);
    if (auto* node = dp->get("resource_prefix"))
        pool.sriov_dp.resource_prefix =
            read_name(*node, "resource_prefix", sink, sx::parse_dp_resource_prefix);
    if (auto* node = dp->get("is_rdma"))
        pool.sriov_dp.is_rdma = read_bool(*node, "is_rdma", sink).value_or(false);
}

void read_libvirt(const toml::table& entry, PoolSettings& pool, DiagnosticSink& sink) {
    static const std::vector<std::string_view> kKeys = {"network"};
    auto* libvirt = consumer_table(entry, "libvirt", kKeys, sink);
    if (!libvirt)
        return;
    if (auto* node = libvirt->get("network"))
        pool.libvirt.network = read_name(*node, "network", sink, sx::parse_libvirt_network_name);
}

// Where an entry puts devices into a pool, and how it binds them.
struct PoolMember {
    std::string pool;
    ConsumerBinding binding;
    std::string how; // "managed = true", "driver = \"vfio-pci\"", "vgpu = \"...\"", "no `driver`"
    SourceLocation source;
    const char* header;
};

std::string describe_binding(const DriverChoice& driver, bool managed,
                             const std::optional<std::string>& vgpu) {
    if (managed)
        return "managed = true";
    if (vgpu)
        return "vgpu = " + sx::quote(*vgpu);
    switch (driver.kind) {
    case DriverChoice::Kind::Leave:
        return "no `driver`";
    case DriverChoice::Kind::Named:
        return "driver = " + sx::quote(driver.name);
    case DriverChoice::Kind::Vfio:
        return "driver = \"vfio\"";
    case DriverChoice::Kind::None:
        return "driver = \"none\"";
    }
    return "";
}

std::vector<PoolMember> pool_members(const ParsedEntries& entries) {
    std::vector<PoolMember> members;
    for (const auto& pf : entries.pfs)
        for (const auto& vf : pf.vfs_settings)
            if (!vf.pool.empty())
                members.push_back({vf.pool, consumer_binding(vf.driver, vf.managed, vf.vgpu.has_value()),
                                   describe_binding(vf.driver, vf.managed, vf.vgpu), vf.source, "[[pf.vf]]"});
    for (const auto& device : entries.devices)
        if (!device.pool.empty())
            members.push_back({device.pool, consumer_binding(device.driver, device.managed, false),
                               describe_binding(device.driver, device.managed, std::nullopt), device.source,
                               "[[device]]"});
    return members;
}

const char* binding_words(ConsumerBinding binding) {
    switch (binding) {
    case ConsumerBinding::Managed:
        return "leaves the binding to libvirt/nova";
    case ConsumerBinding::Vfio:
        return "binds a VFIO driver itself";
    case ConsumerBinding::Other:
        return "keeps the devices off VFIO";
    }
    return "";
}

void check_pool_bindings(const std::vector<PoolMember>& members, std::vector<ConfigDiagnostic>& errors) {
    std::map<std::string, const PoolMember*> first;
    for (const auto& m : members) {
        auto [it, inserted] = first.emplace(m.pool, &m);
        if (inserted || it->second->binding == m.binding)
            continue;
        const PoolMember& a = *it->second;
        errors.push_back(ConfigDiagnostic{
            m.source, "pool " + sx::quote(m.pool) + ": this " + m.header + " (" + m.how + ") " +
                          binding_words(m.binding) + ", the " + a.header + " at " + a.source.file_line() +
                          " (" + a.how + ") " + binding_words(a.binding) +
                          "; a pool's consumers see one binding (nova `managed`, libvirt <forward "
                          "managed>): use two pools"});
    }
}

void check_pool_tables(const ParsedEntries& entries, const std::vector<PoolMember>& members,
                       std::vector<ConfigDiagnostic>& errors) {
    std::set<std::string> used;
    for (const auto& m : members)
        used.insert(m.pool);
    std::vector<std::string_view> used_names(used.begin(), used.end());
    std::map<std::string, SourceLocation> described;
    for (const auto& pool : entries.pools) {
        if (auto [it, inserted] = described.emplace(pool.name, pool.source); !inserted) {
            errors.push_back(ConfigDiagnostic{pool.source, "pool " + sx::quote(pool.name) +
                                                               " is already described by the [[pool]] at " +
                                                               it->second.file_line()});
            continue;
        }
        if (used.count(pool.name))
            continue;
        std::string message = "no [[pf.vf]] or [[device]] entry has pool = " + sx::quote(pool.name);
        if (auto suggestion = closest_key(pool.name, used_names); !suggestion.empty())
            message += "; did you mean " + sx::quote(suggestion) + "?";
        errors.push_back(ConfigDiagnostic{pool.source, message});
    }
}

void check_export_targets(const ParsedEntries& entries, std::vector<ConfigDiagnostic>& errors) {
    std::map<ExportFormat, const ExportTarget*> by_format;
    std::map<std::string, const ExportTarget*> by_path;
    for (const auto& target : entries.exports) {
        if (auto [it, inserted] = by_format.emplace(target.format, &target); !inserted) {
            errors.push_back(ConfigDiagnostic{target.source, std::string("`") + to_string(target.format) +
                                                                 "` is already exported by the [export] at " +
                                                                 it->second->source.file_line()});
            continue;
        }
        if (auto [it, inserted] = by_path.emplace(target.path, &target); !inserted)
            errors.push_back(ConfigDiagnostic{
                target.source, sx::quote(target.path) + " is already the `" + to_string(it->second->format) +
                                   "` export at " + it->second->source.file_line()});
    }
}

} // namespace

void parse_pool(const toml::table& entry, DiagnosticSink& sink, ParsedEntries& out) {
    size_t errors_before = sink.count();
    static const std::vector<std::string_view> kKeys = {"name", "nova", "sriov_dp", "libvirt"};
    check_known_keys(entry, kKeys, "[[pool]]", sink);
    PoolSettings pool;
    pool.source = sink.location(entry.source());
    if (auto* name = entry.get("name"))
        pool.name = read_label(*name, "name", sink).value_or("");
    else
        sink.error(entry.source(), "[[pool]] needs `name`, the `pool` label of the entries it describes");
    read_nova(entry, pool, sink);
    read_device_plugin(entry, pool, sink);
    read_libvirt(entry, pool, sink);
    if (sink.count() == errors_before)
        out.pools.push_back(std::move(pool));
}

void parse_export(const toml::node& node, DiagnosticSink& sink, ParsedEntries& out) {
    auto* table = node.as_table();
    if (!table) {
        sink.error(node.source(), "`export` must be a table ([export] with nova = \"/path\", ...), not " +
                                      describe_type(node) +
                                      (node.is_array_of_tables() ? " ([[export]])" : ""));
        return;
    }
    std::vector<std::string_view> known;
    for (ExportFormat format : all_export_formats())
        known.push_back(to_string(format));
    check_known_keys(*table, known, "[export]", sink);
    // In format order, so the daemon writes them in a stable order whatever the file's order.
    for (ExportFormat format : all_export_formats()) {
        auto* value = table->get(to_string(format));
        if (!value)
            continue;
        auto path = read_name(*value, to_string(format), sink, sx::parse_export_path);
        if (!path)
            continue;
        if (format == ExportFormat::Prometheus && !(path->size() > 5 && path->ends_with(".prom"))) {
            sink.error(value->source(), "the prometheus export must end in .prom: node_exporter's textfile "
                                        "collector reads only *.prom files");
            continue;
        }
        out.exports.push_back(ExportTarget{format, *path, sink.location(value->source())});
    }
}

void check_consumers(const ParsedEntries& entries, std::vector<ConfigDiagnostic>& errors) {
    auto members = pool_members(entries);
    check_pool_bindings(members, errors);
    check_pool_tables(entries, members, errors);
    check_export_targets(entries, errors);
}

} // namespace hostdevd::config_detail
