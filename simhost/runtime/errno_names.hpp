// errno values by name ("EBUSY") for the control protocol and the write log.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace simhost {

std::string errno_name(int error);                     // "EBUSY"; the number as text if unknown
std::optional<int> parse_errno(std::string_view text); // "EBUSY", "ebusy" or "16"

} // namespace simhost
