// hostdevd feeding its consumers (issue 19, docs/consumers.md), on the lab host with examples/config/
// lab-consumers and a private bus. Each export is checked by the consumer's own code from Debian, started
// by the test: nova's PCI classes (python3-nova), virt-xml-validate and a real libvirtd, a real
// node_exporter scraped over loopback, and the device plugin's documented schema (python3-jsonschema). The
// daemon's [export] files: written before it is up, rewritten by rename when a VF or a pool changes,
// untouched (mtime, inode) when nothing did, and a file it cannot write is reported, never fatal.
#include "support/bus_client.hpp"
#include "support/daemon_fixture.hpp"
#include "support/notify_socket.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace std::chrono_literals;
using nlohmann::json;
using testing::ConfigDir;

namespace {

constexpr const char* kManager = "/io/hostdevd1";
constexpr const char* kManagerIface = "io.hostdevd1.Manager";

std::string consumers_dir() {
    return testing::source_dir() + "/tests/integration/consumers";
}

// VF addresses of the lab host (examples/hosts/lab.toml): X710 port 0 offset 16, CX-5 offset 2, E810
// offset 8, all stride 1.
const std::vector<std::string> kGold = {"0000:3b:02.0", "0000:3b:02.1", "0000:3b:02.2",
                                        "0000:3b:02.3", "0000:3b:02.4", "0000:3b:02.5"};
const std::vector<std::string> kPodNics = {"0000:3b:02.6", "0000:3b:02.7"};
const std::vector<std::string> kFast = {"0000:af:00.2", "0000:af:00.3", "0000:af:00.4", "0000:af:00.5"};
const std::vector<std::string> kE810 = {"0000:5e:01.0", "0000:5e:01.1", "0000:5e:01.2", "0000:5e:01.3"};

// A directory for the exports, in the simulated host's private /run; removed at the end.
struct ExportDir {
    std::string path;
    ExportDir() {
        char tmpl[] = "/run/hostdevd-test-exports-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
        REQUIRE(chmod(path.c_str(), 0755) == 0);
        for (const char* sub : {"nova", "pcidp", "textfile"})
            REQUIRE(mkdir((path + "/" + sub).c_str(), 0755) == 0);
    }
    ~ExportDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::string nova() const { return path + "/nova/50-hostdevd.conf"; }
    std::string libvirt() const { return path + "/libvirt-networks"; }
    std::string sriov_dp() const { return path + "/pcidp/config.json"; }
    std::string prometheus() const { return path + "/textfile/hostdevd.prom"; }
};

std::string export_table(const ExportDir& out, const std::string& nova_path) {
    return "version = 1\n\n[export]\nnova = \"" + nova_path + "\"\nlibvirt-network = \"" + out.libvirt() +
           "\"\nsriov-dp = \"" + out.sriov_dp() + "\"\nprometheus = \"" + out.prometheus() + "\"\n";
}

// The lab host configured from examples/config/lab-consumers, its [export] table pointed at `out`, and
// the daemon converged.
struct ConsumerLab {
    ExportDir out;
    ConfigDir conf;
    testing::PrivateBus bus;
    std::unique_ptr<testing::Daemon> daemon;
    std::unique_ptr<testing::BusClient> client;

    explicit ConsumerLab(const std::string& nova_path = "") {
        conf.copy_from(testing::source_dir() + "/examples/config/lab-consumers");
        conf.write("40-export.toml", export_table(out, nova_path.empty() ? out.nova() : nova_path));
        daemon = std::make_unique<testing::Daemon>(bus, conf.path());
        client = std::make_unique<testing::BusClient>(bus.address());
        INFO("hostdevd log:\n" << daemon->log());
        REQUIRE(wait_converged());
    }
    bool wait_converged() {
        return testing::wait_until(
            [&] { return client->get_string(kManager, kManagerIface, "State") == "converged"; }, 20s);
    }
    // hostdevctl with the private bus as its system bus.
    testing::Completed ctl(std::vector<std::string> args) const {
        std::vector<std::string> argv = {"env", "DBUS_SYSTEM_BUS_ADDRESS=" + bus.address(),
                                         testing::hostdevctl()};
        argv.insert(argv.end(), args.begin(), args.end());
        return testing::run(argv);
    }
    json manager_property(const std::string& name) const {
        return testing::get_property(bus, kManager, kManagerIface, name);
    }
};

// Writes `value` as JSON to a file in `dir` for a checker script; returns its path.
std::string write_json(const std::string& dir, const std::string& name, const json& value) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << value.dump(2);
    return path;
}

