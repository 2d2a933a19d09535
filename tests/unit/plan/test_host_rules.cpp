// Rules that need to know the host (issue 15): driver names against the running kernel, vfio-pci's
// denylist, IOMMU group viability. Each is decided before anything is unbound or loaded.
#include "common/closest_match.hpp"
#include "plan/driver_names.hpp"
#include "plan/host_checks.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;
using hostdevd::closest_match;
using hostdevd::planner::driver_name_problem;

namespace {

// VF 0 of kPf on iavf, asked for `driver`; vfio_pci loaded (disable_denylist N), modules.dep known.
Plan plan_for(const DriverChoice& driver, ObservedState host) {
    DesiredState d = with_pf(pf_entry(exact(1)));
    d.pfs[0].vfs_settings.push_back(vf_table({0}, driver));
    return make_plan(d, host);
}

ObservedState kernel_host(uint32_t vfs = 1) {
    ObservedState host = pf_with_vfs(vfs);
    host.available_modules = {"i40e", "iavf", "mlx5_core", "qat_c62xvf", "vfio_pci"};
    host.vfio_pci_disable_denylist = false;
    return host;
}

} // namespace

TEST_CASE(
    "driver names: registered, a module's name for its driver, unknown, and a slip - with suggestions") {
    const ObservedState host = kernel_host();
    CHECK_FALSE(driver_name_problem("vfio-pci", host));
    CHECK_FALSE(driver_name_problem("iavf", host));
    CHECK(driver_name_problem("vfio_pci", host) == "\"vfio_pci\" is the name of the module; the driver it "
                                                   "registers is \"vfio-pci\": did you mean driver = "
                                                   "\"vfio-pci\"?");
    CHECK(
        driver_name_problem("vfio-pic", host) ==
        "no driver or module named \"vfio-pic\" on this kernel (not registered, not in modules.dep): did you "
        "mean driver = \"vfio-pci\"?");
    CHECK(driver_name_problem("frobnicator", host) ==
          "no driver or module named \"frobnicator\" on this kernel (not registered, not in modules.dep)");
    // A loadable module is judged once loaded: then the name it registers decides.
    CHECK_FALSE(driver_name_problem("mlx5_core", host));
    ObservedState loaded = host;
    loaded.module_drivers["qat_c62xvf"] = {"c6xxvf"};
    CHECK(driver_name_problem("qat_c62xvf", loaded) == "module qat_c62xvf registers driver \"c6xxvf\", not "
                                                       "\"qat_c62xvf\": did you mean driver = \"c6xxvf\"?");
    // Without modules.dep nothing unknown is claimed.
    ObservedState blind = host;
    blind.available_modules.clear();
    CHECK_FALSE(driver_name_problem("frobnicator", blind));
    // Suggestions come from the one did-you-mean of the loader and hostdevctl (common/closest_match).
    CHECK(closest_match("VFIO-PCI", {"vfio-pci", "iavf"}) == "vfio-pci");
    CHECK(closest_match("vfio-pic", {"vfio-pci", "iavf"}) == "vfio-pci");
    CHECK(closest_match("igb", {"vfio-pci", "iavf"}).empty());
}

TEST_CASE("driver names: the binding is invalid before anything is loaded or unbound") {
    for (const char* name : {"vfio_pci", "vfio-pic"}) {
        INFO(name);
        Plan plan = plan_for(named(name), kernel_host());
        CHECK(actions_of(plan, ActionKind::LoadModule).empty());
        const Action& a = only(plan, ActionKind::Unbind);
        CHECK(a.verdict == Verdict::Invalid);
        CHECK(a.writes.empty());
        CHECK(a.reason.find("did you mean driver = \"vfio-pci\"?") != std::string::npos);
    }
    // validate/plan report the same per entry, also before the VF exists.
    DesiredState d = with_pf(pf_entry(exact(4)));
    d.pfs[0].vfs_settings.push_back(vf_table({3}, named("vfio_pci"), 12));
    auto problems = hostdevd::check_against_host(d, kernel_host(0));
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].str().rfind("10-nics.toml:12:1: driver \"vfio_pci\": ", 0) == 0);
}

