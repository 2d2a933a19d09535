// The daemon's keeper of the [export] files (reconciler/export/keeper.hpp): writes what changed, leaves the
// rest alone, reports failures until they are fixed, and counts actions for the metrics.
#include "../config/temp_dir.hpp"
#include "export/keeper.hpp"
#include "export_fixture.hpp"

#include <sys/stat.h>

using namespace export_test;
using hostdevd::test::TempDir;

namespace {

// Identity of a file version: a rewrite is a rename of a new file (another inode); an untouched file
// keeps its inode and mtime. (The mtime alone cannot tell two writes within one clock tick apart.)
std::pair<ino_t, timespec> version_of(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return {st.st_ino, st.st_mtim};
}

bool same_version(std::pair<ino_t, timespec> a, std::pair<ino_t, timespec> b) {
    return a.first == b.first && a.second.tv_sec == b.second.tv_sec && a.second.tv_nsec == b.second.tv_nsec;
}

} // namespace

TEST_CASE("the keeper writes each [export] file and rewrites only what changed") {
    TempDir dir;
    Host host(kConfig, default_host());
    const std::vector<ExportTarget> targets = {{ExportFormat::Nova, dir.path() + "/nova.conf", {}},
                                               {ExportFormat::LibvirtNetwork, dir.path() + "/networks", {}},
                                               {ExportFormat::Prometheus, dir.path() + "/hostdevd.prom", {}}};
    ExportKeeper keeper;
    keeper.refresh(targets, host.input(&keeper.counters()), true);
    CHECK(keeper.errors().empty());
    const auto nova = version_of(dir.path() + "/nova.conf");
    const auto prom = version_of(dir.path() + "/hostdevd.prom");
    const auto gold = version_of(dir.path() + "/networks/gold.xml");

    // A pass in which nothing changed: nothing is rendered or written.
    keeper.refresh(targets, host.input(&keeper.counters()), false);
    CHECK(same_version(version_of(dir.path() + "/hostdevd.prom"), prom));
    // The next pass saw the same host but a later time: only the metrics change.
    host.manager.last_reconcile_usec += 1000000;
    keeper.refresh(targets, host.input(&keeper.counters()), true);
    CHECK(same_version(version_of(dir.path() + "/nova.conf"), nova));
    CHECK(same_version(version_of(dir.path() + "/networks/gold.xml"), gold));
    CHECK(version_of(dir.path() + "/hostdevd.prom").first != prom.first);
}

TEST_CASE("an export that cannot be written is reported, retried, and cleared once written") {
    TempDir dir;
    Host host(kConfig, default_host());
    const std::string path = dir.path() + "/nova.conf.d/50-hostdevd.conf";
    const std::vector<ExportTarget> targets = {{ExportFormat::Nova, path, {}}};
    ExportKeeper keeper;
    keeper.refresh(targets, host.input(), true);
    REQUIRE(keeper.errors().size() == 1);
    CHECK_THAT(keeper.errors()[0], Catch::StartsWith(path + ": cannot create a temporary file"));
    REQUIRE(mkdir((dir.path() + "/nova.conf.d").c_str(), 0755) == 0);
    keeper.refresh(targets, host.input(), false); // retried although nothing else changed
    CHECK(keeper.errors().empty());
    struct stat st {};
    CHECK(stat(path.c_str(), &st) == 0);

    // An export that cannot be made (two pools, one alias) is a failure of its file alone.
    Host clash(std::string(kConfig) + "\n[[pool]]\nname = \"gold\"\nnova = { alias = \"silver\" }\n",
               default_host());
    const std::vector<ExportTarget> two = {{ExportFormat::Nova, path, {}},
                                           {ExportFormat::SriovDp, dir.path() + "/config.json", {}}};
    keeper.refresh(two, clash.input(), true);
    REQUIRE(keeper.errors().size() == 1);
    CHECK_THAT(keeper.errors()[0], Catch::Contains("would both be the nova alias \"silver\""));
    CHECK(stat((dir.path() + "/config.json").c_str(), &st) == 0);
}

TEST_CASE("the keeper counts carried out, disruptive and failed actions by kind") {
    ExportKeeper keeper;
    Action bind;
    bind.kind = ActionKind::Bind;
    Action shrink;
    shrink.kind = ActionKind::SetNumVfs;
    shrink.disruptive = true;
    keeper.count(bind, ActionOutcome::Ok);
    keeper.count(bind, ActionOutcome::Failed);
    keeper.count(bind, ActionOutcome::Blocked); // not attempted: not counted
    keeper.count(shrink, ActionOutcome::Ok);
    CHECK(keeper.counters().applied == std::map<std::string, uint64_t>{{"bind", 1}, {"set-numvfs", 1}});
    CHECK(keeper.counters().disruptive == std::map<std::string, uint64_t>{{"set-numvfs", 1}});
    CHECK(keeper.counters().failed == std::map<std::string, uint64_t>{{"bind", 1}});
}
