#include "errno_names.hpp"

#include <cctype>
#include <charconv>
#include <cstring>

namespace simhost {

namespace {
constexpr int kLargestErrno = 200; // EHWPOISON is 133 on Linux; leave room
}

std::string errno_name(int error) {
    if (error == 0)
        return "OK";
    if (const char* name = ::strerrorname_np(error))
        return name;
    return std::to_string(error);
}

std::optional<int> parse_errno(std::string_view text) {
    int number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size())
        return number > 0 ? std::optional<int>(number) : std::nullopt;
    std::string upper(text);
    for (auto& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (int error = 1; error <= kLargestErrno; ++error)
        if (const char* name = ::strerrorname_np(error); name && upper == name)
            return error;
    return std::nullopt;
}

} // namespace simhost
