// export_events.hpp: what the journal gets when the daemon's keeper writes its [export] files. A failure
// is an err entry once per distinct failure (not at every retry), a recovery a notice, new content info
// (debug for the metrics, which change at every pass); a refresh that changes nothing logs nothing.
#include "../config/temp_dir.hpp"
#include "../export/export_fixture.hpp"
#include "daemon/export_events.hpp"

#include <catch2/catch.hpp>
#include <sys/stat.h>

using namespace export_test;
using hostdevd::test::TempDir;
using journal::Kind;
using journal::Priority;

namespace {

std::vector<journal::Event> logged(const std::vector<ExportFileEvent>& events) {
    std::vector<journal::Event> out;
    for (const auto& e : events)
        out.push_back(export_event(e));
    return out;
}

std::string field(const journal::Event& e, const std::string& name) {
    for (const auto& [n, v] : e.fields)
        if (n == name)
            return v;
    return "<none>";
}

} // namespace

TEST_CASE("export file events reach the journal with their priority and once per change") {
    TempDir dir;
    Host host(kConfig, default_host());
    const std::string nova = dir.path() + "/nova.conf.d/50-hostdevd.conf";
    const std::string prom = dir.path() + "/hostdevd.prom";
    const std::vector<ExportTarget> targets = {{ExportFormat::Nova, nova, {}},
                                               {ExportFormat::Prometheus, prom, {}}};
    ExportKeeper keeper;

    // nova's directory does not exist yet: err, with the path and the reason; the metrics are written.
    auto first = logged(keeper.refresh(targets, host.input(), true));
    REQUIRE(first.size() == 2);
    CHECK(first[0].kind == Kind::ExportFailed);
    CHECK(first[0].priority == Priority::Err);
    CHECK(first[0].verdict == "failed");
    CHECK(field(first[0], "export_format") == "nova");
    CHECK(field(first[0], "export_path") == nova);
    CHECK_THAT(field(first[0], "reason"), Catch::StartsWith(nova + ": cannot create a temporary file"));
    CHECK_THAT(first[0].message, Catch::StartsWith("export nova: not written: " + nova));
    CHECK(first[1].kind == Kind::ExportWritten);
    CHECK(first[1].priority == Priority::Debug); // the metrics: new content at every pass
    CHECK(first[1].message == "export prometheus: updated " + prom);

    // Retried at the next pass: the same failure is not logged again, the unchanged metrics not at all.
    CHECK(keeper.refresh(targets, host.input(), false).empty());
    CHECK(keeper.errors().size() == 1);

    // The directory appears: written again, a notice.
    REQUIRE(mkdir((dir.path() + "/nova.conf.d").c_str(), 0755) == 0);
    auto recovered = logged(keeper.refresh(targets, host.input(), false));
    REQUIRE(recovered.size() == 1);
    CHECK(recovered[0].kind == Kind::ExportWritten);
    CHECK(recovered[0].priority == Priority::Notice);
    CHECK(recovered[0].verdict == "recovered");
    CHECK(recovered[0].message == "export nova: written again to " + nova);
    CHECK(keeper.errors().empty());

    // A VF converges: nova's file gets new content, an info entry; the metrics' new content is debug.
    Host converged(kConfig,
                   x710({"vfio-pci", "vfio-pci", "vfio-pci", "vfio-pci", "iavf", "iavf", "iavf", "iavf"}));
    converged.manager = host.manager;
    auto updated = logged(keeper.refresh(targets, converged.input(), true));
    REQUIRE(updated.size() == 2);
    CHECK(updated[0].kind == Kind::ExportWritten);
    CHECK(updated[0].priority == Priority::Info);
    CHECK(updated[0].verdict == "updated");
    CHECK(updated[0].message == "export nova: updated " + nova);
    CHECK(field(updated[0], "export_format") == "nova");
    CHECK(updated[1].priority == Priority::Debug);
    CHECK(updated[1].message == "export prometheus: updated " + prom);
}
