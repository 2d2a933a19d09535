// Devices whose behaviour breaks the simple model (issue 15), with the unmodified hostdevctl on simhost:
// PF drivers that enable another number of VFs than written, VFs with their PF's device ID, vfio-pci's
// denylist, IOMMU groups a plan would leave mixed, probes that do not take, driver names the kernel does
// not know. Judged by simhost's write log. Each TEST_CASE runs in a fresh simulated host (its tag).
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

using testing::ConfigDir;
using testing::run;

namespace {

const std::string kQat = "0000:3d:00.0"; // quirks.toml: enables all 16 VFs whatever is written
const std::string kX710 = "0000:3b:00.0";

testing::Completed apply(const ConfigDir& conf) {
    return run({testing::hostdevctl(), "apply", "--local", "--config-dir", conf.path()});
}

std::string pf_config(const std::string& pf, unsigned vfs, const std::string& more = "") {
    return "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
           "\" }\ndestroy = \"when-idle\"\nvfs = " + std::to_string(vfs) + "\n" + more;
}

std::string numvfs(const std::string& pf) {
    return testing::trimmed(testing::read_file("/sys/bus/pci/devices/" + pf + "/sriov_numvfs"));
}

std::vector<std::string> values(const std::vector<nlohmann::json>& writes) {
    std::vector<std::string> out;
    for (const auto& w : writes)
        out.push_back(testing::trimmed(w.at("value")));
    return out;
}

std::string driver_of(const std::string& address) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/sys/bus/pci/devices/" + address + "/driver", ec);
    return ec ? "" : target.filename().string();
}

// The plan, whose exit status must be `status` (exit_codes.hpp: 0 nothing to do, 1 the gate holds an action
// as failed, 3 only blocked/waiting/invalid left, 4 safe actions pending).
nlohmann::json plan_json(const ConfigDir& conf, int status) {
    auto c = run({testing::hostdevctl(), "plan", "--local", "--json", "--config-dir", conf.path()});
    INFO(c.out << c.err);
    REQUIRE(c.exit_code == status);
    return nlohmann::json::parse(c.out);
}

nlohmann::json status_of(const nlohmann::json& plan, const std::string& object) {
    for (const auto& o : plan.at("objects"))
        if (o.at("object") == object)
            return o;
    FAIL("no status for " << object);
    return {};
}

void oracle_clean() {
    for (const auto& w : testing::write_log()) {
        INFO(w.dump());
        CHECK_FALSE(w.value("disrupted_in_use", false));
        CHECK_FALSE(w.value("repeated_destruction", false));
    }
}

} // namespace

// ---- churn: drivers that enable another number of VFs than written

TEST_CASE("churn: a driver enabling all its VFs - two applies of vfs = 4 tear nothing down", "[quirks]") {
    ConfigDir conf;
    conf.write("10-qat.toml", pf_config(kQat, 4));
    testing::clear_write_log();
    auto first = apply(conf);
    INFO("first apply:\n" << first.out << first.err);
    CHECK(first.exit_code == 1); // not converged, not retried: a failure
    CHECK(numvfs(kQat) == "16");
    CHECK_THAT(first.out, Catch::Contains("driver enabled 16 VFs when 4 were written"));
    // The final table never calls the held tear-down safe, nor its PF pending.
    CHECK_THAT(first.out, Catch::Contains("sriov_numvfs 16 -> 0 -> 4  failed"));
    CHECK_THAT(first.out, !Catch::Contains("safe"));
    auto second = apply(conf);
    INFO("second apply:\n" << second.out << second.err);
    CHECK(second.exit_code == 1);
    CHECK_THAT(second.out, Catch::Contains("not repeated until the configuration or the device changes"));
    // One write of 4 in all: no 0, no second 4.
    CHECK(values(testing::writes_to(testing::write_log(), "/sriov_numvfs")) == std::vector<std::string>{"4"});
    CHECK(status_of(plan_json(conf, 1), kQat).at("state") == "failed");
    oracle_clean();
}