// Runs a checker (its output shown when it fails); it prints FAIL lines and exits 1 on a mismatch.
void run_checker(const std::vector<std::string>& argv) {
    auto c = testing::run(argv);
    INFO(c.out << c.err);
    CHECK(c.exit_code == 0);
    UNSCOPED_INFO(c.out);
}

struct stat stat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(stat(path.c_str(), &st) == 0);
    return st;
}

bool same_file_and_time(const struct stat& a, const struct stat& b) {
    return a.st_ino == b.st_ino && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
           a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

bool file_contains(const std::string& path, const std::string& text) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str().find(text) != std::string::npos;
}

// Every inotify event of `fd` as (mask, name).
std::vector<std::pair<uint32_t, std::string>> drain(int fd) {
    std::vector<std::pair<uint32_t, std::string>> events;
    alignas(inotify_event) char buf[8192];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (char* p = buf; p < buf + n;) {
            auto* ev = reinterpret_cast<inotify_event*>(p);
            events.emplace_back(ev->mask, ev->len ? ev->name : "");
            p += sizeof(inotify_event) + ev->len;
        }
    return events;
}

// The name of the D-Bus error Export(format, false) answers with ("" when it succeeds): clients tell a bad
// format (InvalidArgument) from an export that cannot be made (ExportFailed) by it.
std::string export_error_name(const testing::PrivateBus& bus, const char* format) {
    sd_bus* client = testing::connect_bus(bus.address());
    REQUIRE(client != nullptr);
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(client, "io.hostdevd1", kManager, kManagerIface, "Export", &error, &reply,
                               "sb", format, 0);
    std::string name = r < 0 && error.name ? error.name : "";
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_flush_close_unref(client);
    return name;
}

} // namespace

TEST_CASE("consumers: nova's own device_spec and alias code selects exactly the pools' devices", "[lab]") {
    ConsumerLab lab;
    auto through_daemon = lab.ctl({"export", "nova"});
    INFO(through_daemon.err);
    REQUIRE(through_daemon.exit_code == 0);
    // The daemon's [export] file, hostdevctl through the daemon, and hostdevctl on its own agree.
    CHECK(testing::read_file(lab.out.nova()) == through_daemon.out);
    auto local =
        testing::run({testing::hostdevctl(), "export", "nova", "--local", "--config-dir", lab.conf.path()});
    CHECK(local.out == through_daemon.out);

    json expected = {{"pools",
                      {{"gold",
                        {{"addresses", kGold},
                         {"managed", "no"},
                         {"physical_network", "physnet-gold"},
                         {"resource_class", "CUSTOM_GOLD_VF"},
                         {"traits", {"CUSTOM_FAST_NIC", "HW_NIC_SRIOV"}}}},
                       {"fast",
                        {{"addresses", kFast},
                         {"managed", "yes"},
                         {"physical_network", "physnet-fast"},
                         {"resource_class", "CUSTOM_MLX_VF"}}}}},
                     {"aliases", {{"gold", kGold}, {"fast", kFast}}}};
    run_checker({"/usr/bin/python3", consumers_dir() + "/check_nova.py", lab.out.nova(),
                 write_json(lab.out.path, "nova-expected.json", expected)});
}

