// Device breadth on simulated hosts (docs/device-breadth.md): mdevs on the NVIDIA A16, per-VF vGPU
// profiles on the L4, `driver = "vfio"` picking a VFIO variant driver from modules.alias, and migration
// from mdevctl. The unmodified hostdevctl (one-shot) and hostdevd, judged by sysfs, simhost's write log,
// mdevctl and D-Bus.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"
#include "support/process.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <signal.h>

using namespace std::chrono_literals;
using testing::ConfigDir;
using testing::run;

namespace {

const std::string kGpu0 = "0000:3d:00.0"; // A16 GPUs (examples/hosts/nvidia-a16.toml)
const std::string kGpu1 = "0000:3e:00.0";

testing::Completed apply(const ConfigDir& conf) {
    return run({testing::hostdevctl(), "apply", "--config-dir", conf.path()});
}

void apply_ok(const ConfigDir& conf) {
    auto c = apply(conf);
    INFO("apply:\n" << c.out << c.err);
    REQUIRE(c.exit_code == 0);
}

nlohmann::json plan_json(const ConfigDir& conf) {
    auto c = run({testing::hostdevctl(), "plan", "--json", "--config-dir", conf.path()});
    INFO(c.err);
    // 0 nothing to do, 3 only blocked/waiting/invalid left, 4 safe actions pending (exit_codes.hpp).
    REQUIRE((c.exit_code == 0 || c.exit_code == 3 || c.exit_code == 4));
    return nlohmann::json::parse(c.out);
}

nlohmann::json object_status(const nlohmann::json& plan, const std::string& key) {
    const auto& objects = plan.at("objects");
    if (objects.is_object() && objects.contains(key))
        return objects.at(key);
    if (objects.is_array())
        for (const auto& o : objects)
            if (o.value("object", "") == key)
                return o;
    FAIL("no status object " << key << " in " << objects.dump(1));
    return {};
}

std::string readlink_name(const std::string& path) {
    std::error_code error;
    auto target = std::filesystem::read_symlink(path, error);
    return error ? "" : target.filename().string();
}

std::string driver_of(const std::string& address) {
    return readlink_name("/sys/bus/pci/devices/" + address + "/driver");
}

// uuid -> type of every mdev on `parent`, from sysfs (mdev_type link, mdev_sysfs.c).
std::map<std::string, std::string> mdevs_on(const std::string& parent) {
    std::map<std::string, std::string> out;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator("/sys/bus/mdev/devices", error)) {
        const std::string uuid = entry.path().filename().string();
        // /sys/bus/mdev/devices/<uuid> links to the instance under its parent's directory.
        if (std::filesystem::canonical(entry.path(), error).parent_path().filename() == parent)
            out[uuid] = readlink_name(entry.path().string() + "/mdev_type");
    }
    return out;
}

std::string mdev_config(const std::string& parent, const std::string& type, unsigned count) {
    return "version = 1\n[[mdev]]\nparent = { address = \"" + parent +
           "\" }\ndestroy = \"when-idle\"\ntype = \"" + type + "\"\ncount = " + std::to_string(count) + "\n";
}

std::string trimmed_pid(std::string pid) {
    return testing::trimmed(std::move(pid));
}

} // namespace

TEST_CASE("a16: mdevs are created and mdevctl list shows them", "[nvidia-a16]") {
    ConfigDir conf;
    conf.write("20-gpus.toml", mdev_config(kGpu0, "nvidia-701", 4));
    apply_ok(conf);
    auto mdevs = mdevs_on(kGpu0);
    REQUIRE(mdevs.size() == 4);
    for (const auto& [uuid, type] : mdevs)
        CHECK(type == "nvidia-701");
    CHECK(plan_json(conf).at("converged") == true);

    auto list = run({"mdevctl", "list"});
    INFO("mdevctl list:\n" << list.out << list.err);
    REQUIRE(list.exit_code == 0);
    for (const auto& [uuid, type] : mdevs)
        CHECK_THAT(list.out, Catch::Contains(uuid + " " + kGpu0 + " nvidia-701"));
}