TEST_CASE("churn: from 16 VFs to 4 on a driver enabling all - one destructive attempt and then none",
          "[quirks]") {
    ConfigDir conf;
    conf.write("10-qat.toml", pf_config(kQat, 16));
    REQUIRE(apply(conf).exit_code == 0);
    conf.write("10-qat.toml", pf_config(kQat, 4));
    testing::simhost_ctl({"input-changed"});
    testing::clear_write_log();
    for (int run_no = 0; run_no < 3; ++run_no) {
        auto r = apply(conf);
        INFO("apply " << run_no << ":\n" << r.out << r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::Contains("driver enabled 16 VFs when 4 were written"));
    }
    CHECK(values(testing::writes_to(testing::write_log(), "/sriov_numvfs")) ==
          std::vector<std::string>{"0", "4"});
    CHECK(numvfs(kQat) == "16");
    oracle_clean();
    // The configuration changes: a new situation, acted on (16 is what this driver does).
    conf.write("10-qat.toml", pf_config(kQat, 16));
    testing::simhost_ctl({"input-changed"});
    CHECK(apply(conf).exit_code == 0);
}

TEST_CASE("churn: a driver enabling a fixed number of VFs - reported with what it did and not repeated",
          "[intel-x710]") {
    testing::simhost_ctl({"fault", "enables-vfs", kX710, "8"});
    ConfigDir conf;
    conf.write("10-vfs.toml", pf_config(kX710, 4));
    testing::clear_write_log();
    for (int run_no = 0; run_no < 2; ++run_no) {
        auto r = apply(conf);
        INFO("apply " << run_no << ":\n" << r.out << r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::Contains("driver enabled 8 VFs when 4 were written"));
    }
    CHECK(values(testing::writes_to(testing::write_log(), "/sriov_numvfs")) == std::vector<std::string>{"4"});
    CHECK(numvfs(kX710) == "8");
    oracle_clean();
}

TEST_CASE("churn: a driver enabling fewer VFs than written - one destructive attempt from 4 to 6",
          "[intel-x710]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", pf_config(kX710, 4));
    REQUIRE(apply(conf).exit_code == 0);
    testing::simhost_ctl({"fault", "limit-vfs", kX710, "3"});
    conf.write("10-vfs.toml", pf_config(kX710, 6));
    testing::simhost_ctl({"input-changed"});
    testing::clear_write_log();
    for (int run_no = 0; run_no < 3; ++run_no) {
        auto r = apply(conf);
        INFO("apply " << run_no << ":\n" << r.out << r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.out, Catch::Contains("driver enabled 3 VFs when 6 were written"));
    }
    CHECK(values(testing::writes_to(testing::write_log(), "/sriov_numvfs")) ==
          std::vector<std::string>{"0", "6"});
    oracle_clean();
}

// ---- VFs that carry their PF's device ID

TEST_CASE(
    "VF ID = PF ID: pf and device entries by vendor/device - VFs get their vGPU profiles and the PF stays",
    "[nvidia-l4]") {
    ConfigDir conf;
    conf.write("10-l4.toml",
               "version = 1\n"
               "[[pf]]\nmatch = { vendor = \"10de\", device = \"27b8\" }\ndestroy = \"when-idle\"\nvfs = 2\n"
               "[[pf.vf]]\nindex = \"0-1\"\nvgpu = \"NVIDIA L4-6Q\"\n"
               "[[device]]\nmatch = { vendor = \"10de\", device = \"27b8\" }\ndriver = \"vfio\"\n");
    testing::clear_write_log();
    auto r = apply(conf);
    INFO("apply:\n" << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, !Catch::Contains("no SR-IOV capability"));
    CHECK(driver_of("0000:ca:00.0") == "nvidia");
    CHECK(testing::writes_to(testing::write_log(), "/unbind").empty());
    for (const char* vf : {"0000:ca:00.4", "0000:ca:00.5"})
        CHECK(testing::trimmed(testing::read_file(std::string("/sys/bus/pci/devices/") + vf +
                                                  "/nvidia/current_vgpu_type")) == "906");
    CHECK(plan_json(conf, 0).at("converged") == true);
    oracle_clean();
}

