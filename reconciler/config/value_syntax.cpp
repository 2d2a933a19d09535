#include "config/value_syntax.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace hostdevd::config_syntax {

namespace {

bool is_hex(char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}
bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}
bool is_control(char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_space(text.back()))
        text.remove_suffix(1);
    return text;
}

// A decimal VF index: digits only (no sign, no "0x"), at most kMaxVfIndex.
Parsed<uint32_t> parse_vf_index(std::string_view text, std::string_view item) {
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return SyntaxError{"bad VF index list item " + quote(item) +
                           "; expected numbers and ranges like \"0-3,6\""};
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value > kMaxVfIndex)
        return SyntaxError{"VF index " + std::string(text) + " is out of range 0.." +
                           std::to_string(kMaxVfIndex)};
    (void)ptr;
    return static_cast<uint32_t>(value);
}

} // namespace

std::string quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (is_control(c)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

Parsed<std::vector<uint32_t>> parse_vf_index_list(std::string_view text) {
    if (trim(text).empty())
        return SyntaxError{std::string("VF index list is empty; expected numbers and ranges like \"0-3,6\"")};
    // A bitmap rather than a list of every index: "0-65534,0-65534,..." stays small (and fast to fuzz).
    std::vector<bool> chosen(kMaxVfIndex + 1, false);
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string_view item =
            text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
        std::string_view trimmed = trim(item);
        if (trimmed.empty())
            return SyntaxError{"empty item in VF index list " + quote(text) +
                               "; expected numbers and ranges like "
                               "\"0-3,6\""};
        size_t dash = trimmed.find('-');
        if (dash == std::string_view::npos) {
            auto one = parse_vf_index(trimmed, trimmed);
            if (auto* err = std::get_if<SyntaxError>(&one))
                return *err;
            chosen[std::get<uint32_t>(one)] = true;
        } else {
            auto first = parse_vf_index(trim(trimmed.substr(0, dash)), trimmed);
            if (auto* err = std::get_if<SyntaxError>(&first))
                return *err;
            auto last = parse_vf_index(trim(trimmed.substr(dash + 1)), trimmed);
            if (auto* err = std::get_if<SyntaxError>(&last))
                return *err;
            uint32_t lo = std::get<uint32_t>(first), hi = std::get<uint32_t>(last);
            if (lo > hi)
                return SyntaxError{"reversed range " + quote(trimmed) + " in VF index list; write \"" +
                                   std::to_string(hi) + "-" + std::to_string(lo) + "\""};
            std::fill(chosen.begin() + lo, chosen.begin() + hi + 1, true);
        }
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    std::vector<uint32_t> indices;
    for (uint32_t i = 0; i <= kMaxVfIndex; ++i)
        if (chosen[i])
            indices.push_back(i);
    return indices;
}

Parsed<uint16_t> parse_pci_id(std::string_view text) {
    if (text.size() != 4 || !std::all_of(text.begin(), text.end(), is_hex))
        return SyntaxError{"bad PCI ID " + quote(text) +
                           "; expected exactly 4 hex digits without 0x (like \"8086\")"};
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value, 16);
    return static_cast<uint16_t>(value);
}

Parsed<std::string> parse_netdev_name(std::string_view text) {
    if (text.empty())
        return SyntaxError{std::string("interface name is empty")};
    if (text.size() > 15)
        return SyntaxError{"interface name " + quote(text) + " is longer than 15 characters (IFNAMSIZ)"};
    if (text == "." || text == "..")
        return SyntaxError{"interface name " + quote(text) + " is not allowed"};
    for (char c : text)
        if (c == '/' || c == ':' || is_space(c) || is_control(c))
            return SyntaxError{"interface name " + quote(text) +
                               " contains '/', ':', whitespace or a control character"};
    return std::string(text);
}

Parsed<std::string> parse_id_path(std::string_view text) {
    if (text.size() <= 4 || text.substr(0, 4) != "pci-")
        return SyntaxError{"bad device path " + quote(text) +
                           "; expected a udev ID_PATH like \"pci-0000:3b:00.0\""};
    for (char c : text)
        if (c == '/' || is_space(c) || is_control(c))
            return SyntaxError{"bad device path " + quote(text) +
                               "; it contains '/', whitespace or a control character"};
    return std::string(text);
}

Parsed<std::string> parse_uuid(std::string_view text) {
    static constexpr size_t kDashes[] = {8, 13, 18, 23};
    bool ok = text.size() == 36;
    for (size_t i = 0; ok && i < text.size(); ++i) {
        bool dash_here = std::find(std::begin(kDashes), std::end(kDashes), i) != std::end(kDashes);
        ok = dash_here ? text[i] == '-' : is_hex(text[i]);
    }
    if (!ok)
        return SyntaxError{"bad UUID " + quote(text) + "; expected 8-4-4-4-12 hex digits (like " +
                           "\"c2177883-f1bb-47f0-914d-32a22e3a8804\")"};
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
    return lower;
}

Parsed<std::string> parse_driver_name(std::string_view text) {
    if (text.empty())
        return SyntaxError{
            std::string("`driver` is empty; omit it to leave the binding alone, or use \"none\"")};
    if (text.size() > 64)
        return SyntaxError{"driver name " + quote(text) + " is longer than 64 characters"};
    for (char c : text)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
            return SyntaxError{"bad driver name " + quote(text) +
                               "; driver names use letters, digits, '_', '-' and '.'"};
    return std::string(text);
}

Parsed<std::string> parse_sysfs_name(std::string_view text, std::string_view what) {
    if (text.empty())
        return SyntaxError{std::string(what) + " is empty"};
    if (text == "." || text == ".." || text.size() > 255)
        return SyntaxError{std::string(what) + " " + quote(text) + " is not a valid sysfs name"};
    for (char c : text)
        if (c == '/' || is_control(c))
            return SyntaxError{std::string(what) + " " + quote(text) +
                               " contains '/' or a control character"};
    return std::string(text);
}

} // namespace hostdevd::config_syntax
