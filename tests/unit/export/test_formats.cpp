// The exports for consumers (reconciler/export/formats.hpp) from the real loader, planner and views: what
// each format contains, what it leaves out, and when it refuses. The consumers' own code checks the same
// outputs in tests/integration/test_consumers.cpp.
#include "export/formats.hpp"
#include "export_fixture.hpp"

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

using namespace export_test;
using nlohmann::json;

namespace {

std::string render(ExportFormat format, const Host& host, bool all = false,
                   const ActionCounters* counters = nullptr) {
    auto documents = render_export(format, host.input(counters), all);
    REQUIRE(documents.size() == 1);
    CHECK(documents[0].name.empty());
    return documents[0].content;
}

// The values of the lines starting with `prefix`, as oslo.config reads them ("$$" is a literal '$').
std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(prefix, 0) == 0)
            out.push_back(std::regex_replace(line.substr(prefix.size()), std::regex("\\$\\$"), "$$"));
    return out;
}

std::vector<std::string> spec_addresses(const json& specs) {
    std::vector<std::string> out;
    for (const auto& s : specs)
        out.push_back(s.at("address"));
    return out;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// The configuration with a [[device]] entry appended.
std::string with_device(const std::string& address, const std::string& driver, const std::string& pool) {
    return std::string(kConfig) + "\n[[device]]\nmatch = { address = \"" + address + "\" }\ndriver = \"" +
           driver + "\"\npool = \"" + pool + "\"\n";
}

} // namespace

TEST_CASE(
    "nova: one device_spec per passthrough pool with its converged devices, managed as they are bound") {
    Host host(kConfig, default_host());
    REQUIRE(host.views.devices.at(vf(3)).state == "pending");
    REQUIRE(host.views.devices.at(vf(4)).state == "converged"); // managed: libvirt's to bind
    const std::string out = render(ExportFormat::Nova, host);
    auto specs = lines_starting(out, "device_spec = ");
    REQUIRE(specs.size() == 2); // gold and silver; "pods" stays on iavf
    json gold = json::parse(specs[0]);
    CHECK(spec_addresses(gold) == std::vector<std::string>{vf(0), vf(1), vf(2)}); // VF 3 is not ready
    for (const auto& s : gold) {
        CHECK(s.at("managed") == "no");
        CHECK(s.at("vendor_id") == "8086");
        CHECK(s.at("product_id") == "154c");
        CHECK(s.size() == 4); // no tags without a [[pool]]
    }
    json silver = json::parse(specs[1]);
    CHECK(spec_addresses(silver) == std::vector<std::string>{vf(4), vf(5)});
    CHECK(silver[0].at("managed") == "yes");
    CHECK(contains(out,
                   "# pool \"gold\": 3 converged devices, bound to VFIO by hostdevd (managed = \"no\"); 1 "
                   "not converged yet, left out\n"));
    CHECK(contains(out, "# pool \"pods\": not for PCI passthrough"));
    CHECK(contains(out, "\n[pci]\n"));
    auto aliases = lines_starting(out, "alias = ");
    REQUIRE(aliases.size() == 2);
    CHECK(json::parse(aliases[0]) ==
          json{{"name", "gold"}, {"device_type", "type-VF"}, {"vendor_id", "8086"}, {"product_id", "154c"}});
    CHECK(json::parse(aliases[1]).at("name") == "silver");
    // Both pools are 8086:154c VFs: nova 26 aliases cannot tell them apart, and the file says so.
    CHECK(contains(out, "# note: aliases \"gold\", \"silver\" all request 8086:154c type-VF"));

    auto all = lines_starting(render(ExportFormat::Nova, host, true), "device_spec = ");
    CHECK(spec_addresses(json::parse(all[0])) == std::vector<std::string>{vf(0), vf(1), vf(2), vf(3)});
}

