// What a libvirt domain's XML claims (libvirt_claims.hpp claimed_by_domain_xml), read with libxml2 and
// XPath: the formats are libvirt's (docs/formatdomain.rst "Host device assignment", "Network
// interfaces"), which writes attributes with either quote and may add elements in any later version.
#include "observe/libvirt_claims.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>

namespace hostdevd {

namespace {

struct DocFree {
    void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct ContextFree {
    void operator()(xmlXPathContext* context) const { xmlXPathFreeContext(context); }
};
struct ObjectFree {
    void operator()(xmlXPathObject* object) const { xmlXPathFreeObject(object); }
};

std::string attribute(xmlNode* node, const char* name) {
    xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
    if (!value)
        return "";
    std::string text(reinterpret_cast<const char*>(value));
    xmlFree(value);
    return text;
}

// libvirt writes PCI address parts as "0x0000"/"0x01"/"0x00"/"0x1"; plain decimal is accepted by its
// parser too (virPCIDeviceAddressParseXML uses virStrToLong_uip with base 0).
std::optional<unsigned long> number(const std::string& text) {
    if (text.empty())
        return std::nullopt;
    char* end = nullptr;
    unsigned long value = std::strtoul(text.c_str(), &end, 0);
    if (!end || *end != '\0')
        return std::nullopt;
    return value;
}

std::optional<std::string> pci_address(xmlNode* address) {
    auto domain = number(attribute(address, "domain"));
    auto bus = number(attribute(address, "bus"));
    auto slot = number(attribute(address, "slot"));
    auto function = number(attribute(address, "function"));
    if (!bus || !slot || !function || *bus > 0xff || *slot > 0x1f || *function > 7 ||
        domain.value_or(0) > 0xffff)
        return std::nullopt;
    char text[32];
    std::snprintf(text, sizeof text, "%04lx:%02lx:%02lx.%lx", domain.value_or(0), *bus, *slot, *function);
    return std::string(text);
}

std::string lower(std::string text) {
    for (char& c : text)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

std::vector<xmlNode*> select(xmlXPathContext* context, const char* expression) {
    std::unique_ptr<xmlXPathObject, ObjectFree> result(
        xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expression), context));
    std::vector<xmlNode*> nodes;
    if (!result || !result->nodesetval)
        return nodes;
    for (int i = 0; i < result->nodesetval->nodeNr; ++i)
        nodes.push_back(result->nodesetval->nodeTab[i]);
    return nodes;
}

} // namespace

std::vector<std::string> claimed_by_domain_xml(const std::string& xml) {
    static std::once_flag init;
    std::call_once(init, [] { xmlInitParser(); }); // libxml2's globals, before threads race to set them up
    std::unique_ptr<xmlDoc, DocFree> doc(
        xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
    if (!doc)
        throw std::runtime_error("domain XML does not parse");
    std::unique_ptr<xmlXPathContext, ContextFree> context(xmlXPathNewContext(doc.get()));
    if (!context)
        throw std::runtime_error("out of memory");
    std::vector<std::string> objects;
    auto add = [&objects](std::string object) {
        if (std::find(objects.begin(), objects.end(), object) == objects.end())
            objects.push_back(std::move(object));
    };
    // A PCI hostdev (managed or not) and an SR-IOV VF given to the guest as a network interface.
    for (const char* path : {"/domain/devices/hostdev[@type='pci']/source/address",
                             "/domain/devices/interface[@type='hostdev']/source/address"}) {
        for (xmlNode* address : select(context.get(), path)) {
            std::string type = attribute(address, "type");
            if (!type.empty() && type != "pci")
                continue; // <interface type='hostdev'> may name a USB device
            if (auto text = pci_address(address))
                add(*text);
        }
    }
    for (xmlNode* address : select(context.get(), "/domain/devices/hostdev[@type='mdev']/source/address")) {
        std::string uuid = lower(attribute(address, "uuid"));
        if (!uuid.empty())
            add(uuid);
    }
    return objects;
}

} // namespace hostdevd