TEST_CASE("a16: a type change with one instance held changes only the idle ones", "[nvidia-a16]") {
    ConfigDir conf;
    conf.write("20-gpus.toml", mdev_config(kGpu0, "nvidia-701", 4));
    apply_ok(conf);
    auto before = mdevs_on(kGpu0);
    REQUIRE(before.size() == 4);
    const std::string held = before.begin()->first;
    const std::string pid = trimmed_pid(testing::simhost_ctl({"hold", held, "--comm", "qemu-system-x86"}));
    REQUIRE(!pid.empty());

    conf.write("20-gpus.toml", mdev_config(kGpu0, "nvidia-700", 4));
    testing::clear_write_log();
    auto blocked = apply(conf);
    INFO("apply while held:\n" << blocked.out << blocked.err);
    CHECK(blocked.exit_code == 3);
    auto log = testing::write_log();
    INFO("writes: " << log.dump(1));
    // The three idle instances were removed; the held one was never asked to go.
    std::set<std::string> removed;
    for (const auto& w : testing::writes_to(log, "/remove"))
        removed.insert(std::filesystem::path(w.at("path").get<std::string>()).parent_path().filename());
    CHECK(removed.size() == 3);
    CHECK(removed.count(held) == 0);
    auto during = mdevs_on(kGpu0);
    REQUIRE(during.count(held) == 1);
    CHECK(during.at(held) == "nvidia-701");
    // The parent is time-sliced (one type at a time), so the new type waits for the held instance, and the
    // status names it.
    auto plan = plan_json(conf);
    bool named = false;
    for (const auto& a : plan.at("actions"))
        if (a.at("action") == "create-mdev" && a.at("verdict") == "blocked")
            named = named || a.at("reason").get<std::string>().find(held) != std::string::npos;
    CHECK(named);

    testing::simhost_ctl({"release", pid});
    apply_ok(conf);
    auto after = mdevs_on(kGpu0);
    CHECK(after.size() == 4);
    for (const auto& [uuid, type] : after)
        CHECK(type == "nvidia-700");
    CHECK(after.count(held) == 1); // same deterministic UUIDs, re-created with the new type
}

TEST_CASE("a16: Mdev objects appear on D-Bus with parent and type", "[nvidia-a16]") {
    ConfigDir conf;
    conf.write("20-gpus.toml", mdev_config(kGpu0, "nvidia-701", 2));
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    auto converged = testing::wait_until(
        [&] {
            try {
                return client.get_string("/io/hostdevd1", "io.hostdevd1.Manager", "State") == "converged";
            } catch (const std::runtime_error&) {
                return false;
            }
        },
        20s);
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(converged);
    auto mdevs = mdevs_on(kGpu0);
    REQUIRE(mdevs.size() == 2);
    for (const auto& [uuid, type] : mdevs) {
        auto tree = testing::busctl(bus, {"tree", "--list", "io.hostdevd1"});
        INFO(tree.out);
        std::string path;
        for (std::string line; const char c : tree.out + "\n") {
            if (c != '\n') {
                line += c;
                continue;
            }
            if (line.rfind("/io/hostdevd1/mdev/", 0) == 0 &&
                testing::get_property(bus, line, "io.hostdevd1.Mdev", "Uuid") == uuid)
                path = line;
            line.clear();
        }
        REQUIRE(!path.empty());
        CHECK(testing::get_property(bus, path, "io.hostdevd1.Mdev", "Parent") == kGpu0);
        CHECK(testing::get_property(bus, path, "io.hostdevd1.Mdev", "Type") == "nvidia-701");
        CHECK(testing::get_property(bus, path, "io.hostdevd1.Mdev", "State") == "converged");
    }
    CHECK(daemon.stop(SIGTERM) == 0);
}

