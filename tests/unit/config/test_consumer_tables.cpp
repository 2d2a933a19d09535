// [[pool]] and [export] (docs/configuration.md, docs/consumers.md): what they become, and the consumers'
// naming rules (config/consumer_syntax.hpp), each checked against the consumer's own behaviour.
#include "config/consumer_syntax.hpp"
#include "config/loader.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd;
namespace sx = hostdevd::config_syntax;

namespace {

DesiredState parse_ok(const std::string& text) {
    auto result = parse_config(text, "pools.toml");
    for (const auto& error : result.errors)
        UNSCOPED_INFO(error.str());
    REQUIRE(result.ok());
    return *result.state;
}

std::string parsed_or_error(const sx::Parsed<std::string>& parsed) {
    if (auto* why = std::get_if<sx::SyntaxError>(&parsed))
        return "error: " + why->why;
    return std::get<std::string>(parsed);
}

const char* const kEntries = R"(version = 1

[[pf]]
match = { address = "0000:3b:00.0" }
vfs = 8

[[pf.vf]]
index = "0-3"
driver = "vfio-pci"
pool = "gold"

[[pf.vf]]
index = "4-7"
managed = true
pool = "silver"
)";

} // namespace

TEST_CASE("a [[pool]] keeps its consumer attributes, normalized as each consumer does") {
    auto state = parse_ok(std::string(kEntries) + R"(
[[pool]]
name = "gold"
nova = { physical_network = "physnet1", resource_class = "gold vf", traits = ["fast-nic", "HW_NIC_SRIOV"], alias = "gold-alias" }
sriov_dp = { resource_name = "gold_vf", resource_prefix = "hostdevd.io", is_rdma = true }

[pool.libvirt]
network = "hostdev-gold"

[[pool]]
name = "silver"
)");
    REQUIRE(state.pools.size() == 2);
    const PoolSettings& gold = state.pools[0];
    CHECK(gold.name == "gold");
    CHECK(gold.source.str() == "pools.toml:17:1");
    CHECK(gold.nova.physical_network == "physnet1");
    CHECK(gold.nova.resource_class == "CUSTOM_GOLD_VF");
    CHECK(gold.nova.traits == std::vector<std::string>{"CUSTOM_FAST_NIC", "HW_NIC_SRIOV"});
    CHECK(gold.nova.alias == "gold-alias");
    CHECK(gold.sriov_dp.resource_name == "gold_vf");
    CHECK(gold.sriov_dp.resource_prefix == "hostdevd.io");
    CHECK(gold.sriov_dp.is_rdma);
    CHECK(gold.libvirt.network == "hostdev-gold");
    const PoolSettings& silver = state.pools[1];
    CHECK_FALSE(silver.nova.resource_class.has_value());
    CHECK(silver.nova.traits.empty());
    CHECK_FALSE(silver.sriov_dp.is_rdma);
    CHECK(state.pool("silver") == &silver);
    CHECK(state.pool("bronze") == nullptr);
}

TEST_CASE("[export] names one path per format and is kept in format order") {
    auto state = parse_ok(std::string(kEntries) + R"(
[export]
prometheus = "/var/lib/prometheus/node-exporter/hostdevd.prom"
nova = "/etc/nova/nova.conf.d/50-hostdevd.conf"
libvirt-network = "/var/lib/hostdevd/libvirt-networks"
sriov-dp = "/etc/pcidp/config.json"
)");
    REQUIRE(state.exports.size() == 4);
    CHECK(state.exports[0].format == ExportFormat::Nova);
    CHECK(state.exports[0].path == "/etc/nova/nova.conf.d/50-hostdevd.conf");
    CHECK(state.exports[0].source.str() == "pools.toml:19:8");
    CHECK(state.exports[1].format == ExportFormat::LibvirtNetwork);
    CHECK(state.exports[2].format == ExportFormat::SriovDp);
    CHECK(state.exports[3].format == ExportFormat::Prometheus);
}

TEST_CASE("export formats are named as hostdevctl export and [export] spell them") {
    for (ExportFormat f : all_export_formats())
        CHECK(parse_export_format(to_string(f)) == f);
    CHECK(parse_export_format("libvirt") == std::nullopt);
    CHECK(std::string(to_string(ExportFormat::SriovDp)) == "sriov-dp");
}

