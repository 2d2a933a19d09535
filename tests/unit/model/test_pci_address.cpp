#include <catch2/catch.hpp>

#include "model/pci_address.hpp"
#include "model/plan.hpp"

using hostdevd::PciAddress;

TEST_CASE("PCI addresses parse with and without a domain") {
    auto a = PciAddress::parse("0000:3b:00.2");
    REQUIRE(a);
    CHECK(a->bus == 0x3b);
    CHECK(a->function == 2);
    CHECK(a->str() == "0000:3b:00.2");
    auto b = PciAddress::parse("3B:1f.7");
    REQUIRE(b);
    CHECK(b->str() == "0000:3b:1f.7");
    CHECK(PciAddress::parse("10000:3b:00.0") == std::nullopt);
}

TEST_CASE("malformed PCI addresses are rejected") {
    for (const char* bad : {"", "3b:00", "3b:00.8", "3b:20.0", "zz:00.0", "0000:3b:0.0", "000:3b:00.0",
                            "0000:3b:00.0x", ":3b:00.0", "0000:3b:00.", "0000:3b:00.-1"})
        CHECK_FALSE(PciAddress::parse(bad).has_value());
}

TEST_CASE("devfn packs device and function as the kernel does") {
    auto a = PciAddress::parse("0000:00:1f.3");
    REQUIRE(a);
    CHECK(a->devfn() == ((0x1f << 3) | 3));
}

TEST_CASE("the next wave is the earliest wave with a safe action") {
    hostdevd::Plan plan;
    hostdevd::Action blocked_count;
    blocked_count.wave = hostdevd::Wave::VfCount;
    blocked_count.verdict = hostdevd::Verdict::Blocked;
    hostdevd::Action bind;
    bind.wave = hostdevd::Wave::Binding;
    hostdevd::Action bind2 = bind;
    plan.actions = {blocked_count, bind, bind2};
    CHECK(plan.next_wave().size() == 2);
    CHECK_FALSE(plan.converged());
}