TEST_CASE("consumers: libvirt validates and a real libvirtd defines and starts each hostdev network",
          "[lab]") {
    ConsumerLab lab;
    json expected = {{"hostdev-gold", {{"managed", "no"}, {"addresses", kGold}}},
                     {"fast", {{"managed", "yes"}, {"addresses", kFast}}}};
    // In a mount namespace of its own: libvirtd's directories become tmpfs mounts that go with it.
    run_checker({"unshare", "-m", "--propagation", "private", "/usr/bin/python3",
                 consumers_dir() + "/check_libvirt.py", lab.out.libvirt(),
                 write_json(lab.out.path, "libvirt-expected.json", expected)});
}

TEST_CASE("consumers: node_exporter serves hostdevd's metrics from its textfile directory", "[lab]") {
    ConsumerLab lab;
    json device_states = json::object();
    for (const auto& a : kGold)
        device_states[a] = {"gold", "converged"};
    for (const auto& a : kFast)
        device_states[a] = {"fast", "converged"};
    device_states["0000:3b:00.1"] = {"", "foreign"};
    // The lab host's first passes: autoprobe off on 3b:00.0, VFs on 3b:00.0 and af:00.0, then 6 VFs
    // bound to vfio-pci and 2 to iavf (the CX-5's are libvirt's to bind).
    json samples = json::array({
        {"hostdevd_state", {{"state", "converged"}}, 1},
        {"hostdevd_state", {{"state", "progressing"}}, 0},
        {"hostdevd_config_valid", json::object(), 1},
        {"hostdevd_config_generation", json::object(), 1},
        {"hostdevd_exports_failing", json::object(), 0},
        {"hostdevd_objects", {{"kind", "device"}, {"state", "blocked"}}, 0},
        {"hostdevd_objects", {{"kind", "device"}, {"state", "absent"}}, 1}, // the E810 is not plugged in
        {"hostdevd_plan_actions", {{"verdict", "safe"}}, 0},
        {"hostdevd_actions_applied_total", {{"action", "set-autoprobe"}}, 1},
        {"hostdevd_actions_applied_total", {{"action", "set-numvfs"}}, 2},
        {"hostdevd_actions_applied_total", {{"action", "bind"}}, 8},
        {"hostdevd_disruptive_actions_total", {{"action", "set-numvfs"}}, 0},
        {"hostdevd_action_failures_total", {{"action", "bind"}}, 0},
    });
    run_checker({"/usr/bin/python3", consumers_dir() + "/check_prometheus.py", lab.out.path + "/textfile",
                 write_json(lab.out.path, "prometheus-expected.json",
                            {{"samples", samples}, {"device_states", device_states}})});
}

TEST_CASE("consumers: the device plugin's config.json matches its documented schema and the pools", "[lab]") {
    ConsumerLab lab;
    json expected = {
        {"hostdevd.io/gold_vf", {{"deviceType", "netDevice"}, {"pciAddresses", kGold}, {"isRdma", false}}},
        {"hostdevd.io/pod_nics",
         {{"deviceType", "netDevice"}, {"pciAddresses", kPodNics}, {"isRdma", false}}},
        {"hostdevd.io/fast", {{"deviceType", "netDevice"}, {"pciAddresses", kFast}, {"isRdma", true}}}};
    run_checker({"/usr/bin/python3", consumers_dir() + "/check_sriov_dp.py",
                 consumers_dir() + "/sriov-dp.schema.json", lab.out.sriov_dp(),
                 write_json(lab.out.path, "sriov-dp-expected.json", expected)});
    // hostdevctl export prints what the daemon keeps in the file.
    auto c = lab.ctl({"export", "sriov-dp"});
    CHECK(c.out == testing::read_file(lab.out.sriov_dp()));
}

