#include "config/loader.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <unistd.h>

using namespace hostdevd;
using hostdevd::test::TempDir;

namespace {

const char* kGoodNics = R"(version = 1
[[pf]]
match = { address = "0000:3b:00.0" }
vfs = 8
)";

const char* kGoodGpus = R"(version = 1
[[mdev]]
parent = { address = "0000:3d:00.0" }
type = "nvidia-701"
count = 2
)";

std::vector<std::string> messages(const LoadResult& result) {
    std::vector<std::string> out;
    for (const auto& error : result.errors)
        out.push_back(error.str());
    return out;
}

} // namespace

TEST_CASE("a missing directory is an error, an empty one a valid empty configuration") {
    TempDir dir;
    auto missing = load_config_dir(dir.path() + "/nope");
    CHECK_FALSE(missing.ok());
    CHECK(messages(missing) ==
          std::vector<std::string>{dir.path() + "/nope: configuration directory does not exist"});

    auto empty = load_config_dir(dir.path());
    REQUIRE(empty.ok());
    CHECK(empty.state->files.empty());
    CHECK(empty.state->pfs.empty());
}

TEST_CASE("files load in lexical byte order, dot files and other names are ignored") {
    TempDir dir;
    dir.write("20-gpus.toml", kGoodGpus);
    dir.write("10-nics.toml", kGoodNics);
    dir.write("9-late.toml", "version = 1\n"); // '9' sorts after '2': bytewise, not numeric
    dir.write(".#10-nics.toml", "garbage [");  // an editor lock file
    dir.write("README", "not toml");
    dir.write("old.toml.bak", "garbage [");
    auto result = load_config_dir(dir.path() + "/"); // a trailing slash does not double in paths
    for (const auto& line : messages(result))
        UNSCOPED_INFO(line);
    REQUIRE(result.ok());
    CHECK(result.state->files == std::vector<std::string>{dir.path() + "/10-nics.toml",
                                                          dir.path() + "/20-gpus.toml",
                                                          dir.path() + "/9-late.toml"});
    REQUIRE(result.state->pfs.size() == 1);
    CHECK(result.state->pfs[0].source.str() == dir.path() + "/10-nics.toml:2:1");
    REQUIRE(result.state->mdevs.size() == 1);
    CHECK(result.state->mdevs[0].source.file == dir.path() + "/20-gpus.toml");
}

TEST_CASE("all or nothing: a bad second file withholds the good first one") {
    TempDir dir;
    dir.write("10-nics.toml", kGoodNics);
    dir.write("20-gpus.toml",
              "version = 1\n[[mdev]]\nparent = { address = \"0000:3d:00.0\" }\ntype = \"x\"\n");
    auto result = load_config_dir(dir.path());
    CHECK_FALSE(result.ok());
    CHECK(messages(result) ==
          std::vector<std::string>{dir.path() + "/20-gpus.toml:2:1: [[mdev]] needs `count` or `uuids`"});
}

TEST_CASE("errors from several files are all reported, in load order") {
    TempDir dir;
    dir.write("20-b.toml", "version = 2\n");
    dir.write("10-a.toml", "version = 1\nbogus = 1\n");
    dir.write("30-c.toml", "version = \n");
    auto result = load_config_dir(dir.path());
    CHECK_FALSE(result.ok());
    CHECK(
        messages(result) ==
        std::vector<std::string>{
            dir.path() +
                "/10-a.toml:2:1: unknown key `bogus` in the top level (known keys: version, policy, pf, "
                "device, mdev)",
            dir.path() +
                "/20-b.toml:1:11: unsupported configuration version 2; this hostdevd reads version 1",
            dir.path() +
                "/30-c.toml:1:11: TOML syntax error: Error while parsing key-value pair: expected value, saw "
                "'\\n'"});
}

TEST_CASE("the same PF selected in two files names both places") {
    TempDir dir;
    dir.write("10-nics.toml", kGoodNics);
    dir.write("20-more.toml", "version = 1\n\n[[pf]]\nmatch = { address = \"3b:00.0\" }\nvfs = 4\n");
    auto result = load_config_dir(dir.path());
    CHECK_FALSE(result.ok());
    CHECK(messages(result) ==
          std::vector<std::string>{dir.path() +
                                   "/20-more.toml:3:1: this [[pf]] selects the same "
                                   "device as the [[pf]] at " +
                                   dir.path() + "/10-nics.toml:2 (address=0000:3b:00.0)"});
}

TEST_CASE("files that are not regular files are refused") {
    TempDir dir;
    REQUIRE(mkdir((dir.path() + "/50-dir.toml").c_str(), 0755) == 0);
    auto result = load_config_dir(dir.path());
    CHECK(messages(result) == std::vector<std::string>{dir.path() + "/50-dir.toml: not a regular file"});
}

TEST_CASE("files writable by group or other, or not owned by root, are refused") {
    // These tests need root: they chown files to root and to nobody. Fail loudly instead of skipping.
    REQUIRE(geteuid() == 0);
    TempDir dir;
    std::string nics = dir.write("10-nics.toml", kGoodNics);
    REQUIRE(chown(nics.c_str(), 0, 0) == 0);
    REQUIRE(chown(dir.path().c_str(), 0, 0) == 0);
    REQUIRE(load_config_dir(dir.path()).ok()); // root-owned 0644 in a root-owned 0700 directory is fine

    SECTION("group-writable file") {
        REQUIRE(chmod(nics.c_str(), 0664) == 0);
        auto result = load_config_dir(dir.path());
        CHECK_FALSE(result.ok());
        CHECK(messages(result) ==
              std::vector<std::string>{nics + ": file is writable by group/other; refusing it (chmod go-w)"});
    }
    SECTION("world-writable file") {
        REQUIRE(chmod(nics.c_str(), 0646) == 0);
        CHECK_FALSE(load_config_dir(dir.path()).ok());
    }
    SECTION("file owned by nobody") {
        REQUIRE(chown(nics.c_str(), 65534, 65534) == 0);
        auto result = load_config_dir(dir.path());
        CHECK_FALSE(result.ok());
        CHECK(messages(result) ==
              std::vector<std::string>{nics +
                                       ": file is owned by uid 65534, not root; refusing it (chown root)"});
    }
    SECTION("group-writable directory") {
        REQUIRE(chmod(dir.path().c_str(), 0770) == 0);
        auto result = load_config_dir(dir.path());
        CHECK(messages(result) ==
              std::vector<std::string>{dir.path() +
                                       ": directory is writable by group/other; refusing it (chmod go-w)"});
    }
    SECTION("the check can be turned off (tests on checked-out files)") {
        REQUIRE(chmod(nics.c_str(), 0666) == 0);
        REQUIRE(chown(nics.c_str(), 65534, 65534) == 0);
        CHECK(load_config_dir(dir.path(), LoadOptions{.check_permissions = false}).ok());
    }
}
