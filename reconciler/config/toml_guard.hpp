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
//
// Second, the shape of the document is bounded before toml++ builds it (TomlLimits): toml++ 3.3 parses a
// dotted key or a table name one part per recursion, so an 80 KB key of 40,000 parts overflows the stack
// (and its tree would be destroyed recursively too); and nothing after the parser should have to cope with
// arbitrarily many keys or tables. hostdevd's own configuration needs 3 key parts, 2 levels of nesting
// and a few keys per entry, so the limits below refuse nothing a real configuration says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hostdevd::config_detail {

struct TomlLimits {
    size_t max_bytes = 1 << 20; // 1 MiB: configuration files are a few kilobytes
    unsigned max_key_parts = 8; // `a.b.c = 1`, `[a.b.c]`, `[[a.b]]`: 3, 3 and 2 parts
    unsigned max_nesting = 8;   // arrays and inline tables inside one another
    size_t max_keys = 10000;    // key/value pairs in one file
    size_t max_tables = 10000;  // table headers and inline tables in one file
};

struct UnsafeText {
    uint32_t line = 0;
    uint32_t column = 0; // in code points, as toml++ counts
    std::string message;
};

// The first thing in `text` that toml++ must not see, with its position: a character that reaches the
// undefined behaviour above, or the place where a limit is exceeded.
std::optional<UnsafeText> find_unsafe_text(std::string_view text, const TomlLimits& limits = {});

} // namespace hostdevd::config_detail