TEST_CASE("consumers: the daemon rewrites an export by rename after a change and leaves it alone otherwise",
          "[lab]") {
    ConsumerLab lab;
    const std::string nova = lab.out.nova();
    const struct stat first = stat_of(nova);
    CHECK((first.st_mode & 07777) == 0644); // nova runs as its own user; the daemon's umask is 077
    const struct stat first_dp = stat_of(lab.out.sriov_dp());

    // A pass that finds nothing new: the files stay as they are (same inode, same mtime).
    const uint64_t before = lab.manager_property("LastReconcileUSec").get<uint64_t>();
    REQUIRE(
        testing::busctl(lab.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Reconcile"}).exit_code ==
        0);
    REQUIRE(testing::wait_until(
        [&] { return lab.manager_property("LastReconcileUSec").get<uint64_t>() > before; }, 15s));
    REQUIRE(lab.wait_converged());
    CHECK(same_file_and_time(stat_of(nova), first));
    CHECK(same_file_and_time(stat_of(lab.out.sriov_dp()), first_dp));

    // New VFs: the E810 is plugged in and its VFs join pool "e810". Watch the directory meanwhile: the
    // file may only ever appear by rename, never be created, truncated or written in place.
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    REQUIRE(watch >= 0);
    REQUIRE(inotify_add_watch(watch, (lab.out.path + "/nova").c_str(),
                              IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) >= 0);
    testing::simhost_ctl({"plug", "0000:5e:00.0"});
    INFO("hostdevd log:\n" << lab.daemon->log());
    REQUIRE(testing::wait_until([&] { return file_contains(nova, "\"" + kE810.back() + "\""); }, 20s));
    REQUIRE(lab.wait_converged());
    auto events = drain(watch);
    close(watch);
    int renamed_in = 0;
    for (const auto& [mask, name] : events) {
        INFO(name << " mask " << mask);
        if (name == "50-hostdevd.conf") {
            CHECK(mask == IN_MOVED_TO); // never IN_CREATE, IN_MODIFY or IN_CLOSE_WRITE on the file itself
            ++renamed_in;
        } else {
            CHECK(name.rfind(".50-hostdevd.conf.", 0) == 0); // the temporary file next to it
        }
    }
    CHECK(renamed_in >= 1);
    CHECK(stat_of(nova).st_ino != first.st_ino);
    CHECK((stat_of(nova).st_mode & 07777) == 0644);
    for (const auto& a : kE810)
        CHECK(file_contains(lab.out.sriov_dp(), "\"" + a + "\""));
    CHECK(file_contains(lab.out.libvirt() + "/e810.xml", "function='0x3'"));
    CHECK(file_contains(lab.out.prometheus(), "pool=\"e810\",state=\"converged\"} 1"));
    std::vector<std::string> left;
    for (const auto& e : std::filesystem::directory_iterator(lab.out.path + "/nova"))
        left.push_back(e.path().filename());
    CHECK(left == std::vector<std::string>{"50-hostdevd.conf"}); // no temporary file left behind

    // A pool edit: gold's physical network changes; the daemon reloads (inotify) and rewrites.
    const struct stat before_edit = stat_of(nova);
    std::string pools =
        testing::read_file(testing::source_dir() + "/examples/config/lab-consumers/30-pools.toml");
    auto at = pools.find("physnet-gold");
    REQUIRE(at != std::string::npos);
    pools.replace(at, 12, "physnet-blue");
    lab.conf.write("30-pools.toml", pools);
    REQUIRE(testing::wait_until([&] { return file_contains(nova, "\"physical_network\":\"physnet-blue\""); },
                                20s));
    CHECK_FALSE(file_contains(nova, "physnet-gold"));
    CHECK(stat_of(nova).st_ino != before_edit.st_ino);
}

TEST_CASE("consumers: an export the daemon cannot write is reported on D-Bus and retried and never fatal",
          "[lab]") {
    // The nova directory does not exist yet (nova not installed): the daemon converges all the same.
    ExportDir elsewhere;
    const std::string missing_dir = elsewhere.path + "/nova.conf.d";
    ConsumerLab lab(missing_dir + "/50-hostdevd.conf");
    json errors = lab.manager_property("ExportErrors");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].get<std::string>().rfind(
              missing_dir + "/50-hostdevd.conf: cannot create a temporary file", 0) == 0);
    CHECK(lab.daemon->log().find("export nova: not written") != std::string::npos);
    CHECK(lab.daemon->running());
    // The other exports are written regardless.
    CHECK(file_contains(lab.out.sriov_dp(), "gold_vf"));
    CHECK(file_contains(lab.out.prometheus(), "hostdevd_exports_failing 1\n"));

    // Once the directory exists, the next pass writes the file and the error goes.
    REQUIRE(mkdir(missing_dir.c_str(), 0755) == 0);
    REQUIRE(
        testing::busctl(lab.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Reconcile"}).exit_code ==
        0);
    CHECK(testing::wait_until([&] { return lab.manager_property("ExportErrors").empty(); }, 15s));
    CHECK(file_contains(missing_dir + "/50-hostdevd.conf", "physnet-gold"));
}

