#include "report/views.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;

namespace {

ObservedState one_vf() {
    ObservedState o;
    PciDevice pf;
    pf.address = "0000:3b:00.0";
    pf.is_pf = true;
    pf.total_vfs = 8;
    pf.num_vfs = 1;
    pf.vfs = {"0000:3b:02.0"};
    PciDevice vf;
    vf.address = "0000:3b:02.0";
    vf.physfn = pf.address;
    vf.driver = "vfio-pci";
    vf.holders = {"pid 42 uid 0 (qemu)"};
    o.devices = {{pf.address, pf}, {vf.address, vf}};
    return o;
}

Plan statuses() {
    Plan p;
    ObjectStatus pf{"0000:3b:00.0", "pf", ObjectState::Converged, "", "a.toml:3", "", "1", false, "", "", ""};
    ObjectStatus vf{"0000:3b:02.0",
                    "vf",
                    ObjectState::Blocked,
                    "in use",
                    "a.toml:7",
                    "vfio-pci",
                    "",
                    false,
                    "gold",
                    "",
                    ""};
    ObjectStatus absent{"address=0000:5e:00.0",
                        "pf",
                        ObjectState::Absent,
                        "no device",
                        "a.toml:9",
                        "",
                        "8",
                        false,
                        "",
                        "",
                        ""};
    p.objects = {{pf.object, pf}, {vf.object, vf}, {absent.object, absent}};
    return p;
}

} // namespace

TEST_CASE("views carry observation and plan status and absent entries get no device view") {
    Views v = derive_views(one_vf(), statuses(), {});
    REQUIRE(v.devices.size() == 2);
    CHECK(v.devices.at("0000:3b:02.0").in_use);
    CHECK(v.devices.at("0000:3b:02.0").holders == std::vector<std::string>{"pid 42 uid 0 (qemu)"});
    CHECK(v.devices.at("0000:3b:02.0").state == "blocked");
    CHECK(v.devices.at("0000:3b:02.0").pool == "gold");
    CHECK(v.devices.at("0000:3b:00.0").desired_vfs == "1");
    REQUIRE(v.absent.size() == 1);
}

TEST_CASE("an executor failure turns the device failed with its reason") {
    Views v =
        derive_views(one_vf(), statuses(), {{"0000:3b:00.0", ObjectFailure{"write to x blocked for 6 s"}}});
    CHECK(v.devices.at("0000:3b:00.0").state == "failed");
    CHECK(v.devices.at("0000:3b:00.0").reason == "write to x blocked for 6 s");
    CHECK(manager_state(v, statuses(), true, false) == "degraded");
}

TEST_CASE("manager state follows configuration validity, start-up, failures and blocks") {
    Views v = derive_views(one_vf(), statuses(), {});
    CHECK(manager_state(v, statuses(), false, false) == "invalid-config");
    CHECK(manager_state(v, statuses(), true, true) == "starting");
    CHECK(manager_state(v, statuses(), true, false) == "blocked");
}

TEST_CASE("only the properties that differ are reported as changed") {
    DeviceView a;
    a.driver = "iavf";
    DeviceView b = a;
    CHECK(changed_properties(a, b).empty());
    b.driver = "vfio-pci";
    b.holders = {"pid 1 uid 0 (x)"};
    CHECK(changed_properties(a, b) == std::vector<std::string>{"Driver", "Holders"});
}

TEST_CASE("update_views re-derives the named objects only, and then equals derive_views") {
    ObservedState o = one_vf();
    Plan p = statuses();
    Views v = derive_views(o, p, {});

    // The VF is released and converges, the PF's write fails, the absent entry now selects something.
    o.devices.at("0000:3b:02.0").holders.clear();
    p.objects.at("0000:3b:02.0").state = ObjectState::Converged;
    p.objects.at("0000:3b:02.0").reason.clear();
    p.objects.erase("address=0000:5e:00.0");
    const std::map<std::string, ObjectFailure> failures = {{"0000:3b:00.0", ObjectFailure{"write failed"}}};

    update_views(v, o, p, failures, {"0000:3b:02.0"});
    CHECK(v.devices.at("0000:3b:02.0").state == "converged");
    CHECK_FALSE(v.devices.at("0000:3b:02.0").in_use);
    CHECK(v.devices.at("0000:3b:00.0").state == "converged"); // not named: left as it was
    CHECK(v.absent.size() == 1);

    update_views(v, o, p, failures, {"0000:3b:00.0", "address=0000:5e:00.0"});
    Views all = derive_views(o, p, failures);
    CHECK(v.devices == all.devices);
    CHECK(v.mdevs == all.mdevs);
    CHECK(v.absent.empty());
    CHECK(v.devices.at("0000:3b:00.0").state == "failed");
}

TEST_CASE("an [[mdev]] entry that selects nothing is absent: no Mdev object") {
    Plan p;
    p.objects["20-gpus.toml:4"] = ObjectStatus{"address=0000:3d:00.0",
                                               "mdev",
                                               ObjectState::Absent,
                                               "no device matches parent address=0000:3d:00.0",
                                               "20-gpus.toml:4",
                                               "",
                                               "",
                                               false,
                                               "",
                                               "",
                                               "nvidia-222"};
    p.objects["c2177883-f1bb-47f0-914d-32a22e3a8804"] = ObjectStatus{"c2177883-f1bb-47f0-914d-32a22e3a8804",
                                                                     "mdev",
                                                                     ObjectState::Pending,
                                                                     "",
                                                                     "20-gpus.toml:9",
                                                                     "",
                                                                     "",
                                                                     false,
                                                                     "",
                                                                     "0000:3d:00.1",
                                                                     "nvidia-222"};
    Views v = derive_views(ObservedState{}, p, {});
    CHECK(v.mdevs.size() == 1);
    CHECK(v.mdevs.count("c2177883-f1bb-47f0-914d-32a22e3a8804") == 1);
    CHECK(v.absent.count("20-gpus.toml:4") == 1);
}