// ---- vfio-pci's denylist

TEST_CASE("denylist: QAT VFs for vfio-pci are invalid before anything is unbound - zero writes", "[quirks]") {
    ConfigDir conf;
    conf.write("10-qat.toml", pf_config(kQat, 16));
    REQUIRE(apply(conf).exit_code == 0);
    REQUIRE(driver_of("0000:3d:01.0") == "c6xxvf");
    conf.write("10-qat.toml", pf_config(kQat, 16, "[[pf.vf]]\nindex = \"0-1\"\ndriver = \"vfio-pci\"\n"));
    testing::clear_write_log();
    auto r = apply(conf);
    INFO("apply:\n" << r.out << r.err);
    CHECK(r.exit_code == 3); // nothing failed, something is not done
    CHECK(testing::write_log().empty());
    CHECK(driver_of("0000:3d:01.0") == "c6xxvf");
    const auto vf = status_of(plan_json(conf, 3), "0000:3d:01.0");
    CHECK(vf.at("state") == "blocked");
    CHECK_THAT(vf.at("reason").get<std::string>(), Catch::Contains("8086:37c9 is on vfio-pci's denylist"));
    CHECK_THAT(vf.at("reason").get<std::string>(), Catch::Contains("vfio-pci.disable_denylist=1"));
    const auto plan = plan_json(conf, 3); // the loop must not range over a dead temporary
    for (const auto& a : plan.at("actions"))
        if (a.at("object") == "0000:3d:01.0")
            CHECK(a.at("verdict") == "invalid");
}

TEST_CASE("a bind that does not take is reported as such and tried once per apply - never in a loop",
          "[intel-x710]") {
    ConfigDir conf;
    conf.write("10-vfs.toml", pf_config(kX710, 2, "autoprobe = false\n"));
    REQUIRE(apply(conf).exit_code == 0);
    // vfio-pci's probe of VF 0 fails (as for a device whose vfio-pci probe the kernel refuses for a reason
    // hostdevd cannot know beforehand); drivers_probe still returns success.
    testing::simhost_ctl({"fault", "probe-fail", "0000:3b:02.0"});
    conf.write("10-vfs.toml",
               pf_config(kX710, 2, "autoprobe = false\n[[pf.vf]]\nindex = \"0\"\ndriver = \"vfio-pci\"\n"));
    testing::clear_write_log();
    auto r = apply(conf);
    INFO("apply:\n" << r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out,
               Catch::Contains("0000:3b:02.0 has no driver after binding vfio-pci (the write succeeded; "
                               "the probe did not take)"));
    CHECK(testing::writes_to(testing::write_log(), "/drivers_probe").size() == 1);
    CHECK(driver_of("0000:3b:02.0").empty());
    // Each apply is the operator asking again: a harmless bind is tried once more, then reported again.
    auto again = apply(conf);
    CHECK(again.exit_code == 1);
    CHECK(testing::writes_to(testing::write_log(), "/drivers_probe").size() == 2);
}

// ---- IOMMU group viability