TEST_CASE("a16: the daemon creates mdevs on a parent whose vendor driver registers later", "[nvidia-a16]") {
    // Without its vendor driver the GPU is no mdev parent (mdev_core.c: types exist only between
    // mdev_register_parent and mdev_unregister_parent).
    auto unbind = run({"sh", "-c", "printf %s " + kGpu1 + " > /sys/bus/pci/drivers/nvidia/unbind"});
    REQUIRE(unbind.exit_code == 0);
    REQUIRE(!std::filesystem::exists("/sys/bus/pci/devices/" + kGpu1 + "/mdev_supported_types"));
    ConfigDir conf;
    conf.write("20-gpus.toml", mdev_config(kGpu1, "nvidia-702", 2));
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path());
    testing::BusClient client(bus.address());
    auto settled = testing::wait_until(
        [&] {
            try {
                const std::string state = client.get_string("/io/hostdevd1", "io.hostdevd1.Manager", "State");
                return !state.empty() && state != "starting"; // the first pass, parent without types, is done
            } catch (const std::runtime_error&) {
                return false;
            }
        },
        20s);
    INFO("hostdevd log:\n" << daemon.log());
    REQUIRE(settled);
    CHECK(mdevs_on(kGpu1).empty());

    // The driver comes (late module load): KOBJ_CHANGE MDEV_STATE=registered, and the daemon follows.
    auto bind = run({"sh", "-c", "printf %s " + kGpu1 + " > /sys/bus/pci/drivers/nvidia/bind"});
    REQUIRE(bind.exit_code == 0);
    CHECK(testing::wait_until([&] { return mdevs_on(kGpu1).size() == 2; }, 20s));
    for (const auto& [uuid, type] : mdevs_on(kGpu1))
        CHECK(type == "nvidia-702");
    CHECK(daemon.stop(SIGTERM) == 0);
}

TEST_CASE("a16: an mdevctl definition imports to TOML that yields the same mdev when applied",
          "[nvidia-a16]") {
    const std::string auto_uuid = "11111111-2222-4333-8444-555555555555";
    const std::string manual_uuid = "21111111-2222-4333-8444-555555555555";
    ConfigDir exported; // a copy of /etc/mdevctl.d as mdevctl wrote it
    // mdevctl has no option for another config root: give it a private tmpfs /etc/mdevctl.d in its own
    // mount namespace, so the host's /etc is never written (the mount vanishes with the namespace).
    auto defined = run({"unshare", "-m", "sh", "-euc",
                        "mount -t tmpfs none /etc/mdevctl.d\n"
                        "mkdir -p /etc/mdevctl.d/scripts.d/callouts /etc/mdevctl.d/scripts.d/notifiers\n"
                        "mdevctl define -p " +
                            kGpu0 + " -t nvidia-701 -u " + auto_uuid +
                            " --auto\n"
                            "mdevctl define -p " +
                            kGpu1 + " -t nvidia-700 -u " + manual_uuid + "\ncp -a /etc/mdevctl.d/. " +
                            exported.path() + "/\n"});
    INFO("mdevctl define: " << defined.out << defined.err);
    REQUIRE(defined.exit_code == 0);
    REQUIRE(std::filesystem::exists(exported.path() + "/" + kGpu0 + "/" + auto_uuid));

    auto imported = run({testing::hostdevctl(), "import-mdevctl", exported.path()});
    INFO("import:\n" << imported.out << imported.err);
    REQUIRE(imported.exit_code == 0);
    CHECK_THAT(imported.out, Catch::Contains("# [[mdev]]")); // the manual definition, commented out

    ConfigDir conf;
    conf.write("30-mdevctl.toml", imported.out);
    auto validate = run({testing::hostdevctl(), "validate", "--config-dir", conf.path()});
    INFO("validate: " << validate.out << validate.err);
    REQUIRE(validate.exit_code == 0);
    apply_ok(conf);
    CHECK(mdevs_on(kGpu0) == std::map<std::string, std::string>{{auto_uuid, "nvidia-701"}});
    CHECK(mdevs_on(kGpu1).empty()); // manual: not started by mdevctl at boot, so not by hostdevd
}

