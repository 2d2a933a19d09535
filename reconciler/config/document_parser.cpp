#include "config/document_parser.hpp"

#include "config/consumer_parser.hpp"
#include "config/entry_values.hpp"
#include "config/value_syntax.hpp"

#include <algorithm>
#include <map>

namespace hostdevd::config_detail {

namespace sx = config_syntax;

namespace {

// The one version this loader understands; each file declares it (config.md "Where files live").
constexpr int64_t kConfigVersion = 1;

// Collects the tables of an array-of-tables key (`[[pf]]`, `pf = [{...}]`). A single `[pf]` table is
// refused with a hint, because `[pf]` and `[[pf]]` look alike but mean different things in TOML.
std::vector<const toml::table*> entry_tables(const toml::node& node, std::string_view key,
                                             DiagnosticSink& sink) {
    std::vector<const toml::table*> tables;
    const std::string header = "[[" + std::string(key) + "]]";
    if (auto* array = node.as_array()) {
        for (const auto& element : *array) {
            if (auto* table = element.as_table())
                tables.push_back(table);
            else
                sink.error(element.source(), "each `" + std::string(key) + "` entry must be a table (" +
                                                 header + "), not " + describe_type(element));
        }
    } else {
        sink.error(node.source(), "`" + std::string(key) + "` must be " + header +
                                      " tables (an array of tables), not " + describe_type(node) +
                                      (node.is_table() ? " ([" + std::string(key) + "])" : ""));
    }
    return tables;
}

class DocumentParser {
public:
    DocumentParser(DiagnosticSink& sink, ParsedEntries& out) : sink_(sink), out_(out) {}

    void parse(const toml::table& document) {
        if (!check_version(document))
            return;
        static const std::vector<std::string_view> kTopKeys = {"version", "policy", "pf",    "device",
                                                               "mdev",    "pool",   "export"};
        check_known_keys(document, kTopKeys, "the top level", sink_);
        if (auto* policy = document.get("policy"))
            parse_policy(*policy);
        if (auto* pf = document.get("pf"); pf && !misplaced_vf_tables(*pf))
            for (auto* table : entry_tables(*pf, "pf", sink_))
                parse_pf(*table);
        if (auto* device = document.get("device"))
            for (auto* table : entry_tables(*device, "device", sink_))
                parse_device(*table);
        if (auto* mdev = document.get("mdev"))
            for (auto* table : entry_tables(*mdev, "mdev", sink_))
                parse_mdev(*table);
        if (auto* pool = document.get("pool"))
            for (auto* table : entry_tables(*pool, "pool", sink_))
                parse_pool(*table, sink_, out_);
        if (auto* exports = document.get("export"))
            parse_export(*exports, sink_, out_);
    }

private:
    // False when the file declares a version we do not understand: its keys may mean something else, so
    // nothing more of it is read. A missing version is reported and the rest still checked.
    bool check_version(const toml::table& document) {
        auto* version = document.get("version");
        if (!version) {
            sink_.error(SourceLocation{sink_.file(), 1, 1},
                        "missing `version = 1`; every configuration file starts with it");
            return true;
        }
        auto* number = version->as_integer();
        if (!number) {
            sink_.error(version->source(), "`version` must be the integer 1, not " + describe_type(*version));
            return false;
        }
        if (number->get() != kConfigVersion) {
            sink_.error(version->source(), "unsupported configuration version " +
                                               std::to_string(number->get()) +
                                               "; this hostdevd reads version 1");
            return false;
        }
        return true;
    }

    // `[[pf.vf]]` before any `[[pf]]` makes TOML create an implicit `pf` table holding the `vf` array.
    bool misplaced_vf_tables(const toml::node& pf) {
        auto* table = pf.as_table();
        if (!table)
            return false;
        auto* vf = table->get("vf");
        if (table->size() != 1 || !vf || !vf->is_array_of_tables())
            return false; // a `[pf]` with keys of its own: entry_tables() explains [pf] vs [[pf]]
        sink_.error(vf->source(), "[[pf.vf]] must follow a [[pf]] table; add [[pf]] with a `match` above it");
        return true;
    }

    // `[policy]`: settings for the whole configuration, today only `destroy`.
    void parse_policy(const toml::node& node) {
        auto* table = node.as_table();
        if (!table) {
            sink_.error(node.source(), "`policy` must be a [policy] table, not " + describe_type(node));
            return;
        }
        static const std::vector<std::string_view> kKeys = {"destroy"};
        check_known_keys(*table, kKeys, "[policy]", sink_);
        auto* destroy = table->get("destroy");
        if (!destroy)
            return;
        auto policy = read_destroy_policy(*destroy, sink_);
        if (!policy)
            return;
        const SourceLocation where = sink_.location(destroy->source());
        if (out_.destroy) {
            sink_.error(destroy->source(), "[policy] `destroy` is already set at " +
                                               out_.destroy_source.str() + "; set it in one file only");
            return;
        }
        out_.destroy = policy;
        out_.destroy_source = where;
    }

