// The export files (reconciler/export/file_writer.hpp): replaced by rename, untouched when unchanged, with
// a mode consumers can read, never through a symbolic link; a libvirt directory keeps what it did not write.
#include "../config/temp_dir.hpp"
#include "export/file_writer.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace hostdevd;
using hostdevd::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct stat stat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st;
}

std::string read(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
}

// Sets the process umask for the scope: the daemon runs with 077 (UMask= in its unit).
struct Umask {
    mode_t old;
    explicit Umask(mode_t m) : old(umask(m)) {}
    ~Umask() { umask(old); }
};

} // namespace

TEST_CASE("an export file is created readable by consumers and left alone while its content is the same") {
    TempDir dir;
    Umask strict(077);
    const std::string path = dir.path() + "/50-hostdevd.conf";
    WriteResult first = write_file_atomically(path, "[pci]\n");
    REQUIRE(first.error.empty());
    CHECK(first.changed);
    CHECK(read(path) == "[pci]\n");
    struct stat before = stat_of(path);
    CHECK((before.st_mode & 07777) == 0644);

    WriteResult again = write_file_atomically(path, "[pci]\n");
    CHECK(again.error.empty());
    CHECK_FALSE(again.changed);
    struct stat after = stat_of(path);
    CHECK(after.st_ino == before.st_ino);
    CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
    CHECK(names_in(dir.path()) == std::vector<std::string>{"50-hostdevd.conf"}); // no temporary left
}

TEST_CASE("a changed export replaces the file by rename and keeps the mode its owner gave it") {
    TempDir dir;
    const std::string path = dir.path() + "/50-hostdevd.conf";
    REQUIRE(write_file_atomically(path, "old\n").error.empty());
    REQUIRE(chmod(path.c_str(), 0640) == 0);
    const ino_t old_inode = stat_of(path).st_ino;
    // A reader holding the old file keeps reading the old content: the new one is another inode.
    std::ifstream reader(path);
    WriteResult result = write_file_atomically(path, "new\n");
    REQUIRE(result.error.empty());
    CHECK(result.changed);
    CHECK(stat_of(path).st_ino != old_inode);
    CHECK((stat_of(path).st_mode & 07777) == 0640);
    CHECK(read(path) == "new\n");
    std::string line;
    std::getline(reader, line);
    CHECK(line == "old");
    CHECK(names_in(dir.path()) == std::vector<std::string>{"50-hostdevd.conf"});
}

TEST_CASE("an export is never written through a symbolic link, and a missing directory is reported") {
    TempDir dir;
    const std::string target = dir.write("target.conf", "admin's\n");
    const std::string link = dir.path() + "/50-hostdevd.conf";
    REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
    WriteResult result = write_file_atomically(link, "[pci]\n");
    CHECK_THAT(result.error, Catch::StartsWith(link + ": is not a regular file"));
    CHECK_FALSE(result.changed);
    CHECK(read(target) == "admin's\n");
    CHECK(S_ISLNK(stat_of(link).st_mode));

    const std::string missing = dir.path() + "/nova.conf.d/50-hostdevd.conf";
    WriteResult no_dir = write_file_atomically(missing, "[pci]\n");
    CHECK(no_dir.error == missing + ": cannot create a temporary file next to it: No such file or directory");
}

TEST_CASE("a libvirt network directory gets one file per network and loses only the stale ones it wrote") {
    TempDir dir;
    const std::string networks = dir.path() + "/networks"; // created: its parent exists
    const std::string marker = kLibvirtMarker;
    std::vector<ExportDocument> docs = {{"gold", marker + " gold -->\n<network/>\n"},
                                        {"silver", marker + " silver -->\n<network/>\n"}};
    WriteResult first;
    {
        Umask strict(077); // the daemon's
        first = sync_directory(networks, docs, marker);
    }
    CHECK((stat_of(networks).st_mode & 07777) == 0755);
    REQUIRE(first.error.empty());
    CHECK(first.changed);
    CHECK(names_in(networks) == std::vector<std::string>{"gold.xml", "silver.xml"});
    // The administrator's own network file, without the marker, is not hostdevd's to remove.
    std::ofstream(networks + "/mine.xml") << "<network><name>mine</name></network>\n";

    CHECK_FALSE(sync_directory(networks, docs, marker).changed);
    docs.pop_back(); // pool "silver" is gone
    WriteResult second = sync_directory(networks, docs, marker);
    REQUIRE(second.error.empty());
    CHECK(second.changed);
    CHECK(names_in(networks) == std::vector<std::string>{"gold.xml", "mine.xml"});
}
