// Syntax checks for the string values of a configuration file: pure functions, no TOML, no I/O.
// Each returns the parsed value, or an explanation of what is wrong (used verbatim in diagnostics).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hostdevd::config_syntax {

// Why a value was refused ("reversed range \"5-2\" in VF index list; write \"2-5\"").
struct SyntaxError {
    std::string why;
};

// Either the parsed value or the reason it was refused.
template <typename T>
using Parsed = std::variant<T, SyntaxError>;

// The largest VF index: sriov_numvfs is parsed with kstrtou16 (drivers/pci/iov.c sriov_numvfs_store), so
// at most 65535 VFs exist, numbered virtfn0..virtfn65534.
inline constexpr uint32_t kMaxVfCount = 65535;
inline constexpr uint32_t kMaxVfIndex = kMaxVfCount - 1;

// The most mdev instances one `count` may ask for. The kernel has no fixed limit (available_instances is
// up to the vendor driver); real parents offer tens (NVIDIA A16-1Q: 16 per GPU), so 1024 leaves room while
// keeping a typo such as `count = 40000` from generating thousands of UUIDs.
inline constexpr uint32_t kMaxMdevCount = 1024;

// "0-5,7" → {0,1,2,3,4,5,7}: sorted, unique. Spaces around items are allowed ("0-3, 6").
Parsed<std::vector<uint32_t>> parse_vf_index_list(std::string_view text);

// Exactly 4 hex digits, either case, no "0x" ("8086").
Parsed<uint16_t> parse_pci_id(std::string_view text);

// A network interface name as the kernel accepts it (net/core/dev.c dev_valid_name): 1..15 bytes
// (IFNAMSIZ 16 with the NUL), not "." or "..", no '/', ':' or whitespace.
Parsed<std::string> parse_netdev_name(std::string_view text);

// A udev ID_PATH of a PCI device ("pci-0000:3b:00.0"): starts with "pci-", no whitespace or '/'.
Parsed<std::string> parse_id_path(std::string_view text);

// 8-4-4-4-12 hex digits, either case (guid_parse() in lib/uuid.c, used by mdev_sysfs.c create_store);
// returned in lower case, the form the kernel names the device with ("%pUl", mdev_core.c).
Parsed<std::string> parse_uuid(std::string_view text);

// A kernel driver name as written to driver_override / drivers/NAME: letters, digits, '_', '-', '.',
// at most 64 bytes. The special words "vfio" and "none" are handled by the caller.
Parsed<std::string> parse_driver_name(std::string_view text);

// A sysfs file or directory name (an mdev type ID, an mdev attribute): non-empty, not "." or "..",
// no '/', no NUL or other control characters. `what` names the value in the explanation.
Parsed<std::string> parse_sysfs_name(std::string_view text, std::string_view what);

// "\"text\"" with control characters escaped, for quoting user input in messages.
std::string quote(std::string_view text);

} // namespace hostdevd::config_syntax