TEST_CASE("nova: a [[pool]]'s tags go on every device of the pool, and '$' is escaped for oslo.config") {
    Host host(std::string(kConfig) + R"(
[[pool]]
name = "gold"
nova = { physical_network = "phys$net", resource_class = "gold vf", traits = ["fast", "HW_NIC_SRIOV"], alias = "gold-vfs" }
)",
              default_host());
    const std::string out = render(ExportFormat::Nova, host);
    CHECK(contains(out, "\"physical_network\":\"phys$$net\""));
    auto specs = lines_starting(out, "device_spec = ");
    REQUIRE(specs.size() == 2);
    json gold = json::parse(specs[0]);
    for (const auto& s : gold) {
        CHECK(s.at("physical_network") == "phys$net");
        CHECK(s.at("resource_class") == "CUSTOM_GOLD_VF");
        CHECK(s.at("traits") == "CUSTOM_FAST,HW_NIC_SRIOV");
    }
    CHECK(json::parse(lines_starting(out, "alias = ")[0]).at("name") == "gold-vfs");
}

TEST_CASE("nova: a pool's PF is named by a regex address, which nova does not widen to its VFs") {
    ObservedState observed = default_host();
    PciDevice pf = device("0000:af:00.0", 0x15b3, 0x1017, 0x020000, "vfio-pci");
    pf.is_pf = true;
    pf.total_vfs = 8;
    observed.devices[pf.address] = pf;
    Host host(with_device("0000:af:00.0", "vfio-pci", "whole-pfs"), observed);
    const std::string out = render(ExportFormat::Nova, host);
    auto specs = lines_starting(out, "device_spec = ");
    REQUIRE(specs.size() == 3);
    json pfs = json::parse(specs[2]); // gold, silver, whole-pfs
    CHECK(pfs[0].at("address") ==
          json{{"domain", "^0000$"}, {"bus", "^af$"}, {"slot", "^00$"}, {"function", "^0$"}});
    CHECK(contains(out, R"(alias = {"name":"whole-pfs","device_type":"type-PF","vendor_id":"15b3")"));
}

TEST_CASE("nova: a pool mixing VFs and whole devices, or two pools with one alias, cannot be exported") {
    ObservedState observed = default_host();
    observed.devices["0000:00:17.0"] = device("0000:00:17.0", 0x8086, 0xa182, 0x010601, "vfio-pci");
    Host mixed(with_device("0000:00:17.0", "vfio-pci", "gold"), observed);
    CHECK_THROWS_WITH(render(ExportFormat::Nova, mixed),
                      Catch::Contains("pool \"gold\" mixes type-PCI and type-VF devices"));

    Host same_alias(std::string(kConfig) + R"(
[[pool]]
name = "gold"
nova = { alias = "guests" }

[[pool]]
name = "silver"
nova = { alias = "guests" }
)",
                    default_host());
    CHECK_THROWS_WITH(
        render(ExportFormat::Nova, same_alias),
        "pools \"gold\" and \"silver\" would both be the nova alias \"guests\"; set [pool.nova] "
        "alias for one of them");
}

TEST_CASE("libvirt-network: one hostdev network per pool of VFs, managed as hostdevd binds them") {
    Host host(kConfig, default_host());
    auto networks = render_export(ExportFormat::LibvirtNetwork, host.input(), false);
    REQUIRE(networks.size() == 2);
    CHECK(networks[0].name == "gold");
    CHECK(networks[0].content ==
          "<!-- Generated by hostdevd (hostdevctl export libvirt-network) from pool \"gold\"; hostdevd "
          "rewrites this file. -->\n"
          "<network>\n"
          "  <name>gold</name>\n"
          "  <forward mode='hostdev' managed='no'>\n"
          "    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x0'/>\n"
          "    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/>\n"
          "    <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x2'/>\n"
          "  </forward>\n"
          "</network>\n");
    CHECK(networks[1].name == "silver");
    CHECK(contains(networks[1].content, "<forward mode='hostdev' managed='yes'>"));
    CHECK(networks[0].content.rfind(kLibvirtMarker, 0) == 0);
}

