#include "config/consumer_syntax.hpp"

#include <algorithm>
#include <iterator>

namespace hostdevd::config_syntax {

namespace {

bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}
bool is_ascii_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(), is_control);
}

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
    return out;
}

// Placement's alphabet for resource classes and traits: A-Z, 0-9, '_'.
bool placement_name(std::string_view text) {
    return !text.empty() && text.size() <= 255 && std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

// os_resource_classes / os_traits normalize_name: "CUSTOM_" + every run of non-alphanumeric characters
// replaced by one '_', then upper case.
std::string normalize_custom_name(std::string_view text) {
    std::string out = "CUSTOM_";
    bool in_run = false;
    for (char c : text) {
        if (is_ascii_alnum(c)) {
            out += c;
            in_run = false;
        } else if (!in_run) {
            out += '_';
            in_run = true;
        }
    }
    return upper(out);
}

// " becomes "NAME", which placement refuses (...)", or without the first part when nothing changed.
std::string refused(std::string_view text, const std::string& name) {
    return (name == text ? std::string(" is a name") : " becomes " + quote(name) + ",") +
           " which placement refuses (A-Z, 0-9 and '_', at most 255 characters)";
}

// os_resource_classes 1.1.0 (Debian 12) STANDARDS: the classes nova keeps without a CUSTOM_ prefix.
constexpr std::string_view kStandardResourceClasses[] = {
    "VCPU",
    "MEMORY_MB",
    "DISK_GB",
    "PCI_DEVICE",
    "SRIOV_NET_VF",
    "NUMA_SOCKET",
    "NUMA_CORE",
    "NUMA_THREAD",
    "NUMA_MEMORY_MB",
    "IPV4_ADDRESS",
    "VGPU",
    "VGPU_DISPLAY_HEAD",
    "NET_BW_EGR_KILOBIT_PER_SEC",
    "NET_BW_IGR_KILOBIT_PER_SEC",
    "PCPU",
    "MEM_ENCRYPTION_CONTEXT",
    "FPGA",
    "PGPU",
    "NET_PACKET_RATE_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
    "NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
};

} // namespace

Parsed<std::string> parse_nova_resource_class(std::string_view text) {
    if (text.empty())
        return SyntaxError{
            "`resource_class` is empty; omit it to let nova name the class (CUSTOM_PCI_<vendor>_"
            "<product>)"};
    std::string name = upper(text);
    const bool standard = std::find(std::begin(kStandardResourceClasses), std::end(kStandardResourceClasses),
                                    name) != std::end(kStandardResourceClasses);
    if (!standard && !starts_with(name, "CUSTOM_"))
        name = normalize_custom_name(text);
    if (!placement_name(name) || name == "CUSTOM_")
        return SyntaxError{"resource class " + quote(text) + refused(text, name)};
    return name;
}

Parsed<std::string> parse_nova_trait(std::string_view text) {
    if (text.empty())
        return SyntaxError{std::string("a trait is empty")};
    std::string name(text);
    if (!placement_name(name)) {
        name = upper(text);
        if (!starts_with(name, "CUSTOM_"))
            name = normalize_custom_name(text);
    }
    if (!placement_name(name) || name == "CUSTOM_")
        return SyntaxError{"trait " + quote(text) + refused(text, name)};
    return name;
}

Parsed<std::string> parse_nova_alias(std::string_view text) {
    if (text.empty() || text.size() > 256)
        return SyntaxError{"nova alias " + quote(text) + " must be 1 to 256 characters"};
    if (has_control(text) || text.find_first_of(",:") != std::string_view::npos)
        return SyntaxError{"nova alias " + quote(text) +
                           " contains ',', ':' or a control character (a flavor names it as "
                           "pci_passthrough:alias = \"NAME:COUNT\")"};
    if (text.front() == ' ' || text.back() == ' ')
        return SyntaxError{"nova alias " + quote(text) + " begins or ends with a space (nova strips it)"};
    return std::string(text);
}

Parsed<std::string> parse_physical_network(std::string_view text) {
    if (text.empty() || text.size() > 64)
        return SyntaxError{"physical network " + quote(text) +
                           " must be 1 to 64 characters (neutron's limit)"};
    for (char c : text)
        if (c == ':' || c == ',' || c == ' ' || c == '\t' || is_control(c))
            return SyntaxError{"physical network " + quote(text) +
                               " contains ':', ',', whitespace or a control character"};
    return std::string(text);
}

Parsed<std::string> parse_dp_resource_name(std::string_view text) {
    const bool chars_ok = std::all_of(text.begin(), text.end(),
                                      [](char c) { return is_ascii_alnum(c) || c == '_' || c == '-'; });
    if (text.empty() || text.size() > 63 || !chars_ok || !is_ascii_alnum(text.front()) ||
        !is_ascii_alnum(text.back()))
        return SyntaxError{"device plugin resource name " + quote(text) +
                           " must be 1 to 63 letters, digits, '_' or '-', beginning and ending with a "
                           "letter or digit"};
    return std::string(text);
}

Parsed<std::string> parse_dp_resource_prefix(std::string_view text) {
    bool ok = !text.empty() && text.size() <= 253;
    size_t start = 0;
    while (ok) {
        size_t dot = text.find('.', start);
        std::string_view label = text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
        ok = !label.empty() && label.size() <= 63 && is_lower_alnum(label.front()) &&
             is_lower_alnum(label.back()) &&
             std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
        if (dot == std::string_view::npos)
            break;
        start = dot + 1;
    }
    if (!ok)
        return SyntaxError{"device plugin resource prefix " + quote(text) +
                           " must be a DNS name like \"example.com\" (lower-case letters, digits, '-' "
                           "and '.')"};
    return std::string(text);
}

Parsed<std::string> parse_libvirt_network_name(std::string_view text) {
    if (text.empty() || text.size() > 255)
        return SyntaxError{"libvirt network name " + quote(text) + " must be 1 to 255 characters"};
    if (text.front() == '.' || text.find('/') != std::string_view::npos || has_control(text))
        return SyntaxError{"libvirt network name " + quote(text) +
                           " begins with '.' or contains '/' or a control character"};
    return std::string(text);
}

Parsed<std::string> parse_export_path(std::string_view text) {
    if (text.empty() || text.front() != '/')
        return SyntaxError{"export path " + quote(text) + " must be absolute (begin with '/')"};
    if (text.size() > 4095 || has_control(text))
        return SyntaxError{"export path " + quote(text) + " is too long or contains a control character"};
    if (text == "/" || text.back() == '/')
        return SyntaxError{"export path " + quote(text) + " must not end with '/'"};
    for (size_t start = 1;;) {
        size_t slash = text.find('/', start);
        std::string_view part =
            text.substr(start, slash == std::string_view::npos ? text.npos : slash - start);
        if (part.empty() || part == "." || part == "..")
            return SyntaxError{"export path " + quote(text) +
                               " must be normalized (no \"//\", \".\" or \"..\")"};
        if (slash == std::string_view::npos)
            break;
        start = slash + 1;
    }
    return std::string(text);
}

} // namespace hostdevd::config_syntax
