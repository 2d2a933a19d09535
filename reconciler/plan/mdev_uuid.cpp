#include "plan/mdev_uuid.hpp"

#include <stdexcept>
#include <uuid/uuid.h>

namespace hostdevd {

std::string uuid_v5(const std::string& namespace_uuid, const std::string& name) {
    uuid_t ns;
    if (uuid_parse(namespace_uuid.c_str(), ns) != 0)
        throw std::invalid_argument("not a UUID: " + namespace_uuid);
    uuid_t out;
    uuid_generate_sha1(out, ns, name.data(), name.size());
    char text[37];
    uuid_unparse_lower(out, text);
    return text;
}

std::string mdev_instance_uuid(const std::string& parent_address, uint32_t index) {
    return uuid_v5(kMdevNamespaceUuid, parent_address + "/" + std::to_string(index));
}

} // namespace hostdevd
