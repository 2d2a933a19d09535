#include "model/observed.hpp"

namespace hostdevd {

const PciDevice* ObservedState::find(const std::string& address) const {
    auto it = devices.find(address);
    return it == devices.end() ? nullptr : &it->second;
}

} // namespace hostdevd