TEST_CASE("consumer bindings: managed, a VFIO driver, or anything else") {
    using K = DriverChoice::Kind;
    CHECK(consumer_binding({K::Leave, ""}, true, false) == ConsumerBinding::Managed);
    CHECK(consumer_binding({K::Named, "vfio-pci"}, false, false) == ConsumerBinding::Vfio);
    CHECK(consumer_binding({K::Named, "mlx5_vfio_pci"}, false, false) == ConsumerBinding::Vfio);
    CHECK(consumer_binding({K::Vfio, ""}, false, false) == ConsumerBinding::Vfio);
    CHECK(consumer_binding({K::Named, "iavf"}, false, false) == ConsumerBinding::Other);
    CHECK(consumer_binding({K::None, ""}, false, false) == ConsumerBinding::Other);
    CHECK(consumer_binding({K::Leave, ""}, false, false) == ConsumerBinding::Other);
    CHECK(consumer_binding({K::Leave, ""}, false, true) == ConsumerBinding::Other); // vGPU stays on nvidia
}

// The expected values are what nova 26's own code computes (os_resource_classes.normalize_name,
// pci_placement_translator._get_rc_for_dev / _normalize_traits); tests/integration/consumers/check_nova.py
// runs that code on hostdevd's output as well.
TEST_CASE("resource classes are normalized as nova does") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"gold", "CUSTOM_GOLD"},
        {"gold vf", "CUSTOM_GOLD_VF"},
        {"a--b..c", "CUSTOM_A_B_C"}, // a run of other characters becomes one '_'
        {"pgpu", "PGPU"},            // a standard class, once upper-cased, is kept
        {"SRIOV_NET_VF", "SRIOV_NET_VF"},
        {"custom_gold", "CUSTOM_GOLD"}, // already custom once upper-cased
        {"CUSTOM_MLX_VF", "CUSTOM_MLX_VF"},
        {"x-", "CUSTOM_X_"},
        {"", "error"},
        {"CUSTOM_A-B", "error"}, // nova keeps it (is_custom), placement would refuse it
        {"CUSTOM_", "error"},
    };
    for (const auto& [input, want] : cases) {
        INFO(input);
        std::string got = parsed_or_error(sx::parse_nova_resource_class(input));
        CHECK((want == "error" ? got.substr(0, 5) : got) == want);
    }
}

TEST_CASE("traits are normalized as nova does") {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"HW_NIC_SRIOV", "HW_NIC_SRIOV"}, // placement's alphabet: kept (standard or not, nova decides)
        {"CUSTOM_FAST", "CUSTOM_FAST"},
        {"fast-nic", "CUSTOM_FAST_NIC"},
        {"my awesome gpu", "CUSTOM_MY_AWESOME_GPU"},
        {"custom_fast", "CUSTOM_FAST"},
        {"hw_nic_sriov", "CUSTOM_HW_NIC_SRIOV"}, // not the standard trait: traits are case-sensitive
        {"", "error"},
        {"CUSTOM_A,B", "error"}, // would split the comma-separated tag
    };
    for (const auto& [input, want] : cases) {
        INFO(input);
        std::string got = parsed_or_error(sx::parse_nova_trait(input));
        CHECK((want == "error" ? got.substr(0, 5) : got) == want);
    }
}

TEST_CASE("consumer names follow each consumer's own rules") {
    CHECK(parsed_or_error(sx::parse_nova_alias("gold")) == "gold");
    CHECK(parsed_or_error(sx::parse_nova_alias("a:b")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_nova_alias("a,b")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_nova_alias(" gold")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_nova_alias(std::string(257, 'a'))).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_physical_network("physnet1")) == "physnet1");
    CHECK(parsed_or_error(sx::parse_physical_network("phys:net")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_physical_network(std::string(65, 'p'))).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_name("intel_sriov-dpdk1")) == "intel_sriov-dpdk1");
    CHECK(parsed_or_error(sx::parse_dp_resource_name("gold.vf")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_name("_gold")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_name(std::string(64, 'g'))).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_prefix("hostdevd.io")) == "hostdevd.io");
    CHECK(parsed_or_error(sx::parse_dp_resource_prefix("Hostdevd.io")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_prefix("a..b")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_dp_resource_prefix("-a.b")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_libvirt_network_name("hostdev gold")) == "hostdev gold");
    CHECK(parsed_or_error(sx::parse_libvirt_network_name("a/b")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_libvirt_network_name(".hidden")).starts_with("error"));
    CHECK(parsed_or_error(sx::parse_export_path("/etc/nova/nova.conf.d/50-hostdevd.conf")) ==
          "/etc/nova/nova.conf.d/50-hostdevd.conf");
    for (const char* bad : {"relative/x", "/etc//x", "/etc/./x", "/etc/../x", "/etc/x/", "/"})
        CHECK(parsed_or_error(sx::parse_export_path(bad)).starts_with("error"));
}
