#include "config/toml_guard.hpp"

#include <catch2/catch.hpp>

using hostdevd::config_detail::find_unsafe_text;

TEST_CASE("non-ASCII text in comments, and safe code points in strings, pass the guard") {
    CHECK_FALSE(find_unsafe_text("# Überblick: café § ✓\nversion = 1\n").has_value());
    CHECK_FALSE(find_unsafe_text("pool = \"g✓ld\" # ok: U+2713 is outside the buggy ranges\n").has_value());
    CHECK_FALSE(find_unsafe_text("pool = '日本'\n").has_value());
    CHECK_FALSE(find_unsafe_text("\"✓\" = 1\n").has_value());
    CHECK_FALSE(find_unsafe_text("s = \"\"\"\nline → \\\" \"\"\"\n").has_value());
    CHECK_FALSE(find_unsafe_text("s = '''\n→ '' '''\n").has_value());
    CHECK_FALSE(find_unsafe_text("s = \"\"\"a\"\"\"\"\nt = \"→\"\n").has_value()); // 4 quotes close it
    CHECK_FALSE(find_unsafe_text("s = \"\\\"→\"\n").has_value());                  // escaped quote
    CHECK_FALSE(find_unsafe_text("pool = '\xe3\x80\x80'\n").has_value());          // U+3000 has its own case
}

TEST_CASE("non-ASCII text where toml++ 3.3 would hit undefined behaviour is refused") {
    auto outside = find_unsafe_text("version = 1\nvfs = 8\xc2\xa7\n");
    REQUIRE(outside.has_value());
    CHECK(outside->line == 2);
    CHECK(outside->column == 8);
    CHECK(find_unsafe_text("\xcc\xaa").has_value());                    // tomlplusplus issue #295
    auto after_backslash = find_unsafe_text("s = \"\"\"\\\n→\"\"\"\n"); // issue #190's shape
    REQUIRE(after_backslash.has_value());
    CHECK(after_backslash->line == 2);
    CHECK(find_unsafe_text("s = \"a\" \xe2\x80\x80\n").has_value()); // after a string closes
    CHECK(find_unsafe_text("s = '''x''' \xc2\xa0\n").has_value());
}

TEST_CASE("inside strings, the code points that reach the toml++ bug are refused") {
    // `a = 0000"..."`: toml++ reads the bad number token past the quote, testing each character.
    auto in_string = find_unsafe_text("a = 0000\":\xcd\x9f:\"\n");
    REQUIRE(in_string.has_value());
    CHECK(in_string->message.find("U+035F") != std::string::npos);
    CHECK(find_unsafe_text("pool = \"caf\xc3\xa9\"\n").has_value()); // U+00E9
    CHECK(find_unsafe_text("pool = '\xe3\x80\x81'\n").has_value());  // U+3001
    CHECK(find_unsafe_text("pool = '\xef\xbb\xbe'\n").has_value());  // U+FEFE

    // Found by fuzz_config: toml++ tests the character after a backslash for whitespace.
    CHECK(find_unsafe_text("\"\"\"\\\xef\xbb\xbd").has_value());     // U+FEFD after `\` in """
    CHECK(find_unsafe_text("s = \"\\\xe2\x9c\x93\"\n").has_value()); // even U+2713, after `\` in "
}
