// A PCI function address, DDDD:BB:DD.F, as the kernel names devices under /sys/bus/pci/devices.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hostdevd {

struct PciAddress {
    uint32_t domain = 0;
    uint8_t bus = 0;
    uint8_t device = 0;   // 0..31
    uint8_t function = 0; // 0..7

    // Accepts "DDDD:BB:DD.F" and "BB:DD.F" (domain 0), hex digits of either case. nullopt otherwise.
    static std::optional<PciAddress> parse(std::string_view text);
    std::string str() const; // "0000:3b:00.2", lower case
    uint8_t devfn() const { return static_cast<uint8_t>((device << 3) | function); }

    auto operator<=>(const PciAddress&) const = default;
};

// The address of VF `index` of the PF at `pf` (drivers/pci/iov.c pci_iov_virtfn_bus/devfn): routing ID =
// PF devfn + First VF Offset + VF Stride * index, carried into the bus number. nullopt past bus 0xff.
std::optional<PciAddress> vf_address_of(const PciAddress& pf, uint32_t offset, uint32_t stride,
                                        uint32_t index);

} // namespace hostdevd
