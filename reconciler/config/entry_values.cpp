#include "config/entry_values.hpp"

#include "common/closest_match.hpp"
#include "config/value_syntax.hpp"
#include "model/pci_address.hpp"

#include <algorithm>

namespace hostdevd::config_detail {

namespace sx = config_syntax;

namespace {

void type_error(const toml::node& node, std::string_view key, std::string_view expected,
                DiagnosticSink& sink) {
    sink.error(node.source(), "`" + std::string(key) + "` must be " + std::string(expected) + ", not " +
                                  describe_type(node));
}

// Applies a config_syntax parser to a string value, reporting its explanation at the value.
template <typename T, typename Parser>
std::optional<T> parse_with(const toml::node& node, const std::string& text, DiagnosticSink& sink,
                            Parser&& parser) {
    auto parsed = parser(text);
    if (auto* why = std::get_if<sx::SyntaxError>(&parsed)) {
        sink.error(node.source(), why->why);
        return std::nullopt;
    }
    return std::get<T>(std::move(parsed));
}

} // namespace

std::optional<std::string> read_string(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (auto* value = node.as_string())
        return value->get();
    type_error(node, key, "a string", sink);
    return std::nullopt;
}

std::optional<bool> read_bool(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    if (auto* value = node.as_boolean())
        return value->get();
    type_error(node, key, "true or false", sink);
    return std::nullopt;
}

std::optional<DestroyPolicy> read_destroy_policy(const toml::node& node, DiagnosticSink& sink) {
    auto text = read_string(node, "destroy", sink);
    if (!text)
        return std::nullopt;
    if (*text == "ask")
        return DestroyPolicy::Ask;
    if (*text == "when-idle")
        return DestroyPolicy::WhenIdle;
    std::string message = "`destroy` must be \"ask\" (destroy only with the operator's consent) or "
                          "\"when-idle\" (destroy whenever nothing uses it), not " +
                          sx::quote(*text);
    if (auto meant = closest_match(*text, {"ask", "when-idle"}); !meant.empty())
        message += "; did you mean \"" + meant + "\"?";
    sink.error(node.source(), message);
    return std::nullopt;
}

std::optional<uint32_t> read_bounded_integer(const toml::node& node, std::string_view key, uint32_t max,
                                             std::string_view why, DiagnosticSink& sink) {
    auto* value = node.as_integer();
    if (!value) {
        type_error(node, key, "an integer", sink);
        return std::nullopt;
    }
    int64_t number = value->get();
    if (number < 0 || number > static_cast<int64_t>(max)) {
        std::string message = "`" + std::string(key) + "` must be within 0.." + std::to_string(max);
        if (!why.empty())
            message += " (" + std::string(why) + ")";
        sink.error(node.source(), message + ", got " + std::to_string(number));
        return std::nullopt;
    }
    return static_cast<uint32_t>(number);
}

std::optional<std::string> read_label(const toml::node& node, std::string_view key, DiagnosticSink& sink) {
    auto text = read_string(node, key, sink);
    if (!text)
        return std::nullopt;
    if (text->empty()) {
        sink.error(node.source(), "`" + std::string(key) + "` is empty; omit it instead");
        return std::nullopt;
    }
    if (std::any_of(text->begin(), text->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
        sink.error(node.source(),
                   "`" + std::string(key) + "` " + sx::quote(*text) + " contains a control character");
        return std::nullopt;
    }
    return text;
}

std::optional<Match> read_match(const toml::node& node, std::string_view key, DiagnosticSink& sink,
                                MatchKind kind) {
    auto* table = node.as_table();
    if (!table) {
        type_error(node, key, "a table like { address = \"0000:3b:00.0\" }", sink);
        return std::nullopt;
    }
    size_t errors_before = sink.count();
    static const std::vector<std::string_view> kKeys = {"address", "netdev", "vendor", "device", "path"};
    static const std::vector<std::string_view> kParentKeys = {"address", "netdev", "vendor",
                                                              "device",  "path",   "name"};
    const bool parent = kind == MatchKind::MdevParent;
    check_known_keys(*table, parent ? kParentKeys : kKeys, "`" + std::string(key) + "`", sink);
    if (table->empty()) {
        sink.error(node.source(), "`" + std::string(key) +
                                      "` is empty; give at least one of address, netdev, " +
                                      "vendor, device, path" + (parent ? ", name" : ""));
        return std::nullopt;
    }
    Match match;
    if (auto* name = parent ? table->get("name") : nullptr) {
        if (table->size() != 1)
            sink.error(name->source(),
                       "`name` names a parent that is not a PCI device and stands alone in `" +
                           std::string(key) + "`; for a PCI parent use address, vendor, ...");
        if (auto text = read_string(*name, "name", sink)) {
            if (PciAddress::parse(*text))
                sink.error(name->source(), "mdev parent `name` " + sx::quote(*text) +
                                               " is a PCI address; write address = " + sx::quote(*text));
            else
                match.name = parse_with<std::string>(*name, *text, sink, [](std::string_view t) {
                    return sx::parse_sysfs_name(t, "mdev parent `name`");
                });
        }
    }
    if (auto* address = table->get("address")) {
        if (auto text = read_string(*address, "address", sink)) {
            if (auto parsed = PciAddress::parse(*text))
                match.address = parsed->str();
            else
                sink.error(address->source(),
                           "bad PCI address " + sx::quote(*text) +
                               "; expected DDDD:BB:DD.F or BB:DD.F (like \"0000:3b:00.0\")");
        }
    }
    if (auto* netdev = table->get("netdev"))
        if (auto text = read_string(*netdev, "netdev", sink))
            match.netdev = parse_with<std::string>(*netdev, *text, sink, sx::parse_netdev_name);
    if (auto* vendor = table->get("vendor"))
        if (auto text = read_string(*vendor, "vendor", sink))
            match.vendor = parse_with<uint16_t>(*vendor, *text, sink, sx::parse_pci_id);
    if (auto* device = table->get("device"))
        if (auto text = read_string(*device, "device", sink))
            match.device = parse_with<uint16_t>(*device, *text, sink, sx::parse_pci_id);
    if (auto* path = table->get("path"))
        if (auto text = read_string(*path, "path", sink))
            match.path = parse_with<std::string>(*path, *text, sink, sx::parse_id_path);
    if (sink.count() != errors_before)
        return std::nullopt;
    return match;
}

std::optional<DriverChoice> read_driver(const toml::node& node, DiagnosticSink& sink) {
    auto text = read_string(node, "driver", sink);
    if (!text)
        return std::nullopt;
    DriverChoice choice;
    if (*text == "vfio") {
        choice.kind = DriverChoice::Kind::Vfio;
    } else if (*text == "none") {
        choice.kind = DriverChoice::Kind::None;
    } else {
        auto name = parse_with<std::string>(node, *text, sink, sx::parse_driver_name);
        if (!name)
            return std::nullopt;
        choice.kind = DriverChoice::Kind::Named;
        choice.name = *name;
    }
    return choice;
}

bool same_selection(const Match& a, const Match& b) {
    if (a.address && a.address == b.address)
        return true;
    if (a.netdev && a.netdev == b.netdev)
        return true;
    if (a.path && a.path == b.path)
        return true;
    if (a.name && a.name == b.name)
        return true;
    return a.address == b.address && a.netdev == b.netdev && a.vendor == b.vendor && a.device == b.device &&
           a.path == b.path && a.name == b.name;
}

} // namespace hostdevd::config_detail