TEST_CASE("denylist: vfio-pci for a QAT VF is invalid while disable_denylist is off - nothing unbound") {
    ObservedState host = kernel_host();
    dev(host, vf(0)).vendor = 0x8086;
    dev(host, vf(0)).device = 0x37c9;
    Plan plan = plan_for(named("vfio-pci"), host);
    const Action& a = only(plan, ActionKind::Unbind);
    CHECK(a.verdict == Verdict::Invalid);
    CHECK(a.reason.rfind("8086:37c9 is on vfio-pci's denylist", 0) == 0);
    CHECK(a.reason.find("vfio-pci.disable_denylist=1") != std::string::npos);
    CHECK(status(plan, vf(0)).state == ObjectState::Blocked);
    // "vfio" resolving to vfio-pci: the same.
    host.vfio_aliases = {"alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci"};
    CHECK(only(plan_for(vfio(), host), ActionKind::Unbind).verdict == Verdict::Invalid);
    // Lifted: planned as any other rebind.
    host.vfio_pci_disable_denylist = true;
    CHECK(only(plan_for(named("vfio-pci"), host), ActionKind::Unbind).verdict == Verdict::Safe);
    // vfio_pci not loaded: its parameter is unknown; the module is loaded first, the device keeps iavf.
    host.vfio_pci_disable_denylist.reset();
    host.drivers = {"i40e", "iavf"};
    host.module_drivers.erase("vfio_pci");
    Plan waiting = plan_for(named("vfio-pci"), host);
    CHECK(only(waiting, ActionKind::LoadModule).verdict == Verdict::Safe);
    CHECK(only(waiting, ActionKind::Unbind).verdict == Verdict::Waiting);
}

TEST_CASE(
    "group viability: a VFIO bind that would leave its group mixed is blocked naming members and drivers") {
    // A GPU (nvidia) and its audio function (snd_hda_intel) in IOMMU group 60.
    ObservedState host;
    PciDevice gpu = plain_device("0000:65:00.0", "nvidia");
    gpu.iommu_group = 60;
    PciDevice audio = plain_device("0000:65:00.1", "snd_hda_intel");
    audio.iommu_group = 60;
    audio.class_code = 0x040300;
    host.devices = {{gpu.address, gpu}, {audio.address, audio}};
    host.drivers = {"nvidia", "snd_hda_intel", "vfio-pci"};
    DesiredState d;
    d.devices.push_back(device_entry(gpu.address, named("vfio-pci"), 20));
    Plan plan = make_plan(d, host);
    const Action& a = only(plan, ActionKind::Unbind);
    CHECK(a.verdict == Verdict::Blocked);
    CHECK(a.writes.empty());
    CHECK(a.reason ==
          "IOMMU group 60 would be mixed, which VFIO refuses (no guest could use it): 0000:65:00.1 on "
          "snd_hda_intel (host driver) with 0000:65:00.0 on vfio-pci");

    SECTION("both functions to VFIO: viable, both unbound") {
        d.devices.push_back(device_entry(audio.address, named("vfio-pci"), 24));
        Plan both = make_plan(d, host);
        for (const Action* u : actions_of(both, ActionKind::Unbind))
            CHECK(u->verdict == Verdict::Safe);
    }
    SECTION("the other member driverless, a bridge, or pci-stub: viable") {
        for (const std::string other : {"", "pcieport", "pci-stub"}) {
            ObservedState h = host;
            dev(h, audio.address).driver = other;
            if (other == "pcieport")
                dev(h, audio.address).class_code = 0x060400;
            INFO("other member on '" << other << "'");
            CHECK(only(make_plan(d, h), ActionKind::Unbind).verdict == Verdict::Safe);
        }
    }
    SECTION("already on vfio-pci in a mixed group: nothing to do, but reported blocked") {
        dev(host, gpu.address).driver = "vfio-pci";
        Plan done = make_plan(d, host);
        CHECK(done.actions.empty());
        CHECK(status(done, gpu.address).state == ObjectState::Blocked);
        CHECK(status(done, gpu.address).reason.find("IOMMU group 60 would be mixed") == 0);
    }
}