    std::optional<Match> required_match(const toml::table& entry, std::string_view key,
                                        std::string_view header, MatchKind kind = MatchKind::Device) {
        auto* node = entry.get(key);
        if (!node) {
            sink_.error(entry.source(), std::string(header) + " needs a `" + std::string(key) +
                                            "` table, like " + std::string(key) +
                                            " = { address = \"0000:3b:00.0\" }");
            return std::nullopt;
        }
        return read_match(*node, key, sink_, kind);
    }

    void parse_pf(const toml::table& entry) {
        size_t errors_before = sink_.count();
        static const std::vector<std::string_view> kKeys = {"match", "vfs", "autoprobe", "vf", "destroy"};
        check_known_keys(entry, kKeys, "[[pf]]", sink_);
        PfEntry pf;
        pf.source = sink_.location(entry.source());
        if (auto match = required_match(entry, "match", "[[pf]]"))
            pf.match = *match;
        if (auto* vfs = entry.get("vfs"))
            pf.vfs = read_vf_count(*vfs);
        if (auto* autoprobe = entry.get("autoprobe"))
            pf.autoprobe = read_bool(*autoprobe, "autoprobe", sink_);
        if (auto* destroy = entry.get("destroy"))
            pf.destroy = read_destroy_policy(*destroy, sink_);
        if (auto* vf = entry.get("vf")) {
            if (vf->is_array_of_tables() || (vf->is_array() && vf->as_array()->empty())) {
                for (const auto& element : *vf->as_array())
                    parse_vf_settings(*element.as_table(), pf);
            } else {
                sink_.error(vf->source(), "`vf` must be [[pf.vf]] tables, not " + describe_type(*vf) +
                                              (vf->is_integer() ? "; did you mean `vfs`?" : ""));
            }
        }
        if (sink_.count() == errors_before)
            out_.pfs.push_back(std::move(pf));
    }

    std::optional<VfCount> read_vf_count(const toml::node& node) {
        static constexpr std::string_view kWhy = "sriov_numvfs is a u16";
        if (node.is_integer()) {
            auto count = read_bounded_integer(node, "vfs", sx::kMaxVfCount, kWhy, sink_);
            if (!count)
                return std::nullopt;
            return VfCount{VfCount::Mode::Exact, *count};
        }
        auto* table = node.as_table();
        if (!table) {
            sink_.error(node.source(),
                        "`vfs` must be an integer or a table like { min = 8 }, not " + describe_type(node));
            return std::nullopt;
        }
        static const std::vector<std::string_view> kKeys = {"min"};
        bool known = check_known_keys(*table, kKeys, "the `vfs` table", sink_);
        auto* min = table->get("min");
        if (!min) {
            sink_.error(node.source(), "the `vfs` table needs `min`, like vfs = { min = 8 }");
            return std::nullopt;
        }
        auto count = read_bounded_integer(*min, "min", sx::kMaxVfCount, kWhy, sink_);
        if (!count || !known)
            return std::nullopt;
        return VfCount{VfCount::Mode::AtLeast, *count};
    }

    std::optional<std::vector<uint32_t>> read_vf_indices(const toml::node& node) {
        if (node.is_integer()) {
            auto index = read_bounded_integer(node, "index", sx::kMaxVfIndex, "", sink_);
            if (!index)
                return std::nullopt;
            return std::vector<uint32_t>{*index};
        }
        auto* text = node.as_string();
        if (!text) {
            sink_.error(node.source(),
                        "`index` must be a string like \"0-3,6\" or an integer, not " + describe_type(node));
            return std::nullopt;
        }
        auto parsed = sx::parse_vf_index_list(text->get());
        if (auto* why = std::get_if<sx::SyntaxError>(&parsed)) {
            sink_.error(node.source(), why->why);
            return std::nullopt;
        }
        return std::get<std::vector<uint32_t>>(std::move(parsed));
    }