TEST_CASE("libvirt-network: names from [[pool]] escaped in XML and whole devices left out") {
    ObservedState observed = default_host();
    observed.devices["0000:00:17.0"] = device("0000:00:17.0", 0x8086, 0xa182, 0x010601, "vfio-pci");
    std::string config = std::regex_replace(std::string(kConfig), std::regex("\"silver\""), "\"a&b--c\"");
    config +=
        "\n[[device]]\nmatch = { address = \"0000:00:17.0\" }\ndriver = \"vfio-pci\"\npool = \"disks\"\n";
    config += "\n[[pool]]\nname = \"gold\"\nlibvirt = { network = \"hostdev-gold\" }\n";
    Host host(config, observed);
    auto networks = render_export(ExportFormat::LibvirtNetwork, host.input(), false);
    REQUIRE(networks.size() == 2); // no network for "disks": libvirt takes only VFs in a hostdev network
    CHECK(networks[0].name == "a&b--c");
    CHECK(contains(networks[0].content, "<name>a&amp;b--c</name>"));
    CHECK(contains(networks[0].content, "from pool \"a&b- -c\";")); // "--" may not appear in a comment
    CHECK(networks[1].name == "hostdev-gold");
}

TEST_CASE("sriov-dp: one resource per pool naming exactly its devices, of the classes the plugin serves") {
    ObservedState observed = default_host();
    observed.devices["0000:00:17.0"] = device("0000:00:17.0", 0x8086, 0xa182, 0x010601, "vfio-pci");
    observed.devices["0000:6b:00.0"] = device("0000:6b:00.0", 0x8086, 0x4940, 0x120000, "vfio-pci");
    std::string config = with_device("0000:00:17.0", "vfio-pci", "disks");
    config += "\n[[device]]\nmatch = { address = \"0000:6b:00.0\" }\ndriver = \"vfio-pci\"\npool = \"qat\"\n";
    config += R"(
[[pool]]
name = "pods"
sriov_dp = { resource_name = "pod_nics", resource_prefix = "hostdevd.io", is_rdma = true }

[[pool]]
name = "qat"
sriov_dp = { is_rdma = true }
)";
    Host host(config, observed);
    json dp = json::parse(render(ExportFormat::SriovDp, host));
    const json& list = dp.at("resourceList");
    REQUIRE(list.size() == 4); // gold, pods, qat, silver; "disks" (SATA) is no class the plugin serves
    CHECK(list[0] == json{{"resourceName", "gold"},
                          {"deviceType", "netDevice"},
                          {"selectors", json::array({{{"pciAddresses", {vf(0), vf(1), vf(2)}}}})}});
    CHECK(list[1] ==
          json{{"resourceName", "pod_nics"},
               {"resourcePrefix", "hostdevd.io"},
               {"deviceType", "netDevice"},
               {"selectors", json::array({{{"pciAddresses", {vf(6), vf(7)}}, {"isRdma", true}}})}});
    CHECK(list[2] == json{{"resourceName", "qat"},
                          {"deviceType", "accelerator"}, // no isRdma: not an accelerator selector
                          {"selectors", json::array({{{"pciAddresses", {"0000:6b:00.0"}}}})}});
    CHECK(list[3].at("selectors")[0].at("pciAddresses") == json{vf(4), vf(5)});
}

TEST_CASE("sriov-dp: a pool mixing NICs and accelerators, or two pools with one resource name, is refused") {
    ObservedState observed = default_host();
    observed.devices["0000:6b:00.0"] = device("0000:6b:00.0", 0x8086, 0x4940, 0x120000, "iavf");
    Host mixed(with_device("0000:6b:00.0", "iavf", "pods"), observed);
    CHECK_THROWS_WITH(render(ExportFormat::SriovDp, mixed),
                      Catch::Contains("pool \"pods\" mixes network devices and accelerators"));

    std::string config = std::regex_replace(std::string(kConfig), std::regex("\"gold\""), "\"a b\"");
    config = std::regex_replace(config, std::regex("\"silver\""), "\"a_b\"");
    Host same_name(config, default_host());
    CHECK_THROWS_WITH(render(ExportFormat::SriovDp, same_name),
                      Catch::Contains("pools \"a b\" and \"a_b\" would both be the device plugin resource "
                                      "\"a_b\""));
}

