#include "model/pci_address.hpp"

#include <charconv>
#include <cstdio>

namespace hostdevd {

namespace {

// Parses exactly `text` as hex with at most `max_digits` digits.
std::optional<uint32_t> parse_hex(std::string_view text, size_t max_digits) {
    if (text.empty() || text.size() > max_digits)
        return std::nullopt;
    uint32_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (ec != std::errc() || ptr != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

std::optional<PciAddress> PciAddress::parse(std::string_view text) {
    PciAddress addr;
    auto dot = text.rfind('.');
    if (dot == std::string_view::npos)
        return std::nullopt;
    auto fn = parse_hex(text.substr(dot + 1), 1);
    if (!fn || *fn > 7)
        return std::nullopt;
    auto head = text.substr(0, dot);
    auto last_colon = head.rfind(':');
    if (last_colon == std::string_view::npos)
        return std::nullopt;
    auto dev = parse_hex(head.substr(last_colon + 1), 2);
    if (!dev || *dev > 31 || head.substr(last_colon + 1).size() != 2)
        return std::nullopt;
    auto rest = head.substr(0, last_colon);
    auto first_colon = rest.rfind(':');
    std::string_view bus_text = rest, domain_text;
    if (first_colon != std::string_view::npos) {
        bus_text = rest.substr(first_colon + 1);
        domain_text = rest.substr(0, first_colon);
        if (domain_text.size() != 4)
            return std::nullopt;
        auto domain = parse_hex(domain_text, 4);
        if (!domain)
            return std::nullopt;
        addr.domain = *domain;
    }
    if (bus_text.size() != 2)
        return std::nullopt;
    auto bus = parse_hex(bus_text, 2);
    if (!bus)
        return std::nullopt;
    addr.bus = static_cast<uint8_t>(*bus);
    addr.device = static_cast<uint8_t>(*dev);
    addr.function = static_cast<uint8_t>(*fn);
    return addr;
}

std::string PciAddress::str() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", domain, bus, device, function);
    return buf;
}

std::optional<PciAddress> vf_address_of(const PciAddress& pf, uint32_t offset, uint32_t stride,
                                        uint32_t index) {
    const uint32_t rid = pf.devfn() + offset + stride * index;
    const uint32_t bus = pf.bus + (rid >> 8);
    if (bus > 0xff)
        return std::nullopt;
    PciAddress vf = pf;
    vf.bus = static_cast<uint8_t>(bus);
    vf.device = static_cast<uint8_t>((rid & 0xff) >> 3);
    vf.function = static_cast<uint8_t>(rid & 0x7);
    return vf;
}

} // namespace hostdevd