    void parse_vf_settings(const toml::table& entry, PfEntry& pf) {
        size_t errors_before = sink_.count();
        static const std::vector<std::string_view> kKeys = {"index", "driver", "managed", "pool", "vgpu"};
        check_known_keys(entry, kKeys, "[[pf.vf]]", sink_);
        VfSettings vf;
        vf.source = sink_.location(entry.source());
        auto* index = entry.get("index");
        if (!index)
            sink_.error(entry.source(), "[[pf.vf]] needs `index`, like index = \"0-3\"");
        std::optional<std::vector<uint32_t>> indices = index ? read_vf_indices(*index) : std::nullopt;
        if (auto* driver = entry.get("driver"))
            if (auto choice = read_driver(*driver, sink_))
                vf.driver = *choice;
        auto* managed = entry.get("managed");
        if (managed)
            vf.managed = read_bool(*managed, "managed", sink_).value_or(false);
        if (auto* pool = entry.get("pool"))
            vf.pool = read_label(*pool, "pool", sink_).value_or("");
        auto* vgpu = entry.get("vgpu");
        if (vgpu)
            vf.vgpu = read_label(*vgpu, "vgpu", sink_);
        if (managed && vf.managed && entry.contains("driver"))
            sink_.error(managed->source(),
                        "`managed = true` cannot be combined with `driver`: libvirt/nova bind "
                        "managed devices, hostdevd does not");
        if (vgpu && entry.contains("driver"))
            sink_.error(vgpu->source(),
                        "`vgpu` cannot be combined with `driver`: vGPU VFs stay bound to nvidia");
        if (vgpu && managed && vf.managed)
            sink_.error(vgpu->source(),
                        "`vgpu` cannot be combined with `managed = true`: vGPU VFs stay bound to "
                        "nvidia, which hostdevd keeps");
        if (indices) {
            vf.indices = std::move(*indices);
            check_indices_against_pf(*index, vf, pf);
        }
        if (sink_.count() == errors_before)
            pf.vfs_settings.push_back(std::move(vf));
    }

    // Two [[pf.vf]] of one PF must not both set a VF, and with an exact `vfs` every index must exist.
    void check_indices_against_pf(const toml::node& index_node, const VfSettings& vf, const PfEntry& pf) {
        if (pf.vfs && pf.vfs->mode == VfCount::Mode::Exact) {
            uint32_t exact = pf.vfs->count;
            if (!vf.indices.empty() && vf.indices.back() >= exact) {
                std::string indexes = exact == 0 ? "it has no VFs" : "indexes 0-" + std::to_string(exact - 1);
                sink_.error(index_node.source(), "VF index " + std::to_string(vf.indices.back()) +
                                                     " is out of range: this PF has vfs = " +
                                                     std::to_string(exact) + " (" + indexes + ")");
            }
        }
        for (const auto& earlier : pf.vfs_settings) {
            for (uint32_t i : vf.indices) {
                if (std::binary_search(earlier.indices.begin(), earlier.indices.end(), i)) {
                    sink_.error(index_node.source(), "VF index " + std::to_string(i) +
                                                         " is already set by the [[pf.vf]] at " +
                                                         earlier.source.file_line());
                    return;
                }
            }
        }
    }

    void parse_device(const toml::table& entry) {
        size_t errors_before = sink_.count();
        static const std::vector<std::string_view> kKeys = {"match", "driver", "managed", "pool"};
        check_known_keys(entry, kKeys, "[[device]]", sink_);
        DeviceEntry device;
        device.source = sink_.location(entry.source());
        if (auto match = required_match(entry, "match", "[[device]]"))
            device.match = *match;
        if (auto* driver = entry.get("driver"))
            if (auto choice = read_driver(*driver, sink_))
                device.driver = *choice;
        auto* managed = entry.get("managed");
        if (managed)
            device.managed = read_bool(*managed, "managed", sink_).value_or(false);
        if (auto* pool = entry.get("pool"))
            device.pool = read_label(*pool, "pool", sink_).value_or("");
        if (managed && device.managed && entry.contains("driver"))
            sink_.error(managed->source(),
                        "`managed = true` cannot be combined with `driver`: libvirt/nova bind "
                        "managed devices, hostdevd does not");
        if (sink_.count() == errors_before)
            out_.devices.push_back(std::move(device));
    }

