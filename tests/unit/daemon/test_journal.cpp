// journal.hpp: the destination is the journal only when stderr really is the stream JOURNAL_STREAM names,
// and the MESSAGE_IDs administrators filter on never change.
#include "daemon/journal.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

using namespace hostdevd;

TEST_CASE("the journal is used only when stderr is the stream JOURNAL_STREAM names") {
    struct stat st {};
    REQUIRE(fstat(STDERR_FILENO, &st) == 0);
    const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);

    unsetenv("JOURNAL_STREAM");
    journal::init(false);
    CHECK_FALSE(journal::to_journal());
    // Inherited from a service by a program whose stderr goes elsewhere: not the journal.
    setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1)).c_str(), 1);
    journal::init(false);
    CHECK_FALSE(journal::to_journal());
    setenv("JOURNAL_STREAM", "garbage", 1);
    journal::init(false);
    CHECK_FALSE(journal::to_journal());
    setenv("JOURNAL_STREAM", mine.c_str(), 1);
    journal::init(false);
    CHECK(journal::to_journal());
    // Back to plain stderr for the rest of the test program.
    unsetenv("JOURNAL_STREAM");
    journal::init(false);
}

TEST_CASE("MESSAGE_IDs are stable, distinct 128-bit ids (docs/daemon.md lists them)") {
    using journal::Kind;
    // Pinned: changing one breaks every filter and alert an administrator built on it.
    CHECK(std::string(journal::message_id(Kind::Applied)) == "4968c26988d74652b4c27230c305d3de");
    CHECK(std::string(journal::message_id(Kind::Converged)) == "85e40103647a473fa7c01a6dd5f055c6");
    CHECK(std::string(journal::message_id(Kind::Blocked)) == "942ff42c56064ba4a1b957ac11b752da");
    CHECK(std::string(journal::message_id(Kind::Failed)) == "9c667f213a6441a4ab3c36c1fb715e80");
    CHECK(std::string(journal::message_id(Kind::Undone)) == "15feefbbeb894aba86c37f4f7363aa8f");
    CHECK(std::string(journal::message_id(Kind::Destroyed)) == "ba4b4efef6ee4ec2a53dbdf80b807e31");
    CHECK(std::string(journal::message_id(Kind::ConfigInvalid)) == "d072086be53a4d4d8dad3d682761dfd8");
    CHECK(std::string(journal::message_id(Kind::ExportWritten)) == "84a8d11a761e4892829b65062a240fae");
    CHECK(std::string(journal::message_id(Kind::ExportFailed)) == "25ffde48bf66402d8187d930b9055f38");
    std::set<std::string> ids;
    for (Kind k : {Kind::Applied, Kind::Converged, Kind::Blocked, Kind::Failed, Kind::Undone, Kind::Destroyed,
                   Kind::ConfigInvalid, Kind::ExportWritten, Kind::ExportFailed}) {
        std::string id = journal::message_id(k);
        CHECK(id.size() == 32);
        CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        ids.insert(id);
    }
    CHECK(ids.size() == 9);
}
