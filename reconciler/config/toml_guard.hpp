// A pre-check of configuration text before toml++ sees it.
//
// Why: toml++ 3.3 (Debian 12) reaches TOML_UNREACHABLE, i.e. undefined behaviour (__builtin_unreachable in
// the release library), in is_non_ascii_horizontal_whitespace() for many non-ASCII code points where the
// parser looks for whitespace: outside strings and comments, and after a line-ending backslash in a
// multi-line basic string (marzer/tomlplusplus issues #190 and #295, fixed upstream by PR #305, not in
// Debian's 3.3). Found by tests/fuzz/fuzz_config. In TOML 1.0 a non-ASCII character is only legal inside
// strings and comments, so refusing it elsewhere changes nothing but the message. Legal forms we also
// refuse: inside strings, the code points that reach the bug (toml++ may scan a string's characters as
// part of a bad token), and any non-ASCII character right after a backslash or a line-ending backslash
// (toml++ tests it for whitespace first). Comments may hold any text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hostdevd::config_detail {

struct UnsafeText {
    uint32_t line = 0;
    uint32_t column = 0; // in code points, as toml++ counts
    std::string message;
};

std::optional<UnsafeText> find_unsafe_text(std::string_view text);

} // namespace hostdevd::config_detail
