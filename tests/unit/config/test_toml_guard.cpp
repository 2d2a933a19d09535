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

namespace {

// "a.a.a...": one key of `parts` parts.
std::string dotted(size_t parts, const std::string& separator = ".") {
    std::string key = "a";
    for (size_t i = 1; i < parts; ++i)
        key += separator + "a";
    return key;
}

std::string repeated(const std::string& unit, size_t times) {
    std::string out;
    for (size_t i = 0; i < times; ++i)
        out += unit;
    return out;
}

} // namespace

TEST_CASE("the shapes a configuration needs pass the limits") {
    CHECK_FALSE(
        find_unsafe_text("version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\nvfs = { min = 8 }\n"
                         "[[pf.vf]]\nindex = \"0-3\"\ndriver = \"vfio-pci\"\n"
                         "attrs = [{ name = \"a.b.c.d.e.f.g.h.i.j\", value = \"1.2.3.4.5.6.7.8.9\" }]\n")
            .has_value());
    CHECK_FALSE(
        find_unsafe_text(dotted(8) + " = 1\n[" + dotted(8) + "]\n[[" + dotted(8) + "]]\n").has_value());
    CHECK_FALSE(find_unsafe_text("\"a.b.c.d.e.f.g.h.i\" = 1\n").has_value()); // one quoted part
    CHECK_FALSE(find_unsafe_text("[a.\"b.c.d.e.f.g.h.i.j\"]\n").has_value());
    CHECK_FALSE(find_unsafe_text("x = 1.5 # a.b.c.d.e.f.g.h.i.j\ny = 2.5e3\nz = 1979-05-27T07:32:00.999\n")
                    .has_value());
    CHECK_FALSE(
        find_unsafe_text("v = [\n  1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9, 10.1,\n]\n").has_value());
    CHECK_FALSE(find_unsafe_text("v = " + repeated("[", 8) + repeated("]", 8) + "\n").has_value());
    CHECK_FALSE(find_unsafe_text("t = { a = { b = 1.5 }, c.d.e = [1.1, 2.2] }\n").has_value());
    CHECK_FALSE(find_unsafe_text("s = '''\n" + dotted(20) + "\n'''\n").has_value()); // text in a string
    CHECK_FALSE(find_unsafe_text(repeated("[[pf]]\nvfs = 1\n", 5000)).has_value());  // 5,000 tables
}

TEST_CASE("a key with more than 8 parts is refused where it starts (also one of 40000 parts)") {
    // 80 KB: toml++ 3.3 recursed once per part and overflowed the stack (issue 17).
    const std::string huge = dotted(40000);
    auto key = find_unsafe_text("version = 1\n" + huge + " = 1\n");
    REQUIRE(key.has_value());
    CHECK(key->line == 2);
    CHECK(key->column == 1);
    CHECK(key->message ==
          "this key has more than 8 parts (dotted keys and table names are limited to 8; hostdevd's settings "
          "need 3)");
    auto header = find_unsafe_text("version = 1\n\n  [" + huge + "]\n");
    REQUIRE(header.has_value());
    CHECK(header->line == 3);
    CHECK(header->column == 4);
    CHECK(find_unsafe_text("[[" + huge + "]]\n").has_value());
    CHECK(find_unsafe_text(dotted(9) + " = 1\n").has_value());
    CHECK(find_unsafe_text(dotted(9, " . ") + " = 1\n").has_value()); // spaces around the dots
    CHECK(find_unsafe_text("\"a\".'b'.c.\"d\".e.f.g.h.i = 1\n").has_value());
    CHECK(find_unsafe_text("t = { x = 1, " + dotted(9) + " = 2 }\n").has_value()); // in an inline table
    auto pieces = find_unsafe_text("[a.b.c.d]\n" + dotted(8) + " = 1\n");
    CHECK_FALSE(pieces.has_value()); // each key within the limit: a table 12 deep is toml++'s to build
}

TEST_CASE("arrays and inline tables nested more than 8 deep are refused") {
    auto deep = find_unsafe_text("v = " + repeated("[", 9) + repeated("]", 9) + "\n");
    REQUIRE(deep.has_value());
    CHECK(deep->line == 1);
    CHECK(deep->column == 13); // the ninth bracket
    CHECK(deep->message == "arrays and inline tables are nested more than 8 deep here (the limit)");
    CHECK(find_unsafe_text("v = " + repeated("{ a = ", 9) + "1" + repeated(" }", 9) + "\n").has_value());
    CHECK(find_unsafe_text("v = " + repeated("[", 100000) + "\n").has_value());
}

TEST_CASE("more than 10000 keys or tables in one file are refused") {
    auto keys = find_unsafe_text(repeated("k = 1\n", 10001));
    REQUIRE(keys.has_value());
    CHECK(keys->line == 10001);
    CHECK(keys->column == 3);
    CHECK(keys->message ==
          "more than 10000 keys in one file (the limit); split the configuration into several "
          "files");
    CHECK_FALSE(find_unsafe_text(repeated("k = 1\n", 10000)).has_value());
    auto tables = find_unsafe_text(repeated("[[pf]]\n", 10001));
    REQUIRE(tables.has_value());
    CHECK(tables->line == 10001);
    CHECK(find_unsafe_text("v = [" + repeated("{},", 10001) + "]\n").has_value());
}

TEST_CASE("text past 1 MiB is refused where the limit is crossed") {
    std::string big = "version = 1\n" + repeated("# " + std::string(98, 'x') + "\n", 10486) + "# end\n";
    REQUIRE(big.size() > (1u << 20));
    auto size = find_unsafe_text(big);
    REQUIRE(size.has_value());
    CHECK(size->line == 10383); // byte 1,048,576 (counting from 0) is on this line
    CHECK(size->message ==
          "the file goes on past 1048576 bytes here (the limit); configuration files are a few kilobytes");
    hostdevd::config_detail::TomlLimits small;
    small.max_bytes = 16;
    CHECK(find_unsafe_text("version = 1\nvfs = 2\n", small).has_value());
}
