// Driver binding details: vfio variant resolution (libvirt's fewest-wildcards rule), module loading,
// dash/underscore names, driver = "none", stale driver_override, PFs with VFs.
#include "plan/vfio_alias.hpp"
#include "plan_fixtures.hpp"

#include <catch2/catch.hpp>

using namespace plan_test;
using hostdevd::planner::best_vfio_alias;
using hostdevd::planner::glob_match;

namespace {

const std::string kCx7Vf = "pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00";
const std::vector<std::string> kAliases = {
    "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci",
    "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci",
    "alias vfio_pci:v000015B3d*sv*sd*bc*sc*i* vendor_wide_vfio_pci",
    "alias pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_core",
    "alias vfio_pci:v00008086d0000E20Bsv*sd*bc03sc*i* xe_vfio_pci",
};

// One device 0000:5e:00.2 with `modalias`, bound to `driver`, selected by [[device]] driver = "vfio".
struct VfioHost {
    ObservedState host;
    DesiredState desired;
    VfioHost(const std::string& modalias, const std::string& driver = "") {
        PciDevice d = plain_device("0000:5e:00.2", driver);
        d.modalias = modalias;
        host.devices[d.address] = d;
        host.drivers = {"mlx5_core", "vfio-pci"};
        host.module_drivers = {{"mlx5_core", {"mlx5_core"}}, {"vfio_pci", {"vfio-pci"}}};
        host.vfio_aliases = kAliases;
        desired.devices.push_back(device_entry("0000:5e:00.2", vfio()));
    }
};

} // namespace

TEST_CASE("glob matching of modalias patterns") {
    CHECK(glob_match("vfio_pci:v*d*sv*sd*bc*sc*i*", "vfio_" + kCx7Vf));
    CHECK(glob_match("vfio_pci:v000015b3d0000101Esv*sd*bc*sc*i*", "vfio_" + kCx7Vf)); // case-insensitive
    CHECK_FALSE(glob_match("vfio_pci:v000015B3d0000101Fsv*sd*bc*sc*i*", "vfio_" + kCx7Vf));
    CHECK_FALSE(glob_match("vfio_pci:v*", "pci:v0000"));
    CHECK(glob_match("*", ""));
}

TEST_CASE("vfio alias: the match with the fewest wildcards wins") {
    auto best = best_vfio_alias(kCx7Vf, kAliases);
    CHECK(best.module == "mlx5_vfio_pci");
    CHECK(best.wildcards == 5);
    // the non-vfio `alias pci:` line is ignored even though it matches with fewer wildcards
    auto generic = best_vfio_alias("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", kAliases);
    CHECK(generic.generic());
    CHECK(generic.wildcards == 7);
    auto none = best_vfio_alias(kCx7Vf, {});
    CHECK(none.generic());
    CHECK(none.wildcards == -1);
}

TEST_CASE("driver = vfio binds the variant driver when its module is loaded, reason says why") {
    VfioHost h(kCx7Vf);
    h.host.drivers.push_back("mlx5_vfio_pci");
    h.host.module_drivers["mlx5_vfio_pci"] = {"mlx5_vfio_pci"};
    Plan plan = make_plan(h.desired, h.host);
    const Action& a = only(plan, ActionKind::Bind);
    CHECK(a.verdict == Verdict::Safe);
    CHECK(a.reason == "no driver bound; mlx5_vfio_pci: modules.alias match with 5 wildcards");
    CHECK(a.writes == writes({{"bus/pci/devices/0000:5e:00.2/driver_override", "mlx5_vfio_pci"},
                              {"bus/pci/drivers_probe", "0000:5e:00.2"}}));
    CHECK(status(plan, "0000:5e:00.2").desired_driver ==
          "vfio: mlx5_vfio_pci: modules.alias match with 5 wildcards");
}

TEST_CASE("driver = vfio with the variant module not loaded: LoadModule first, bind waits") {
    VfioHost h(kCx7Vf);
    Plan plan = make_plan(h.desired, h.host);
    const Action& load = only(plan, ActionKind::LoadModule);
    CHECK(load.verdict == Verdict::Safe);
    CHECK(load.module == "mlx5_vfio_pci");
    CHECK(load.writes.empty());
    CHECK(load.reason ==
          "mlx5_vfio_pci: modules.alias match with 5 wildcards; module mlx5_vfio_pci is not loaded");
    const Action& bind = only(plan, ActionKind::Bind);
    CHECK(bind.verdict == Verdict::Waiting);
    CHECK(bind.reason ==
          "waiting for module mlx5_vfio_pci to load (mlx5_vfio_pci: modules.alias match with 5 wildcards)");
    CHECK(plan.actions[0].kind == ActionKind::LoadModule); // same object: planned order kept
}

TEST_CASE("driver = vfio bound to a host driver with the module missing: load first, keep the driver") {
    VfioHost h(kCx7Vf, "mlx5_core");
    Plan plan = make_plan(h.desired, h.host);
    CHECK(only(plan, ActionKind::LoadModule).verdict == Verdict::Safe);
    const Action& unbind = only(plan, ActionKind::Unbind);
    CHECK(unbind.verdict == Verdict::Waiting);
    CHECK(unbind.writes.empty());
}