TEST_CASE("a16: import-mdevctl carries attrs in order and refuses a broken definition", "[nvidia-a16]") {
    ConfigDir dir;
    std::filesystem::create_directories(dir.path() + "/" + kGpu0);
    std::filesystem::create_directories(dir.path() + "/matrix");
    dir.write(kGpu0 + "/c2177883-f1bb-47f0-914d-32a22e3a8804",
              R"({"mdev_type": "nvidia-701", "start": "auto",
                  "attrs": [{"vgpu_params": "frame_rate_limiter=0"}, {"enable": "1"}]})");
    dir.write(kGpu0 + "/5f1b2a44-6c8e-4d0b-9e2f-0a1b2c3d4e5f",
              R"({"mdev_type": "nvidia-701", "start": "auto",
                  "attrs": [{"vgpu_params": "frame_rate_limiter=0"}, {"enable": "1"}]})");
    dir.write("matrix/783e6dbb-ea0e-411f-94e2-717eaad438bf",
              R"({"mdev_type": "vfio_ap-passthrough", "start": "auto", "attrs": [{"assign_adapter": "5"}]})");
    auto imported = run({testing::hostdevctl(), "import-mdevctl", dir.path()});
    INFO("import:\n" << imported.out << imported.err);
    REQUIRE(imported.exit_code == 0);
    // Both UUIDs share one entry (same parent, type and attrs), attrs keep their order.
    CHECK_THAT(imported.out,
               Catch::Contains(
                   "[[mdev]]\nparent = { address = \"0000:3d:00.0\" }\ntype = \"nvidia-701\"\nuuids = [\n"
                   "  \"5f1b2a44-6c8e-4d0b-9e2f-0a1b2c3d4e5f\",\n"
                   "  \"c2177883-f1bb-47f0-914d-32a22e3a8804\",\n]\nattrs = [\n"
                   "  { name = \"vgpu_params\", value = \"frame_rate_limiter=0\" },\n"
                   "  { name = \"enable\", value = \"1\" },\n]\n"));
    // Not a PCI device: selected by its mdev_bus name.
    CHECK_THAT(imported.out,
               Catch::Contains("[[mdev]]\nparent = { name = \"matrix\" }\ntype = \"vfio_ap-passthrough\""));
    ConfigDir conf;
    conf.write("30-mdevctl.toml", imported.out);
    auto validate = run({testing::hostdevctl(), "validate", "--config-dir", conf.path()});
    INFO("validate: " << validate.out << validate.err);
    CHECK(validate.exit_code == 0);

    dir.write(kGpu0 + "/aaaaaaaa-f1bb-47f0-914d-32a22e3a8804", R"({"start": "auto"})");
    auto broken = run({testing::hostdevctl(), "import-mdevctl", dir.path()});
    CHECK(broken.exit_code == 1);
    CHECK(broken.out.empty()); // nothing half-written
    CHECK_THAT(broken.err, Catch::Contains("aaaaaaaa-f1bb-47f0-914d-32a22e3a8804: \"mdev_type\" must be"));
}