TEST_CASE("consumers: hostdevctl export through the daemon and on its own to a file and to a directory",
          "[lab]") {
    ConsumerLab lab;
    // Everyone may export, like Describe(): the bus policy allows it to other users.
    auto as_user = testing::busctl(
        lab.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Export", "sb", "nova", "false"}, true);
    INFO(as_user.err);
    CHECK(as_user.exit_code == 0);
    auto unknown = testing::busctl(
        lab.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Export", "sb", "novaa", "false"});
    CHECK(unknown.exit_code != 0);
    CHECK(unknown.err.find("unknown export format 'novaa'") != std::string::npos);
    CHECK(export_error_name(lab.bus, "novaa") == "io.hostdevd1.Error.InvalidArgument");
    CHECK(export_error_name(lab.bus, "nova").empty());

    // --output: a file, written atomically and left alone when unchanged; a directory for libvirt.
    const std::string file = lab.out.path + "/cli.conf";
    REQUIRE(lab.ctl({"export", "nova", "--output", file}).exit_code == 0);
    CHECK(testing::read_file(file) == testing::read_file(lab.out.nova()));
    const struct stat written = stat_of(file);
    REQUIRE(lab.ctl({"export", "nova", "--output", file}).exit_code == 0);
    CHECK(same_file_and_time(stat_of(file), written));
    const std::string dir = lab.out.path + "/cli-networks";
    REQUIRE(lab.ctl({"export", "libvirt-network", "--output", dir}).exit_code == 0);
    for (const char* name : {"hostdev-gold.xml", "fast.xml"})
        CHECK(testing::read_file(dir + "/" + name) == testing::read_file(lab.out.libvirt() + "/" + name));

    // Two pools with one nova alias: that export fails (D-Bus ExportFailed, exit 1, the daemon's
    // ExportErrors), the others go on.
    std::string pools =
        testing::read_file(testing::source_dir() + "/examples/config/lab-consumers/30-pools.toml");
    const std::string fast = "resource_class = \"CUSTOM_MLX_VF\"";
    REQUIRE(pools.find(fast) != std::string::npos);
    pools.replace(pools.find(fast), fast.size(), fast + ", alias = \"gold\"");
    lab.conf.write("30-pools.toml", pools);
    REQUIRE(testing::wait_until([&] { return !lab.manager_property("ExportErrors").empty(); }, 15s));
    CHECK(lab.manager_property("ExportErrors")[0].get<std::string>() ==
          lab.out.nova() +
              ": pools \"fast\" and \"gold\" would both be the nova alias \"gold\"; set [pool.nova] "
              "alias for one of them");
    auto failed = lab.ctl({"export", "nova"});
    CHECK(failed.exit_code == 1);
    CHECK(failed.err.find("would both be the nova alias") != std::string::npos);
    auto bus_error = testing::busctl(
        lab.bus, {"call", "io.hostdevd1", kManager, kManagerIface, "Export", "sb", "nova", "false"});
    CHECK(bus_error.exit_code != 0);
    CHECK(export_error_name(lab.bus, "nova") == "io.hostdevd1.Error.ExportFailed");
    CHECK(bus_error.err.find("would both be the nova alias") != std::string::npos);
    CHECK(lab.ctl({"export", "sriov-dp"}).exit_code == 0);

    // Without a daemon (--local), prometheus has no counters; the states are the same.
    auto local = testing::run(
        {testing::hostdevctl(), "export", "prometheus", "--local", "--config-dir", lab.conf.path()});
    REQUIRE(local.exit_code == 0);
    CHECK(local.out.find("hostdevd_actions_applied_total") == std::string::npos);
    CHECK(local.out.find(
              "hostdevd_device_state{address=\"0000:3b:02.0\",role=\"vf\",pf=\"0000:3b:00.0\",pool=\"gold\","
              "state=\"converged\"} 1") != std::string::npos);
}

TEST_CASE("consumers: the export files hold the VFs when READY=1 is sent even when the PF driver comes late",
          "[qemu-nvme]") {
    // At boot the PF's driver may bind after hostdevd's first pass: READY=1 waits for the VFs and their
    // binds (docs/daemon.md), and a consumer ordered after hostdevd.service must find them in its file.
    const std::string pf = "0000:01:00.0";
    const std::vector<std::string> vfs = {"0000:01:00.1", "0000:01:00.2", "0000:01:00.3", "0000:01:00.4"};
    auto unbind = testing::run({"sh", "-c", "printf %s 0000:01:00.0 > /sys/bus/pci/drivers/nvme/unbind"});
    REQUIRE(unbind.exit_code == 0);
    ExportDir out;
    ConfigDir conf;
    conf.write("10-nvme.toml", "version = 1\n[[pf]]\nmatch = { address = \"" + pf +
                                   "\" }\nvfs = 4\nautoprobe = false\n[[pf.vf]]\nindex = \"0-3\"\n"
                                   "driver = \"vfio-pci\"\npool = \"nvme\"\n");
    conf.write("40-export.toml", "version = 1\n[export]\nnova = \"" + out.nova() + "\"\nprometheus = \"" +
                                     out.prometheus() + "\"\n");
    testing::NotifySocket notify;
    testing::PrivateBus bus;
    testing::Daemon daemon(bus, conf.path(), {}, {{"NOTIFY_SOCKET", notify.path()}});
    testing::BusClient client(bus.address());
    INFO("hostdevd log:\n" << daemon.log());
    // The pass that found the PF without a driver has published (a property read is answered after it):
    // the files are there already, with no device, and READY=1 has not been sent.
    REQUIRE(testing::wait_until(
        [&] {
            return client.get_string(testing::device_path(pf), "io.hostdevd1.Device", "State") == "pending";
        },
        15s));
    CHECK_FALSE(notify.drain());
    CHECK(file_contains(out.nova(), "# pool \"nvme\": 0 converged devices"));
    CHECK(file_contains(out.prometheus(), "hostdevd_state{state=\"converged\"} 0"));

    // The driver binds; the VFs are created and bound; READY=1 comes after the files say so.
    auto probe = testing::run({"sh", "-c", "printf %s 0000:01:00.0 > /sys/bus/pci/drivers_probe"});
    REQUIRE(probe.exit_code == 0);
    REQUIRE(testing::wait_until([&] { return notify.drain(); }, 15s));
    const std::string nova = testing::read_file(out.nova());
    INFO(nova);
    CHECK(nova.find("# pool \"nvme\": 4 converged devices") != std::string::npos);
    for (const auto& vf : vfs)
        CHECK(nova.find("\"address\":\"" + vf + "\"") != std::string::npos);
    CHECK(file_contains(out.prometheus(), "hostdevd_state{state=\"converged\"} 1"));
    CHECK(daemon.log().find("export nova: updated " + out.nova()) != std::string::npos);
}
