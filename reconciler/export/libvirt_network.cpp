// `hostdevctl export libvirt-network`: one hostdev network per pool (libvirt's "interface pools",
// https://libvirt.org/formatnetwork.html, forward mode='hostdev'). libvirt accepts only SR-IOV VFs in
// such a network (networkValidate: "... is not an SR-IOV Virtual Function"), so whole devices and PFs are
// left out, and only pools for PCI passthrough are exported: managed='no' where hostdevd binds the VFIO
// driver itself, managed='yes' where the pool is `managed = true` (libvirt binds at guest start).
#include "export/consumer_names.hpp"
#include "export/formats.hpp"

#include <cstdio>

namespace hostdevd {

namespace {

std::string xml_escaped(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '\'':
            out += "&apos;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

// In an XML comment "--" is not allowed; a pool name may hold it.
std::string comment_safe(const std::string& text) {
    std::string out;
    for (char c : text)
        out += (c == '-' && !out.empty() && out.back() == '-') ? std::string(" -") : std::string(1, c);
    return out;
}

// "0000:3b:02.1" -> <address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/>
std::string address_element(const std::string& address) {
    return "    <address type='pci' domain='0x" + address.substr(0, 4) + "' bus='0x" + address.substr(5, 2) +
           "' slot='0x" + address.substr(8, 2) + "' function='0x" + address.substr(11, 1) + "'/>\n";
}

} // namespace

std::vector<ExportDocument> render_libvirt_networks(const std::vector<ExportPool>& pools) {
    std::vector<ExportDocument> documents;
    NameRegistry names("the libvirt network", "[pool.libvirt] network");
    for (const auto& pool : pools) {
        if (pool.binding == ConsumerBinding::Other)
            continue;
        std::string addresses;
        for (const auto& device : pool.devices)
            if (device.role == "vf")
                addresses += address_element(device.address);
        if (addresses.empty())
            continue;
        const std::string name = libvirt_network_name(pool);
        names.claim(name, pool);
        std::string xml = std::string(kLibvirtMarker) + " (hostdevctl export libvirt-network) from pool \"" +
                          comment_safe(pool.name) + "\"; hostdevd rewrites this file. -->\n";
        xml += "<network>\n  <name>" + xml_escaped(name) + "</name>\n";
        xml += std::string("  <forward mode='hostdev' managed='") +
               (pool.binding == ConsumerBinding::Managed ? "yes" : "no") + "'>\n";
        xml += addresses + "  </forward>\n</network>\n";
        documents.push_back({name, std::move(xml)});
    }
    return documents;
}

} // namespace hostdevd
