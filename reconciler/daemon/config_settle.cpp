#include "daemon/config_settle.hpp"

#include <dirent.h>
#include <string_view>
#include <sys/stat.h>

namespace hostdevd {

ConfigDirStamp stamp_config_dir(const std::string& dir) {
    ConfigDirStamp stamp;
    DIR* handle = opendir(dir.c_str());
    if (!handle)
        return stamp; // the loader reports a missing or unreadable directory
    const std::string prefix = !dir.empty() && dir.back() == '/' ? dir : dir + "/";
    while (auto* entry = readdir(handle)) {
        std::string_view name = entry->d_name;
        if (name.size() <= 5 || name.front() == '.' || name.substr(name.size() - 5) != ".toml")
            continue;
        const std::string path = prefix + std::string(name);
        struct stat st {};
        if (stat(path.c_str(), &st) != 0)
            continue; // gone meanwhile: as if it were not there
        stamp[path] =
            ConfigFileStamp{static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
                            static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    closedir(handle);
    return stamp;
}

ConfigSettle::Verdict ConfigSettle::look(const ConfigDirStamp& stamp,
                                         const std::vector<std::string>& in_force, Clock::time_point now) {
    bool missing = false;
    for (const std::string& file : in_force)
        missing = missing || !stamp.count(file);
    if (!missing) {
        missing_since_.reset();
    } else {
        if (!missing_since_)
            missing_since_ = now;
        if (now - *missing_since_ < kRemovalGrace) {
            previous_ = stamp;
            return Verdict::LookAgain; // maybe an editor's save: wait for the file to come back
        }
    }
    if (previous_ != stamp) {
        previous_ = stamp;
        return Verdict::LookAgain; // still changing, or the first look
    }
    previous_.reset();
    missing_since_.reset();
    return Verdict::Load;
}

} // namespace hostdevd
