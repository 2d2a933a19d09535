#include "common/closest_match.hpp"

#include <algorithm>
#include <cctype>

namespace hostdevd {

namespace {

char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

} // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
    // Names are short, so the O(n*m) table is cheap. Three rows: a transposition looks two back.
    std::vector<size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j)
        previous[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t substitute = previous[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
                current[j] = std::min(current[j], before[j - 2] + 1);
        }
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return previous[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string_view>& candidates) {
    // Very long words are never a typo of ours; skip the quadratic distance for them (fuzzer input).
    if (word.size() > 64)
        return {};
    std::string_view best;
    size_t best_distance = 3;
    for (auto candidate : candidates) {
        size_t distance = edit_distance(word, candidate);
        if (distance < best_distance && distance < candidate.size()) {
            best = candidate;
            best_distance = distance;
        }
    }
    return std::string(best);
}

} // namespace hostdevd
