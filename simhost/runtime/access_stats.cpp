#include "access_stats.hpp"

#include <functional>
#include <mutex>
#include <string_view>
#include <unordered_map>

namespace simhost {
namespace {

// Looked up by string_view: counting a request allocates nothing once its path was seen.
struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::mutex g_mutex;
AccessCounts g_totals;
std::unordered_map<std::string, AccessCounts, PathHash, std::equal_to<>> g_by_path;

void bump(AccessCounts& counts, AccessKind kind) {
    switch (kind) {
    case AccessKind::Read:
        ++counts.reads;
        break;
    case AccessKind::Readlink:
        ++counts.readlinks;
        break;
    case AccessKind::Readdir:
        ++counts.readdirs;
        break;
    case AccessKind::Getattr:
        ++counts.getattrs;
        break;
    case AccessKind::Write:
        ++counts.writes;
        break;
    }
}

} // namespace

void count_access(AccessKind kind, const char* path) {
    const std::string_view key(path);
    std::lock_guard lock(g_mutex);
    bump(g_totals, kind);
    auto it = g_by_path.find(key);
    if (it == g_by_path.end())
        it = g_by_path.emplace(std::string(key), AccessCounts{}).first;
    bump(it->second, kind);
}

AccessCounts access_totals() {
    std::lock_guard lock(g_mutex);
    return g_totals;
}

AccessCounts access_counts_for(const std::string& path) {
    std::lock_guard lock(g_mutex);
    auto it = g_by_path.find(path);
    return it == g_by_path.end() ? AccessCounts{} : it->second;
}

void clear_access_counts() {
    std::lock_guard lock(g_mutex);
    g_totals = {};
    g_by_path.clear();
}

std::string format_access_counts(const AccessCounts& counts) {
    return "reads " + std::to_string(counts.reads) + "\nreadlinks " + std::to_string(counts.readlinks) +
           "\nreaddirs " + std::to_string(counts.readdirs) + "\ngetattrs " + std::to_string(counts.getattrs) +
           "\nwrites " + std::to_string(counts.writes) + "\n";
}

} // namespace simhost
