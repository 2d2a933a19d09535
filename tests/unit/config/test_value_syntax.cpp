#include "config/value_syntax.hpp"

#include <catch2/catch.hpp>

using namespace hostdevd::config_syntax;

namespace {

template <typename T>
bool refused(const Parsed<T>& parsed) {
    return std::holds_alternative<SyntaxError>(parsed);
}

std::string why(const Parsed<std::vector<uint32_t>>& parsed) {
    return std::get<SyntaxError>(parsed).why;
}

} // namespace

TEST_CASE("VF index lists expand ranges and lists, sorted and unique") {
    auto parsed = parse_vf_index_list("6,0-3, 2-4 ,9");
    REQUIRE_FALSE(refused(parsed));
    CHECK(std::get<std::vector<uint32_t>>(parsed) == std::vector<uint32_t>{0, 1, 2, 3, 4, 6, 9});
    auto single = parse_vf_index_list("7");
    REQUIRE_FALSE(refused(single));
    CHECK(std::get<std::vector<uint32_t>>(single) == std::vector<uint32_t>{7});
    auto widest = parse_vf_index_list("0-65534");
    REQUIRE_FALSE(refused(widest));
    CHECK(std::get<std::vector<uint32_t>>(widest).size() == 65535);
}

TEST_CASE("malformed VF index lists are refused with the reason") {
    for (const char* bad : {"", " ", "0-", "-1", "a", "1,,2", "1-2-3", "0x3", "+1", "1,", "3 4"})
        CHECK(refused(parse_vf_index_list(bad)));
    CHECK(why(parse_vf_index_list("5-2")) == "reversed range \"5-2\" in VF index list; write \"2-5\"");
    CHECK(why(parse_vf_index_list("65535")) == "VF index 65535 is out of range 0..65534");
}

TEST_CASE("PCI IDs are exactly four hex digits") {
    CHECK(std::get<uint16_t>(parse_pci_id("8086")) == 0x8086);
    CHECK(std::get<uint16_t>(parse_pci_id("15B3")) == 0x15b3);
    for (const char* bad : {"", "808", "80861", "0x80", "80g6", "-808"})
        CHECK(refused(parse_pci_id(bad)));
}

TEST_CASE("interface names follow the kernel's dev_valid_name") {
    CHECK(std::get<std::string>(parse_netdev_name("ens1f0")) == "ens1f0");
    CHECK(std::get<std::string>(parse_netdev_name("abcdefghijklmno")) == "abcdefghijklmno"); // 15 bytes
    for (const char* bad : {"", ".", "..", "abcdefghijklmnop", "eth/0", "eth:0", "eth 0", "eth\t0"})
        CHECK(refused(parse_netdev_name(bad)));
}

TEST_CASE("UUIDs are checked and lower-cased as the kernel names mdevs") {
    CHECK(std::get<std::string>(parse_uuid("C2177883-F1BB-47F0-914D-32A22E3A8804")) ==
          "c2177883-f1bb-47f0-914d-32a22e3a8804");
    for (const char* bad : {"", "c2177883f1bb47f0914d32a22e3a8804", "c2177883-f1bb-47f0-914d-32a22e3a880",
                            "c2177883-f1bb-47f0-914d-32a22e3a8804a", "g2177883-f1bb-47f0-914d-32a22e3a8804",
                            "c2177883-f1bb-47f0+914d-32a22e3a8804"})
        CHECK(refused(parse_uuid(bad)));
}

TEST_CASE("driver names, ID paths and sysfs names") {
    CHECK(std::get<std::string>(parse_driver_name("mlx5_vfio_pci")) == "mlx5_vfio_pci");
    CHECK(std::get<std::string>(parse_driver_name("vfio-pci")) == "vfio-pci");
    for (const char* bad : {"", "vfio pci", "../x", "a/b", "drv\n"})
        CHECK(refused(parse_driver_name(bad)));
    CHECK(refused(parse_driver_name(std::string(65, 'a'))));
    CHECK(std::get<std::string>(parse_id_path("pci-0000:3b:00.0")) == "pci-0000:3b:00.0");
    for (const char* bad : {"", "pci-", "0000:3b:00.0", "platform-x", "pci-0000:3b:00.0 x"})
        CHECK(refused(parse_id_path(bad)));
    CHECK(std::get<std::string>(parse_sysfs_name("nvidia-222", "type")) == "nvidia-222");
    for (const char* bad : {"", ".", "..", "a/b"})
        CHECK(refused(parse_sysfs_name(bad, "type")));
}

TEST_CASE("quote escapes what would confuse a terminal") {
    CHECK(quote("a\"b\\c\n") == "\"a\\\"b\\\\c\\x0a\"");
}
