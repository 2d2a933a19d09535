// Consumers' claims (observe/libvirt_claims.hpp): what a libvirt domain's XML claims, and how claims
// become holders. The real libvirtd is exercised in tests/integration/test_claims_hooks.cpp.
#include "observe/libvirt_claims.hpp"
#include "observe/observe.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace hostdevd;

TEST_CASE("a domain claims its PCI hostdevs and hostdev interfaces and mdevs and nothing else") {
    const std::string xml = R"(<domain type='kvm'>
  <name>web1</name>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source><address domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/></source>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </hostdev>
    <hostdev mode="subsystem" type="mdev" model="vfio-pci">
      <source><address uuid="64111159-134C-55B6-B36D-2D6C0214E526"/></source>
    </hostdev>
    <interface type='hostdev' managed='yes'>
      <source><address type='pci' domain='0x0001' bus='0xaf' slot='0x10' function='0x7'/></source>
    </interface>
    <interface type='network'><source network='vf-pool'/></interface>
    <hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0xbeef'/></source></hostdev>
    <controller type='pci' index='0' model='pci-root'/>
  </devices>
</domain>)";
    CHECK(claimed_by_domain_xml(xml) ==
          std::vector<std::string>{"0000:3b:02.1", "0001:af:10.7", "64111159-134c-55b6-b36d-2d6c0214e526"});
    CHECK(claimed_by_domain_xml("<domain><name>empty</name></domain>").empty());
    CHECK_THROWS_AS(claimed_by_domain_xml("<domain><devices>"), std::runtime_error);
}

TEST_CASE("claims become holders - unknown claims hold every device and mdev") {
    ObservedState state;
    state.devices["0000:3b:02.1"].address = "0000:3b:02.1";
    state.devices["0000:3b:02.2"].address = "0000:3b:02.2";
    state.mdevs["64111159-134c-55b6-b36d-2d6c0214e526"].uuid = "64111159-134c-55b6-b36d-2d6c0214e526";
    LibvirtClaims claims;
    claims.objects["0000:3b:02.1"] = {describe_domain_claim("web1", "shut off")};
    ObservedChanges changes;
    add_claims(state, claims, &changes);
    CHECK(state.devices["0000:3b:02.1"].holders ==
          std::vector<std::string>{"libvirt domain 'web1' (shut off)"});
    CHECK(state.devices["0000:3b:02.2"].holders.empty());
    CHECK(changes.devices == std::set<std::string>{"0000:3b:02.1"});
    add_claims(state, claims); // a second time adds nothing
    CHECK(state.devices["0000:3b:02.1"].holders.size() == 1);

    LibvirtClaims unknown;
    unknown.unknown = "libvirt at qemu:///system did not answer within 5 s (unknown counts as in use)";
    add_claims(state, unknown);
    CHECK(state.devices["0000:3b:02.2"].holders == std::vector<std::string>{unknown.unknown});
    CHECK(state.mdevs.begin()->second.holders == std::vector<std::string>{unknown.unknown});
}

TEST_CASE("libvirt counts as configured with a daemon socket or domain definitions - else it is not asked") {
    char tmpl[] = "/tmp/hostdevd-libvirt-XXXXXX";
    REQUIRE(mkdtemp(tmpl));
    const std::string root = tmpl;
    LibvirtSource source;
    source.run_dir = root + "/run";
    source.domain_dir = root + "/qemu";
    std::filesystem::create_directories(source.run_dir);
    std::filesystem::create_directories(source.domain_dir + "/networks");
    CHECK_FALSE(libvirt_configured(source));
    CHECK(read_libvirt_claims(source) == LibvirtClaims{}); // nothing loaded, nothing claimed
    std::ofstream(source.domain_dir + "/web1.xml") << "<domain/>";
    CHECK(libvirt_configured(source));
    // Configured, but the library cannot be loaded: unknown, never "no claims".
    source.library = "libhostdevd-no-such-libvirt.so.0";
    CHECK_THAT(read_libvirt_claims(source).unknown, Catch::Contains("(unknown counts as in use)"));
    std::filesystem::remove(source.domain_dir + "/web1.xml");
    std::ofstream(source.run_dir + "/virtqemud-sock-ro") << "";
    CHECK(libvirt_configured(source));
    std::filesystem::remove_all(root);
}