TEST_CASE("l4: each VF gets its vGPU profile and stays on nvidia", "[nvidia-l4]") {
    ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/nvidia-l4");
    apply_ok(conf);
    CHECK(plan_json(conf).at("converged") == true);
    const auto numvfs =
        testing::trimmed(testing::read_file("/sys/bus/pci/devices/0000:ca:00.0/sriov_numvfs"));
    REQUIRE(numvfs == "4");
    const auto log = testing::write_log();
    CHECK(testing::writes_to(log, "vfio-pci/bind").empty());
    for (int i = 0; i < 4; ++i) {
        const std::string vf = readlink_name("/sys/bus/pci/devices/0000:ca:00.0/virtfn" + std::to_string(i));
        REQUIRE(!vf.empty());
        CHECK(driver_of(vf) == "nvidia");
        // "NVIDIA L4-6Q" is id 906 on the simulated host (examples/hosts/nvidia-l4.toml).
        CHECK(testing::trimmed(
                  testing::read_file("/sys/bus/pci/devices/" + vf + "/nvidia/current_vgpu_type")) == "906");
    }
}

TEST_CASE("l4: a profile that is not creatable is blocked with the list of what is", "[nvidia-l4]") {
    ConfigDir conf;
    conf.write(
        "10-l4.toml",
        "version = 1\n[[pf]]\nmatch = { address = \"0000:ca:00.0\" }\ndestroy = \"when-idle\"\nvfs = 1\n"
        "[[pf.vf]]\nindex = \"0\"\nvgpu = \"NVIDIA L4-7Q\"\n");
    auto c = apply(conf);
    INFO("apply:\n" << c.out << c.err);
    CHECK(c.exit_code == 3);
    auto plan = plan_json(conf);
    bool reported = false;
    for (const auto& a : plan.at("actions"))
        if (a.at("verdict") == "blocked") {
            const std::string reason = a.at("reason");
            CHECK_THAT(reason, Catch::Contains("\"NVIDIA L4-7Q\" is not creatable"));
            CHECK_THAT(reason, Catch::Contains("NVIDIA L4-6Q"));
            reported = true;
        }
    CHECK(reported);
    CHECK(testing::writes_to(testing::write_log(), "/current_vgpu_type").empty());
}

TEST_CASE("cx5: driver = vfio binds mlx5_vfio_pci where modules.alias offers it - vfio-pci elsewhere",
          "[mellanox-cx5]") {
    ConfigDir conf;
    conf.copy_from(testing::source_dir() + "/examples/config/mellanox-cx5");
    apply_ok(conf);
    // ConnectX-6 Dx VFs (15b3:101e) match mlx5_vfio_pci's own alias (loaded by modprobe on the way);
    // ConnectX-5 VFs (15b3:1018) only match the generic vfio_pci alias (upstream mlx5/main.c lists 101e
    // only).
    CHECK(driver_of("0000:d8:00.2") == "mlx5_vfio_pci");
    CHECK(driver_of("0000:d8:00.3") == "mlx5_vfio_pci");
    CHECK(driver_of("0000:af:00.4") == "vfio-pci");
    CHECK(driver_of("0000:af:00.5") == "vfio-pci");
    auto plan = plan_json(conf);
    CHECK(plan.at("converged") == true);
    CHECK(object_status(plan, "0000:d8:00.2").at("desired_driver") ==
          "vfio: mlx5_vfio_pci: modules.alias match with 5 wildcards");
    CHECK(object_status(plan, "0000:af:00.4").at("desired_driver") ==
          "vfio: vfio-pci: only the generic vfio_pci alias matches");
}

TEST_CASE("x710: driver = vfio on an Intel VF is plain vfio-pci", "[intel-x710]") {
    ConfigDir conf;
    conf.write(
        "10-vfs.toml",
        "version = 1\n[[pf]]\nmatch = { address = \"0000:3b:00.0\" }\ndestroy = \"when-idle\"\nvfs = 2\n"
        "[[pf.vf]]\nindex = \"0-1\"\ndriver = \"vfio\"\n");
    apply_ok(conf);
    for (int i = 0; i < 2; ++i) {
        const std::string vf = readlink_name("/sys/bus/pci/devices/0000:3b:00.0/virtfn" + std::to_string(i));
        REQUIRE(!vf.empty());
        CHECK(driver_of(vf) == "vfio-pci");
    }
    CHECK(plan_json(conf).at("converged") == true);
}
