// The "carries addresses" in-use signal of safety.md: which network interfaces of this network namespace
// have an IP address configured, read with one rtnetlink dump (RTM_GETLINK + RTM_GETADDR). sysfs does not
// show addresses.
#pragma once

#include <set>
#include <string>

namespace hostdevd {

// Names of interfaces with at least one IPv4 or non-link-local IPv6 address (a link-local IPv6 address
// only says the interface is up, which is its own signal). Empty when rtnetlink cannot be read.
std::set<std::string> interfaces_with_addresses();

} // namespace hostdevd