TEST_CASE(
    "prometheus: every family has HELP and TYPE, then its samples with states and counts and counters") {
    std::string config =
        std::regex_replace(std::string(kConfig), std::regex("\"pods\""), R"("we\"ird\\pool")");
    Host host(config, default_host());
    ActionCounters counters;
    counters.applied = {{"bind", 7}, {"set-numvfs", 1}};
    counters.disruptive = {{"set-numvfs", 1}};
    counters.failed = {{"bind", 2}};
    host.manager.config_generation = 3;
    host.manager.last_reconcile_usec = 1700000000123456;
    const std::string out = render(ExportFormat::Prometheus, host, false, &counters);

    // The exposition format's shape: HELP, TYPE, then samples of that family only.
    std::istringstream in(out);
    std::string family, line;
    std::set<std::string> families;
    const std::regex sample(R"(([a-z_]+)(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? [0-9.]+)");
    while (std::getline(in, line)) {
        INFO(line);
        std::smatch m;
        if (std::regex_match(line, m, std::regex(R"(# HELP ([a-z_]+) .+)"))) {
            family = m[1];
            CHECK(families.insert(family).second); // each family once
            REQUIRE(std::getline(in, line));
            CHECK(std::regex_match(line, std::regex("# TYPE " + family + " (gauge|counter)")));
            CHECK((family.ends_with("_total") == line.ends_with("counter")));
            continue;
        }
        REQUIRE(std::regex_match(line, m, sample));
        CHECK(m[1] == family);
        CHECK(family.rfind("hostdevd_", 0) == 0);
    }
    CHECK(contains(out, "hostdevd_state{state=\"converged\"} 0\n"));
    CHECK(contains(out, "hostdevd_state{state=\"progressing\"} 1\n")); // VF 3 has a safe bind pending
    CHECK(contains(out, "hostdevd_config_generation 3\n"));
    CHECK(contains(out, "hostdevd_last_reconcile_timestamp_seconds 1700000000.123456\n"));
    CHECK(contains(out, "hostdevd_objects{kind=\"device\",state=\"pending\"} 1\n"));
    CHECK(contains(out, "hostdevd_objects{kind=\"device\",state=\"converged\"} 8\n")); // PF + 7 VFs
    CHECK(contains(out, "hostdevd_device_state{address=\"" + vf(3) +
                            "\",role=\"vf\",pf=\"0000:3b:00.0\",pool=\"gold\",state=\"pending\"} 1\n"));
    CHECK(contains(out, "pool=\"we\\\"ird\\\\pool\""));
    CHECK(contains(out, "hostdevd_plan_actions{verdict=\"safe\"} 1\n"));
    CHECK(contains(out, "hostdevd_actions_applied_total{action=\"bind\"} 7\n"));
    CHECK(contains(out, "hostdevd_actions_applied_total{action=\"unbind\"} 0\n")); // every kind, from 0
    CHECK(contains(out, "hostdevd_disruptive_actions_total{action=\"set-numvfs\"} 1\n"));
    CHECK(contains(out, "hostdevd_action_failures_total{action=\"bind\"} 2\n"));

    // Without the daemon (hostdevctl export --local) there are no counters, generation or pass time.
    const std::string local = render(ExportFormat::Prometheus, host);
    CHECK_FALSE(contains(local, "_total"));
    CHECK_FALSE(contains(local, "hostdevd_config_generation"));
    CHECK(contains(local, "hostdevd_objects{kind=\"device\",state=\"pending\"} 1\n"));
}

TEST_CASE("exports are deterministic: the same host gives the same bytes, whatever the entry order") {
    Host host(kConfig, default_host());
    // The same configuration with its [[pf.vf]] tables in another order.
    const std::string reordered = R"(version = 1

[[pf]]
match = { address = "0000:3b:00.0" }
vfs = 8

[[pf.vf]]
index = "6-7"
driver = "iavf"
pool = "pods"

[[pf.vf]]
index = "4-5"
managed = true
pool = "silver"

[[pf.vf]]
index = "0-3"
driver = "vfio-pci"
pool = "gold"
)";
    Host other(reordered, default_host());
    for (ExportFormat format : all_export_formats()) {
        INFO(to_string(format));
        auto a = render_export(format, host.input(), false);
        CHECK(render_export(format, host.input(), false) == a);
        CHECK(render_export(format, other.input(), false) == a);
    }
}
