#include "daemon/config_settle.hpp"

#include <catch2/catch.hpp>

using hostdevd::ConfigDirStamp;
using hostdevd::ConfigFileStamp;
using hostdevd::ConfigSettle;
using namespace std::chrono_literals;

namespace {

const ConfigDirStamp kBoth = {{"/c/10-a.toml", ConfigFileStamp{1, 100, 5}},
                              {"/c/20-b.toml", ConfigFileStamp{2, 50, 5}}};
const ConfigDirStamp kOnlyA = {{"/c/10-a.toml", ConfigFileStamp{1, 100, 5}}};
const std::vector<std::string> kInForce = {"/c/10-a.toml", "/c/20-b.toml"};
constexpr auto kLoad = ConfigSettle::Verdict::Load;
constexpr auto kAgain = ConfigSettle::Verdict::LookAgain;

} // namespace

TEST_CASE("an edited directory is loaded when two looks agree") {
    ConfigSettle settle;
    auto t = ConfigSettle::Clock::time_point{} + 1h;
    CHECK(settle.look(kBoth, kInForce, t) == kAgain);
    CHECK(settle.look(kBoth, kInForce, t + 100ms) == kLoad);
    // A file still being written changes between looks: not yet.
    ConfigDirStamp growing = kBoth;
    growing["/c/20-b.toml"].size = 60;
    CHECK(settle.look(kBoth, kInForce, t + 1s) == kAgain);
    CHECK(settle.look(growing, kInForce, t + 1100ms) == kAgain);
    CHECK(settle.look(growing, kInForce, t + 1200ms) == kLoad);
}

TEST_CASE("a file in force that went missing is waited for up to 2 s") {
    ConfigSettle settle;
    auto t = ConfigSettle::Clock::time_point{} + 1h;
    SECTION("an editor's save: it comes back (a new inode), and the whole set is loaded") {
        CHECK(settle.look(kOnlyA, kInForce, t) == kAgain);
        CHECK(settle.look(kOnlyA, kInForce, t + 100ms) == kAgain);
        CHECK(settle.look(kOnlyA, kInForce, t + 200ms) == kAgain);
        ConfigDirStamp saved = kBoth;
        saved["/c/20-b.toml"].inode = 3;
        CHECK(settle.look(saved, kInForce, t + 400ms) == kAgain);
        CHECK(settle.look(saved, kInForce, t + 500ms) == kLoad);
    }
    SECTION("it stays away: after 2 s the removal is real") {
        for (auto at = 0ms; at < 2000ms; at += 100ms)
            CHECK(settle.look(kOnlyA, kInForce, t + at) == kAgain);
        CHECK(settle.look(kOnlyA, kInForce, t + 2000ms) == kLoad);
        // Loaded: the next edit starts afresh.
        CHECK(settle.look(kOnlyA, {"/c/10-a.toml"}, t + 5s) == kAgain);
        CHECK(settle.look(kOnlyA, {"/c/10-a.toml"}, t + 5100ms) == kLoad);
    }
    SECTION("a new file and no file in force: nothing to wait for") {
        CHECK(settle.look(kBoth, {}, t) == kAgain);
        CHECK(settle.look(kBoth, {}, t + 100ms) == kLoad);
    }
}