    void parse_mdev(const toml::table& entry) {
        size_t errors_before = sink_.count();
        static const std::vector<std::string_view> kKeys = {"parent", "type",  "count",
                                                            "uuids",  "attrs", "destroy"};
        check_known_keys(entry, kKeys, "[[mdev]]", sink_);
        MdevEntry mdev;
        mdev.source = sink_.location(entry.source());
        if (auto parent = required_match(entry, "parent", "[[mdev]]", MatchKind::MdevParent))
            mdev.parent = *parent;
        if (auto* type = entry.get("type")) {
            if (auto text = read_string(*type, "type", sink_)) {
                auto parsed = sx::parse_sysfs_name(*text, "mdev `type`");
                if (auto* why = std::get_if<sx::SyntaxError>(&parsed))
                    sink_.error(type->source(), why->why);
                else
                    mdev.type = std::get<std::string>(parsed);
            }
        } else {
            sink_.error(entry.source(), "[[mdev]] needs `type`, a directory name under mdev_supported_types");
        }
        auto* count = entry.get("count");
        auto* uuids = entry.get("uuids");
        if (count)
            mdev.count = read_bounded_integer(*count, "count", sx::kMaxMdevCount, "", sink_);
        if (uuids)
            read_uuids(*uuids, mdev);
        if (count && uuids)
            sink_.error(uuids->source(), "`count` and `uuids` exclude each other; give one of them");
        if (!count && !uuids)
            sink_.error(entry.source(), "[[mdev]] needs `count` or `uuids`");
        if (auto* attrs = entry.get("attrs"))
            read_attrs(*attrs, mdev);
        if (auto* destroy = entry.get("destroy"))
            mdev.destroy = read_destroy_policy(*destroy, sink_);
        if (sink_.count() == errors_before) {
            out_.mdevs.push_back(std::move(mdev));
            out_.mdev_uuids.insert(out_.mdev_uuids.end(), pending_uuids_.begin(), pending_uuids_.end());
        }
        pending_uuids_.clear();
    }

    void read_uuids(const toml::node& node, MdevEntry& mdev) {
        auto* array = node.as_array();
        if (!array) {
            sink_.error(node.source(), "`uuids` must be an array of strings, not " + describe_type(node));
            return;
        }
        if (array->empty()) {
            sink_.error(node.source(), "`uuids` is empty; use count = 0 to remove every instance");
            return;
        }
        std::map<std::string, SourceLocation> seen;
        for (const auto& element : *array) {
            auto* text = element.as_string();
            if (!text) {
                sink_.error(element.source(),
                            "each `uuids` entry must be a string, not " + describe_type(element));
                continue;
            }
            auto parsed = sx::parse_uuid(text->get());
            if (auto* why = std::get_if<sx::SyntaxError>(&parsed)) {
                sink_.error(element.source(), why->why);
                continue;
            }
            auto& uuid = std::get<std::string>(parsed);
            auto where = sink_.location(element.source());
            if (auto [it, inserted] = seen.emplace(uuid, where); !inserted) {
                sink_.error(where, "UUID " + uuid + " is listed twice (also at " + it->second.str() + ")");
                continue;
            }
            mdev.uuids.push_back(uuid);
            pending_uuids_.push_back(UuidUse{uuid, where});
        }
    }

    void read_attrs(const toml::node& node, MdevEntry& mdev) {
        auto* array = node.as_array();
        if (!array) {
            sink_.error(node.source(), "`attrs` must be an array of tables like [{ name = \"...\", value = "
                                       "\"...\" }], not " +
                                           describe_type(node));
            return;
        }
        static const std::vector<std::string_view> kKeys = {"name", "value"};
        for (const auto& element : *array) {
            auto* table = element.as_table();
            if (!table) {
                sink_.error(element.source(),
                            "each `attrs` entry must be a table like { name = \"...\", value = "
                            "\"...\" }, not " +
                                describe_type(element));
                continue;
            }
            check_known_keys(*table, kKeys, "an `attrs` entry", sink_);
            MdevAttr attr;
            auto* name = table->get("name");
            auto* value = table->get("value");
            if (!name)
                sink_.error(element.source(), "`attrs` entry needs `name`");
            if (!value)
                sink_.error(element.source(), "`attrs` entry needs `value`");
            if (name)
                if (auto text = read_string(*name, "name", sink_)) {
                    auto parsed = sx::parse_sysfs_name(*text, "attribute name");
                    if (auto* why = std::get_if<sx::SyntaxError>(&parsed))
                        sink_.error(name->source(), why->why);
                    else
                        attr.name = std::get<std::string>(parsed);
                }
            if (value)
                if (auto text = read_string(*value, "value", sink_)) {
                    if (text->find('\0') != std::string::npos)
                        sink_.error(value->source(), "attribute value contains a NUL byte");
                    attr.value = *text;
                }
            mdev.attrs.push_back(std::move(attr));
        }
    }

    DiagnosticSink& sink_;
    ParsedEntries& out_;
    std::vector<UuidUse> pending_uuids_; // UUIDs of the [[mdev]] being read; kept only if it is valid
};

} // namespace

void parse_document(const toml::table& document, DiagnosticSink& sink, ParsedEntries& out) {
    DocumentParser(sink, out).parse(document);
}

} // namespace hostdevd::config_detail
