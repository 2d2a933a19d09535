// libFuzzer target for the configuration loader (docs/fuzzing.md). parse_config() takes untrusted text
// (any file an administrator drops into /etc/hostdevd); it must never crash, hang or leak, and it must
// keep its all-or-nothing promise: a state with no errors, or errors with no state.
#include "config/loader.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto result = hostdevd::parse_config(text, "fuzz.toml");
    if (result.ok() == !result.errors.empty())
        std::abort(); // all-or-nothing broken
    for (const auto& error : result.errors)
        if (error.message.empty() || error.str().rfind("fuzz.toml", 0) != 0)
            std::abort(); // every diagnostic names the file and says something
    return 0;
}
