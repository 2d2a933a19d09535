// Deterministic mdev instance names for `[[mdev]] count = N` (config.md): UUIDv5 (RFC 4122 §4.3, SHA-1) in
// hostdevd's own namespace of "<parent address>/<index>", so the same configuration names the same
// instances after every reboot and on every host, and an instance whose type changed is still ours.
#pragma once

#include <cstdint>
#include <string>

namespace hostdevd {

// hostdevd's namespace UUID: UUIDv5(RFC 4122 NameSpace_DNS, "mdev.hostdevd.io"). Fixed forever: changing it
// would orphan every instance hostdevd ever created.
inline constexpr const char* kMdevNamespaceUuid = "ef3ae62e-3393-5fdf-9216-0e18730f753f";

// Instance indices below this bound are recognised as ours when found on a selected parent, so lowering
// `count` (or changing `type`) still finds and removes the old instances. No real parent holds more than a
// few dozen instances of one type (devices.toml: largest max_instances is 32).
inline constexpr uint32_t kOwnedMdevIndexBound = 256;

// Lower-case UUID string of UUIDv5(namespace, name).
std::string uuid_v5(const std::string& namespace_uuid, const std::string& name);

// The UUID of instance `index` of a `count` entry on `parent_address`.
std::string mdev_instance_uuid(const std::string& parent_address, uint32_t index);

} // namespace hostdevd