TEST_CASE("driver = vfio maps module to driver name through /sys/module (xe: dashes)") {
    VfioHost h("pci:v00008086d0000E20Bsv00008086sd00001100bc03sc00i00");
    h.host.drivers.push_back("xe-vfio-pci");
    h.host.module_drivers["xe_vfio_pci"] = {"xe-vfio-pci"};
    Plan plan = make_plan(h.desired, h.host);
    const Action& a = only(plan, ActionKind::Bind);
    CHECK(a.verdict == Verdict::Safe);
    CHECK(a.summary == "bind xe-vfio-pci");
    CHECK(a.writes[0] == SysfsWrite{"bus/pci/devices/0000:5e:00.2/driver_override", "xe-vfio-pci"});
    CHECK(a.reason == "no driver bound; xe_vfio_pci: modules.alias match with 4 wildcards");
    // already bound to it: converged
    h.host.devices.at("0000:5e:00.2").driver = "xe-vfio-pci";
    CHECK(make_plan(h.desired, h.host).actions.empty());
}

TEST_CASE("driver = vfio falls back to vfio-pci for the generic alias or no match") {
    VfioHost h("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00");
    Plan plan = make_plan(h.desired, h.host);
    CHECK(only(plan, ActionKind::Bind).reason ==
          "no driver bound; vfio-pci: only the generic vfio_pci alias matches");
    CHECK(only(plan, ActionKind::Bind).writes[0].value == "vfio-pci");
    h.host.vfio_aliases.clear();
    h.host.drivers = {};
    Plan unloaded = make_plan(h.desired, h.host);
    CHECK(only(unloaded, ActionKind::LoadModule).module == "vfio_pci");
    CHECK(only(unloaded, ActionKind::Bind).verdict == Verdict::Waiting);
}

TEST_CASE("a named driver that is not loaded: LoadModule with - mapped to _, once per module") {
    ObservedState host = pf_with_vfs(2, 8, "i40e", "");
    PfEntry e = pf_entry(exact(2));
    e.vfs_settings.push_back(vf_table({0, 1}, named("xe-vfio-pci")));
    Plan plan = make_plan(with_pf(e), host);
    const Action& load = only(plan, ActionKind::LoadModule);
    CHECK(load.module == "xe_vfio_pci");
    CHECK(load.object == vf(0));
    CHECK(actions_of(plan, ActionKind::Bind).size() == 2);
    CHECK(status(plan, vf(1)).state == ObjectState::Pending);
}

TEST_CASE("bound to the desired driver with a stale driver_override is converged") {
    ObservedState host = pf_with_vfs(1, 8, "i40e", "vfio-pci");
    dev(host, vf(0)).driver_override = "iavf";
    PfEntry e = pf_entry(exact(1));
    e.vfs_settings.push_back(vf_table({0}, named("vfio-pci")));
    Plan plan = make_plan(with_pf(e), host);
    CHECK(plan.actions.empty());
    CHECK(status(plan, vf(0)).state == ObjectState::Converged);
}

TEST_CASE("driver = none on an unbound device pins driver_override once, then is converged") {
    ObservedState host = pf_with_vfs(1, 8, "i40e", "");
    PfEntry e = pf_entry(exact(1));
    e.vfs_settings.push_back(vf_table({0}, no_driver()));
    Plan plan = make_plan(with_pf(e), host);
    const Action& a = only(plan, ActionKind::Unbind);
    CHECK_FALSE(a.disruptive);
    CHECK(a.writes == writes({{"bus/pci/devices/" + vf(0) + "/driver_override", "none"}}));
    dev(host, vf(0)).driver_override = "none";
    CHECK(make_plan(with_pf(e), host).actions.empty());
    dev(host, vf(0)).driver_override = "";
    dev(host, vf(0)).has_driver_override = false; // old kernel: unbound is all we can do
    CHECK(make_plan(with_pf(e), host).actions.empty());
}

TEST_CASE("unbinding a PF counts its VFs as holders and as must-be-idle") {
    ObservedState host = pf_with_vfs(2);
    DesiredState d;
    d.devices.push_back(device_entry(kPf, named("vfio-pci")));
    Plan idle = make_plan(d, host);
    CHECK(only(idle, ActionKind::Unbind).must_be_idle == std::vector<std::string>{kPf, vf(0), vf(1)});
    dev(host, vf(1)).holders = {"pid 1 uid 0 (qemu)"};
    Plan busy = make_plan(d, host);
    CHECK(only(busy, ActionKind::Unbind).verdict == Verdict::Blocked);
    CHECK(only(busy, ActionKind::Unbind).reason ==
          "0000:3b:00.0 in use: VF 0000:3b:02.1: pid 1 uid 0 (qemu)");
}

TEST_CASE("a device without driver_override binds through the driver's bind file") {
    ObservedState host = pf_with_vfs(1, 8, "i40e", "");
    dev(host, vf(0)).has_driver_override = false;
    PfEntry e = pf_entry(exact(1));
    e.vfs_settings.push_back(vf_table({0}, named("iavf")));
    CHECK(only(make_plan(with_pf(e), host), ActionKind::Bind).writes ==
          writes({{"bus/pci/drivers/iavf/bind", vf(0)}}));
}

TEST_CASE("driver = vfio: the status names the resolved driver and why, also once converged") {
    VfioHost variant(kCx7Vf, "mlx5_vfio_pci");
    variant.host.drivers.push_back("mlx5_vfio_pci");
    variant.host.module_drivers["mlx5_vfio_pci"] = {"mlx5_vfio_pci"};
    Plan converged = make_plan(variant.desired, variant.host);
    CHECK(converged.actions.empty());
    CHECK(status(converged, "0000:5e:00.2").state == ObjectState::Converged);
    CHECK(status(converged, "0000:5e:00.2").desired_driver ==
          "vfio: mlx5_vfio_pci: modules.alias match with 5 wildcards");

    VfioHost generic("pci:v00001AF4d00001041sv00001AF4sd00001100bc02sc00i00", "vfio-pci");
    CHECK(status(make_plan(generic.desired, generic.host), "0000:5e:00.2").desired_driver ==
          "vfio: vfio-pci: only the generic vfio_pci alias matches");
}
