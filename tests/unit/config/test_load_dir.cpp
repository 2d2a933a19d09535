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
                "device, mdev, pool, export)",
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

TEST_CASE("every directory on the way to a file (a symbolic link's way included) must be root's") {
    // These tests need root: they chown directories to nobody. Fail loudly instead of skipping.
    REQUIRE(geteuid() == 0);
    TempDir top; // root-owned 0700, in the sticky /tmp
    const std::string conf = top.path() + "/conf", elsewhere = top.path() + "/elsewhere";
    REQUIRE(mkdir(conf.c_str(), 0755) == 0);
    REQUIRE(mkdir(elsewhere.c_str(), 0755) == 0);
    const std::string target = elsewhere + "/nics.toml";
    { std::ofstream(target) << kGoodNics; }
    REQUIRE(chmod(target.c_str(), 0644) == 0);
    REQUIRE(symlink(target.c_str(), (conf + "/10-nics.toml").c_str()) == 0);
    REQUIRE(load_config_dir(conf).ok()); // root's file behind a link, all the way root's

    SECTION("the link's target directory belongs to a user, who could swap the file") {
        REQUIRE(chown(elsewhere.c_str(), 65534, 65534) == 0);
        auto result = load_config_dir(conf);
        CHECK_FALSE(result.ok());
        CHECK(messages(result) ==
              std::vector<std::string>{conf + "/10-nics.toml: the directory " + elsewhere +
                                       " on the way to it is owned by uid 65534, not root, "
                                       "who could replace it; refusing it"});
    }
    SECTION("the target directory is group-writable") {
        REQUIRE(chmod(elsewhere.c_str(), 0775) == 0);
        CHECK(messages(load_config_dir(conf)) ==
              std::vector<std::string>{conf + "/10-nics.toml: the directory " + elsewhere +
                                       " on the way to it is writable by group/other, who could replace "
                                       "it; refusing it"});
    }
    SECTION("a link on the way sits in a user's directory: the user could point it elsewhere") {
        const std::string users = top.path() + "/users", hop = users + "/hop";
        REQUIRE(mkdir(users.c_str(), 0755) == 0);
        REQUIRE(symlink(elsewhere.c_str(), hop.c_str()) == 0);
        REQUIRE(chown(users.c_str(), 65534, 65534) == 0);
        REQUIRE(unlink((conf + "/10-nics.toml").c_str()) == 0);
        REQUIRE(symlink((hop + "/nics.toml").c_str(), (conf + "/10-nics.toml").c_str()) == 0);
        auto result = load_config_dir(conf);
        CHECK_FALSE(result.ok());
        REQUIRE(result.errors.size() == 1);
        CHECK(result.errors[0].str() == conf + "/10-nics.toml: the directory " + users +
                                            " on the way to it is owned by uid 65534, not root, who could "
                                            "replace it; refusing it");
    }
    SECTION("a relative link is followed from its own directory") {
        REQUIRE(unlink((conf + "/10-nics.toml").c_str()) == 0);
        REQUIRE(symlink("../elsewhere/./nics.toml", (conf + "/10-nics.toml").c_str()) == 0);
        CHECK(load_config_dir(conf).ok());
        REQUIRE(chown(elsewhere.c_str(), 65534, 65534) == 0);
        CHECK_FALSE(load_config_dir(conf).ok());
    }
    SECTION("the configuration directory itself is reached through a user's directory") {
        const std::string users = top.path() + "/users";
        REQUIRE(mkdir(users.c_str(), 0755) == 0);
        REQUIRE(symlink(conf.c_str(), (users + "/conf").c_str()) == 0);
        REQUIRE(chown(users.c_str(), 65534, 65534) == 0);
        auto result = load_config_dir(users + "/conf");
        CHECK(messages(result) == std::vector<std::string>{users + "/conf: the directory " + users +
                                                           " on the way to it is owned by uid 65534, not "
                                                           "root, who could replace it; refusing it"});
    }
    SECTION("a loop of links is an error, not a hang") {
        REQUIRE(symlink((conf + "/20-loop.toml").c_str(), (conf + "/20-loop.toml").c_str()) == 0);
        auto result = load_config_dir(conf);
        CHECK_FALSE(result.ok());
        CHECK(messages(result).back() ==
              conf + "/20-loop.toml: too many levels of symbolic links on the way to it");
    }
}

TEST_CASE("a directory declaring more than 10000 entries is refused without comparing them all") {
    TempDir dir;
    std::string many = "version = 1\n"; // 3,000 entries: within one file's limits (9,000 keys)
    for (int i = 0; i < 3000; ++i)
        many += "[[device]]\nmatch = { address = \"0000:" + std::to_string(10 + i / 64) + ":" +
                std::to_string(10 + i / 8 % 8) + "." + std::to_string(i % 8) +
                "\" }\ndriver = \"vfio-pci\"\n";
    for (const char* name : {"10-a.toml", "20-b.toml", "30-c.toml", "40-d.toml"})
        dir.write(name, many);
    auto result = load_config_dir(dir.path(), LoadOptions{.check_permissions = false});
    CHECK_FALSE(result.ok());
    CHECK(messages(result) ==
          std::vector<std::string>{dir.path() +
                                   "/40-d.toml: with this file the directory declares more than 10000 "
                                   "entries ([[pf]], [[device]], [[mdev]]; the limit); not reading "
                                   "further"});
}