TEST_CASE("group viability: a GPU without its audio function is blocked naming the group and its members and "
          "drivers",
          "[quirks]") {
    ConfigDir conf;
    conf.write("10-gpu.toml",
               "version = 1\n[[device]]\nmatch = { address = \"0000:65:00.0\" }\ndriver = \"vfio-pci\"\n");
    testing::clear_write_log();
    auto r = apply(conf);
    INFO("apply:\n" << r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(testing::write_log().empty());
    CHECK(driver_of("0000:65:00.0") == "nvidia");
    const std::string reason = status_of(plan_json(conf, 3), "0000:65:00.0").at("reason");
    CHECK_THAT(reason, Catch::Contains("IOMMU group 60 would be mixed"));
    CHECK_THAT(reason, Catch::Contains("0000:65:00.1 on snd_hda_intel (host driver)"));
    CHECK_THAT(reason, Catch::Contains("0000:65:00.0 on vfio-pci"));
    // What a guest would meet if someone bound the GPU alone: its VMM cannot take the group (EPERM on
    // VFIO_GROUP_SET_CONTAINER; simhost's hold stands for the VMM), and hostdevd reports the group.
    for (const auto& [path, value] : std::vector<std::pair<std::string, std::string>>{
             {"/sys/bus/pci/drivers/nvidia/unbind", "0000:65:00.0"},
             {"/sys/bus/pci/devices/0000:65:00.0/driver_override", "vfio-pci"},
             {"/sys/bus/pci/drivers_probe", "0000:65:00.0"}})
        REQUIRE(run({"sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", value, path}).exit_code == 0);
    REQUIRE(driver_of("0000:65:00.0") == "vfio-pci");
    auto hold = run({testing::simhost(), "ctl", "hold", "0000:65:00.0"});
    CHECK(hold.exit_code == 1);
    CHECK_THAT(hold.err, Catch::Contains("EPERM") && Catch::Contains("IOMMU group 60 is not viable"));
    CHECK(status_of(plan_json(conf, 3), "0000:65:00.0").at("state") == "blocked");
    // With both functions in the configuration the group is viable: both go to vfio-pci, and a guest
    // can take the group.
    conf.write("20-audio.toml",
               "version = 1\n[[device]]\nmatch = { address = \"0000:65:00.1\" }\ndriver = \"vfio-pci\"\n");
    CHECK(apply(conf).exit_code == 0);
    CHECK(driver_of("0000:65:00.1") == "vfio-pci");
    CHECK(run({testing::simhost(), "ctl", "hold", "0000:65:00.0"}).exit_code == 0);
}

TEST_CASE("group viability: VFs sharing the PF group stay on the host and the others go to VFIO",
          "[quirks]") {
    ConfigDir conf;
    conf.write("10-cx7.toml",
               pf_config("0000:e1:00.0", 8, "[[pf.vf]]\nindex = \"0-7\"\ndriver = \"vfio-pci\"\n"));
    auto r = apply(conf);
    INFO("apply:\n" << r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK(driver_of("0000:e1:00.2") == "mlx5_core"); // VF 0: group 70 with the PF
    CHECK(driver_of("0000:e1:01.0") == "vfio-pci");  // VF 6: group 71
    CHECK(driver_of("0000:e1:01.1") == "vfio-pci");
    CHECK_THAT(status_of(plan_json(conf, 3), "0000:e1:00.2").at("reason").get<std::string>(),
               Catch::Contains("0000:e1:00.0 on mlx5_core (host driver)"));
}

// ---- driver names and profiles checked against the running kernel

TEST_CASE("validation: the module name for a driver - a typo - a profile in the wrong case: each suggested",
          "[nvidia-l4]") {
    struct Row {
        std::string setting, suggestion;
    };
    ConfigDir vfs_only; // the GPU's VFs exist (their nvidia files list the profiles)
    vfs_only.write("10-l4.toml", pf_config("0000:ca:00.0", 2));
    REQUIRE(apply(vfs_only).exit_code == 0);
    for (const Row& row : {Row{"driver = \"vfio_pci\"", "did you mean driver = \"vfio-pci\"?"},
                           Row{"driver = \"vfio-pic\"", "did you mean driver = \"vfio-pci\"?"},
                           Row{"vgpu = \"nvidia l4-6q\"", "did you mean \"NVIDIA L4-6Q\"?"}}) {
        INFO(row.setting);
        ConfigDir conf;
        conf.write("10-l4.toml",
                   pf_config("0000:ca:00.0", 2, "[[pf.vf]]\nindex = \"0-1\"\n" + row.setting + "\n"));
        auto v = run({testing::hostdevctl(), "validate", "--config-dir", conf.path()});
        INFO(v.out << v.err);
        CHECK(v.exit_code == 1);
        CHECK_THAT(v.err, Catch::Contains(conf.path() + "/10-l4.toml:"));
        CHECK_THAT(v.err, Catch::Contains(row.suggestion));
        auto p = run({testing::hostdevctl(), "plan", "--local", "--config-dir", conf.path()});
        CHECK_THAT(p.out, Catch::Contains(row.suggestion));
    }
}
